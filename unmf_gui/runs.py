"""A run of the app without Qt: what to run (:class:`RunRequest`), what comes back (:class:`Loaded`, :class:`Snapshot`)
and the work itself as a generator (:func:`run_events`), which :mod:`unmf_gui.workers` drains in a thread.

Every kept layer comes with its :class:`~unmf_core.transcription.engine.Transcription` from
:meth:`Engine.finish <unmf_core.transcription.engine.Engine.finish>` (the notes ``unmf
transcribe`` gives) and its dB images, computed here, off the GUI thread.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator

import numpy as np
import torch

from unmf_core.frontend.audio import Audio
from unmf_core.nmf.chunking import divergence
from unmf_core.transcription.display import MAX_COLUMNS, DbImage, activation_image, db_image, reconstruction_image
from unmf_core.nmf.kernels import Step
from unmf_core.transcription.engine import Engine, Options, Transcription
from unmf_core.transcription.threads import release_free_memory

#: Memory allowed for the kept layers of a run (H as float32 for notes and export, its image and W·H's as
#: :class:`~unmf_core.transcription.display.DbImage`): snapshots are thinned beyond it. An hour of audio keeps
#: its last layer only (132 MB); five minutes keep all 11 steps of a 10-layer run.
SNAPSHOT_BUDGET = 240 * 2 ** 20
#: Never store more snapshots than this per method.
MAX_SNAPSHOTS = 200
#: A kept layer's notes (:meth:`Engine.finish`) come with it when the last notes are this old (s) and the run
#: still has :data:`NOTES_AHEAD_S` to go; the other layers are shown at once and get their notes after the
#: last layer (same notes, later). A run of a few seconds or less (30 s of audio) thus shows all its layers
#: before any notes but the last layer's: their ~30 ms each would delay the layers that follow.
FINISH_EVERY_S = 0.25
#: Notes come with a layer only while the run's remaining steps are expected to take this long (s; estimated
#: from the latest step's time).
NOTES_AHEAD_S = 1.0


@dataclass(frozen=True)
class EngineSpec:
    """What the engine is built from: templates, model (paths or None for defaults), device."""

    templates: str | None = None
    model: str | None = None
    device: str = "auto"


#: Recordings at least this long (samples: 10 minutes at 22.05 kHz) keep their samples in a temporary file.
SPILL_SAMPLES = 10 * 60 * 22050


def spill(samples: np.ndarray) -> np.ndarray:
    """``samples`` in an anonymous temporary file, mapped read-only (same values, same dtype).

    The samples of a recording are only read to play it: mapped from a file, they cost no memory
    until played, and the system can drop them again (an hour at 22.05 kHz is 318 MB).
    """
    import tempfile

    samples = np.ascontiguousarray(samples)
    with tempfile.TemporaryFile(prefix="unmf-samples-") as f:  # deleted when closed; the mapping stays valid
        samples.tofile(f)
        f.flush()
        return np.memmap(f, dtype=samples.dtype, mode="r", shape=samples.shape)


@dataclass
class Loaded:
    """A decoded recording, its magnitude CQT (numpy, on the CPU) and that CQT in dB (a display image)."""

    audio: Audio
    M: np.ndarray
    frame_rate: float
    seconds: float
    M_db: DbImage | np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.M_db is None:
            self.M_db = db_image(self.M)
        samples = self.audio.samples
        if len(samples) >= SPILL_SAMPLES and not isinstance(samples, np.memmap):
            self.audio = replace(self.audio, samples=spill(samples))


@dataclass
class Snapshot:
    """State after one step; ``result`` and the images are None when the layer is not kept (divergence only).

    Attributes
    ----------
    index : int
        Step (0: the initialisation).
    divergence : float
    result : Transcription or None
        :meth:`Engine.finish <unmf_core.transcription.engine.Engine.finish>` of the step:
        notes, H ``(88, T)``, W ``(n_bins, 88)``, background.
    W : np.ndarray or None
        Templates of a kept layer whose ``result`` follows later (a ``"result"`` event).
    H_db, WH_db : DbImage or None
        Activations in dB (``(88, T)``) and the reconstruction W·H in dB on the
        scale of M (``(n_bins, T)``), as the views draw them (uint8 codes, max-pooled
        in time beyond :data:`~unmf_core.transcription.display.MAX_COLUMNS` frames;
        float dB arrays are drawn too).
    """

    index: int
    divergence: float
    result: Transcription | None = None
    H_db: DbImage | np.ndarray | None = None
    WH_db: DbImage | np.ndarray | None = None
    W: np.ndarray | None = None

    @property
    def kept(self) -> bool:
        """Whether the layer is kept (its result is here, or follows in a ``"result"`` event)."""
        return self.result is not None or self.H_db is not None

    @classmethod
    def of(cls, engine: Engine, M: torch.Tensor, step: Step, opts: Options, M_max: float) -> "Snapshot":
        """A kept layer: its transcription and images (computed in the calling thread)."""
        result = engine.finish(M, step, opts)
        return cls(step.index, step.divergence, result, activation_image(result.H),
                   reconstruction_image(result.W, result.H, M_max))

    @classmethod
    def preview(cls, step: Step, M_max: float) -> "Snapshot":
        """A kept layer's images and W now, its notes later (:meth:`of` without :meth:`Engine.finish`)."""
        H = step.H.detach().cpu().numpy()
        W = step.W.detach().cpu().numpy().copy()
        return cls(step.index, step.divergence, None, activation_image(H), reconstruction_image(W, H, M_max), W)


