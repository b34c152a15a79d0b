"""What to run on a recording: :class:`Options` (method, steps, seed, note settings, chunking)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..nmf.chunking import DEFAULT_CHUNK_SECONDS
from .notes import NoteParams


@dataclass
class Options:
    """What to run on a file.

    Attributes
    ----------
    method : str
        ``"unrolled"`` (default) or ``"mu"``.
    iterations : int
        MU iterations.
    layers : int or None
        Unrolled layers to run (None: all of the model's).
    beta : float
        β of plain MU (the unrolled model uses its own).
    update_w : bool
        Plain MU also updates W.
    init_iters : int
        MU steps from the start that initialise H.
    seed : int or None
        None (default): a flat start, every key equally active in every frame; an int: the seeded random
        start (:func:`~unmf_core.nmf.kernels.start_H`). The same for both methods: same initialisation.
    notes : NoteParams or None
        Note extraction settings; None (default): the model's calibrated
        settings for unrolled runs when its checkpoint has them (a fine-tuned
        model), else :class:`~unmf_core.transcription.notes.NoteParams`'s defaults. See
        :meth:`Engine.notes_for`.
    note_gate : str
        When unrolled runs use the model's note gate (:mod:`unmf_core.nmf.gate`) on their last layer:
        ``"on"`` (default) with any templates (a calibration too), ``"auto"`` with the model's own
        templates only, ``"off"`` never (notes from H alone). See :meth:`Engine.gate_for
        <unmf_core.transcription.engine.Engine.gate_for>`.
    adapt_to_piece : bool
        Unrolled runs with a calibration that left keys to prediction (a templates file or folder of
        notes, :func:`unmf_core.calibration.piece.adaptable`): run once, learn those keys from the
        recording's clean attacks where they clearly differ, and run again with them (default True;
        :mod:`unmf_core.transcription.adaptation`). Other templates are never adapted.
    track_divergence : bool
        Compute D(M | WH) at every step (default off: only a view that shows
        the curve asks for it; otherwise every step's divergence is NaN).
    chunk_seconds : float or None
        Recordings longer than this are factorised in time chunks of at most this
        length, rounded down to whole quanta of A_H's padded rows
        (:meth:`Engine.chunk_frames <unmf_core.transcription.engine.Engine.chunk_frames>`;
        :mod:`unmf_core.nmf.chunking`): the same result, with memory
        bounded by the chunk instead of the length. Lower it to save memory;
        None or 0 never chunks.
    cancel : callable, optional
        Checked between chunks of long runs (:func:`unmf_core.frontend.blocks.check_cancel`);
        when it returns True the run raises :class:`~unmf_core.errors.Cancelled`
        within one chunk instead of at the next step.
    """

    method: str = "unrolled"
    iterations: int = 100
    layers: int | None = None
    beta: float = 1.0
    update_w: bool = False
    init_iters: int = 5
    seed: int | None = None
    notes: NoteParams | None = None
    note_gate: str = "on"
    adapt_to_piece: bool = True
    track_divergence: bool = False
    chunk_seconds: float | None = DEFAULT_CHUNK_SECONDS
    cancel: Callable[[], bool] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.note_gate not in NOTE_GATE_CHOICES:
            from ..errors import OptionError

            raise OptionError(f"note_gate must be one of {', '.join(NOTE_GATE_CHOICES)}, not {self.note_gate!r}")


#: :attr:`Options.note_gate`'s values.
NOTE_GATE_CHOICES = ("on", "auto", "off")
