"""Bad and odd audio inputs: each gives a clear one-line error with a documented code, or transcribes.

The corpus is generated here (nothing third-party is committed). Every case
goes through :func:`unmf_core.frontend.audio.load_audio` and through the CLI
(``unmf transcribe``). See docs/robustness.md for the table of behaviours.
"""
from __future__ import annotations

import math
import struct

import numpy as np
import pytest
import soundfile as sf
import soxr

from tests.conftest import synth_notes
from unmf_core.frontend.audio import MIN_DURATION, load_audio, rate_mismatch
from unmf_core.cli import main
from unmf_core.errors import AudioError
from unmf_core.transcription.metrics import note_scores
from unmf_core.transcription.notes import Note, read_midi, write_midi

SR = 22050
TRUE_NOTES = [(60, 0.2, 1.0), (64, 0.5, 1.3)]
LATE_NOTE = (72, 3.5, 3.95)


def _clean() -> np.ndarray:
    return synth_notes(TRUE_NOTES, sr=SR)


def _wav(path, samples, sr=SR, subtype="FLOAT"):
    sf.write(str(path), samples, sr, subtype=subtype, format="WAV")
    return path


def _write_bytes(path, data: bytes):
    path.write_bytes(data)
    return path


def _header_only(path) -> bytes:
    """The bytes of a WAV up to the start of its sample data."""
    data = path.read_bytes()
    return data[: data.index(b"data") + 8]


def _cut_mid_frame(path):
    """A 24-bit stereo WAV whose data chunk stops in the middle of a frame (header claims more)."""
    y = _clean()
    full = path.with_name("full24.wav")
    _wav(full, np.stack([y, y], axis=1), subtype="PCM_24")
    data = full.read_bytes()
    full.unlink()
    return _write_bytes(path, data[: 44 + 6 * int(1.2 * SR) + 4])


def _wrong_rate_header(path):
    """Audio sampled at 44.1 kHz whose header declares 48 kHz (like the seed's example-1.wav)."""
    return _wav(path, synth_notes(TRUE_NOTES + [LATE_NOTE], sr=44100, duration=4.0), sr=48000)


