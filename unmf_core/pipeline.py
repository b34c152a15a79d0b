"""The transcription pipeline: audio → CQT → MU or unrolled MU → notes.

:class:`Engine` holds the templates, the model and the device and runs one
file at a time. :meth:`Engine.steps` is a generator that yields the state after
every MU iteration or unrolled layer, so a front end can draw each one and
cancel between them; :meth:`Engine.transcribe` runs it to the end.
"""
from __future__ import annotations

import os
import time
import weakref
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from .audio import Audio, load_audio
from .checkpoints import Checkpoint, load_checkpoint
from .cqt import CQTParams
from .errors import Cancelled, DeviceError, TemplateError
from .fallback import fallback_spectrogram, fallback_steps
from .streaming import block_cqt, check_cancel
from . import chunking
from .chunking import DEFAULT_CHUNK_SECONDS
from .nmf import Step, background_activation, beta_divergence, initialize, iterate_mu
from .notes import Note, NoteParams, extract_notes
from .templates import Templates, harmonic_templates, load_templates
from .unrolled import UnrolledConfig, UnrolledMU

RESOURCES = Path(os.environ.get("UNMF_RESOURCES", Path(__file__).resolve().parent.parent / "resources"))
DEFAULT_TEMPLATES = RESOURCES / "templates" / "default.npz"
DEFAULT_MODEL = RESOURCES / "models" / "default.pt"
DEMO_AUDIO = RESOURCES / "demo" / "demo.flac"
DEMO_MIDI = RESOURCES / "demo" / "demo.mid"

METHODS = ("unrolled", "mu")


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; ``"cuda"`` without a GPU is an error.

    Raises
    ------
    DeviceError
        A CUDA device was asked for and none is available.
    """
    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError("--device cuda: no CUDA GPU is available (use --device cpu or auto)")
    try:
        return torch.device(name)
    except RuntimeError:
        raise DeviceError(f"unknown device {name!r} (use auto, cpu or cuda)") from None


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
        MU steps from the seeded random start that initialise H.
    seed : int
        Seed of the random start (same for both methods: same initialisation).
    notes : NoteParams or None
        Note extraction settings; None (default): the model's calibrated
        settings for unrolled runs when its checkpoint has them (a fine-tuned
        model), else :class:`~unmf_core.notes.NoteParams`'s defaults. See
        :meth:`Engine.notes_for`.
    track_divergence : bool
        Compute D(M | WH) at every step.
    chunk_seconds : float or None
        Recordings longer than this are factorised in time chunks of this
        length (:mod:`unmf_core.chunking`): the same result, with memory
        bounded by the chunk instead of the length. Lower it to save memory;
        None or 0 never chunks.
    cancel : callable, optional
        Checked between chunks of long runs (:func:`unmf_core.streaming.check_cancel`);
        when it returns True the run raises :class:`~unmf_core.errors.Cancelled`
        within one chunk instead of at the next step.
    """

    method: str = "unrolled"
    iterations: int = 100
    layers: int | None = None
    beta: float = 1.0
    update_w: bool = False
    init_iters: int = 5
    seed: int = 0
    notes: NoteParams | None = None
    track_divergence: bool = True
    chunk_seconds: float | None = DEFAULT_CHUNK_SECONDS
    cancel: Callable[[], bool] | None = field(default=None, repr=False, compare=False)


@dataclass
class Transcription:
    """Result of one run, in plain numpy data.

    Attributes
    ----------
    notes : list of Note
    H, W : np.ndarray
        Final activations ``(88, T)`` and templates ``(n_bins, 88)``.
    divergences : list of float
        D(M | WH) after the initialisation and after each step.
    frame_rate : float
    duration : float
        Audio length in seconds.
    params : dict
        Everything needed to reproduce the run (CQT, method, steps, model…);
        ``params["fallback"]`` lists the out-of-memory fallbacks taken, if any.
    timings : dict
        Seconds spent in each stage.
    background : np.ndarray or None
        ``(88,)`` activation of the recording's stationary background (see
        :func:`unmf_core.nmf.background_activation`), used by note extraction.
    """

    notes: list[Note]
    H: np.ndarray
    W: np.ndarray
    divergences: list[float]
    frame_rate: float
    duration: float
    params: dict
    timings: dict
    background: np.ndarray | None = None

    def renotes(self, params: NoteParams) -> list[Note]:
        """Re-extract notes from the stored H with other settings (no new factorisation)."""
        return extract_notes(self.H, self.frame_rate, params, background=self.background)


