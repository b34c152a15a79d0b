"""Editing notes by hand on the real window: mouse and keys on the piano roll, each edit undone and redone.

Gestures go to the piano roll's viewport as real mouse / key / wheel events at
points mapped from (seconds, pitch) through the view's own mapping.
"""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QMenu

from gui_helpers import make_window, open_and_wait, write_recording
from unmf_core.transcription.notes import read_midi
from unmf_gui.views.notes_layer import DEFAULT_LENGTH, WHEEL_STEP

pytestmark = pytest.mark.usefixtures("one_thread")
LOW = 21


@pytest.fixture
def win(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path)
    w.editor.ask = lambda text: True  # closing with unsaved edits asks (tested below)
    open_and_wait(qtbot, w, write_recording(tmp_path))
    view = w.activations
    view.setXRange(0.0, 3.2, padding=0)
    view.setYRange(50 - LOW, 76 - LOW, padding=0)  # ~26 keys: several pixels a key
    qtbot.waitUntil(lambda: abs(view.getPlotItem().vb.viewRange()[1][0] - (50 - LOW)) < 1e-6)
    yield w
    w.close()


def point(win, t: float, pitch: float) -> QPoint:
    """Viewport position of time ``t`` (s) in the middle of ``pitch``'s row."""
    view = win.activations
    scene = view.getPlotItem().vb.mapViewToScene(QPointF(t, pitch - LOW + 0.5))
    return view.mapFromScene(scene)


def seconds_per_px(win) -> float:
    vb = win.activations.getPlotItem().vb
    (x0, x1), _ = vb.viewRange()
    return (x1 - x0) / vb.width()


def find(notes, pitch):
    return next(n for n in notes if n.pitch == pitch)


def key(notes):
    return sorted((n.pitch, round(n.onset, 3), round(n.offset, 3), n.velocity) for n in notes)


def drag(qtbot, win, a: QPoint, b: QPoint, steps: int = 5) -> None:
    vp = win.activations.viewport()
    qtbot.mousePress(vp, Qt.LeftButton, Qt.NoModifier, a)
    for i in range(1, steps + 1):
        qtbot.mouseMove(vp, a + (b - a) * (i / steps))
    qtbot.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, b)


