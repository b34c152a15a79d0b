"""Out-of-memory fallback: retry a run in smaller time chunks, then on the CPU, and say so.

It knows nothing of the engine. :func:`with_fallback` wraps a factory of step
iterators, ``make_steps(chunk_seconds, device)``: when the accelerator runs
out of memory it frees what it can, then asks the factory for the same run
again with time chunks a quarter as long (chunked results equal unchunked ones,
see :mod:`unmf_core.nmf.chunking`), and finally on the CPU. Steps already
delivered before the failure are recomputed but not yielded again, so a
consumer sees each step once. :func:`compute_with_cpu_fallback` does the same
for one computation (the spectrogram). Every fallback is reported through a
``notify(message)`` callback (the engine logs it on the ``unmf`` logger and
keeps it in ``Engine.notices``).
"""
from __future__ import annotations

from typing import Callable, Iterator, TypeVar

import torch

from ..errors import DeviceError
from ..nmf.kernels import Step

#: Each retry divides the chunk length by this.
CHUNK_DIVISOR = 4
#: No retry uses chunks shorter than this (seconds); below it the CPU takes over.
MIN_CHUNK_SECONDS = 1.0

T = TypeVar("T")
Notify = Callable[[str], None]
CPU = torch.device("cpu")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an accelerator (or CPU allocator) out-of-memory error."""
    if isinstance(exc, (torch.cuda.OutOfMemoryError, MemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def _free() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _cpu_error(exc: BaseException) -> DeviceError:
    first = " ".join(str(exc).split())[:160]
    return DeviceError(f"out of memory on the CPU ({first}); try a shorter recording or close other programs")


def _recover_or_raise(device: torch.device, exc: BaseException) -> None:
    """Re-raise ``exc`` unless it is an accelerator's out-of-memory error (the CPU's becomes a
    :class:`DeviceError`); otherwise free cached memory so the caller can retry."""
    if not is_out_of_memory(exc):
        raise exc
    if device.type == "cpu":
        raise _cpu_error(exc) from None
    _free()


def chunk_plan(n_frames: int, frame_rate: float, chunk_seconds: float | None) -> list[float]:
    """Chunk lengths (seconds) to retry with after an out-of-memory error, longest first."""
    length = n_frames / frame_rate
    start = min(chunk_seconds, length) if chunk_seconds and chunk_seconds > 0 else length
    plan = []
    s = start / CHUNK_DIVISOR
    while s >= MIN_CHUNK_SECONDS:
        plan.append(s)
        s /= CHUNK_DIVISOR
    return plan


def with_fallback(make_steps: Callable[[float | None, torch.device], Iterator[Step]], chunk_seconds: float | None,
                  plan: list[float], device: torch.device, notify: Notify) -> Iterator[Step]:
    """The steps of ``make_steps(chunk_seconds, device)``, retried after out-of-memory errors.

    Parameters
    ----------
    make_steps : callable
        ``make_steps(chunk_seconds, device)`` → an iterator of :class:`Step`
        (index 0, 1, …): the same run at any chunk length, on any device.
    chunk_seconds : float or None
        The first attempt's chunk length.
    plan : list of float
        Shorter chunk lengths to retry with on ``device`` (:func:`chunk_plan`);
        after them the run goes to the CPU with ``chunk_seconds``.
    device : torch.device
        Where the first attempt runs.
    notify : callable
        Called with one line for every fallback taken.

    Raises
    ------
    DeviceError
        Out of memory on the CPU: there is nothing left to fall back to.
    """
    attempts = [chunk_seconds, *plan]
    delivered = 0
    while True:
        for i, secs in enumerate(attempts):
            try:
                for k, step in enumerate(make_steps(secs, device)):
                    if k >= delivered:
                        delivered += 1
                        yield step
                return
            except Exception as exc:  # noqa: BLE001 - only out-of-memory errors are handled
                _recover_or_raise(device, exc)
                if i + 1 < len(attempts):
                    notify(f"out of memory on {device}: retrying in chunks of {attempts[i + 1]:.1f} s")
        notify(f"out of memory on {device} even in small chunks: continuing on the CPU (slower)")
        device, attempts = CPU, [chunk_seconds]


def compute_with_cpu_fallback(compute: Callable[[torch.device], torch.Tensor], device: torch.device, what: str,
                              notify: Notify, on_cpu: Callable[[], None]) -> torch.Tensor:
    """``compute(device)``, or ``compute(cpu)`` moved back to ``device`` if the accelerator runs out of memory.

    When even the move back fails, the CPU result is returned and ``on_cpu()``
    is called (the caller goes on on the CPU).
    """
    try:
        return compute(device)
    except Exception as exc:  # noqa: BLE001 - only out-of-memory errors are handled
        _recover_or_raise(device, exc)
    notify(f"out of memory on {device} {what}: computing it on the CPU")
    out = compute(CPU)
    try:
        return out.to(device)
    except Exception as exc:  # noqa: BLE001
        if not is_out_of_memory(exc):
            raise
        _free()
        on_cpu()
        return out
