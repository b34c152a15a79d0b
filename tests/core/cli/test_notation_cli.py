"""``unmf transcribe --format/--tempo/--quantize``: outputs and one-line errors."""
import mido
import pytest
import soundfile as sf

from tests.conftest import synth_notes
from unmf_core.cli import main
from unmf_core.notation.musicxml import read_musicxml
from unmf_core.transcription.notes import read_midi

FAST = ["--method", "mu", "--iterations", "20"]


@pytest.fixture
def wav(tmp_path):
    score = [(48 + (i % 3) * 4, 0.3 + 0.5 * i, 0.7 + 0.5 * i) for i in range(10)]
    path = tmp_path / "a.wav"
    sf.write(path, synth_notes(score), 22050)
    return path


def test_musicxml_midi_and_csv(wav, tmp_path, capsys):
    assert main(["transcribe", str(wav), "-o", str(tmp_path / "a.musicxml"), *FAST]) == 0
    assert len(read_musicxml(tmp_path / "a.musicxml")) > 0
    assert main(["transcribe", str(wav), "-o", str(tmp_path / "a.mid"), "--tempo", "120", "--quantize", "1/8",
                 *FAST]) == 0
    assert "120.0 bpm 4/4, quantised 1/8" in capsys.readouterr().out
    mf = mido.MidiFile(str(tmp_path / "a.mid"))
    assert [m.tempo for m in mf.tracks[0] if m.type == "set_tempo"] == [500000]
    assert all(abs(n.onset * 4 - round(n.onset * 4)) < 1e-3 for n in read_midi(tmp_path / "a.mid"))
    assert main(["transcribe", str(wav), "-o", str(tmp_path / "out"), "--format", "csv", "--time-signature", "3/4",
                 *FAST]) == 0
    assert (tmp_path / "out" / "a.csv").read_text().startswith("onset_s")


@pytest.mark.parametrize("flags", [["--quantize", "1/7"], ["--tempo", "fast"], ["--tempo", "0"],
                                   ["--tempo", "nan"], ["--format", "pdf"], ["--time-signature", "5/8"]])
def test_bad_values_exit_2_with_one_line(wav, tmp_path, capsys, flags):
    with pytest.raises(SystemExit) as exit_:
        main(["transcribe", str(wav), "-o", str(tmp_path / "a.mid"), *flags])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err and not (tmp_path / "a.mid").exists()


@pytest.mark.parametrize("out,flags", [("a.txt", []), ("a.mid", ["--format", "musicxml"])])
def test_output_name_must_fit_the_format(wav, tmp_path, capsys, out, flags):
    assert main(["transcribe", str(wav), "-o", str(tmp_path / out), *flags]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not (tmp_path / out).exists()


def test_plain_midi_is_not_tracked_unless_asked(wav, tmp_path, capsys):
    # tracking costs seconds per process (librosa's beat code): a plain .mid gets 120 bpm unless --tempo auto
    assert main(["transcribe", str(wav), "-o", str(tmp_path / "plain.mid"), *FAST]) == 0
    assert "120.0 bpm 4/4" in capsys.readouterr().out
    mf = mido.MidiFile(str(tmp_path / "plain.mid"))
    assert [m.tempo for m in mf.tracks[0] if m.type == "set_tempo"] == [500000]
    # a quantised file needs the beats: tracked without being asked
    assert main(["transcribe", str(wav), "-o", str(tmp_path / "q.mid"), "--quantize", "1/16", *FAST]) == 0
    assert "quantised 1/16" in capsys.readouterr().out