def model_notes(model: str | Path | None = None) -> NoteParams:
    """Note settings a checkpoint was calibrated with (None: the bundled model); defaults when it has none.

    They hold with the templates the model was calibrated with (see
    :attr:`Engine.calibrated_notes`). An unreadable checkpoint also gives the
    defaults (running it reports the problem).
    """
    from .errors import CheckpointError

    path = model if model is not None else (DEFAULT_MODEL if DEFAULT_MODEL.is_file() else None)
    if path is None:
        return NoteParams()
    try:
        return load_checkpoint(path).notes or NoteParams()
    except CheckpointError:
        return NoteParams()


class Engine:
    """Templates + model + device; transcribes files.

    Parameters
    ----------
    templates : Templates, str or Path, optional
        Templates, a templates file or a folder of single-note recordings.
        Default: the model's own templates, else ``resources/templates/default.npz``,
        else a harmonic model.
    model : Checkpoint, UnrolledMU, str or Path, optional
        The unrolled model. Default: ``resources/models/default.pt`` when present,
        else an untrained model (identical to plain MU).
    cqt : CQTParams, optional
        CQT parameters. Default: the model's, else :class:`CQTParams`'s defaults.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    """

    def __init__(self, templates=None, model=None, cqt: CQTParams | None = None, device: str = "auto"):
        self.device = resolve_device(device)
        if model is None and DEFAULT_MODEL.is_file():
            model = DEFAULT_MODEL
        if isinstance(model, (str, Path)):
            model = load_checkpoint(model, cqt)
        if isinstance(model, UnrolledMU):
            model = Checkpoint(model, None, None, "", {}, "", "unmf")
        if model is None:
            model = Checkpoint(UnrolledMU(UnrolledConfig()).eval(), None, None, "", {}, "", "untrained")
        self.checkpoint: Checkpoint = model
        self.cqt = cqt or model.cqt or CQTParams()
        self.templates = self._resolve_templates(templates)
        self.model = model.model.to(self.device).eval()
        self._W = torch.from_numpy(self.templates.W).to(self.device)
        #: Fallbacks taken so far (out of memory → smaller chunks → CPU), one line each.
        self.notices: list[str] = []

    def to(self, device: str | torch.device) -> "Engine":
        """Move the model and templates to another device (the out-of-memory fallback uses it)."""
        self.device = torch.device(device)
        self.model = self.model.to(self.device)
        self._W = self._W.to(self.device)
        return self

    def _resolve_templates(self, templates) -> Templates:
        if isinstance(templates, Templates):
            t = templates
        elif templates is not None:
            t = load_templates(templates, self.cqt, str(self.device))
        elif self.checkpoint.templates is not None:
            t = Templates(self.checkpoint.templates, self.checkpoint.cqt or self.cqt,
                          self.checkpoint.templates_source or "model's templates")
        elif DEFAULT_TEMPLATES.is_file():
            t = load_templates(DEFAULT_TEMPLATES, self.cqt)
        else:
            t = harmonic_templates(self.cqt)
        if not t.compatible_with(self.cqt):
            raise TemplateError("templates and CQT parameters disagree on the frequency axis")
        return t

    def describe(self) -> dict:
        """What is in use: model, templates, CQT and device (for the UI and for results)."""
        ck = self.checkpoint
        return {"model": ck.path or ck.kind, "model_kind": ck.kind, "layers": self.model.cfg.n_layers,
                "threshold": (self.calibrated_notes or NoteParams()).threshold,
                "templates": self.templates.source, "cqt": self.cqt.to_dict(), "device": str(self.device)}

    def load(self, source: str | Path | Audio) -> Audio:
        """Read a file at the working rate (an :class:`Audio` is resampled if needed)."""
        if isinstance(source, Audio):
            if source.sr == self.cqt.sr:
                return source
            from .audio import resample

            return replace(source, samples=resample(source.samples, source.sr, self.cqt.sr), sr=self.cqt.sr)
        return load_audio(source, self.cqt.sr)

    def spectrogram(self, audio: Audio, cancel: Callable[[], bool] | None = None) -> torch.Tensor:
        """Magnitude CQT ``(n_bins, T)`` on the engine's device (on the CPU if it runs out of memory)."""
        return fallback_spectrogram(self, audio, cancel)

    def plain_spectrogram(self, audio: Audio, cancel: Callable[[], bool] | None = None) -> torch.Tensor:
        """:meth:`spectrogram` without the out-of-memory fallback (long signals go in blocks)."""
        return block_cqt(audio.samples, self.cqt, self.device, cancel=cancel)

    def initial(self, M: torch.Tensor, opts: Options) -> tuple[torch.Tensor, torch.Tensor]:
        """Initial (W, H) for M; identical for both methods given ``opts.seed``."""
        beta = self.model.cfg.beta if opts.method == "unrolled" else opts.beta
        chunk = self.chunk_frames(M, opts)
        with torch.no_grad():
            if chunk:
                return chunking.initialize(M, self._W, opts.init_iters, beta, opts.seed, chunk, opts.cancel)
            return initialize(M, self._W, opts.init_iters, beta, opts.seed)

    def chunk_frames(self, M: torch.Tensor, opts: Options) -> int | None:
        """Frames per time chunk for M under ``opts``, or None when M is short enough to run whole.

        Chunks are of equal length, at most ``opts.chunk_seconds`` each.
        """
        if not opts.chunk_seconds or opts.chunk_seconds <= 0:
            return None
        frames = max(1, int(round(opts.chunk_seconds * self.cqt.frame_rate)))
        n = M.shape[-1]
        return -(-n // -(-n // frames)) if n > frames else None

    def steps(self, M: torch.Tensor, opts: Options) -> Iterator[Step]:
        """Yield the initial state (index 0) and the state after each iteration / layer.

        Stop iterating to cancel: nothing runs between two yields. If the
        device runs out of memory, the run goes on in smaller chunks, then on
        the CPU (:mod:`unmf_core.fallback`; see :attr:`notices`).
        """
        return fallback_steps(self, M, opts)

    def plain_steps(self, M: torch.Tensor, opts: Options) -> Iterator[Step]:
        """:meth:`steps` without the out-of-memory fallback."""
        if opts.method not in METHODS:
            raise ValueError(f"unknown method {opts.method!r} (use {' or '.join(METHODS)})")
        W, H = self.initial(M, opts)
        chunk = self.chunk_frames(M, opts)
        if opts.method == "mu":
            beta = opts.beta
            if chunk:
                it = chunking.iterate_mu(M, W, H, opts.iterations, beta, opts.update_w,
                                         track_divergence=opts.track_divergence, chunk=chunk, cancel=opts.cancel)
            else:
                it = iterate_mu(M, W, H, opts.iterations, beta, opts.update_w,
                                track_divergence=opts.track_divergence)
        else:
            beta = self.model.cfg.beta
            it = self._layers(M, W, H, opts)
        if not opts.track_divergence:
            d0 = float("nan")
        elif chunk:
            d0 = chunking.divergence(M, W, H, beta, chunk)
        else:
            d0 = float(beta_divergence(M, W @ H, beta))
        yield Step(0, W, H, d0)
        yield from it

    def _layers(self, M, W, H, opts: Options) -> Iterator[Step]:
        n = self.model.cfg.n_layers if opts.layers is None else min(opts.layers, self.model.cfg.n_layers)
        chunk = self.chunk_frames(M, opts)
        if chunk:
            yield from chunking.iter_layers(self.model, M, W, H, opts.track_divergence, chunk, n, opts.cancel)
            return
        with torch.no_grad():
            for step in self.model.iter_layers(M, W, H, opts.track_divergence):
                if step.index > n:
                    break
                yield step

    @property
    def calibrated_notes(self) -> NoteParams | None:
        """The model's calibrated note settings, if it has them and they hold for the templates in use.

        A fine-tuning picks the onset threshold for its model *with the templates
        it was fine-tuned with* (stored in the checkpoint): the threshold is
        relative to the activation scale, which other templates change, so with
        other templates the defaults apply.
        """
        ck = self.checkpoint
        if ck.notes is None:
            return None
        if ck.templates is not None and not (ck.templates.shape == self.templates.W.shape
                                             and np.allclose(ck.templates, self.templates.W, rtol=1e-5, atol=1e-8)):
            return None
        return ck.notes

    def notes_for(self, opts: Options) -> NoteParams:
        """The note settings a run uses: ``opts.notes``, else :attr:`calibrated_notes` (unrolled runs), else defaults."""
        if opts.notes is not None:
            return opts.notes
        if opts.method == "unrolled" and self.calibrated_notes is not None:
            return self.calibrated_notes
        return NoteParams()

    def params(self, opts: Options) -> dict:
        """The parameters that define a run (recorded with every result)."""
        d = self.describe()
        d.update(method=opts.method, beta=opts.beta if opts.method == "mu" else self.model.cfg.beta,
                 steps=opts.iterations if opts.method == "mu" else (opts.layers or self.model.cfg.n_layers),
                 update_w=opts.update_w, init_iters=opts.init_iters, seed=opts.seed,
                 notes=self.notes_for(opts).to_dict())
        return d

    def transcribe(self, source: str | Path | Audio, opts: Options | None = None,
                   callback: Callable[[Step], object] | None = None) -> Transcription:
        """Transcribe a file.

        Parameters
        ----------
        source : str, Path or Audio
            The recording.
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
        n_notices = len(self.notices)
        t0 = time.perf_counter()
        audio = self.load(source)
        t1 = time.perf_counter()
        M = self.spectrogram(audio, opts.cancel)
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
        result = self.finish(M, last, opts)
        t4 = time.perf_counter()
        if len(self.notices) > n_notices:
            result.params["fallback"] = self.notices[n_notices:]
        result.divergences = divs
        result.duration = audio.duration
        result.timings = {"load": t1 - t0, "cqt": t2 - t1, "factorise": t3 - t2, "notes": t4 - t3, "total": t4 - t0}
        return result

    def finish(self, M: torch.Tensor, step: Step, opts: Options) -> Transcription:
        """The :class:`Transcription` of one step: notes, activations, templates, background and parameters.

        The one path from a factorisation to notes: :meth:`transcribe` calls it
        on its last step, the app on every layer it shows (and
        :meth:`Transcription.renotes` re-extracts at other settings), so both
        apply the same broadband-background gate and calibrated thresholds
        (:meth:`notes_for`).

        Parameters
        ----------
        M : torch.Tensor
            Magnitude CQT ``(n_bins, T)`` the step was computed from.
        step : Step
            One state of :meth:`steps`.
        opts : Options
            The run's options.

        Returns
        -------
        Transcription
            ``divergences`` holds the step's own divergence, ``duration`` the
            length of M, ``params["step"]`` the step's index.
        """
        H = step.H.detach().cpu().numpy().copy()  # a copy: the steps that follow may update H in place
        bg = self.background(M.to(step.W.device), step.W, opts)
        notes = extract_notes(H, self.cqt.frame_rate, self.notes_for(opts), background=bg)
        params = self.params(opts)
        params["step"] = step.index
        return Transcription(notes, H, step.W.detach().cpu().numpy().copy(), [step.divergence], self.cqt.frame_rate,
                             M.shape[-1] / self.cqt.frame_rate, params, {}, bg)

    def background(self, M: torch.Tensor, W: torch.Tensor, opts: Options) -> np.ndarray:
        """Per-key background activation of M on W (for note extraction).

        The last result is reused while M and W are the same, unchanged tensors
        (plain MU keeps W: :meth:`finish` on every step then costs one
        background, not one per step).
        """
        beta = opts.beta if opts.method == "mu" else self.model.cfg.beta
        key = (M._version, W._version, beta)
        cached = getattr(self, "_background", None)
        if cached is not None and cached[0]() is M and cached[1]() is W and cached[2] == key:
            return cached[3]
        bg = background_activation(M, W, beta).cpu().numpy()
        self._background = (weakref.ref(M), weakref.ref(W), key, bg)
        return bg
