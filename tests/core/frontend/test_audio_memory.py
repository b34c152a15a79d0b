"""Audio loading in bounded memory: read in blocks, mixed to mono as it is read, no copies — same samples."""
import numpy as np
import pytest
import soundfile as sf
import soxr

from unmf_core.errors import AudioError
from unmf_core.frontend import audio
from unmf_core.frontend.audio import as_audio, check_signal, load_audio


def _reference(path, sr):
    """What the loader computed before it read in blocks: the whole file, mixed, DC removed, resampled."""
    data, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    mono = mono - np.float32(mono.mean())
    return soxr.resample(mono, file_sr, sr, quality="HQ").astype(np.float32) if sr != file_sr else mono


@pytest.mark.parametrize("channels, subtype, fmt, rate", [
    (1, "PCM_16", "WAV", 22050), (2, "PCM_16", "WAV", 44100), (6, "FLOAT", "WAV", 48000),
    (2, "PCM_24", "FLAC", 44100), (2, "PCM_U8", "WAV", 16000), (2, "VORBIS", "OGG", 48000)])
def test_block_reading_gives_the_whole_files_samples(tmp_path, monkeypatch, channels, subtype, fmt, rate):
    monkeypatch.setattr(audio, "READ_BLOCK", 1000)  # many blocks, and a last partial one
    rng = np.random.default_rng(channels)
    y = (0.2 * rng.standard_normal((int(rate * 1.3) + 7, channels)) + 0.05).astype(np.float32)
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(path, y, rate, subtype=subtype, format=fmt)
    for sr in (22050, rate):
        a = load_audio(path, sr)
        ref = _reference(path, sr)
        assert a.samples.dtype == np.float32 and a.channels == channels and a.orig_sr == rate
        assert np.array_equal(a.samples, ref)


@pytest.mark.parametrize("shape", [(30000,), (30000, 2), (2, 30000)])
def test_arrays_are_never_changed_in_place(shape):
    y = (0.1 * np.random.default_rng(0).standard_normal(shape) + 0.3).astype(np.float32)
    kept = y.copy()
    a = as_audio(y, 22050)
    assert np.array_equal(y, kept)
    assert abs(float(a.samples.mean())) < 1e-6  # the copy lost its DC offset


def test_non_finite_samples_are_counted_and_huge_finite_ones_are_not():
    y = np.full(1000, 3e38, dtype=np.float32)  # finite, though their sum overflows float32
    check_signal(y)
    y[[3, 500]] = np.nan
    y[7] = -np.inf
    with pytest.raises(AudioError, match="3 non-finite"):
        check_signal(y)


def test_a_constant_file_is_still_silent_after_dc_removal(tmp_path):
    path = tmp_path / "dc.wav"
    sf.write(path, np.full((4000, 2), 0.25, np.float32), 8000, subtype="FLOAT")
    with pytest.raises(AudioError, match="constant level"):
        load_audio(path, 8000)
