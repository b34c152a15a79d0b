"""Worker processes that each build an expensive object once (an engine) and then serve many items with it.

:func:`run_in_processes` is the parallel half of :func:`unmf_core.transcription.batch.run_batch`:
``spawn`` processes (safe in a process with threads, such as the app), each with one
native thread, Ctrl+C left to the caller, at most one item per worker in flight (so
"started" means running), and a cancel that ends every worker without leaving a
half-written file or a process behind. Nothing here knows about audio or torch.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from typing import Callable, Iterable, Iterator

from ..errors import Cancelled, UnmfError

#: Seconds a cancelled run waits for its workers to stop on their own before terminating them.
CANCEL_GRACE = 2.0
#: Environment variables that fix a worker's native thread pools (set before it imports torch).
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

_WORKER: dict = {}


def run_in_processes(items: Iterable, factory: Callable, workers: int, cancel: Callable[[], bool] | None = None,
                     threads: int = 1) -> Iterator[tuple[str, int, object]]:
    """Serve ``items`` from ``workers`` processes; yield ``("start", i, None)`` and ``("done", i, result)``.

    Parameters
    ----------
    items : iterable
        Picklable work items, handed out in order.
    factory : callable
        ``factory(stop) -> serve``, picklable (module-level function or ``functools.partial``);
        run once in each worker. ``stop()`` turns True when the run is cancelled (poll it);
        ``serve(item)`` returns the picklable result of one item. An
        :class:`~unmf_core.errors.UnmfError` from ``factory`` is raised here on the first item.
    workers : int
    cancel : callable, optional
        Polled every 0.1 s; True ends the run: ``stop()`` turns True in every
        worker, which gets :data:`CANCEL_GRACE` seconds to return, then is
        terminated; then :class:`~unmf_core.errors.Cancelled` is raised. Closing
        the generator does the same (without the exception).
    threads : int
        Native threads per worker (``OMP_NUM_THREADS`` and friends, set before the factory runs).
    """
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    cancel = cancel or (lambda: False)
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    todo = list(enumerate(items))[::-1]
    running: dict = {}
    pool = ProcessPoolExecutor(max(1, workers), mp_context=ctx, initializer=_init_worker,
                               initargs=(factory, stop, threads))

    def submit() -> int:
        i, item = todo.pop()
        running[pool.submit(_serve, item)] = i
        return i

    finished = False
    try:
        with _SigintIgnored():  # the pool starts one process per submit, up to `workers`: they inherit SIG_IGN
            started = [submit() for _ in range(min(max(1, workers), len(todo)))]
        for i in started:
            yield "start", i, None
        while running:
            done, _ = wait(list(running), timeout=0.1, return_when=FIRST_COMPLETED)
            if cancel():
                raise Cancelled("cancelled")
            for fut in done:
                i = running.pop(fut)
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    raise UnmfError("a worker process ended unexpectedly (out of memory?); "
                                    "try fewer parallel files (-j)") from None
                yield "done", i, result
                if todo:
                    yield "start", submit(), None
        finished = True
    finally:
        if not finished:
            stop.set()
        _close(pool, 30.0 if finished else CANCEL_GRACE)


def _init_worker(factory: Callable, stop, threads: int) -> None:
    """Pool initializer: native threads, Ctrl+C left to the parent, SIGTERM handled, the factory run once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_term)
    for name in THREAD_ENV:
        os.environ[name] = str(threads)
    try:
        _WORKER["serve"] = factory(stop.is_set)
    except UnmfError as exc:
        _WORKER["error"] = exc


def _exit_on_term(signum, _frame):
    """SIGTERM (a cancel not answered in time): unwind an item in progress (an atomic write removes its temp
    file on the way), or leave at once while starting (importing torch, building the engine)."""
    if _WORKER.get("busy"):
        raise SystemExit(128 + signum)
    os._exit(128 + signum)


def _serve(item):
    if "error" in _WORKER:
        raise _WORKER["error"]
    _WORKER["busy"] = True
    try:
        return _WORKER["serve"](item)
    except SystemExit as exc:  # terminated; finally clauses have run while unwinding
        os._exit(exc.code if isinstance(exc.code, int) else 1)
    finally:
        _WORKER["busy"] = False


class _SigintIgnored:
    """Ignore Ctrl+C while workers start: they inherit it and never see a KeyboardInterrupt (main thread only)."""

    def __enter__(self):
        self.old = None
        if threading.current_thread() is threading.main_thread():
            self.old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        return self

    def __exit__(self, *exc):
        if self.old is not None:
            signal.signal(signal.SIGINT, self.old)


def _close(pool, grace: float) -> None:
    """Shut the pool down: queued items dropped, each worker joined; one still alive after ``grace`` s is terminated
    (safe: see :func:`_exit_on_term`)."""
    procs = list(getattr(pool, "_processes", {}).values())  # the pool gives no public handle on its processes
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + grace
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in procs:
        if p.is_alive():
            p.terminate()
            p.join(5)
    pool.shutdown(wait=True)
