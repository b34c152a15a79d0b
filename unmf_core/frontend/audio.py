"""Audio input: read WAV/FLAC/OGG at any rate and channel count, mix to mono, resample.

Reading goes through soundfile (libsndfile) and resampling through soxr.
Every failure is raised as :class:`~unmf_core.errors.AudioError` with the file
name and the reason, so the CLI and the app can show one clear line.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from ..errors import AudioError

#: Peak level under which a recording counts as digital silence.
SILENCE_PEAK = 1e-6
#: Shortest recording accepted, in seconds (shorter than the shortest note).
MIN_DURATION = 0.05


@dataclass
class Audio:
    """A mono signal at a known sample rate.

    Attributes
    ----------
    samples : np.ndarray
        float32 mono samples.
    sr : int
        Sample rate of ``samples`` in Hz.
    path : str or None
        Where it was read from.
    orig_sr : int
        Sample rate declared by the file.
    channels : int
        Channel count of the file before mixing to mono.
    """

    samples: np.ndarray
    sr: int
    path: str | None = None
    orig_sr: int = 0
    channels: int = 1

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / float(self.sr)


def resample(samples: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample a mono float signal with soxr (high quality).

    Parameters
    ----------
    samples : np.ndarray
        Mono signal.
    orig_sr, target_sr : int
        Rates in Hz.

    Returns
    -------
    np.ndarray
        float32 signal at ``target_sr``.
    """
    samples = np.ascontiguousarray(samples, dtype=np.float32)  # no copy when it is float32 already
    if orig_sr == target_sr:
        return samples
    return np.asarray(soxr.resample(samples, orig_sr, target_sr, quality="HQ"), dtype=np.float32)


def check_signal(samples: np.ndarray, name: str = "signal", allow_silence: bool = False) -> None:
    """Raise :class:`AudioError` if a signal is empty, non-finite or (unless ``allow_silence``) silent."""
    if samples.size == 0:
        raise AudioError(f"{name}: the file holds no audio samples")
    # a float64 sum of float32 samples cannot overflow: it is finite exactly when every sample is
    # (and, unlike np.isfinite, it makes no temporary the size of the recording)
    if not np.isfinite(np.sum(samples, dtype=np.float64)):
        bad = int(np.count_nonzero(~np.isfinite(samples)))
        raise AudioError(f"{name}: the audio holds {bad} non-finite samples (NaN or infinity)")
    if _peak(samples) < SILENCE_PEAK and not allow_silence:
        raise AudioError(f"{name}: the audio is silent (no sample above {SILENCE_PEAK:g})")


def _peak(samples: np.ndarray) -> float:
    """``max(|samples|)`` without a copy of the signal."""
    return max(abs(float(samples.max())), abs(float(samples.min())))


def load_audio(path: str | Path, sr: int | None = None, check: bool = True, allow_silence: bool = False) -> Audio:
    """Read an audio file as mono float32, resampled to ``sr``.

    Parameters
    ----------
    path : str or Path
        WAV (PCM 8/16/24/32-bit or float), FLAC or OGG file.
    sr : int, optional
        Target sample rate; the file's own rate when None.
    check : bool
        Reject empty, too short, silent and non-finite signals, and remove
        any DC offset (the mean).
    allow_silence : bool
        Accept a silent signal (it gives no notes) instead of refusing it.

    Returns
    -------
    Audio

    Raises
    ------
    AudioError
        The file is missing, unreadable, empty, shorter than
        :data:`MIN_DURATION`, silent or holds NaN/inf.
    """
    path = Path(path)
    name = path.name
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{name}: the file is empty (0 bytes)")
    try:
        mono, file_sr, channels = _read_mono(path)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError, OSError) as exc:
        reason = str(exc).replace(f"Error opening {str(path)!r}: ", "").replace(f"Error opening '{path}': ", "")
        raise AudioError(f"{name}: not a readable audio file ({_short(Exception(reason))})") from None
    return _finish(mono, channels, file_sr, sr, name, check, path=str(path), allow_silence=allow_silence)


#: Frames read at a time: a file is mixed to mono block by block, never held with all its channels.
READ_BLOCK = 1 << 18


def _read_mono(path: Path) -> tuple[np.ndarray, int, int]:
    """A file's samples mixed to mono (float32, the file's rate), its rate and its channel count.

    The same samples as ``sf.read(path, dtype="float32").mean(axis=1)`` (each
    frame's mean is computed alone, so reading in blocks changes nothing), with
    the memory of the mono signal only.
    """
    with sf.SoundFile(str(path)) as f:
        file_sr, channels = int(f.samplerate), int(f.channels)
        mono = np.empty(max(0, int(f.frames)), dtype=np.float32)
        n = 0
        for block in f.blocks(blocksize=READ_BLOCK, dtype="float32", always_2d=True):
            m = block.mean(axis=1) if channels > 1 else block[:, 0]
            if n + len(m) > len(mono):  # a header that under-states the length
                mono = np.concatenate([mono[:n], np.empty(max(len(mono), n + len(m)), dtype=np.float32)])
            mono[n:n + len(m)] = m
            n += len(m)
    return mono[:n], file_sr, channels


def _to_mono(data: np.ndarray, file_sr: int, sr: int | None, name: str, check: bool,
             path: str | None = None, allow_silence: bool = False) -> Audio:
    """``(n, channels)`` float32 samples (the caller's own copy) → validated mono :class:`Audio` at ``sr``."""
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return _finish(mono, data.shape[1], file_sr, sr, name, check, path, allow_silence)


