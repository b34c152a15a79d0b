import json

import pytest
import soundfile as sf

from tests.conftest import synth_notes
from unmf_core.cli import main
from unmf_core.notes import Note, read_midi, write_midi


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
