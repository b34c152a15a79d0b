"""Live audio input: a microphone or a file, read as float32 mono blocks through one code path.

An input stream delivers blocks of mono float32 samples at its sample rate.
:class:`MicrophoneStream` reads a sound card through sounddevice (PortAudio);
:class:`FileStream` reads an audio file and feeds it, block by block, through
exactly the same :meth:`BlockStream.feed` that the microphone's PortAudio
callback calls (optionally paced in real time), so everything downstream of the
stream (level meter, :class:`~unmf_core.frontend.recorder.Recorder`,
calibration, a future live transcription) is tested without a sound card.

A consumer either calls :meth:`BlockStream.read` (the next block, or None at
the end of the stream) or passes ``on_block`` (called from the producer's
thread for every block). What is done with the blocks (level metering,
recording) is in :mod:`unmf_core.frontend.recorder`.

Nothing here imports Qt.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from ..errors import DeviceError
from .audio import Audio, load_audio, resample

#: Samples per block when none is asked for (46 ms at 22.05 kHz, 21 ms at 48 kHz).
DEFAULT_BLOCKSIZE = 1024


class InputUnavailable(DeviceError):
    """No audio input: PortAudio is missing, there is no input device, or the device cannot be opened."""


@runtime_checkable
class InputStream(Protocol):
    """What every audio input offers: float32 mono blocks at :attr:`sr`.

    ``start`` begins delivering blocks, ``stop`` ends the stream (a ``read``
    then returns the blocks still queued, then None), ``read`` returns the next
    block or None when the stream has ended or ``timeout`` passed. The stream
    is drained when :attr:`ended` was already true before a ``read`` that
    returned None (it turns true only after the last block was queued).
    """

    sr: int

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def read(self, timeout: float | None = None) -> np.ndarray | None: ...

    @property
    def ended(self) -> bool: ...



@dataclass(frozen=True)
class InputDevice:
    """An audio input device as PortAudio lists it."""

    index: int
    name: str
    channels: int
    default_sr: int
    is_default: bool = False

    def __str__(self) -> str:
        return f"{self.name}{' (default)' if self.is_default else ''}"


def _sounddevice():
    """The sounddevice module, or :class:`InputUnavailable` when PortAudio cannot be loaded."""
    try:
        import sounddevice as sd  # raises OSError when the PortAudio library is missing
    except (ImportError, OSError) as exc:
        raise InputUnavailable(f"no audio input: PortAudio is not available ({_first_line(exc)}); on Debian or "
                               f"Ubuntu install libportaudio2") from None
    return sd


def list_input_devices() -> list[InputDevice]:
    """The devices that can record, the system's default first.

    Raises
    ------
    InputUnavailable
        PortAudio is missing or cannot list devices.
    """
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
        default_in = sd.default.device[0]
    except Exception as exc:  # sounddevice.PortAudioError
        raise InputUnavailable(f"no audio input: cannot list the audio devices ({_first_line(exc)})") from None
    out = []
    for i, d in enumerate(devices):
        if int(d.get("max_input_channels", 0)) > 0:
            out.append(InputDevice(i, str(d.get("name", f"device {i}")), int(d["max_input_channels"]),
                                   int(round(float(d.get("default_samplerate", 44100)))), i == default_in))
    out.sort(key=lambda d: not d.is_default)
    return out


def microphone_status() -> tuple[list[InputDevice], str]:
    """The input devices, and why recording is impossible (empty string when it is possible)."""
    try:
        devices = list_input_devices()
    except InputUnavailable as exc:
        return [], str(exc)
    if not devices:
        return [], "no audio input: no microphone or other input device was found"
    return devices, ""


class BlockStream:
    """Common machinery of input streams: a queue of mono blocks filled by :meth:`feed`.

    Parameters
    ----------
    sr : int
        Sample rate of the blocks.
    blocksize : int
        Samples per block.
    on_block : callable, optional
        ``on_block(block)``, called from the producer's thread for every block
        (keep it short; it runs in the audio thread for a microphone).
    """

    def __init__(self, sr: int, blocksize: int = DEFAULT_BLOCKSIZE, on_block: Callable | None = None):
        if int(sr) <= 0 or int(blocksize) <= 0:
            raise ValueError(f"sample rate and block size must be positive, got {sr} and {blocksize}")
        self.sr = int(sr)
        self.blocksize = int(blocksize)
        self.on_block = on_block
        self.error: str | None = None
        self._queue: queue.Queue = queue.Queue()
        self._ended = threading.Event()
        self._started = False

    # ---- producer side -------------------------------------------------------------
    def feed(self, indata: np.ndarray) -> None:
        """Take one block of samples ``(frames,)`` or ``(frames, channels)``: mixed to mono, queued.

        The microphone's PortAudio callback and :class:`FileStream` both call this.
        """
        data = np.asarray(indata, dtype=np.float32)
        block = data.mean(axis=1, dtype=np.float32) if data.ndim == 2 else data.reshape(-1).copy()
        if self.on_block is not None:
            self.on_block(block)
        self._queue.put(block)

    def _finish(self, error: str | None = None) -> None:
        if error and self.error is None:
            self.error = error
        if not self._ended.is_set():
            self._ended.set()
            self._queue.put(None)

    # ---- consumer side -------------------------------------------------------------
    @property
    def ended(self) -> bool:
        """Whether the stream has stopped producing (its last blocks may still be queued)."""
        return self._ended.is_set()

    def read(self, timeout: float | None = None) -> np.ndarray | None:
        """The next block; None at the end of the stream, or when ``timeout`` (s) passed without one."""
        if self.ended and self._queue.empty():
            return None
        try:
            block = self._queue.get(timeout=timeout) if timeout is None or timeout > 0 else self._queue.get_nowait()
        except queue.Empty:
            return None
        return block

    def start(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def stop(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class MicrophoneStream(BlockStream):
    """A sound-card input through sounddevice.

    Parameters
    ----------
    device : int or str, optional
        PortAudio device index or name (default: the system's default input).
    sr : int, optional
        Sample rate to record at (default: the device's own).
    blocksize : int
        Samples per block.
    on_block : callable, optional
        See :class:`BlockStream`.

    Raises
    ------
    InputUnavailable
        PortAudio is missing, the device does not exist or cannot record.
    """

    def __init__(self, device: int | str | None = None, sr: int | None = None, blocksize: int = DEFAULT_BLOCKSIZE,
                 on_block: Callable | None = None):
        sd = _sounddevice()
        try:
            info = sd.query_devices(device, kind="input")
        except Exception as exc:  # PortAudioError (no default input) or ValueError (no such device)
            what = "no default input device" if device is None else f"input device {device!r} not found"
            raise InputUnavailable(f"no audio input: {what} ({_first_line(exc)})") from None
        if int(info.get("max_input_channels", 0)) < 1:
            raise InputUnavailable(f"no audio input: {info.get('name', device)} cannot record")
        super().__init__(int(sr or round(float(info["default_samplerate"]))), blocksize, on_block)
        self.device = device
        self.name = str(info.get("name", device))
        self._sd = sd
        self._stream = None

    def _callback(self, indata, _frames, _time, _status) -> None:
        self.feed(indata)

    def start(self) -> None:
        """Open the device and start recording.

        Raises
        ------
        InputUnavailable
            The device is busy, vanished or refuses the sample rate.
        """
        if self._started:
            return
        try:
            stream = self._sd.InputStream(samplerate=self.sr, blocksize=self.blocksize, device=self.device,
                                          channels=1, dtype="float32", callback=self._callback,
                                          finished_callback=self._finish)
            stream.start()
            self._stream = stream
        except Exception as exc:  # PortAudioError: busy, vanished, unsupported rate
            self._stream = None
            raise InputUnavailable(f"cannot record from {self.name}: {_first_line(exc)}") from None
        self._started = True

    def stop(self) -> None:
        """Stop recording (blocks already delivered stay readable)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:  # a device that vanished must not break stopping
                pass
        self._finish()


class FileStream(BlockStream):
    """An audio file delivered in blocks through the same :meth:`~BlockStream.feed` as a microphone.

    Parameters
    ----------
    source : str, Path or Audio
        The file (read with :func:`unmf_core.frontend.audio.load_audio`) or decoded audio.
    sr : int, optional
        Rate to deliver at (default: the file's own).
    blocksize : int
        Samples per block.
    realtime : bool
        Pace the blocks at the speed of sound (as a microphone would); off:
        as fast as they are read.
    on_block : callable, optional
        See :class:`BlockStream`.

    Raises
    ------
    AudioError
        The file cannot be read.
    """

    def __init__(self, source: str | Path | Audio, sr: int | None = None, blocksize: int = DEFAULT_BLOCKSIZE,
                 realtime: bool = False, on_block: Callable | None = None):
        if isinstance(source, Audio):
            samples = source.samples if sr is None else resample(source.samples, source.sr, int(sr))
            rate = int(sr or source.sr)
            self.name = Path(source.path).name if source.path else "audio"
        else:
            audio = load_audio(source, sr, check=False)
            samples, rate = audio.samples, audio.sr
            self.name = Path(source).name
        super().__init__(rate, blocksize, on_block)
        self.samples = np.ascontiguousarray(samples, dtype=np.float32)
        self.realtime = bool(realtime)
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start delivering blocks from a background thread."""
        if self._started:
            return
        self._started = True
        self._thread = threading.Thread(target=self._produce, name=f"unmf-filestream-{self.name}", daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        t0 = time.monotonic()
        n = self.blocksize
        try:
            for i, a in enumerate(range(0, len(self.samples), n)):
                if self._halt.is_set():
                    break
                if self.realtime:
                    wait = t0 + i * n / self.sr - time.monotonic()
                    if wait > 0 and self._halt.wait(wait):
                        break
                self.feed(self.samples[a:a + n, None])  # (frames, 1), as PortAudio delivers it
        except Exception as exc:  # an on_block that raises must still end the stream
            self._finish(f"{type(exc).__name__}: {exc}")
        self._finish()

    def stop(self) -> None:
        """Stop delivering (blocks already delivered stay readable) and join the thread."""
        self._halt.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._finish()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:160]