def _finish(mono: np.ndarray, channels: int, file_sr: int, sr: int | None, name: str, check: bool,
            path: str | None = None, allow_silence: bool = False) -> Audio:
    """Mono float32 samples that may be changed in place → validated :class:`Audio` at ``sr`` (files and arrays)."""
    if mono.shape[0] == 0:
        raise AudioError(f"{name}: the file holds no audio samples")
    if check and mono.shape[0] < MIN_DURATION * file_sr:
        raise AudioError(f"{name}: too short ({mono.shape[0]} samples = {1000 * mono.shape[0] / file_sr:.1f} ms; "
                         f"at least {1000 * MIN_DURATION:.0f} ms is needed)")
    if check:
        check_signal(mono, name, allow_silence)
        mono -= np.float32(mono.mean())  # in place: the signal is not copied
        if _peak(mono) < SILENCE_PEAK and not allow_silence:
            raise AudioError(f"{name}: the audio is silent (a constant level, no sound)")
    target = int(sr) if sr else int(file_sr)
    mono = resample(mono, int(file_sr), target)
    return Audio(samples=mono, sr=target, path=path, orig_sr=int(file_sr), channels=channels)


def as_audio(samples: np.ndarray, sr: int | None, target_sr: int | None = None, name: str = "audio array",
             allow_silence: bool = False) -> Audio:
    """Validate a signal given as an array exactly as :func:`load_audio` validates a file.

    Parameters
    ----------
    samples : np.ndarray
        ``(n,)`` mono, or ``(n, channels)`` / ``(channels, n)`` (the shorter
        axis is the channels); float, or integer PCM scaled to [-1, 1) as a
        WAV reader scales it (int16 / 32768, uint8 centred on 128…).
    sr : int
        Sample rate of ``samples`` in Hz (None is refused: an array carries no rate).
    target_sr : int, optional
        Resample to this rate (default: keep ``sr``).
    name : str
        Name used in error messages.
    allow_silence : bool
        Accept a silent signal (it gives no notes) instead of refusing it.

    Returns
    -------
    Audio
        Mono float32 at ``target_sr``, channels mixed, DC removed.

    Raises
    ------
    AudioError
        Not 1-D/2-D numbers, no sample rate, empty, too short, NaN/inf or (unless
        ``allow_silence``) silent.
    """
    if sr is None or not np.isfinite(sr) or int(sr) <= 0:
        raise AudioError(f"{name}: a sample rate (sr) in Hz is needed with an array, got {sr!r}")
    a = np.asarray(samples)
    if a.ndim not in (1, 2):
        raise AudioError(f"{name}: expected a 1-D (mono) or 2-D (multichannel) array, got shape {a.shape}")
    if a.dtype.kind in "iu":
        info = np.iinfo(a.dtype)
        scale = 2.0 ** (8 * a.dtype.itemsize - 1)
        offset = 0.0 if info.min < 0 else scale  # unsigned PCM (8-bit WAV) is centred on half its range
        a = ((a.astype(np.float64) - offset) / scale).astype(np.float32)
    elif a.dtype.kind == "f":
        a = a.astype(np.float32)
    else:
        raise AudioError(f"{name}: expected numbers (float or integer PCM), got dtype {a.dtype}")
    if a.ndim == 1:
        a = a[:, None]
    elif a.shape[0] < a.shape[1]:
        a = a.T  # (channels, n) → (n, channels)
    return _to_mono(np.ascontiguousarray(a), int(sr), target_sr, name, True, allow_silence=allow_silence)


#: Usual sample rates, to suggest the one a mislabelled file was recorded at.
COMMON_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000, 176400, 192000)


def rate_mismatch(name: str, duration: float, reference_end: float, declared_sr: int,
                  tolerance: float = 0.03) -> str | None:
    """A warning when a reference outlasts the audio, as a wrong header sample rate causes.

    A WAV header that declares the wrong rate cannot be detected from the file
    alone (it plays at the wrong speed and pitch); a reference transcription
    that lasts clearly longer than the audio is the symptom.

    Parameters
    ----------
    name : str
        File name for the message.
    duration : float
        Audio length in seconds at the declared rate.
    reference_end : float
        Last offset of the reference notes, in seconds.
    declared_sr : int
        The rate the file's header declares.
    tolerance : float
        Relative excess (plus 0.1 s) that is still accepted.

    Returns
    -------
    str or None
        The warning, or None when the lengths agree.
    """
    if duration <= 0 or reference_end <= duration * (1 + tolerance) + 0.1:
        return None
    implied = declared_sr * duration / reference_end
    best = min(COMMON_RATES, key=lambda r: abs(r - implied))
    hint = f" ({best} Hz would fit)" if abs(best - implied) < tolerance * implied and best != declared_sr else ""
    return (f"{name}: the reference lasts {reference_end:.2f} s but the audio only {duration:.2f} s at its "
            f"declared {declared_sr} Hz; the header's sample rate may be wrong{hint}")


def save_audio(path: str | Path, samples: np.ndarray, sr: int) -> None:
    """Write a mono signal atomically (format from the suffix: .wav, .flac, .ogg)."""
    from ..io.atomic import atomic_path

    path = Path(path)
    fmt = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}.get(path.suffix.lower(), "WAV")
    with atomic_path(path) as tmp:
        sf.write(str(tmp), samples, sr, format=fmt)


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]
