"""Background work: load, CQT, factorise and transcribe each kept layer in a QThread, emitting plain numpy data.

:func:`run_events` is the work of one :class:`RunRequest` as a generator: it
walks :meth:`unmf_core.pipeline.Engine.steps` for one or more methods (or for
one method with several models: base vs fine-tuned) and yields one event per
step; every kept layer comes with its :class:`~unmf_core.pipeline.Transcription`
from :meth:`Engine.finish <unmf_core.pipeline.Engine.finish>` (the notes
``unmf transcribe`` gives) and its dB images, so the GUI thread computes
nothing when a layer is shown. A :class:`RunWorker` drains the generator in its
own :class:`~PySide6.QtCore.QThread` and stops between two yields once
cancelled. :class:`RunController` (in the GUI thread) starts runs, cancels the
previous one when a new one starts, drops signals of stale runs (run ids) and
joins every thread on shutdown.

Why not superqt's ``thread_worker``: :func:`run_events` is already the
generator such a worker would run, but superqt 0.9's ``WorkerBase.run`` wraps
every job in ``warnings.catch_warnings()`` with ``filterwarnings("always")``
and a replaced ``warnings.showwarning``. That state is process-wide, not
per-thread: while a run is in flight it overrides the warning filters of the GUI
thread and of the test suite (``filterwarnings = error``), and overlapping
runs (a cancelled one winding down while the next starts) restore each other's
saved filters in the wrong order. Its jobs also run on
``QThreadPool.globalInstance()``, whose threads are reused: the lowered
scheduling priority a run sets on its thread (so the UI stays responsive on a
busy machine) would stick to a pool thread and cannot be raised back without
privileges. The QThread driver below is ~40 lines; superqt is therefore not a
dependency.
"""
from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator

import numpy as np
import torch
from PySide6.QtCore import QObject, QThread, Signal, Slot

from unmf_core.audio import Audio
from unmf_core.cqt import CQTParams, compute_cqt
from unmf_core.display import activation_db, reconstruction, to_db
from unmf_core.errors import Cancelled, UnmfError
from unmf_core.nmf import Step
from unmf_core.pipeline import Engine, Options, Transcription

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
        :meth:`Engine.finish <unmf_core.pipeline.Engine.finish>` of the step:
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
    """Number of steps (after the initial state) a run of ``opts`` will yield."""
    if opts.method == "mu":
        return opts.iterations
    n = engine.model.cfg.n_layers
    return n if opts.layers is None else min(opts.layers, n)