def undo_redo(qtbot, win, before, after) -> None:
    """Ctrl+Z gives ``before`` back, Ctrl+Shift+Z ``after`` again (through the real shortcuts)."""
    with qtbot.waitSignal(win.vm.notesChanged, timeout=2000):
        qtbot.keyClick(win, Qt.Key_Z, Qt.ControlModifier)
    assert key(win.vm.notes) == key(before)
    with qtbot.waitSignal(win.vm.notesChanged, timeout=2000):
        qtbot.keyClick(win, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert key(win.vm.notes) == key(after)


def click_note(qtbot, win, note, modifier=Qt.NoModifier):
    qtbot.mouseClick(win.activations.viewport(), Qt.LeftButton, modifier,
                     point(win, (note.onset + note.offset) / 2, note.pitch))


def test_click_selects_and_delete_removes_with_undo(qtbot, win):
    before = list(win.vm.notes)
    note = find(before, 64)
    click_note(qtbot, win, note)
    assert win.activations.notes_layer.selection() == [note]
    assert "E4" in win.message_label.toolTip() + win.message_label.text()
    with qtbot.waitSignal(win.vm.notesChanged, timeout=2000):
        qtbot.keyClick(win, Qt.Key_Delete)
    after = list(win.vm.notes)
    assert note not in after and len(after) == len(before) - 1
    assert win.editor.lock_label.isVisibleTo(win.notes_controls) and not win.notes_controls.threshold.isEnabled()
    undo_redo(qtbot, win, before, after)
    qtbot.keyClick(win, Qt.Key_Z, Qt.ControlModifier)
    assert not win.vm.edited and win.notes_controls.threshold.isEnabled()  # all undone: unlocked again
    qtbot.keyClick(win, Qt.Key_A, Qt.ControlModifier)
    assert win.activations.notes_layer.selected == set(win.vm.notes) and len(win.vm.notes) > 1


def test_double_click_adds_a_note_with_undo(qtbot, win):
    before = list(win.vm.notes)
    with qtbot.waitSignal(win.vm.notesChanged, timeout=2000):
        qtbot.mouseDClick(win.activations.viewport(), Qt.LeftButton, Qt.NoModifier, point(win, 2.95, 70))
    after = list(win.vm.notes)
    added = [n for n in after if n not in before]
    assert len(added) == 1 and added[0].pitch == 70
    assert added[0].onset == pytest.approx(2.95, abs=2 * seconds_per_px(win))
    assert added[0].offset - added[0].onset == pytest.approx(DEFAULT_LENGTH)
    undo_redo(qtbot, win, before, after)


def test_drag_moves_a_note_in_time_and_pitch_with_undo(qtbot, win):
    before = list(win.vm.notes)
    note = find(before, 64)
    mid = (note.onset + note.offset) / 2
    with qtbot.waitSignal(win.vm.notesChanged, timeout=2000):
        drag(qtbot, win, point(win, mid, 64), point(win, mid + 0.4, 66))
    after = list(win.vm.notes)
    moved = [n for n in after if n not in before]
    assert len(moved) == 1 and moved[0].pitch == 66 and moved[0].velocity == note.velocity
    tol = 2 * seconds_per_px(win)
    assert moved[0].onset - note.onset == pytest.approx(0.4, abs=tol)
    assert moved[0].offset - moved[0].onset == pytest.approx(note.offset - note.onset, abs=1e-6)
    assert note not in after
    undo_redo(qtbot, win, before, after)


def test_drag_on_the_end_resizes_a_note_with_undo(qtbot, win):
    before = list(win.vm.notes)
    note = find(before, 67)
    with qtbot.waitSignal(win.vm.notesChanged, timeout=2000):
        drag(qtbot, win, point(win, note.offset - seconds_per_px(win), 67), point(win, 2.6, 67))
    after = list(win.vm.notes)
    resized = [n for n in after if n not in before]
    assert len(resized) == 1 and resized[0].pitch == 67
    assert resized[0].onset == pytest.approx(note.onset)
    assert resized[0].offset == pytest.approx(2.6, abs=2 * seconds_per_px(win))
    undo_redo(qtbot, win, before, after)


def wheel(win, pos: QPoint, notches: int) -> None:
    vp = win.activations.viewport()
    ev = QWheelEvent(QPointF(pos), QPointF(vp.mapToGlobal(pos)), QPoint(0, 0), QPoint(0, 120 * notches),
                     Qt.NoButton, Qt.ControlModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(vp, ev)


def test_ctrl_wheel_changes_velocity_in_one_undo_step(qtbot, win):
    before = list(win.vm.notes)
    note = find(before, 60)
    click_note(qtbot, win, note)
    pos = point(win, (note.onset + note.offset) / 2, 60)
    for _ in range(3):
        with qtbot.waitSignal(win.vm.notesChanged, timeout=2000):
            wheel(win, pos, -1)
    after = list(win.vm.notes)
    assert find(after, 60).velocity == note.velocity - 3 * WHEEL_STEP
    assert win.editor.stack.count() == 1  # one gesture, one undo step
    undo_redo(qtbot, win, before, after)


def test_rubber_band_selects_and_the_context_velocity_applies(qtbot, win):
    notes = win.vm.notes
    drag(qtbot, win, point(win, 0.05, 64.4), point(win, 1.45, 59.6))  # rows C4 … E4: around C4 and E4
    assert {n.pitch for n in win.activations.notes_layer.selected} == {60, 64}
    before = list(win.vm.notes)
    vp = win.activations.viewport()
    qtbot.mousePress(vp, Qt.RightButton, Qt.NoModifier, point(win, 0.5, 60))  # a selected note's context menu
    qtbot.waitUntil(lambda: isinstance(QApplication.activePopupWidget(), QMenu))
    menu = QApplication.activePopupWidget()
    action = next(a for a in menu.actions() if a.text().startswith("Velocity p (48)"))
    with qtbot.waitSignal(win.vm.notesChanged, timeout=2000):
        action.trigger()
    menu.close()
    assert {n.pitch: n.velocity for n in win.vm.notes if n.pitch in (60, 64)} == {60: 48, 64: 48}
    with qtbot.waitSignal(win.vm.notesChanged, timeout=2000):
        assert win.activations.notes_layer.set_selection_velocity(30)
    assert {n.pitch: n.velocity for n in win.vm.notes if n.pitch in (60, 64)} == {60: 30, 64: 30}
    after = list(win.vm.notes)
    win.editor.stack.undo()
    undo_redo(qtbot, win, before, [n for n in win.vm.notes])
    win.editor.stack.redo()
    assert key(win.vm.notes) == key(after) and len(notes) == len(after)


def test_times_snap_to_the_beat_grid(qtbot, win):
    win.vm.set_beat_times(np.arange(0.0, 4.01, 0.5))  # 120 bpm: sixteenths every 0.125 s
    with qtbot.waitSignal(win.vm.notesChanged, timeout=2000):
        qtbot.mouseDClick(win.activations.viewport(), Qt.LeftButton, Qt.NoModifier, point(win, 2.93, 70))
    added = find(win.vm.notes, 70)
    assert (added.onset, added.offset) == (pytest.approx(2.875), pytest.approx(3.0))
    note = find(win.vm.notes, 64)
    with qtbot.waitSignal(win.vm.notesChanged, timeout=2000):
        drag(qtbot, win, point(win, note.onset + 0.1, 64), point(win, note.onset + 0.43, 64))
    moved = find(win.vm.notes, 64)
    assert moved.onset / 0.125 == pytest.approx(round(moved.onset / 0.125))


def test_export_writes_the_edited_notes(qtbot, win, tmp_path):
    note = find(win.vm.notes, 64)
    click_note(qtbot, win, note)
    qtbot.keyClick(win, Qt.Key_Delete)
    qtbot.mouseDClick(win.activations.viewport(), Qt.LeftButton, Qt.NoModifier, point(win, 2.95, 70))
    click_note(qtbot, win, find(win.vm.notes, 60))
    wheel(win, point(win, 0.5, 60), 2)
    edited = list(win.vm.notes)
    assert win.files.export_midi(tmp_path / "edited.mid")
    assert win.files.export_csv(tmp_path / "edited.csv")
    back = read_midi(tmp_path / "edited.mid")
    assert [(n.pitch, n.velocity) for n in back] == [(n.pitch, n.velocity) for n in edited]
    np.testing.assert_allclose([(n.onset, n.offset) for n in back], [(n.onset, n.offset) for n in edited],
                               atol=2e-3)
    rows = (tmp_path / "edited.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[2]) for r in rows] == [n.pitch for n in edited]


def test_threshold_is_locked_while_edited_and_discard_unlocks_undoably(qtbot, win):
    derived = list(win.vm.notes)
    click_note(qtbot, win, find(derived, 72))
    qtbot.keyClick(win, Qt.Key_Delete)
    edited = list(win.vm.notes)
    controls = win.notes_controls
    assert not controls.threshold.isEnabled() and not controls.min_duration.isEnabled()
    assert "locked" in win.editor.lock_label.text() and "Discard" in controls.threshold.toolTip()
    win.editor.discard_action.trigger()
    assert key(win.vm.notes) == key(derived) and controls.threshold.isEnabled()
    win.editor.stack.undo()  # the discard is undone: the edited notes and the lock come back
    assert key(win.vm.notes) == key(edited) and not controls.threshold.isEnabled()
    win.editor.stack.redo()
    controls.threshold.setValue(0.6)  # settings apply again: fewer notes, and the old edits are gone for good
    assert len(win.vm.notes) < len(derived) and win.editor.stack.count() == 0 and win.vm.edits is None


def test_a_run_that_would_drop_the_edits_asks_first(qtbot, win):
    click_note(qtbot, win, find(win.vm.notes, 72))
    qtbot.keyClick(win, Qt.Key_Delete)
    edited = list(win.vm.notes)
    asked = []
    win.editor.ask = lambda text: asked.append(text) or False
    win.run()
    assert asked and "Discard" in asked[0] and not win.controller.running
    assert key(win.vm.notes) == key(edited)
    win.editor.ask = lambda text: True
    with qtbot.waitSignal(win.run_finished, timeout=30000):
        win.run()
    assert not win.vm.edited and win.editor.stack.count() == 0 and win.notes_controls.threshold.isEnabled()


def test_other_layers_are_not_edited_while_one_holds_edits(qtbot, win):
    click_note(qtbot, win, find(win.vm.notes, 72))
    qtbot.keyClick(win, Qt.Key_Delete)
    edited = list(win.vm.notes)
    qtbot.keyClick(win, Qt.Key_Left)  # the layer before: its own notes, unedited
    assert not win.vm.edits_shown() and win.vm.edited and key(win.vm.notes) != key(edited)
    shown = list(win.vm.notes)
    qtbot.mouseDClick(win.activations.viewport(), Qt.LeftButton, Qt.NoModifier, point(win, 2.95, 70))
    assert key(win.vm.notes) == key(shown) and "go back" in win.message_label.toolTip() + win.message_label.text()
    qtbot.keyClick(win, Qt.Key_Z, Qt.ControlModifier)  # undo shows the edited layer again
    assert win.vm.edits_shown() and not win.vm.edited


def test_clicking_a_note_auditions_it_without_moving_the_playhead(qtbot, tmp_path):
    from test_files_and_playback import FakeStream, Stop
    from unmf_gui.playback import Player

    (tmp_path / "w").mkdir()
    w = make_window(qtbot, tmp_path / "w", player=Player(stream_factory=lambda: (FakeStream, Stop)))
    try:
        open_and_wait(qtbot, w, write_recording(tmp_path))
        w.vm.set_position(2.0)
        n_streams = len(FakeStream.instances)
        note = find(w.vm.notes, 72)
        click_note(qtbot, w, note)
        assert len(FakeStream.instances) == n_streams + 1
        pulled = FakeStream.instances[-1].pulled[0]
        assert np.abs(pulled).max() > 0  # the note's sound, from its start
        assert w.vm.position == pytest.approx(2.0) and not w.player.playing
    finally:
        w.close()


def test_closing_with_unsaved_edits_asks(qtbot, win):
    click_note(qtbot, win, find(win.vm.notes, 72))
    qtbot.keyClick(win, Qt.Key_Delete)
    asked = []
    win.editor.ask = lambda text: asked.append(text) or False
    assert not win.close() and win.isVisible() and "not saved" in asked[0]
    win.editor.ask = lambda text: True


def test_undo_shows_the_method_the_edits_are_on(qtbot, win):
    click_note(qtbot, win, find(win.vm.notes, 72))
    qtbot.keyClick(win, Qt.Key_Delete)
    win.iterations_box.setValue(20)
    with qtbot.waitSignal(win.run_finished, timeout=90000):
        win.method_box.setCurrentIndex(win.method_box.findData("mu"))  # a plain MU run: the edits stay
    assert win.vm.method == "mu" and win.vm.edited and not win.vm.edits_shown()
    qtbot.keyClick(win, Qt.Key_Z, Qt.ControlModifier)
    assert win.method == "unrolled" and win.vm.edits_shown() and not win.vm.edited
    assert any(n.pitch == 72 for n in win.vm.notes)
