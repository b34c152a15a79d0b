"""File ▸ Save / Open project on the real window: the same notes and settings come back; bad files say why."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import Qt

from gui_helpers import make_window, open_and_wait, write_recording
from test_editing import click_note, find, key, point
from unmf_core.io.project import load_project

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def win(qtbot, tmp_path):
    (tmp_path / "first").mkdir()
    w = make_window(qtbot, tmp_path / "first")
    w.editor.ask = lambda text: True
    yield w
    w.close()


def test_a_saved_project_reopens_with_the_same_notes_and_settings(qtbot, win, tmp_path):
    audio = write_recording(tmp_path)
    win.iterations_box.setValue(50)
    open_and_wait(qtbot, win, audio)
    win.notes_controls.threshold.setValue(0.09)  # after the run: the model's calibrated settings came with it
    win.notes_controls.min_duration.setValue(0.08)
    view = win.activations
    view.setXRange(0.0, 3.2, padding=0)
    view.setYRange(50 - 21, 76 - 21, padding=0)
    qtbot.waitUntil(lambda: abs(view.getPlotItem().vb.viewRange()[1][0] - (50 - 21)) < 1e-6)
    click_note(qtbot, win, find(win.vm.notes, 64))
    qtbot.keyClick(win, Qt.Key_Delete)
    qtbot.mouseDClick(view.viewport(), Qt.LeftButton, Qt.NoModifier, point(win, 2.95, 70))
    edited, step = list(win.vm.notes), win.vm.current_step()
    assert win.vm.edited
    path = tmp_path / "song.unmf"
    assert win.project.save(path)
    assert load_project(path).edits is not None

    (tmp_path / "second").mkdir()
    other = make_window(qtbot, tmp_path / "second")
    try:
        assert other.notes_controls.threshold.value() != pytest.approx(0.09)
        with qtbot.waitSignal(other.project.restored, timeout=60000):
            assert other.project.open(path)
        assert key(other.vm.notes) == key(edited)
        np.testing.assert_allclose(other.activations.getPlotItem().vb.viewRange(), [[0.0, 3.2], [29.0, 55.0]],
                                   atol=1e-9)
        assert other.vm.current_step() == step and other.vm.edited and other.method == win.method
        assert other.notes_controls.threshold.value() == pytest.approx(0.09)
        assert other.notes_controls.min_duration.value() == pytest.approx(0.08)
        assert other.vm.note_params == win.vm.note_params
        assert other.iterations_box.value() == 50 and not other.notes_controls.threshold.isEnabled()
        assert other.spec == win.spec
        # the reopened edits are undoable from here and the file saves back to where it came from
        qtbot.keyClick(other, Qt.Key_Delete)  # nothing selected: nothing happens
        assert key(other.vm.notes) == key(edited)
        other.editor.discard()
        assert not other.vm.edited
        assert other.project.save()  # Ctrl+S: the project the user opened
        assert load_project(path).edits is None
    finally:
        other.close()


def test_save_never_replaces_a_file_the_user_did_not_choose(qtbot, win, tmp_path):
    open_and_wait(qtbot, win, write_recording(tmp_path))
    existing = tmp_path / "existing.unmf"
    existing.write_text("keep me")
    errors = []
    win.error_shown.connect(errors.append)
    assert not win.project.save(existing)
    assert existing.read_text() == "keep me" and errors and "already exists" in errors[0]


@pytest.mark.parametrize("content, message", [
    ("{ not json", "not valid JSON"),
    (json.dumps({"format": "unmf-project", "version": 7}), "version 7 is not supported"),
    (None, "is missing"),
])
def test_a_bad_project_shows_a_clear_error(qtbot, win, tmp_path, content, message):
    path = tmp_path / "bad.unmf"
    if content is None:  # a good project whose recording was deleted
        audio = write_recording(tmp_path)
        open_and_wait(qtbot, win, audio)
        assert win.project.save(path)
        audio.unlink()
    else:
        path.write_text(content)
    before = win.vm.path
    with qtbot.waitSignal(win.error_shown, timeout=5000) as sig:
        assert not win.project.open(path)
    assert "Could not open the project" in sig.args[0] and message in sig.args[0]
    assert win.vm.path == before and not win.controller.running
