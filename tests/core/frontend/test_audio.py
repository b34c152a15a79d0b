import numpy as np
import pytest
import soundfile as sf

from unmf_core.frontend.audio import load_audio
from unmf_core.errors import AudioError


def _tone(sr, seconds=0.5, channels=1):
    t = np.arange(int(sr * seconds)) / sr
    y = 0.5 * np.sin(2 * np.pi * 440 * t)
    return np.stack([y] * channels, axis=1) if channels > 1 else y


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT"])
def test_wav_subtypes_load_as_float_mono(tmp_path, subtype):
    path = tmp_path / "x.wav"
    sf.write(path, _tone(44100, channels=2), 44100, subtype=subtype)
    a = load_audio(path, 22050)
    assert a.sr == 22050 and a.orig_sr == 44100 and a.channels == 2
    assert a.samples.dtype == np.float32 and a.samples.ndim == 1
    assert abs(a.duration - 0.5) < 0.01
    assert 0.45 < np.abs(a.samples).max() < 0.55


@pytest.mark.parametrize("fmt", ["flac", "ogg"])
def test_flac_and_ogg(tmp_path, fmt):
    path = tmp_path / f"x.{fmt}"
    sf.write(path, _tone(48000), 48000)
    a = load_audio(path, 22050)
    assert a.sr == 22050 and abs(a.duration - 0.5) < 0.02


def test_resampled_pitch_is_kept(tmp_path):
    path = tmp_path / "x.wav"
    sf.write(path, _tone(48000, 1.0), 48000)
    a = load_audio(path, 22050)
    spec = np.abs(np.fft.rfft(a.samples))
    peak = np.argmax(spec) * a.sr / len(a.samples)
    assert abs(peak - 440) < 2


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_text("this is not audio"), "not a readable audio file"),
    (lambda p: sf.write(p, np.zeros(2205), 22050), "silent"),
    (lambda p: sf.write(p, np.array([0.1, np.nan, 0.2] * 3000, dtype=np.float32), 22050, subtype="FLOAT"),
     "non-finite"),
])
def test_bad_files_raise_clear_errors(tmp_path, make, message):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioError, match=message) as info:
        load_audio(path)
    assert "bad.wav" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path / "nope.wav")
