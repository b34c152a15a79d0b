import json

import pytest
import soundfile as sf

from tests.conftest import synth_notes
from unmf_core.cli import main
from unmf_core.transcription.notes import Note, read_midi, write_midi


@pytest.fixture
def pair(tmp_path):
    score = [(60, 0.2, 0.8), (67, 0.9, 1.5)]
    (tmp_path / "audio").mkdir()
    (tmp_path / "midi").mkdir()
    sf.write(tmp_path / "audio" / "a.wav", synth_notes(score), 22050)
    write_midi([Note(p, s, e) for p, s, e in score], tmp_path / "midi" / "a.mid")
    return tmp_path


def test_transcribe_one_file(pair, capsys):
    out = pair / "a.mid"
    assert main(["transcribe", str(pair / "audio" / "a.wav"), "-o", str(out), "--method", "mu",
                 "--iterations", "30"]) == 0
    assert {n.pitch for n in read_midi(out)} >= {60, 67}
    assert main(["transcribe", str(pair / "audio" / "a.wav"), "-o", str(out)]) == 5
    assert "already exists" in capsys.readouterr().err


def test_transcribe_several_into_folder(pair):
    sf.write(pair / "audio" / "b.wav", synth_notes([(50, 0.1, 0.6)]), 22050)
    rc = main(["transcribe", str(pair / "audio" / "a.wav"), str(pair / "audio" / "b.wav"), "-o", str(pair / "out"),
               "--method", "unrolled", "--layers", "3"])
    assert rc == 0 and sorted(p.name for p in (pair / "out").iterdir()) == ["a.mid", "b.mid"]


def test_evaluate_writes_table_and_json(pair, capsys):
    js = pair / "ev.json"
    assert main(["evaluate", "--audio-dir", str(pair / "audio"), "--midi-dir", str(pair / "midi"), "--method", "mu",
                 "--iterations", "40", "--json", str(js)]) == 0
    out = capsys.readouterr().out
    assert "a.wav" in out and "mean" in out
    rep = json.loads(js.read_text())
    assert rep["files"][0]["onset_f"] == rep["mean"]["onset_f"] and rep["params"]["method"] == "mu"
    assert rep["mean"]["onset_f"] >= 0.5


def test_evaluate_records_the_note_gate_choice(pair, capsys):
    js = pair / "ev.json"
    assert main(["evaluate", "--audio-dir", str(pair / "audio"), "--midi-dir", str(pair / "midi"), "--layers", "2",
                 "--note-gate", "off", "--json", str(js)]) == 0
    assert json.loads(js.read_text())["params"]["note_gate"] == "off"


def test_templates_command(tmp_path, capsys):
    sf.write(tmp_path / "A4.wav", synth_notes([(69, 0.1, 1.0)]), 22050)
    assert main(["templates", str(tmp_path), "-o", str(tmp_path / "w.npz")]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "w.npz").exists() and "1 keys recorded" in out and "A4 " in out and "87 keys predicted" in out


def test_errors_are_one_line_with_exit_code(tmp_path, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    assert main(["transcribe", str(bad), "-o", str(tmp_path / "x.mid")]) == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("unmf: error: bad.wav") and "\n" not in err
    assert main(["transcribe", str(bad), "-o", str(tmp_path / "x.mid"), "--model", str(tmp_path / "none.pt")]) == 4
    with pytest.raises(SystemExit) as e:
        main(["transcribe"])
    assert e.value.code == 2


def test_version(capsys):
    from unmf_core import __version__

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"unmf {__version__}"


@pytest.mark.parametrize("args, what", [
    (["--iterations", "0"], "--iterations"), (["--iterations", "-5"], "--iterations"),
    (["--layers", "-3"], "--layers"), (["--threshold", "-1"], "--threshold"), (["--threshold", "0"], "--threshold"),
    (["--beta", "nan"], "--beta"), (["--beta", "inf"], "--beta"), (["--min-duration", "-1"], "--min-duration"),
    (["--merge-gap", "-0.1"], "--merge-gap"), (["--offset-ratio", "0"], "--offset-ratio"),
    (["--device", "gpu"], "--device"), (["--device", "cuda:x"], "--device"), (["--device", "cpu0"], "--device"),
    (["--note-gate", "yes"], "--note-gate")])
def test_bad_values_are_refused_in_one_line(pair, capsys, args, what):
    out = pair / "x.mid"
    with pytest.raises(SystemExit) as e:
        main(["transcribe", str(pair / "audio" / "a.wav"), "-o", str(out), *args])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and "\n" not in err and what in err and args[1] in err
    assert not out.exists()


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1", "CPU"])
def test_device_names_accepted(device):
    from unmf_core.cli.commands import build_parser

    args = build_parser().parse_args(["transcribe", "a.wav", "-o", "a.mid", "--device", device])
    assert args.device == device.lower()


def test_more_layers_than_the_model_has_is_refused(pair, capsys):
    out = pair / "x.mid"
    assert main(["transcribe", str(pair / "audio" / "a.wav"), "-o", str(out), "--layers", "1000"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "unmf: error: --layers 1000: the model has 10 layers" and not out.exists()


def test_midi_output_with_an_audio_name_is_refused(pair, capsys):
    out = pair / "x.wav"
    assert main(["transcribe", str(pair / "audio" / "a.wav"), "-o", str(out)]) == 2
    assert "name it .mid" in capsys.readouterr().err and not out.exists()


def test_a_batch_goes_on_past_a_bad_file(pair, capsys):
    bad = pair / "audio" / "bad.wav"
    bad.write_text("not audio")
    sf.write(pair / "audio" / "c.wav", synth_notes([(50, 0.1, 0.6)]), 22050)
    rc = main(["transcribe", str(bad), str(pair / "audio" / "a.wav"), str(pair / "audio" / "c.wav"), "-o",
               str(pair / "out"), "--method", "mu", "--iterations", "20"])
    err = capsys.readouterr().err
    assert rc == 3 and sorted(p.name for p in (pair / "out").iterdir()) == ["a.mid", "c.mid"]
    assert "bad.wav" in err and "1 of 3 files failed" in err


def test_evaluate_writes_the_good_files_when_one_is_bad(pair, capsys):
    (pair / "audio" / "bad.wav").write_text("not audio")
    write_midi([Note(60, 0.2, 0.8)], pair / "midi" / "bad.mid")
    js = pair / "ev.json"
    rc = main(["evaluate", "--audio-dir", str(pair / "audio"), "--midi-dir", str(pair / "midi"), "--method", "mu",
               "--iterations", "20", "--json", str(js)])
    assert rc == 3 and "1 of 2 files failed" in capsys.readouterr().err
    rep = json.loads(js.read_text())
    assert [f["file"] for f in rep["files"]] == ["a.wav"] and len(rep["failed"]) == 1 and "bad.wav" in rep["failed"][0]


def test_near_silent_recording_gives_no_notes(tmp_path, capsys):
    """Three minutes of white noise at -90 dBFS: the relative thresholds alone found 20 notes in it (MU, 30 it.)."""
    import numpy as np

    y = (10 ** (-90 / 20) * np.random.default_rng(0).standard_normal(180 * 22050)).astype(np.float32)
    sf.write(tmp_path / "quiet.wav", y, 22050, subtype="FLOAT")
    assert main(["transcribe", str(tmp_path / "quiet.wav"), "-o", str(tmp_path / "quiet.mid"), "--method", "mu",
                 "--iterations", "30"]) == 0
    assert read_midi(tmp_path / "quiet.mid") == [] and ": 0 notes" in capsys.readouterr().out
