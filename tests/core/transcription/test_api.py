"""The public API: ``unmf_core.transcribe`` on files and arrays, validated alike; a cheap ``import unmf_core``."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import unmf_core
from tests.conftest import synth_notes
from unmf_core.errors import AudioError
from unmf_core.frontend.audio import as_audio, load_audio

ROOT = Path(__file__).resolve().parents[3]
PIECE = [(60, 0.2, 1.0), (64, 0.9, 1.8), (67, 1.5, 2.6)]
FAST = dict(method="mu", iterations=20, device="cpu")


def _stereo_int16():
    mono = synth_notes(PIECE, duration=3.0)
    stereo = np.stack([0.6 * mono, 0.3 * mono + 0.05 * np.roll(mono, 50)], axis=1)
    return np.round(stereo / np.abs(stereo).max() * 20000).astype(np.int16)


def test_the_one_liner_works():
    code = ("import sys, unmf_core, numpy as np; assert 'torch' not in sys.modules; "
            "print(len(unmf_core.transcribe(np.zeros(22050), sr=22050).notes))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"


def test_every_public_name_resolves():
    assert "transcribe" in unmf_core.__all__ and "Engine" in unmf_core.__all__
    for name in unmf_core.__all__:
        assert getattr(unmf_core, name) is not None, name
    with pytest.raises(AttributeError):
        unmf_core.no_such_name  # noqa: B018


def test_stereo_int16_array_gives_the_notes_of_the_same_wav(tmp_path):
    pcm = _stereo_int16()
    wav = tmp_path / "x.wav"
    sf.write(str(wav), pcm, 22050, subtype="PCM_16")
    from_file = unmf_core.transcribe(wav, **FAST)
    from_array = unmf_core.transcribe(pcm, sr=22050, **FAST)
    from_transposed = unmf_core.transcribe(pcm.T, sr=22050, **FAST)
    assert from_file.notes and {n.pitch for n in from_file.notes} >= {60, 64, 67}
    assert from_array.notes == from_file.notes == from_transposed.notes
    np.testing.assert_allclose(from_array.H, from_file.H, rtol=1e-5, atol=1e-7)


def test_arrays_are_scaled_and_mixed_like_files(tmp_path):
    pcm = _stereo_int16()
    wav = tmp_path / "x.wav"
    sf.write(str(wav), pcm, 22050, subtype="PCM_16")
    f = load_audio(wav)
    a = as_audio(pcm, 22050)
    assert a.channels == f.channels == 2
    np.testing.assert_array_equal(a.samples, f.samples)
    u8 = np.clip(np.round(pcm / 256.0) + 128, 0, 255).astype(np.uint8)
    sf.write(str(tmp_path / "u8.wav"), (u8.astype(np.float32) - 128) / 128, 22050, subtype="PCM_U8")
    np.testing.assert_allclose(as_audio(u8, 22050).samples, load_audio(tmp_path / "u8.wav").samples, atol=1e-6)


def test_array_resampled_to_the_working_rate():
    pcm = _stereo_int16()
    a44 = np.repeat(pcm, 2, axis=0)
    res = unmf_core.transcribe(a44, sr=44100, **FAST)
    assert abs(res.duration - len(pcm) / 22050) < 1e-3
    assert {n.pitch for n in res.notes} >= {60, 64, 67}


@pytest.mark.parametrize("bad, words", [
    (np.array([0.1, np.nan] * 2000, np.float32), "non-finite"),
    (np.array([0.1, np.inf] * 2000), "non-finite"),
    (np.zeros((2, 3, 4000)), "1-D"),
    (np.zeros(5), "too short"),
    (np.array(["a"] * 3000), "dtype"),
])
def test_bad_arrays_are_refused_like_bad_files(bad, words):
    with pytest.raises(AudioError, match=words):
        unmf_core.transcribe(bad, sr=22050, **FAST)


def test_engine_load_validates_arrays():
    eng = unmf_core.Engine(device="cpu")
    with pytest.raises(AudioError, match="non-finite"):
        eng.load(np.full(22050, np.nan), sr=22050)
    with pytest.raises(AudioError, match="silent"):
        eng.load(np.zeros(22050), sr=22050)  # the engine refuses silence by default, as for files
    with pytest.raises(AudioError, match="sample rate"):
        eng.load(np.ones(22050))
    stereo = eng.load(np.stack([synth_notes(PIECE)] * 2), sr=22050)
    assert stereo.samples.ndim == 1 and stereo.channels == 2


def test_unknown_option_is_named():
    with pytest.raises(TypeError, match="iteratoins"):
        unmf_core.transcribe(np.zeros(22050), sr=22050, iteratoins=3)
