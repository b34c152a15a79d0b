"""The transcription pipeline: audio → CQT → MU or unrolled MU → notes.

:class:`Engine` holds the templates, the model and the device and runs one
file at a time. :meth:`Engine.steps` is a generator that yields the state after
every MU iteration or unrolled layer, so a front end can draw each one and
cancel between them; :meth:`Engine.finish` turns any step into a
:class:`Transcription` (background, notes, parameters: the one H → notes path);
:meth:`Engine.transcribe` is ``steps`` to the end, then ``finish``. What runs
between the two (β, step count) is the method object of :mod:`.methods`.
"""
from __future__ import annotations

import logging
import time
import weakref
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from torch import Tensor

from ..calibration import load_templates
from ..errors import AudioError, Cancelled, TemplateError
from ..frontend.audio import Audio, as_audio, load_audio, resample
from ..frontend.blocks import block_cqt, check_cancel
from ..frontend.cqt import CQTParams
from ..io.checkpoints import Checkpoint, load_checkpoint
from ..nmf import chunking
from ..nmf.accel import aligned_chunk
from ..nmf.kernels import Step, background_activation
from ..nmf.precision import inference_precision
from ..nmf.unrolled import UnrolledMU
from . import fallback
from .adaptation import adapted_start, learned_keys
from .devices import resolve_device
from .methods import METHODS, MU, Unrolled, method_for  # noqa: F401 (METHODS re-exported)
from .notes import NoteParams, extract_notes
from .options import Options
from .result import Transcription
from .templates import Templates, read_templates
from ..resources import (DEFAULT_MODEL, DEFAULT_TEMPLATES, DEMO_AUDIO, DEMO_MIDI,  # noqa: F401 (re-exported)
                         default_model, default_templates)

log = logging.getLogger("unmf")


def model_notes(model: str | Path | None = None) -> NoteParams:
    """Note settings a checkpoint was calibrated with (None: the bundled model); defaults when it has none.

    They hold with the templates the model was calibrated with (see :attr:`Engine.calibrated_notes`). An
    unreadable checkpoint also gives the defaults (running it reports the problem, e.g. a missing bundled model).
    """
    from ..errors import CheckpointError

    try:
        return load_checkpoint(model if model is not None else default_model()).notes or NoteParams()
    except CheckpointError:
        return NoteParams()


