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
from unmf_core.transcription.display import activation_db, reconstruction, to_db
from unmf_core.nmf.kernels import Step
from unmf_core.transcription.engine import Engine, Options, Transcription

#: Memory allowed for the kept layers of a run (H, its dB image and W·H's: snapshots are thinned beyond it).
SNAPSHOT_BUDGET = 1024 * 2 ** 20
#: Never store more snapshots than this per method.
MAX_SNAPSHOTS = 200


@dataclass(frozen=True)
class EngineSpec:
    """What the engine is built from: templates, model (paths or None for defaults), device."""

    templates: str | None = None
    model: str | None = None
    device: str = "auto"


@dataclass
class Loaded:
    """A decoded recording, its magnitude CQT (numpy, on the CPU) and that CQT in dB (for display)."""

    audio: Audio
    M: np.ndarray
    frame_rate: float
    seconds: float
    M_db: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.M_db is None:
            self.M_db = to_db(self.M)


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
    H_db, WH_db : np.ndarray or None
        Activations in dB (``(88, T)``) and the reconstruction W·H in dB on the
        scale of M (``(n_bins, T)``), as the views draw them.
    """

    index: int
    divergence: float
    result: Transcription | None = None
    H_db: np.ndarray | None = None
    WH_db: np.ndarray | None = None

    @classmethod
    def of(cls, engine: Engine, M: torch.Tensor, step: Step, opts: Options, M_max: float) -> "Snapshot":
        """A kept layer: its transcription and images (computed in the calling thread)."""
        result = engine.finish(M, step, opts)
        return cls(step.index, step.divergence, result, activation_db(result.H),
                   to_db(reconstruction(result.W, result.H), M_max))


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
    """Store one snapshot in this many, so the stored activations fit the memory budget."""
    per = (88 * 2 + 288) * max(1, n_frames) * 4
    limit = max(2, min(MAX_SNAPSHOTS, SNAPSHOT_BUDGET // (per * max(1, n_methods))))
    return max(1, math.ceil((n_steps + 1) / limit))


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
        One step of run ``key`` (kept layers carry their transcription and images).
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
        t0 = time.perf_counter()
        opts = replace(opts, cancel=cancelled)
        for step in eng.steps(M, opts):
            if step.index % every == 0 or step.index == n:
                yield "step", key, Snapshot.of(eng, M, step, opts, M_max)
            else:
                yield "step", key, Snapshot(step.index, step.divergence)
        yield "done", key, time.perf_counter() - t0
