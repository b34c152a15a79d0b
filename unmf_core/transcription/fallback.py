"""Out-of-memory fallback: retry a run in smaller time chunks, then on the CPU, and say so.

:func:`fallback_steps` wraps :meth:`unmf_core.transcription.engine.Engine.plain_steps`.
When the accelerator runs out of memory it frees what it can, then runs the
same factorisation again with time chunks a quarter as long (chunked results
equal unchunked ones, see :mod:`unmf_core.nmf.chunking`), and finally on the CPU.
Steps already delivered before the failure are recomputed but not yielded
again, so a consumer sees each step once. Every fallback is logged on the
``unmf`` logger and recorded in ``Engine.notices``.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Iterator

import torch

from ..errors import DeviceError
from ..nmf.kernels import Step

if TYPE_CHECKING:  # pragma: no cover
    from ..frontend.audio import Audio
    from .engine import Engine, Options

log = logging.getLogger("unmf")

#: Each retry divides the chunk length by this.
CHUNK_DIVISOR = 4
#: No retry uses chunks shorter than this (seconds); below it the CPU takes over.
MIN_CHUNK_SECONDS = 1.0


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an accelerator (or CPU allocator) out-of-memory error."""
    if isinstance(exc, (torch.cuda.OutOfMemoryError, MemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def _free() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _notice(engine: "Engine", message: str) -> None:
    engine.notices.append(message)
    log.warning(message)


def _cpu_error(exc: BaseException) -> DeviceError:
    first = " ".join(str(exc).split())[:160]
    return DeviceError(f"out of memory on the CPU ({first}); try a shorter recording or close other programs")


def _recover_or_raise(engine: "Engine", exc: BaseException) -> None:
    """Re-raise ``exc`` unless it is an accelerator's out-of-memory error (the CPU's becomes a
    :class:`DeviceError`); otherwise free cached memory so the caller can retry."""
    if not is_out_of_memory(exc):
        raise exc
    if engine.device.type == "cpu":
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


def fallback_steps(engine: "Engine", M: torch.Tensor, opts: "Options") -> Iterator[Step]:
    """:meth:`Engine.plain_steps` with the out-of-memory fallback (see the module docstring).

    Raises
    ------
    DeviceError
        Out of memory on the CPU: there is nothing left to fall back to.
    """
    attempts = [opts] + [replace(opts, chunk_seconds=s)
                         for s in chunk_plan(M.shape[-1], engine.cqt.frame_rate, opts.chunk_seconds)]
    delivered = 0
    while True:
        for i, attempt in enumerate(attempts):
            try:
                for k, step in enumerate(engine.plain_steps(M, attempt)):
                    if k >= delivered:
                        delivered += 1
                        yield step
                return
            except Exception as exc:  # noqa: BLE001 - only out-of-memory errors are handled
                _recover_or_raise(engine, exc)
                if i + 1 < len(attempts):
                    _notice(engine, f"out of memory on {engine.device}: retrying in chunks of "
                                    f"{attempts[i + 1].chunk_seconds:.1f} s")
        _move_to_cpu(engine, f"out of memory on {engine.device} even in small chunks: continuing on the CPU "
                             f"(slower)")
        M = M.cpu()
        attempts = [opts]


def fallback_spectrogram(engine: "Engine", audio: "Audio", cancel=None) -> torch.Tensor:
    """:meth:`Engine.plain_spectrogram`, computed on the CPU if the accelerator runs out of memory."""
    try:
        return engine.plain_spectrogram(audio, cancel)
    except Exception as exc:  # noqa: BLE001 - only out-of-memory errors are handled
        _recover_or_raise(engine, exc)
    _notice(engine, f"out of memory on {engine.device} computing the spectrogram: computing it on the CPU")
    from ..frontend.blocks import block_cqt

    M = block_cqt(audio.samples, engine.cqt, torch.device("cpu"), cancel=cancel)
    try:
        return M.to(engine.device)
    except Exception as exc:  # noqa: BLE001
        if not is_out_of_memory(exc):
            raise
        _free()
        _move_to_cpu(engine, f"out of memory on {engine.device}: continuing on the CPU (slower)")
        return M


def _move_to_cpu(engine: "Engine", message: str) -> None:
    _notice(engine, message)
    engine.to("cpu")