def keep_every(n_steps: int, n_frames: int, n_methods: int = 1) -> int:
    """Store one snapshot in this many, so the stored activations fit the memory budget."""
    per = (88 * 2 + 288) * max(1, n_frames) * 4
    limit = max(2, min(MAX_SNAPSHOTS, SNAPSHOT_BUDGET // (per * max(1, n_methods))))
    return max(1, math.ceil((n_steps + 1) / limit))


def _lower_priority(niceness: int = 10) -> None:
    """Make the calling thread yield the CPU to the UI thread on a busy machine (Linux; no-op elsewhere)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError):  # not Linux, or not permitted
        pass


def warm_up(params: CQTParams | None = None) -> None:
    """Build the CQT once in the calling thread.

    The first CQT of a process initialises librosa's filter code, which holds
    Python's GIL for a few hundred milliseconds; doing it before the window is
    shown keeps that pause out of the first run (where it would stall the UI).
    """
    compute_cqt(np.zeros(4096, dtype=np.float32), params or CQTParams(), "cpu")


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


class RunWorker(QObject):
    """Drains :func:`run_events` for one :class:`RunRequest` in a worker thread.

    Every signal carries the run id first; the run stops between two events
    once :meth:`cancel` is called.
    """

    engineReady = Signal(int, object)
    loaded = Signal(int, object)
    methodStarted = Signal(int, str, int)
    step = Signal(int, str, object)
    methodFinished = Signal(int, str, float)
    finished = Signal(int)
    failed = Signal(int, str)
    cancelled = Signal(int)

    def __init__(self, run_id: int, request: RunRequest):
        super().__init__()
        self.run_id = run_id
        self.request = request
        self._cancel = threading.Event()
        self._signals = {"engine": self.engineReady, "loaded": self.loaded, "started": self.methodStarted,
                         "step": self.step, "done": self.methodFinished}

    def cancel(self) -> None:
        """Ask the run to stop at the next step boundary (thread-safe)."""
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._cancel.is_set()

    @Slot()
    def run(self) -> None:
        """Do the work; always ends with exactly one of finished / failed / cancelled."""
        rid = self.run_id
        _lower_priority()
        try:
            for kind, *args in run_events(self.request, self._cancel.is_set):
                if self._cancel.is_set():
                    break
                self._signals[kind].emit(rid, *args)
            if self._cancel.is_set():
                self.cancelled.emit(rid)
            else:
                self.finished.emit(rid)
        except Cancelled:
            self.cancelled.emit(rid)
        except UnmfError as exc:
            self.failed.emit(rid, str(exc))
        except Exception as exc:  # report anything else in the dialog instead of losing the thread
            self.failed.emit(rid, f"{type(exc).__name__}: {exc}")
        finally:
            QThread.currentThread().quit()


class RunController(QObject):
    """Starts and cancels runs; relays the signals of the current run only.

    Signals carry no run id: only the newest run is ever relayed.
    """

    started = Signal()
    engineReady = Signal(object)
    loaded = Signal(object)
    methodStarted = Signal(str, int)
    step = Signal(str, object)
    methodFinished = Signal(str, float)
    finished = Signal()
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._next_id = 0
        self._current: int | None = None
        self._workers: dict[int, tuple[RunWorker, QThread]] = {}
        self.runs_started = 0

    @property
    def running(self) -> bool:
        """Whether the current run is still going."""
        return self._current is not None

    def current_worker(self) -> RunWorker | None:
        """The worker of the current run (None when idle)."""
        pair = self._workers.get(self._current) if self._current is not None else None
        return pair[0] if pair else None

    def threads(self) -> list[QThread]:
        """Threads not yet finished (current and cancelled ones winding down)."""
        return [t for _, t in self._workers.values()]

    def start(self, request: RunRequest) -> int:
        """Cancel the current run (without blocking) and start ``request``; returns its id."""
        self.cancel()
        self._next_id += 1
        rid = self._current = self._next_id
        worker = RunWorker(rid, request)
        thread = QThread()
        thread.setObjectName(f"unmf-run-{rid}")
        worker.moveToThread(thread)
        worker.engineReady.connect(self._on_engine)
        worker.loaded.connect(self._on_loaded)
        worker.methodStarted.connect(self._on_method_started)
        worker.step.connect(self._on_step)
        worker.methodFinished.connect(self._on_method_finished)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        thread.started.connect(worker.run)
        thread.finished.connect(self._on_thread_finished)
        self._workers[rid] = (worker, thread)
        self.runs_started += 1
        thread.start()
        self.started.emit()
        return rid

    def cancel(self) -> None:
        """Ask the current run to stop; ``cancelled`` follows once it has."""
        worker = self.current_worker()
        if worker is not None:
            worker.cancel()

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Cancel every run and join every thread; True when all have ended."""
        self._current = None
        ok = True
        for worker, thread in list(self._workers.values()):
            worker.cancel()
        for worker, thread in list(self._workers.values()):
            ok = thread.wait(timeout_ms) and ok
        for rid in list(self._workers):
            self._reap(rid)
        return ok

    @Slot()
    def _on_thread_finished(self):
        thread = self.sender()
        for rid, (_, t) in list(self._workers.items()):
            if t is thread:
                self._reap(rid)

    def _reap(self, rid: int) -> None:
        pair = self._workers.pop(rid, None)
        if pair is not None:
            pair[0].deleteLater()
            pair[1].deleteLater()

    def _live(self, rid: int) -> bool:
        return rid == self._current

    @Slot(int, object)
    def _on_engine(self, rid, engine):
        if self._live(rid):
            self.engineReady.emit(engine)

    @Slot(int, object)
    def _on_loaded(self, rid, loaded):
        if self._live(rid):
            self.loaded.emit(loaded)

    @Slot(int, str, int)
    def _on_method_started(self, rid, method, n):
        if self._live(rid):
            self.methodStarted.emit(method, n)

    @Slot(int, str, object)
    def _on_step(self, rid, method, snap):
        if self._live(rid):
            self.step.emit(method, snap)

    @Slot(int, str, float)
    def _on_method_finished(self, rid, method, seconds):
        if self._live(rid):
            self.methodFinished.emit(method, seconds)

    @Slot(int)
    def _on_finished(self, rid):
        if self._live(rid):
            self._current = None
            self.finished.emit()

    @Slot(int, str)
    def _on_failed(self, rid, message):
        if self._live(rid):
            self._current = None
            self.failed.emit(message)

    @Slot(int)
    def _on_cancelled(self, rid):
        if self._live(rid):
            self._current = None
            self.cancelled.emit()