class Engine:
    """Templates + model + device; transcribes files.

    Parameters
    ----------
    templates : Templates, str or Path, optional
        Templates, a templates file or a folder of single-note recordings. Default: the model's own templates,
        else the bundled ``resources/templates/default.npz``. Synthetic templates only when asked for:
        ``templates=harmonic_templates(cqt)``.
    model : Checkpoint, UnrolledMU, str or Path, optional
        The unrolled model. Default: the bundled ``resources/models/default.pt``. An untrained model
        (identical to plain MU) only when asked for: ``model=UnrolledMU(UnrolledConfig())``.
    cqt : CQTParams, optional
        CQT parameters. Default: the model's, else :class:`CQTParams`'s defaults.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.

    Raises
    ------
    CheckpointError, TemplateError
        A model or templates file cannot be loaded, or the bundled one is missing (see :mod:`unmf_core.resources`).
    """

    def __init__(self, templates=None, model=None, cqt: CQTParams | None = None, device: str = "auto"):
        self.device = resolve_device(device)
        if model is None:
            model = default_model()
        if isinstance(model, (str, Path)):
            model = load_checkpoint(model, cqt)
        if isinstance(model, UnrolledMU):
            model = Checkpoint(model, None, None, "", {}, "", "unmf")
        self.checkpoint: Checkpoint = model
        self.cqt = cqt or model.cqt or CQTParams()
        self.templates = self._resolve_templates(templates)
        self.model = model.model.to(self.device).eval()
        self.model.set_precision(inference_precision(self.device))  # bfloat16 where the CPU has it ($UNMF_PRECISION)
        self._W = torch.from_numpy(self.templates.W).to(self.device)
        #: Fallbacks taken so far (out of memory → smaller chunks → CPU), one line each.
        self.notices: list[str] = []

    @property
    def W(self) -> torch.Tensor:
        """The templates in use, ``(n_bins, 88)`` float32 on the engine's device (:meth:`set_templates` sets them)."""
        return self._W

    def to(self, device: str | torch.device) -> "Engine":
        """Move the model and templates to another device (the out-of-memory fallback uses it)."""
        self.device = torch.device(device)
        self.model, self._W = self.model.to(self.device), self._W.to(self.device)
        return self

    def _resolve_templates(self, templates) -> Templates:
        if isinstance(templates, Templates):
            t = templates
        elif templates is not None:
            t = load_templates(templates, self.cqt, str(self.device))
        elif self.checkpoint.templates is not None:
            t = Templates(self.checkpoint.templates, self.checkpoint.cqt or self.cqt,
                          self.checkpoint.templates_source or "model's templates")
        else:
            t = read_templates(default_templates(), self.cqt)
        if not t.compatible_with(self.cqt):
            raise TemplateError("templates and CQT parameters disagree on the frequency axis")
        return t

    def set_templates(self, templates) -> None:
        """Use other templates from now on (a :class:`Templates`, a templates file or a folder of notes).

        Raises
        ------
        TemplateError
            They do not fit the engine's CQT (frequency axis) or are not 88 non-negative, finite columns.
        """
        t = self._resolve_templates(templates)
        W = np.asarray(t.W)
        if W.ndim != 2 or W.shape != (self.cqt.n_bins, self.templates.W.shape[1]) or not np.isfinite(W).all() \
                or (W < 0).any():
            raise TemplateError(f"templates {t.source!r} do not fit: shape {W.shape}, expected "
                                f"{(self.cqt.n_bins, self.templates.W.shape[1])} finite non-negative values")
        self.templates = t
        self._W = torch.from_numpy(np.ascontiguousarray(W, dtype=np.float32)).to(self.device)

    def describe(self) -> dict:
        """What is in use: model, templates, CQT and device (for the UI and for results)."""
        ck = self.checkpoint
        return {"model": ck.path or ck.kind, "model_kind": ck.kind, "layers": self.model.cfg.n_layers,
                "threshold": (self.calibrated_notes or NoteParams()).threshold,
                "templates": self.templates.source, "cqt": self.cqt.to_dict(), "device": str(self.device)}

    def load(self, source: str | Path | Audio | np.ndarray, sr: int | None = None,
             allow_silence: bool = False) -> Audio:
        """Read a recording at the working rate, validated (:func:`~unmf_core.frontend.audio.as_audio`).

        Parameters
        ----------
        source : str, Path, Audio or np.ndarray
            A file; an :class:`Audio` (resampled if needed); or samples
            ``(n,)``, ``(n, channels)`` or ``(channels, n)``, float or integer
            PCM, checked exactly as a file's (channels mixed, integers scaled,
            NaN/inf refused, resampled).
        sr : int, optional
            Sample rate of an array (required for arrays, refused otherwise).
        allow_silence : bool
            Accept a silent recording (it gives no notes) instead of refusing it.

        Raises
        ------
        AudioError
            The recording is unreadable, empty, too short, not finite or silent.
        """
        if isinstance(source, np.ndarray):
            return as_audio(source, sr, self.cqt.sr, allow_silence=allow_silence)
        if sr is not None:
            raise AudioError(f"sr={sr!r} is only for arrays (a file or Audio carries its own rate)")
        if isinstance(source, Audio):
            if source.sr == self.cqt.sr:
                return source
            return replace(source, samples=resample(source.samples, source.sr, self.cqt.sr), sr=self.cqt.sr)
        return load_audio(source, self.cqt.sr, allow_silence=allow_silence)

    def spectrogram(self, audio: Audio, cancel: Callable[[], bool] | None = None) -> torch.Tensor:
        """Magnitude CQT ``(n_bins, T)`` on the engine's device (on the CPU if it runs out of memory)."""
        def compute(device: torch.device) -> torch.Tensor:
            if device == self.device:
                return self.plain_spectrogram(audio, cancel)
            return block_cqt(audio.samples, self.cqt, device, cancel=cancel)

        return fallback.compute_with_cpu_fallback(compute, self.device, "computing the spectrogram", self._notice,
                                                  on_cpu=self._move_to_cpu)

    def plain_spectrogram(self, audio: Audio, cancel: Callable[[], bool] | None = None) -> torch.Tensor:
        """:meth:`spectrogram` without the out-of-memory fallback (long signals go in blocks)."""
        return block_cqt(audio.samples, self.cqt, self.device, cancel=cancel)

    def method(self, opts: Options) -> MU | Unrolled:
        """The method ``opts`` asks for, with its β and step count (:func:`~.methods.method_for`).

        Raises
        ------
        OptionError
            Unknown method or a setting out of range (e.g. more layers than the model has).
        """
        return method_for(opts, self.model)

    def initial(self, M: torch.Tensor, opts: Options, W: torch.Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Initial (W, H) for M (W: the engine's unless given); identical for both methods given ``opts.seed``."""
        with torch.no_grad():
            return chunking.initialize(M, self._W if W is None else W, opts.init_iters, self.method(opts).beta,
                                       opts.seed, self.chunk_frames(M, opts), opts.cancel)

    def chunk_frames(self, M: torch.Tensor, opts: Options) -> int | None:
        """Frames per time chunk for M under ``opts``, or None when M is short enough to run whole.

        At most ``opts.chunk_seconds`` (the last chunk shorter), a chunk with A_H's halo filling whole quanta
        of its padded rows, so that all recordings share the CNN's shapes (:func:`~unmf_core.nmf.accel.aligned_chunk`).
        """
        if not opts.chunk_seconds or opts.chunk_seconds <= 0:
            return None
        frames = max(1, int(round(opts.chunk_seconds * self.cqt.frame_rate)))
        if M.shape[-1] <= frames:
            return None
        return aligned_chunk(frames, self.model.layers[0].receptive_halo()) if self.model.layers else frames

    def steps(self, M: torch.Tensor, opts: Options) -> Iterator[Step]:
        """Yield the initial state (index 0) and the state after each iteration / layer.

        Stop iterating to cancel: nothing runs between two yields. If the
        device runs out of memory, the run goes on in smaller chunks, then on
        the CPU (:func:`unmf_core.transcription.fallback.with_fallback`; see :attr:`notices`).

        Raises
        ------
        OptionError
            At once (before any step) for options out of range.
        """
        self.method(opts)  # refuse bad options now, not at the first step
        state = {"M": M}

        def make_steps(chunk_seconds: float | None, device: torch.device) -> Iterator[Step]:
            if device != self.device:  # the fallback moved the run (to the CPU)
                self.to(device)
                state["M"] = state["M"].to(device)
            return self.plain_steps(state["M"], replace(opts, chunk_seconds=chunk_seconds))

        plan = fallback.chunk_plan(M.shape[-1], self.cqt.frame_rate, opts.chunk_seconds)
        return fallback.with_fallback(make_steps, opts.chunk_seconds, plan, self.device, self._notice)

    def plain_steps(self, M: torch.Tensor, opts: Options) -> Iterator[Step]:
        """:meth:`steps` without the out-of-memory fallback; adapted templates first (:mod:`.adaptation`)."""
        method = self.method(opts)
        W, H = adapted_start(self, M, *self.initial(M, opts), opts)
        chunk = self.chunk_frames(M, opts)
        d0 = chunking.divergence(M, W, H, method.beta, chunk) if opts.track_divergence else float("nan")
        yield Step(0, W, H, d0)
        yield from method.run(M, W, H, chunk, opts.track_divergence, opts.cancel)

    def _notice(self, message: str) -> None:
        self.notices.append(message)
        log.warning(message)

    def _move_to_cpu(self) -> None:
        self._notice(f"out of memory on {self.device}: continuing on the CPU (slower)")
        self.to("cpu")

    @property
    def own_templates(self) -> bool:
        """Whether the templates in use are the ones stored with the model (it was trained or fine-tuned with them)."""
        W = self.checkpoint.templates
        return W is None or (W.shape == self.templates.W.shape and np.allclose(W, self.templates.W, 1e-5, 1e-8))

    @property
    def calibrated_notes(self) -> NoteParams | None:
        """The model's calibrated note settings, if it has them and they hold for the templates in use.

        A fine-tuning picks the onset threshold for its model *with the templates it was fine-tuned with*
        (stored in the checkpoint): the threshold is relative to the activation scale, which other templates
        change, so with other templates (:attr:`own_templates` False) the defaults apply.
        """
        return self.checkpoint.notes if self.own_templates else None

    def gate_for(self, opts: Options):
        """The model's note gate (:mod:`unmf_core.nmf.gate`) for a run, or None (notes from H alone).

        Unrolled runs only, and by ``opts.note_gate``: ``"on"`` (the default) with any templates, ``"auto"``
        with :attr:`own_templates` only, ``"off"`` never. With calibrated templates the gate adds 0.05-0.09
        onset-F on the project's renders, and with few recorded notes it is what keeps a calibration from
        scoring below the bundled templates (docs/benchmarks/calibration.md, gate.md).
        """
        if opts.method != "unrolled" or opts.note_gate == "off":
            return None
        return self.model.gate if self.own_templates or opts.note_gate == "on" else None

    def notes_for(self, opts: Options) -> NoteParams:
        """The note settings of a run: ``opts.notes``, else :attr:`calibrated_notes` (unrolled runs), else defaults."""
        if opts.notes is not None:
            return opts.notes
        if opts.method == "unrolled" and self.calibrated_notes is not None:
            return self.calibrated_notes
        return NoteParams()

    def params(self, opts: Options, steps: int | None = None) -> dict:
        """The parameters that define a run (recorded with every result).

        ``steps``: the steps that ran (default: all the method's).
        """
        method = self.method(opts)
        d = self.describe()
        d.update(method.describe())
        if steps is not None:
            d["steps"] = steps
        d.update(init_iters=opts.init_iters, seed=opts.seed, notes=self.notes_for(opts).to_dict(),
                 note_gate=opts.note_gate, adapt_to_piece=opts.adapt_to_piece)
        return d

    def background(self, M: torch.Tensor, W: torch.Tensor, opts: Options) -> np.ndarray:
        """Per-key background activation ``(K,)`` of M on W (for note extraction), with the method's β.

        The last result is reused while M and W are the same, unchanged tensors
        (plain MU keeps W: :meth:`finish` on every step then costs one
        background, not one per step).
        """
        beta = self.method(opts).beta
        key = (M._version, W._version, beta)
        cached = getattr(self, "_background", None)
        if cached is not None and cached[0]() is M and cached[1]() is W and cached[2] == key:
            return cached[3]
        bg = background_activation(M.to(W.device), W, beta).cpu().numpy()
        self._background = (weakref.ref(M), weakref.ref(W), key, bg)
        return bg

    def finish(self, M: torch.Tensor, step: Step, opts: Options) -> Transcription:
        """The :class:`Transcription` of one step: background, notes and parameters (the one H → notes path).

        Every front end goes through it: :meth:`transcribe` for the last step, the app for the step on screen.
        ``divergences`` holds the step's own divergence and ``timings`` is empty (:meth:`transcribe` fills
        both); ``params["steps"]`` is ``step.index``, the steps that really ran. The model's last layer, with a
        gate (:meth:`gate_for`), decides where notes start on H × its gain (earlier layers, or ``--layers k``: on
        H alone).
        """
        H = step.H.detach().cpu().numpy()
        bg = self.background(M, step.W, opts)
        gate = self.gate_for(opts) if step.index == self.model.cfg.n_layers else None  # it reads the last layer's H
        gain = gate.gain(H, bg, M) if gate is not None else None
        notes = extract_notes(H, self.cqt.frame_rate, self.notes_for(opts), background=bg, gain=gain)
        if step.index < self.method(opts).steps:  # the steps that follow may update H in place: copied after
            H = H.copy()  # extraction (one less copy at once); the last step's H stays (an hour's is 0.1 GB)
        params = self.params(opts, step.index)
        params.update(step=step.index, adapted_keys=learned_keys(step.W))
        return Transcription(notes, H, step.W.detach().cpu().numpy().copy(), [step.divergence], self.cqt.frame_rate,
                             M.shape[-1] * self.cqt.hop / self.cqt.sr, params, {}, bg, gain)

    def transcribe(self, source: str | Path | Audio | np.ndarray, opts: Options | None = None,
                   callback: Callable[[Step], object] | None = None, *, sr: int | None = None,
                   allow_silence: bool = False) -> Transcription:
        """Transcribe a recording: :meth:`steps` to the end, then :meth:`finish` on the last.

        Parameters
        ----------
        source : str, Path, Audio or np.ndarray
            The recording (see :meth:`load`; ``sr`` and ``allow_silence`` go there).
        opts : Options, optional
            What to run (defaults: unrolled model, default note settings).
        callback : callable, optional
            ``callback(step)`` after each step; returning ``False`` raises
            :class:`~unmf_core.errors.Cancelled`.

        Returns
        -------
        Transcription
        """
        opts = opts or Options()
        self.method(opts)
        n_notices = len(self.notices)
        t0 = time.perf_counter()
        audio = self.load(source, sr, allow_silence)
        t1 = time.perf_counter()
        M = self.spectrogram(audio, opts.cancel)
        duration = audio.duration
        del audio  # not kept through the factorisation (an hour at 22 kHz is 318 MB)
        t2 = time.perf_counter()
        divs: list[float] = []
        last = None
        for step in self.steps(M, opts):
            divs.append(step.divergence)
            last = step
            if callback is not None and callback(step) is False:
                raise Cancelled("transcription cancelled")
            check_cancel(opts.cancel)
        t3 = time.perf_counter()
        assert last is not None  # steps() always yields the initial state first
        result = self.finish(M, last, opts)
        t4 = time.perf_counter()
        if len(self.notices) > n_notices:
            result.params["fallback"] = self.notices[n_notices:]
        return replace(result, divergences=divs, duration=duration,
                       timings={"load": t1 - t0, "cqt": t2 - t1, "factorise": t3 - t2, "notes": t4 - t3,
                                "total": t4 - t0})