@dataclass
class RunRequest:
    """One job: a file (path or already loaded), the methods to run, and the engine to use.

    Attributes
    ----------
    models : list, optional
        One checkpoint path per option (None: the default model): each option
        then runs on an engine of its own with that model, the request engine's
        CQT and device, and templates shared by all (``spec.templates``, else the
        first model's own, as fine-tuning uses), so runs differ only by the model.
    keys : list of str, optional
        One key per option, under which its results are reported (default: its method).
    """

    source: str | Loaded
    options: list[Options]
    spec: EngineSpec = field(default_factory=EngineSpec)
    engine: Engine | None = None
    models: list[str | None] | None = None
    keys: list[str] | None = None

    def key(self, i: int) -> str:
        """Key of the results of option ``i``."""
        return self.keys[i] if self.keys else self.options[i].method


def total_steps(engine: Engine, opts: Options) -> int:
    """Number of steps (after the initial state) a run of ``opts`` will yield (the method decides)."""
    return engine.method(opts).steps


def keep_every(n_steps: int, n_frames: int, n_methods: int = 1) -> int:
    """Store one snapshot in this many, so the stored layers fit the memory budget.

    Kept are the steps ``0, every, 2·every, …`` and always the last, at most as many as the budget holds;
    ``every > n_steps``: only the last (its result is what export and the notes need), when the budget
    holds fewer than two (an hour of audio).
    """
    columns = min(max(1, n_frames), MAX_COLUMNS)
    per = 88 * 4 * max(1, n_frames) + (88 + 288) * columns  # H (float32) and its two uint8 images
    limit = min(MAX_SNAPSHOTS, SNAPSHOT_BUDGET // (per * max(1, n_methods)))
    if limit < 2:
        return n_steps + 1
    if n_steps + 1 <= limit:
        return 1
    return max(1, math.ceil(n_steps / (limit - 1)))


def is_kept(index: int, n_steps: int, every: int) -> bool:
    """Whether step ``index`` of ``n_steps`` is stored, given :func:`keep_every`."""
    return index == n_steps or (every <= n_steps and index % every == 0)


#: Frames per chunk of :func:`layer_divergences` (bounds its temporaries: ``W @ H`` of one chunk at a time).
DIVERGENCE_CHUNK = 4096


def layer_divergences(M: np.ndarray, results: list[Transcription]) -> list[float]:
    """D_β(M | W H) of each result (β of its method), for a divergence curve shown after its run.

    The app asks a run for its per-step divergence only while a divergence view is shown; a view
    shown later gets the curve of the kept layers from their W and H (the same sums as the tracked ones,
    up to float rounding).
    """
    Mt = torch.from_numpy(np.ascontiguousarray(M, dtype=np.float32))
    return [divergence(Mt, torch.from_numpy(r.W), torch.from_numpy(r.H), float(r.params.get("beta", 1.0)),
                       DIVERGENCE_CHUNK) for r in results]


#: Runs at least this long (frames) trim the heap after every step (:func:`release_free_memory`).
TRIM_FRAMES = 60_000


def run_events(request: RunRequest, cancelled: Callable[[], bool]) -> Iterator[tuple]:
    """The work of ``request`` as events; stop iterating to cancel (nothing runs between two yields).

    Yields
    ------
    ("engine", Engine)
        The engine was built from ``request.spec`` (not when the request brings one).
    ("loaded", Loaded)
        The recording was read and its CQT computed (not when the request brings it).
    ("started", key, total)
        Run ``key`` begins ``total`` steps.
    ("step", key, Snapshot)
        One step of run ``key`` (kept layers carry their images, and their transcription unless it
        follows in a ``"result"`` event).
    ("result", key, step, Transcription)
        The transcription of kept step ``step`` of run ``key``, delivered after the run's last layer
        when the layers came faster than :data:`FINISH_EVERY_S` or the run was near its end
        (:data:`NOTES_AHEAD_S`; the last layer always comes with its own).
    ("done", key, seconds)
        Run ``key`` ended.
    """
    engine = request.engine
    if engine is None:
        spec = request.spec
        engine = Engine(templates=spec.templates, model=spec.model, device=spec.device)
        yield "engine", engine
    loaded = request.source
    if not isinstance(loaded, Loaded):
        audio = engine.load(loaded)
        if cancelled():
            return
        M = engine.spectrogram(audio, cancelled).detach().cpu().numpy()
        loaded = Loaded(audio, M, engine.cqt.frame_rate, audio.duration)
        del audio  # a long recording's samples now live in a file (Loaded), not in memory
        yield "loaded", loaded
    M = torch.from_numpy(loaded.M).to(engine.device)
    M_max = float(loaded.M.max())
    engines: dict[str | None, Engine] = {}
    for i, opts in enumerate(request.options):
        eng, key = engine, request.key(i)
        if request.models is not None:
            model = request.models[i]
            if model not in engines:
                shared = next(iter(engines.values())).templates if engines else request.spec.templates
                engines[model] = Engine(templates=shared, model=model, cqt=engine.cqt, device=str(engine.device))
            eng = engines[model]
        n = total_steps(eng, opts)
        every = keep_every(n, M.shape[-1], len(request.options))
        yield "started", key, n
        t0 = last = prev = time.perf_counter()
        opts = replace(opts, cancel=cancelled)
        later: list[Step] = []  # kept layers whose notes follow the last layer
        for step in eng.steps(M, opts):
            if M.shape[-1] >= TRIM_FRAMES:
                release_free_memory()
            kept = is_kept(step.index, n, every)
            now = time.perf_counter()
            ahead, prev = (n - step.index) * (now - prev), now  # the rest of the run at this step's pace
            if step.index == n or (kept and now - last >= FINISH_EVERY_S and ahead >= NOTES_AHEAD_S):
                yield "step", key, Snapshot.of(eng, M, step, opts, M_max)
                last = time.perf_counter()
            elif kept:
                snap = Snapshot.preview(step, M_max)
                # the next steps may update H in place: keep a copy (W is replaced, never updated in place)
                later.append(Step(step.index, step.W, step.H.detach().clone(), step.divergence))
                yield "step", key, snap
            else:
                yield "step", key, Snapshot(step.index, step.divergence)
        for step in later:
            yield "result", key, step.index, eng.finish(M, step, opts)
        yield "done", key, time.perf_counter() - t0
