"""Background work: load, CQT, factorise and transcribe each kept layer in a QThread, emitting plain numpy data.

:func:`~unmf_gui.runs.run_events` (Qt-free, :mod:`unmf_gui.runs`) is the work of one
:class:`~unmf_gui.runs.RunRequest` as a generator: it
walks :meth:`unmf_core.transcription.engine.Engine.steps` for one or more methods (or for
one method with several models: base vs fine-tuned) and yields one event per
step; every kept layer comes with its :class:`~unmf_core.transcription.engine.Transcription`
from :meth:`Engine.finish <unmf_core.transcription.engine.Engine.finish>` (the notes
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

import os
import threading

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from unmf_core.frontend.cqt import CQTParams, compute_cqt
from unmf_core.errors import Cancelled, UnmfError
from unmf_gui.runs import (EngineSpec, Loaded, RunRequest, Snapshot, keep_every, run_events,  # noqa: F401 (re-exported)
                           total_steps)


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
    """Drains :func:`run_events` for one :class:`RunRequest` in a worker thread.

    Every signal carries the run id first; the run stops between two events
    once :meth:`cancel` is called.
    """

    engineReady = Signal(int, object)
    loaded = Signal(int, object)
    methodStarted = Signal(int, str, int)
    step = Signal(int, str, object)
    result = Signal(int, str, int, object)
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
                         "step": self.step, "result": self.result, "done": self.methodFinished}

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
    result = Signal(str, int, object)
    methodFinished = Signal(str, float)
    finished = Signal()
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._next_id = 0
        self._current: int | None = None
        self._workers: dict[int, tuple[RunWorker, QThread]] = {}
        self._pending: tuple[int, RunRequest] | None = None  # the next run, waiting for the last thread to end
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
        """Cancel the current run (without blocking) and start ``request``; returns its id.

        At most one worker thread runs at a time: while a cancelled run winds down
        (it stops at its next step boundary), the new one waits and starts when
        that thread has ended. Runs never share the engine or the CPU with each
        other (several threads building or running torch models at once crashed
        natively under a fast sequence of UI actions), and a request that is
        replaced before it starts never runs.
        """
        for worker, _ in self._workers.values():
            worker.cancel()
        self._next_id += 1
        rid = self._current = self._next_id
        self.runs_started += 1
        if self._workers:
            self._pending = (rid, request)
        else:
            self._pending = None
            self._launch(rid, request)
        self.started.emit()
        return rid

    def _launch(self, rid: int, request: RunRequest) -> None:
        worker = RunWorker(rid, request)
        thread = QThread()
        thread.setObjectName(f"unmf-run-{rid}")
        worker.moveToThread(thread)
        worker.engineReady.connect(self._on_engine)
        worker.loaded.connect(self._on_loaded)
        worker.methodStarted.connect(self._on_method_started)
        worker.step.connect(self._on_step)
        worker.result.connect(self._on_result)
        worker.methodFinished.connect(self._on_method_finished)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        thread.started.connect(worker.run)
        thread.finished.connect(self._on_thread_finished)
        self._workers[rid] = (worker, thread)
        thread.start()

    def cancel(self) -> None:
        """Ask the current run to stop; ``cancelled`` follows once it has (at once for one still waiting)."""
        worker = self.current_worker()
        if worker is not None:
            worker.cancel()
        elif self._pending is not None and self._pending[0] == self._current:
            self._pending = None
            self._current = None
            self.cancelled.emit()

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Cancel every run and join every thread; True when all have ended."""
        self._current = None
        self._pending = None
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
        if not self._workers and self._pending is not None:
            rid, request = self._pending
            self._pending = None
            self._launch(rid, request)

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

    @Slot(int, str, int, object)
    def _on_result(self, rid, method, step, result):
        if self._live(rid):
            self.result.emit(method, step, result)

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