def _special(value):
    def make(path):
        y = _clean().copy()
        y[SR // 2] = value
        return _wav(path, y, subtype="FLOAT")
    return make


#: name → (builder(path) → path, expected exit code, text the message must hold)
ERRORS = {
    "empty_0_bytes": (lambda p: _write_bytes(p, b""), 3, "empty"),
    "text_named_wav": (lambda p: _write_bytes(p, b"this is a text file, not audio\n" * 20), 3, "not a readable audio"),
    "truncated_header": (lambda p: _write_bytes(p, _wav(p, _clean()).read_bytes()[:30]), 3, "not a readable audio"),
    "header_only": (lambda p: _write_bytes(p, _header_only(_wav(p, _clean()))), 3, "no audio samples"),
    "one_sample": (lambda p: _wav(p, _clean()[SR // 4:SR // 4 + 1]), 3, "too short"),
    "ten_ms": (lambda p: _wav(p, _clean()[SR // 4:SR // 4 + SR // 100]), 3, "too short"),
    "silence_10s": (lambda p: _wav(p, np.zeros(10 * SR, np.float32), subtype="PCM_16"), 3, "silent"),
    "constant_dc_only": (lambda p: _wav(p, np.full(SR, 0.25, np.float32)), 3, "silent"),
    "nan_sample": (_special(np.nan), 3, "non-finite"),
    "plus_inf_sample": (_special(np.inf), 3, "non-finite"),
    "minus_inf_sample": (_special(-np.inf), 3, "non-finite"),
}


def _rate(sr):
    return lambda p: _wav(p, soxr.resample(_clean(), SR, sr), sr=sr)


def _bits(subtype):
    return lambda p: _wav(p, _clean(), subtype=subtype)


def _channels(n):
    def make(p):
        y = _clean()
        # different gains per channel; the mix to mono must still hold the notes
        return _wav(p, np.stack([y * (1.0 - 0.1 * c) for c in range(n)], axis=1), subtype="PCM_16")
    return make


#: name → builder; each must transcribe to the true pitches
TRANSCRIBES = {
    "reference_float_22k": lambda p: _wav(p, _clean()),
    "rate_8k": _rate(8000),
    "rate_96k": _rate(96000),
    "rate_192k": _rate(192000),
    "pcm_u8": _bits("PCM_U8"),
    "pcm_16": _bits("PCM_16"),
    "pcm_24": _bits("PCM_24"),
    "pcm_32": _bits("PCM_32"),
    "float_64": _bits("DOUBLE"),
    "mono": _channels(1),
    "stereo": _channels(2),
    "six_channels": _channels(6),
    "dc_offset": lambda p: _wav(p, 0.5 * _clean() + 0.4),
    "hard_clipping": lambda p: _wav(p, np.clip(20 * _clean(), -1, 1), subtype="PCM_16"),
    "cut_mid_frame": _cut_mid_frame,
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Every case written once into a folder whose name has spaces and non-ASCII characters."""
    root = tmp_path_factory.mktemp("corpus") / "bad inputs ü 音"
    root.mkdir()
    files = {}
    for name, (make, _, _) in ERRORS.items():
        files[name] = make(root / f"{name}.wav")
    for name, make in TRANSCRIBES.items():
        files[name] = make(root / f"{name}.wav")
    files["wrong_rate_header"] = _wrong_rate_header(root / "wrong_rate_header.wav")
    files["non_ascii_name"] = _wav(root / "Klavierstück für Élise 練習 #1.wav", _clean())
    return files


def _one_error_line(capsys, name: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("unmf: error: "), err
    assert name in err[0], err
    return err[0]


# ---- load_audio ---------------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(ERRORS))
def test_load_audio_rejects(corpus, case):
    with pytest.raises(AudioError) as info:
        load_audio(corpus[case], SR)
    msg = str(info.value)
    assert corpus[case].name in msg
    assert ERRORS[case][2] in msg
    assert "\n" not in msg


@pytest.mark.parametrize("case", sorted(TRANSCRIBES) + ["non_ascii_name", "wrong_rate_header"])
def test_load_audio_accepts(corpus, case):
    a = load_audio(corpus[case], SR)
    assert a.sr == SR and a.samples.dtype == np.float32 and a.samples.ndim == 1
    assert np.all(np.isfinite(a.samples))
    assert abs(float(a.samples.mean())) < 1e-3  # any DC offset is removed
    assert a.duration >= 1.0


def test_load_audio_reports_channels_and_rate(corpus):
    assert load_audio(corpus["six_channels"]).channels == 6
    assert load_audio(corpus["rate_192k"]).orig_sr == 192000
    assert load_audio(corpus["rate_192k"], SR).sr == SR


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path / "nope.wav")
    with pytest.raises(AudioError, match="is a folder"):
        load_audio(tmp_path)


def test_too_short_is_not_reported_for_the_minimum(tmp_path):
    y = _clean()[: int(math.ceil(MIN_DURATION * SR)) + 1]
    assert len(load_audio(_wav(tmp_path / "short.wav", y)).samples) == len(y)


# ---- the CLI ------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(ERRORS))
def test_cli_error_is_one_line_with_code(corpus, case, tmp_path, capsys):
    out = tmp_path / "out.mid"
    rc = main(["transcribe", str(corpus[case]), "-o", str(out), "--method", "mu", "--iterations", "5"])
    assert rc == ERRORS[case][1] == AudioError.exit_code
    line = _one_error_line(capsys, corpus[case].name)
    assert ERRORS[case][2] in line
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no partial output


def test_cli_missing_input(tmp_path, capsys):
    rc = main(["transcribe", str(tmp_path / "missing file.wav"), "-o", str(tmp_path / "o.mid")])
    assert rc == 3
    _one_error_line(capsys, "missing file.wav")


@pytest.fixture(scope="module")
def reference_notes(corpus, tmp_path_factory):
    """The transcription of the clean 22.05 kHz float file (what every variant should give)."""
    out = tmp_path_factory.mktemp("ref") / "ref.mid"
    assert main(["transcribe", str(corpus["reference_float_22k"]), "-o", str(out), "--method", "mu",
                 "--iterations", "30"]) == 0
    return read_midi(out)


def _found(notes, pitch, onset, tol=0.1):
    return any(n.pitch == pitch and abs(n.onset - onset) <= tol for n in notes)


@pytest.mark.parametrize("case", sorted(TRANSCRIBES) + ["non_ascii_name"])
def test_cli_transcribes(corpus, case, reference_notes, tmp_path, capsys):
    out = tmp_path / "sous dossier é" / f"{corpus[case].stem}.mid"
    out.parent.mkdir()
    rc = main(["transcribe", str(corpus[case]), "-o", str(out), "--method", "mu", "--iterations", "30"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "unmf: error" not in cap.err
    assert corpus[case].name in cap.out
    notes = read_midi(out)
    for pitch, onset, _ in TRUE_NOTES:
        assert _found(notes, pitch, onset), (case, pitch, notes)
    assert all(21 <= n.pitch <= 108 and n.onset < n.offset for n in notes)
    if case not in ("hard_clipping", "cut_mid_frame"):
        # a format change must not change the transcription much
        assert note_scores(reference_notes, notes)["onset_f"] >= 0.8, (case, notes, reference_notes)


def test_wrong_header_rate_transcribes_shifted(corpus, tmp_path, capsys):
    """A header declaring 48 kHz for 44.1 kHz audio cannot be detected: it transcribes, pitches shifted up."""
    out = tmp_path / "o.mid"
    assert main(["transcribe", str(corpus["wrong_rate_header"]), "-o", str(out), "--method", "mu",
                 "--iterations", "30"]) == 0
    notes = read_midi(out)
    # 48000/44100 is 1.47 semitones up, and every time is scaled by 44100/48000
    assert _found(notes, 61, 0.2 * 44100 / 48000) or _found(notes, 62, 0.2 * 44100 / 48000), notes


def test_evaluate_warns_about_wrong_header_rate(corpus, tmp_path, capsys):
    audio_dir, midi_dir = tmp_path / "audio", tmp_path / "midi"
    audio_dir.mkdir()
    midi_dir.mkdir()
    (audio_dir / "piece.wav").write_bytes(corpus["wrong_rate_header"].read_bytes())
    # the reference of the real 4 s performance outlasts the 3.7 s the header's rate gives, as in the
    # seed's example-1
    write_midi([Note(p, a, b) for p, a, b in TRUE_NOTES + [LATE_NOTE]], midi_dir / "piece.mid")
    rc = main(["evaluate", "--audio-dir", str(audio_dir), "--midi-dir", str(midi_dir), "--json",
               str(tmp_path / "ev.json"), "--method", "mu", "--iterations", "10"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    warnings = [ln for ln in cap.err.splitlines() if ln.startswith("unmf: warning:")]
    assert len(warnings) == 1 and "piece.wav" in warnings[0] and "44100 Hz would fit" in warnings[0], cap.err
    import json

    assert json.loads((tmp_path / "ev.json").read_text())["warnings"] == [warnings[0][len("unmf: warning: "):]]


def test_rate_mismatch_rules():
    assert rate_mismatch("a.wav", 10.0, 9.0, 44100) is None  # audio longer than the reference: normal
    assert rate_mismatch("a.wav", 10.0, 10.2, 44100) is None  # within tolerance
    msg = rate_mismatch("a.wav", 3.693, 4.0, 48000)
    assert msg and "a.wav" in msg and "44100 Hz would fit" in msg


def test_seed_example_with_wrong_header_is_flagged(shared_data):
    """The seed's example-1.wav declares 48 kHz for what is 44.1 kHz audio; its MIDI shows it."""
    wav = shared_data / "piano-dataset" / "audio" / "example-1.wav"
    mid = shared_data / "piano-dataset" / "midi" / "example-1.mid"
    info = sf.info(str(wav))
    end = max(n.offset for n in read_midi(mid))
    msg = rate_mismatch(wav.name, info.duration, end, info.samplerate)
    assert msg is not None and "44100 Hz would fit" in msg


def test_cut_mid_frame_keeps_whole_frames(corpus):
    info = sf.info(str(corpus["cut_mid_frame"]))
    a = load_audio(corpus["cut_mid_frame"])
    assert len(a.samples) == int(1.2 * SR)  # the partial last frame is dropped
    assert info.frames >= len(a.samples)


def test_struct_sanity_of_truncated_header(corpus):
    """The truncated header really is cut inside the fmt chunk (the case the issue asks for)."""
    data = corpus["truncated_header"].read_bytes()
    assert data[:4] == b"RIFF" and len(data) == 30
    assert struct.unpack("<4s", data[12:16])[0] == b"fmt "
