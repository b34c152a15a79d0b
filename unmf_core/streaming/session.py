"""Drive a :class:`~unmf_core.streaming.transcriber.LiveTranscriber` from an input stream.

:func:`listen` is a generator (the superqt ``thread_worker`` pattern): it reads
the stream block by block, resamples to the engine's rate when the device runs
at another one (soxr's streaming resampler), feeds the transcriber and yields a
:class:`LiveStep` per block, so a front end can draw each one and stop between
two. The same code serves a microphone and a file replayed through
:class:`~unmf_core.frontend.inputstream.FileStream`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from ..frontend.inputstream import InputStream, InputUnavailable
from ..frontend.recorder import Level, block_level
from .transcriber import LiveTranscriber, LiveUpdate


@dataclass
class LiveStep:
    """One block of a live run.

    Attributes
    ----------
    level : Level or None
        Input level of the block (None for the closing step).
    updates : list of LiveUpdate
        What the block completed (often nothing; several after a late block).
    latencies : list of float
        For every note reported in ``updates``: seconds from its onset in the
        audio to now, on the wall clock (meaningful for a microphone or a
        replay paced in real time).
    audio_time : float
        Seconds of audio received.
    final : bool
        The closing step (the stream ended or was stopped; every note has ended).
    """

    level: Level | None
    updates: list[LiveUpdate] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    audio_time: float = 0.0
    final: bool = False


class _Resampler:
    def __init__(self, sr_in: int, sr_out: int):
        self.stream = None
        if sr_in != sr_out:
            import soxr

            self.stream = soxr.ResampleStream(sr_in, sr_out, 1, dtype="float32")

    def __call__(self, x: np.ndarray, last: bool = False) -> np.ndarray:
        if self.stream is None:
            return x
        return self.stream.resample_chunk(np.ascontiguousarray(x, dtype=np.float32), last=last)


def listen(transcriber: LiveTranscriber, stream: InputStream, stop: Callable[[], bool] | None = None,
           poll: float = 0.2) -> Iterator[LiveStep]:
    """Transcribe ``stream`` until it ends or ``stop()`` returns True; the last step has ``final=True``.

    The stream is started here and always stopped (also when the consumer
    stops iterating). A stop keeps the take: the open notes end where they have got.

    Raises
    ------
    InputUnavailable
        The device cannot be opened, or the stream ended with an error.
    """
    resample = _Resampler(stream.sr, transcriber.cqt.sr)
    origin: float | None = None
    stream.start()
    try:
        while not (stop is not None and stop()):
            block = stream.read(poll)
            if block is None:
                if stream.ended:
                    break
                continue
            now = time.monotonic()
            if origin is None:
                origin = now - len(block) / stream.sr
            updates = transcriber.feed(resample(block))
            yield LiveStep(block_level(block), updates, _latencies(updates, origin), transcriber.audio_time)
    finally:
        stream.stop()
    error = getattr(stream, "error", None)
    tail = resample(np.zeros(0, np.float32), last=True)
    updates = transcriber.feed(tail) if len(tail) else []
    updates += transcriber.finish()
    yield LiveStep(None, updates, _latencies(updates, origin), transcriber.audio_time, final=True)
    if error:
        raise InputUnavailable(f"the audio input stopped: {error}")


def _latencies(updates: list[LiveUpdate], origin: float | None) -> list[float]:
    if origin is None:
        return []
    now = time.monotonic()
    return [now - (origin + n.onset) for u in updates for n in u.onsets]
