"""Audio output through sounddevice, degrading to "playback unavailable" without PortAudio or a device.

:class:`Player` plays one mono signal from a position, reports the position
for the playhead, and can be paused and seeked. The stream is created by a
factory so tests can run it without a sound card.
"""
from __future__ import annotations

import threading
from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

#: How often the playhead is updated while playing (ms).
TICK_MS = 30


def _default_stream_factory():
    """sounddevice's OutputStream, or raise when PortAudio or an output device is missing."""
    import sounddevice as sd  # raises OSError when PortAudio is missing

    sd.query_devices(kind="output")  # raises when there is no default output device
    return sd.OutputStream, sd.CallbackStop


class Player(QObject):
    """Plays a mono float32 signal; ``positionChanged`` (s) while playing, ``stopped`` at the end or on pause."""

    positionChanged = Signal(float)
    stopped = Signal()

    def __init__(self, stream_factory: Callable | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.reason = ""
        self._stream_cls = self._stop_exc = None
        try:
            self._stream_cls, self._stop_exc = (stream_factory or _default_stream_factory)()
        except Exception as exc:  # ImportError, OSError (no PortAudio), sounddevice.PortAudioError (no device)
            self.reason = f"playback unavailable ({str(exc).splitlines()[0][:100] or type(exc).__name__})"
        self._data = np.zeros(0, dtype=np.float32)
        self._sr = 22050
        self._frame = 0
        self._lock = threading.Lock()
        self._stream = None
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)

    @property
    def available(self) -> bool:
        """Whether audio can be played."""
        return self._stream_cls is not None

    @property
    def playing(self) -> bool:
        """Whether a stream is running."""
        return self._stream is not None

    @property
    def position(self) -> float:
        """Current position in seconds."""
        return self._frame / self._sr

    def set_signal(self, samples: np.ndarray, sr: int) -> None:
        """Replace the signal (keeps the position; stops playback)."""
        self.pause()
        with self._lock:
            self._data = np.ascontiguousarray(samples, dtype=np.float32)
            self._sr = int(sr)
            self._frame = min(self._frame, len(self._data))

    def seek(self, seconds: float) -> None:
        """Jump to ``seconds`` (playback continues from there if running)."""
        with self._lock:
            self._frame = int(np.clip(round(seconds * self._sr), 0, len(self._data)))

    def play(self) -> bool:
        """Start playing from the current position; False when playback is unavailable."""
        if not self.available or self.playing or not len(self._data):
            return self.playing
        if self._frame >= len(self._data):
            self._frame = 0
        try:
            self._stream = self._stream_cls(samplerate=self._sr, channels=1, dtype="float32",
                                            callback=self._callback, finished_callback=None)
            self._stream.start()
        except Exception as exc:  # device busy or vanished
            self._stream = None
            self.reason = f"playback unavailable ({str(exc).splitlines()[0][:100]})"
            return False
        self._timer.start()
        return True

    def pause(self) -> None:
        """Stop the stream, keeping the position."""
        stream, self._stream = self._stream, None
        self._timer.stop()
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:  # closing a stream whose device vanished must not break the app
                pass
            self.stopped.emit()

    def _callback(self, outdata, frames, _time, _status) -> None:
        with self._lock:
            chunk = self._data[self._frame:self._frame + frames]
            self._frame += len(chunk)
        outdata[:len(chunk), 0] = chunk
        outdata[len(chunk):, 0] = 0.0
        if len(chunk) < frames:
            raise self._stop_exc()

    def _tick(self) -> None:
        self.positionChanged.emit(self.position)
        if self._frame >= len(self._data) or (self._stream is not None and not self._stream.active):
            self.pause()
