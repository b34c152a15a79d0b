"""Project files: round trip, atomic write without overwriting, and clear errors on bad files."""
from __future__ import annotations

import json
import shutil

import pytest

from unmf_core.errors import OutputError
from unmf_core.io.project import (VERSION, Project, ProjectEdits, ProjectError, load_project, parse_project,
                                  save_project)
from unmf_core.transcription.notes import Note, NoteParams


@pytest.fixture
def project(tmp_path):
    audio = tmp_path / "piece.wav"
    audio.write_bytes(b"RIFF")
    notes = [Note(60, 0.25, 0.9, 90), Note(66, 1.0, 1.5, 31)]
    return Project(str(audio), device="cpu", method="mu", iterations=40, layers=None,
                   note_params=NoteParams(threshold=0.12, min_duration=0.1), edits=ProjectEdits("mu", 40, notes),
                   step=40, tab="compare", beat_times=[0.5, 1.0, 1.5], x_range=[0.0, 3.5], y_range=[10.0, 40.0])


def test_round_trip(tmp_path, project):
    path = tmp_path / "song.unmf"
    save_project(project, path)
    back = load_project(path)
    assert back == project
    assert json.loads(path.read_text())["version"] == VERSION


def test_never_overwrites_unless_asked_and_writes_atomically(tmp_path, project):
    path = tmp_path / "song.unmf"
    path.write_text("precious")
    with pytest.raises(OutputError):
        save_project(project, path)
    assert path.read_text() == "precious"
    save_project(project, path, overwrite=True)
    assert load_project(path).method == "mu"
    assert [p.name for p in tmp_path.iterdir()] and not list(tmp_path.glob(".*part*"))


def test_a_moved_folder_still_finds_its_recording(tmp_path, project):
    save_project(project, tmp_path / "song.unmf")
    moved = tmp_path.parent / (tmp_path.name + "-moved")
    shutil.move(str(tmp_path), moved)
    back = load_project(moved / "song.unmf")
    assert back.audio == str(moved / "piece.wav")


def _write(tmp_path, data) -> str:
    p = tmp_path / "bad.unmf"
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return p


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(version=99), "version 99 is not supported"),
    (lambda d: d.update(version="1"), "no valid format version"),
    (lambda d: d.update(format="other"), "not an unmf project"),
    (lambda d: d.update(audio=None), "audio must be a text"),
    (lambda d: d["run"].update(method="nmf"), "run.method must be one of"),
    (lambda d: d["run"].update(iterations=0), "at least 1"),
    (lambda d: d["run"].update(iterations=True), "run.iterations must be an integer"),
    (lambda d: d["note_params"].update(threshold="high"), "note_params.threshold must be a finite number"),
    (lambda d: d["note_params"].update(colour=1), "unknown setting(s) colour"),
    (lambda d: d["edits"]["notes"].append([60, 1.0, 0.5, 80]), "must come after onset"),
    (lambda d: d["edits"]["notes"].append([60, 1.0, 2.0, 0]), "velocity must be an integer 1..127"),
    (lambda d: d["edits"]["notes"].append([60, 1.0]), "must be [pitch, onset, offset, velocity]"),
    (lambda d: d["edits"].update(step=None), "edits.step must be an integer"),
    (lambda d: d["view"].update(tab="mixer"), "view.tab must be one of"),
    (lambda d: d["view"].update(x_range=[2.0, 1.0]), "view.x_range must be [low, high] with low < high"),
    (lambda d: d["view"].update(y_range=[1.0]), "view.y_range must be [low, high]"),
    (lambda d: d.update(beat_times=[1.0, 0.5]), "beat_times must increase"),
    (lambda d: d.update(audio="/nowhere/gone.wav", audio_relative="gone.wav"),
     "recording /nowhere/gone.wav is missing"),
    (lambda d: d["engine"].update(model="/nowhere/model.pt"), "model /nowhere/model.pt is missing"),
])
def test_malformed_projects_give_clear_errors(tmp_path, project, change, message):
    data = project.to_dict(tmp_path)
    change(data)
    with pytest.raises(ProjectError, match="bad.unmf: .*" + message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        load_project(_write(tmp_path, data))


@pytest.mark.parametrize("text, message", [("{not json", "not valid JSON"), ("[1, 2]", "not an unmf project"),
                                           ("", "not valid JSON")])
def test_files_that_are_not_projects(tmp_path, text, message):
    with pytest.raises(ProjectError, match=message):
        load_project(_write(tmp_path, text))
    with pytest.raises(ProjectError, match="no such project file"):
        load_project(tmp_path / "missing.unmf")
    (tmp_path / "binary.unmf").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ProjectError):
        load_project(tmp_path / "binary.unmf")


def test_parse_without_checking_files(project):
    data = project.to_dict()
    data["audio"] = "/nowhere/x.wav"
    assert parse_project(data, "p.unmf", check_files=False).audio == "/nowhere/x.wav"
