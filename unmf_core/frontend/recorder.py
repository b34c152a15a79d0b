"""What is done with the blocks of an input stream: level metering and recording.

:func:`block_level` measures a block (RMS and peak in dBFS) for a level meter;
:class:`Recorder` accumulates the blocks of an
:class:`~unmf_core.frontend.inputstream.InputStream` into an
:class:`~unmf_core.frontend.audio.Audio` and can be stopped (keep what was
recorded) or cancelled (discard it) at any time.

Nothing here imports Qt.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import AudioError, Cancelled
from .audio import Audio, resample
from .inputstream import InputStream

#: Level reported for digital silence (dBFS).
FLOOR_DB = -120.0
#: A recording whose peak stays under this level (dBFS) is treated as silence.
QUIET_PEAK_DB = -50.0
#: Longest recording a :class:`Recorder` keeps by default (seconds).
MAX_RECORD_SECONDS = 600.0


@dataclass(frozen=True)
class Level:
    """Level of one block in dBFS (0 = full scale; :data:`FLOOR_DB` for silence)."""

    rms_db: float
    peak_db: float

    @property
    def clipped(self) -> bool:
        """Whether the block reached full scale."""
        return self.peak_db >= -0.1


def to_db(value: float) -> float:
    """An amplitude (1.0 = full scale) in dBFS, floored at :data:`FLOOR_DB`."""
    return float(max(FLOOR_DB, 20.0 * np.log10(max(float(value), 1e-300))))


def block_level(block: np.ndarray) -> Level:
    """RMS and peak level of a block of samples, in dBFS.

    Parameters
    ----------
    block : np.ndarray
        Samples ``(n,)`` or ``(n, channels)`` in [-1, 1].

    Returns
    -------
    Level
        :data:`FLOOR_DB` for an empty or all-zero block; non-finite samples count as full scale.
    """
    x = np.asarray(block, dtype=np.float64)
    if x.size == 0:
        return Level(FLOOR_DB, FLOOR_DB)
    x = np.where(np.isfinite(x), x, 1.0)
    return Level(to_db(np.sqrt(np.mean(x * x))), to_db(np.max(np.abs(x))))


class Recorder:
    """Accumulates the blocks of an input stream into one recording.

    Use it either blocking (:meth:`record`) or polled from a UI timer
    (:meth:`start`, :meth:`poll` for the levels of new blocks, then
    :meth:`stop` to keep the recording or :meth:`cancel` to discard it).

    Parameters
    ----------
    stream : InputStream
        Where the blocks come from (not started yet).
    max_seconds : float
        Recording stops by itself after this long.
    """

    def __init__(self, stream: InputStream, max_seconds: float = MAX_RECORD_SECONDS):
        self.stream = stream
        self.max_samples = int(max_seconds * stream.sr)
        self._blocks: list[np.ndarray] = []
        self._n = 0
        self._done = False
        self.cancelled = False
        self.peak_db = FLOOR_DB

    @property
    def seconds(self) -> float:
        """Length recorded so far."""
        return self._n / self.stream.sr

    @property
    def finished(self) -> bool:
        """Whether no more blocks will come (the stream ended, or the length limit was reached)."""
        return self._done

    def start(self) -> None:
        """Start the stream (:class:`InputUnavailable` when it cannot)."""
        self.stream.start()

    def _next(self, timeout: float | None) -> Level | None:
        """Take the next block (waiting up to ``timeout``); its level, or None when there was none."""
        ended = self.stream.ended  # read before: a stream that had ended and gives nothing is drained
        block = self.stream.read(timeout=timeout)
        if block is None:
            if ended:
                self._done = True
            return None
        return self._take(block)

    def _take(self, block: np.ndarray) -> Level | None:
        room = self.max_samples - self._n
        if room <= 0:
            self._done = True
            return None
        block = block[:room]
        self._blocks.append(block)
        self._n += len(block)
        if self._n >= self.max_samples:
            self._done = True
        lvl = block_level(block)
        self.peak_db = max(self.peak_db, lvl.peak_db)
        return lvl

    def poll(self) -> list[Level]:
        """Take every block queued so far without waiting; their levels, oldest first."""
        levels = []
        while not self._done:
            lvl = self._next(timeout=0)
            if lvl is None:
                break
            levels.append(lvl)
        if self._done:
            self.stream.stop()
        return levels

    def stop(self) -> Audio:
        """End the recording, keeping every block delivered; the recording (see :meth:`audio`)."""
        self.stream.stop()
        while not self._done:
            block = self.stream.read(timeout=0)
            if block is None:
                break
            self._take(block)
        self._done = True
        return self.audio()

    def cancel(self) -> None:
        """End the recording and discard it."""
        self.cancelled = True
        self._done = True
        self.stream.stop()
        self._blocks, self._n = [], 0

    def record(self, cancel: Callable[[], bool] | None = None, on_level: Callable[[Level], None] | None = None,
               stop: Callable[[], bool] | None = None) -> Audio:
        """Record until the stream ends, ``stop()`` is true or the length limit; blocking.

        Parameters
        ----------
        cancel : callable, optional
            Checked between blocks; True discards the recording and raises :class:`Cancelled`.
        on_level : callable, optional
            Called with the :class:`Level` of every block.
        stop : callable, optional
            Checked between blocks; True ends the recording and keeps it.

        Returns
        -------
        Audio
        """
        self.start()
        try:
            while not self._done:
                if cancel is not None and cancel():
                    self.cancel()
                    raise Cancelled("recording cancelled")
                if stop is not None and stop():
                    break
                lvl = self._next(timeout=0.1)
                if lvl is not None and on_level is not None:
                    on_level(lvl)
        finally:
            self.stream.stop()
        return self.stop()

    def audio(self, sr: int | None = None, min_peak_db: float = QUIET_PEAK_DB) -> Audio:
        """The recording so far, resampled to ``sr`` (default: the stream's rate).

        Raises
        ------
        Cancelled
            The recording was cancelled.
        AudioError
            Nothing was recorded, or its peak stayed under ``min_peak_db`` (a
            muted or unplugged input), or the stream failed.
        """
        if self.cancelled:
            raise Cancelled("recording cancelled")
        err = getattr(self.stream, "error", None)
        if err:
            raise AudioError(f"recording failed: {err}")
        if self._n == 0:
            raise AudioError("nothing was recorded")
        samples = np.concatenate(self._blocks)
        if not np.all(np.isfinite(samples)):
            raise AudioError("the recording holds non-finite samples; the input device misbehaved")
        if self.peak_db < min_peak_db:
            loudest = ("no sound at all" if self.peak_db <= FLOOR_DB
                       else f"its loudest sample is {self.peak_db:.0f} dBFS")
            raise AudioError(f"the recording is silent ({loudest}): check that "
                             f"the right input device is chosen, not muted, and its level is up, then record again")
        rate = self.stream.sr
        if sr is not None and int(sr) != rate:
            samples, rate = resample(samples, rate, int(sr)), int(sr)
        return Audio(samples=samples, sr=rate, path=None, orig_sr=self.stream.sr, channels=1)
