"""Background work: load, CQT and factorise in a QThread, emitting plain numpy snapshots.

A :class:`RunWorker` lives in its own :class:`~PySide6.QtCore.QThread` and walks
:meth:`unmf_core.transcription.engine.Engine.steps` for one or more methods (or for one
method with several models: base vs fine-tuned), checking a cancel flag between
steps. :class:`RunController` (in the GUI thread) starts runs, cancels the
previous one when a new one starts, drops signals of stale runs and joins every
thread on shutdown.
"""
from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from PySide6.QtCore import QObject, QThread, Signal, Slot

from unmf_core.frontend.audio import Audio
from unmf_core.frontend.cqt import CQTParams, compute_cqt
from unmf_core.errors import Cancelled, UnmfError
from unmf_core.transcription.engine import Engine, Options

#: Memory allowed for stored activations per run (snapshots are thinned beyond it).
SNAPSHOT_BUDGET = 512 * 2 ** 20
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
    """A decoded recording and its magnitude CQT (numpy, on the CPU)."""

    audio: Audio
    M: np.ndarray
    frame_rate: float
    seconds: float


@dataclass
class Snapshot:
    """State after one step: ``W`` is None when unchanged, ``H`` None when not kept."""

    index: int
    divergence: float
    W: np.ndarray | None
    H: np.ndarray | None


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
    per = 88 * max(1, n_frames) * 4
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


class RunWorker(QObject):
    """Runs one :class:`RunRequest`; lives in a worker thread. Every signal carries the run id first."""

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
            if self._work():
                self.finished.emit(rid)
            else:
                self.cancelled.emit(rid)
        except Cancelled:
            self.cancelled.emit(rid)
        except UnmfError as exc:
            self.failed.emit(rid, str(exc))
        except Exception as exc:  # report anything else in the dialog instead of losing the thread
            self.failed.emit(rid, f"{type(exc).__name__}: {exc}")
        finally:
            QThread.currentThread().quit()

    def _work(self) -> bool:
        req = self.request
        engine = req.engine
        if engine is None:
            spec = req.spec
            engine = Engine(templates=spec.templates, model=spec.model, device=spec.device)
            self.engineReady.emit(self.run_id, engine)
        if self._cancel.is_set():
            return False
        loaded = req.source
        if not isinstance(loaded, Loaded):
            audio = engine.load(loaded)
            if self._cancel.is_set():
                return False
            M = engine.spectrogram(audio, self._cancel.is_set).detach().cpu().numpy()
            loaded = Loaded(audio, M, engine.cqt.frame_rate, audio.duration)
            self.loaded.emit(self.run_id, loaded)
        M = torch.from_numpy(loaded.M).to(engine.device)
        engines: dict[str | None, Engine] = {}
        for i, opts in enumerate(req.options):
            eng = engine
            if req.models is not None:
                model = req.models[i]
                if model not in engines:
                    shared = next(iter(engines.values())).templates if engines else req.spec.templates
                    engines[model] = Engine(templates=shared, model=model, cqt=engine.cqt, device=str(engine.device))
                eng = engines[model]
            if self._cancel.is_set() or not self._run_method(eng, M, opts, len(req.options), req.key(i)):
                return False
        return True

    def _run_method(self, engine: Engine, M: torch.Tensor, opts: Options, n_methods: int, key: str) -> bool:
        n = total_steps(engine, opts)
        every = keep_every(n, M.shape[-1], n_methods)
        self.methodStarted.emit(self.run_id, key, n)
        t0 = time.perf_counter()
        last_W = None
        for step in engine.steps(M, replace(opts, cancel=self._cancel.is_set)):
            if self._cancel.is_set():
                return False
            W = None
            if step.W is not last_W:
                W = step.W.detach().cpu().numpy().copy()
                last_W = step.W
            keep = step.index % every == 0 or step.index == n
            H = step.H.detach().cpu().numpy().copy() if keep else None
            self.step.emit(self.run_id, key, Snapshot(step.index, step.divergence, W, H))
        self.methodFinished.emit(self.run_id, key, time.perf_counter() - t0)
        return True


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
