"""Issue 11's app bugs, each reproduced through the real window (offscreen, qtbot, waits on signals)."""
from __future__ import annotations

from importlib.metadata import version

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QDialog, QFileDialog, QLabel

from tests.conftest import synth_notes
from gui_helpers import PIECE, make_window, open_and_wait, start_long_mu_run, write_recording
from unmf_core.transcription.display import activation_image
from unmf_core.transcription.notes import Note, write_midi
from unmf_core.calibration import load_templates
from unmf_gui.finetune_dialog import open_dialog
from unmf_gui.views.common import HINT_DELAY_MS


@pytest.fixture
def win(qtbot, tmp_path, one_thread):
    w = make_window(qtbot, tmp_path)
    yield w
    w.close()
    assert not w.controller.threads()


@pytest.fixture
def recording(tmp_path):
    return write_recording(tmp_path)


def menu(win, title):
    return next(a.menu() for a in win.menuBar().actions() if a.text().replace("&", "") == title)


def action(win, menu_title, starts):
    return next(a for a in menu(win, menu_title).actions() if a.text().replace("&", "").startswith(starts))


def status_texts(win) -> list[str]:
    return [lab.text() for lab in win.statusBar().findChildren(QLabel) if lab.isVisible() and lab.text()]


def shown_dialog(win) -> QDialog:
    return next(d for d in win.findChildren(QDialog) if d.isVisible())


def test_divergence_x_axis_spans_the_whole_run_while_it_streams(qtbot, win, recording):
    start_long_mu_run(qtbot, win, recording)
    run = win.vm.run
    assert not run.finished and run.div_steps[-1] < run.total
    x0, x1 = win.divergence.getViewBox().viewRange()[0]
    assert x0 <= 0 and x1 >= run.total  # the axis is the run's steps, not the steps done so far
    assert x1 <= run.total * 1.1
    label = win.layer_bar.label  # a fixed size (no window layout per step) that still fits its text
    assert label.width() >= label.sizeHint().width() and label.minimumWidth() == label.maximumWidth()


def test_a_compare_run_ends_on_its_last_step(qtbot, win, recording):
    win.iterations_box.setValue(12)
    win.tabs.setCurrentWidget(win.compare_view)
    open_and_wait(qtbot, win, recording)
    assert set(win.vm.runs) == {"unrolled", "mu"}
    assert win.vm.compare_step == win.vm.compare_max() == 12
    assert win.compare_view.slider.value() == 12
    assert "layer 10 of 10" in win.compare_view.labels["unrolled"].text()
    assert "iteration 12 of 12" in win.compare_view.labels["mu"].text()


def test_cancelling_a_re_run_keeps_the_previous_complete_result(qtbot, win, recording):
    win.method_box.setCurrentIndex(1)
    win.iterations_box.setValue(5)
    open_and_wait(qtbot, win, recording)
    previous, notes = win.vm.run, list(win.vm.notes)
    assert previous.finished and notes
    win.iterations_box.setValue(100000)
    with qtbot.waitSignal(win.vm.runUpdated, timeout=30000):
        win.run()
    assert win.vm.run is not previous
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    with qtbot.waitSignal(win.run_cancelled, timeout=30000):
        qtbot.keyClick(win, Qt.Key_Escape)
    run = win.vm.run
    assert run.finished and run.total == 5 and run.steps[-1] == 5
    assert win.vm.notes == notes
    np.testing.assert_array_equal(win.activations.image.image, activation_image(previous.H[-1]).codes)
    assert "iteration 5 / 5" in win.layer_bar.label.text()


def test_the_window_fits_the_available_screen_geometry(qtbot, win):
    avail = win.screen().availableGeometry()
    assert avail.contains(win.frameGeometry()), (avail, win.frameGeometry())


def test_empty_views_show_a_hint_instead_of_placeholder_axes(qtbot, win, recording):
    views = [win.spectrogram, win.activations, win.reconstruction, win.templates, win.divergence]
    for v in views:
        assert not v.getAxis("bottom").isVisible() and not v.getAxis("left").isVisible()
        assert v.hint.isVisible() and "Ctrl+O" in v.hint.text()
    open_and_wait(qtbot, win, recording)
    for v in views:
        assert v.getAxis("bottom").isVisible() and not v.hint.isVisible()
    for v in views[:3]:
        assert "time (s)" in v.getAxis("bottom").labelString()  # seconds, never "ms" or "×0.001"


def test_a_view_emptied_for_a_new_run_keeps_its_axes_a_moment_then_shows_the_hint(qtbot, win, recording):
    """A new file's run usually delivers before HINT_DELAY_MS: the axes are then not hidden and laid out
    again; a run that takes longer gets the hint."""
    open_and_wait(qtbot, win, recording)
    roll = win.activations
    roll._file()  # what a new recording does to it
    assert roll.image.image is None and roll.getAxis("left").isVisible() and not roll.hint.isVisible()
    roll._layer()  # data within the delay: the axes never went, and the hint will not come
    assert not roll._hint_timer.isActive() and roll.getAxis("left").isVisible() and not roll.hint.isVisible()
    roll._file()
    qtbot.waitUntil(lambda: roll.hint.isVisible(), timeout=10 * HINT_DELAY_MS)
    assert not roll.getAxis("left").isVisible() and "No result yet" in roll.hint.text()


def test_status_bar_keeps_whole_words_and_says_each_thing_once(qtbot, win, recording):
    open_and_wait(qtbot, win, recording)
    win.toggle_play()  # playback is unavailable: the reason is already in the status bar
    texts = status_texts(win)
    assert len(texts) == len(set(texts)), texts
    assert sum("playback unavailable" in t for t in texts) == 1, texts
    described = win.engine.describe()["templates"]
    full = win.engine_label.toolTip()
    assert described in full and "device: cpu" in full
    for width in (1500, 1000, 700):
        win.resize(width, win.height())
        qtbot.waitUntil(lambda: win.width() == width)
        shown = win.engine_label.text()
        words = shown.removesuffix("…").split()
        assert words and words == full.split()[:len(words)], (shown, full)  # whole words only
        assert shown == full or shown.endswith("…")


def test_play_is_disabled_with_the_reason_when_playback_is_unavailable(qtbot, win):
    assert not win.player.available
    assert not win.play_button.isEnabled()
    assert win.player.reason and win.player.reason in win.play_button.toolTip()
    play = action(win, "Play", "Play")
    assert not play.isEnabled() and win.player.reason in play.toolTip()


def test_a_run_in_progress_never_says_no_run(qtbot, win, recording):
    win.iterations_box.setValue(5)
    win.tabs.setCurrentWidget(win.compare_view)
    with qtbot.waitSignal(win.vm.fileChanged, timeout=30000):
        win.open_file(recording)
        assert "no run" not in win.layer_bar.label.text()
    assert "no run" not in win.layer_bar.label.text()
    assert not any("not run yet" in lab.text() for lab in win.compare_view.labels.values())
    with qtbot.waitSignal(win.run_finished, timeout=60000):
        pass


def test_mu_mode_says_iteration_not_layer(qtbot, win, recording):
    win.method_box.setCurrentIndex(1)
    win.iterations_box.setValue(5)
    open_and_wait(qtbot, win, recording)
    bar = win.layer_bar
    words = [w.text() for w in bar.findChildren(QLabel) + bar.findChildren(QAbstractButton)]
    words += [w.toolTip() for w in bar.findChildren(QAbstractButton)]
    assert not any("layer" in t.lower() for t in words), words
    assert any(t.startswith("Iteration") for t in words)
    assert "layer" not in win.divergence.getAxis("bottom").labelText.lower()
    assert "iteration" in win.divergence.getAxis("bottom").labelText.lower()


def test_fine_tune_cancel_becomes_close_when_the_job_ends(qtbot, win, tmp_path):
    dlg = open_dialog(win)
    assert dlg.cancel_button.text() == "Close"  # idle: the button closes the dialog
    empty = tmp_path / "no-pairs"
    empty.mkdir()
    dlg.data_edit.setText(str(empty))
    dlg.out_edit.setText(str(tmp_path / "new.pt"))
    with qtbot.waitSignal(dlg.jobFailed, timeout=60000):
        assert dlg.start()
        assert dlg.cancel_button.text() == "Cancel"
    assert dlg.cancel_button.text() == "Close"
    dlg.cancel_button.click()
    assert not dlg.isVisible()


def test_help_menu_has_keyboard_shortcuts_and_about(qtbot, win):
    action(win, "Help", "Keyboard shortcuts").trigger()
    box = shown_dialog(win)
    text = box.findChild(QLabel, "qt_msgbox_label").text() if box.findChild(QLabel, "qt_msgbox_label") else ""
    for key in ("Ctrl+O", "Ctrl+R", "Esc", "Space", "Left", "Right", "Ctrl+E"):
        assert key in text, key
    box.close()
    action(win, "Help", "About").trigger()
    box = shown_dialog(win)
    text = box.findChild(QLabel, "qt_msgbox_label").text()
    assert version("unmf") in text and "MIT" in text
    assert "model" in text.lower() and "templates" in text.lower()
    box.close()


def test_open_dialog_offers_mp3_and_other_readable_formats(qtbot, win, tmp_path, monkeypatch):
    mp3 = tmp_path / "piece.mp3"
    sf.write(mp3, synth_notes(PIECE), 22050, format="MP3")
    asked = []

    def fake_open(_parent, _title, _dir, filt):
        asked.append(filt)
        return str(mp3), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(fake_open))
    with qtbot.waitSignal(win.run_finished, timeout=30000):
        action(win, "File", "Open…").trigger()
    audio = asked[0].split(";;")[0]
    for pattern in ("*.wav", "*.flac", "*.ogg", "*.mp3", "*.aiff"):
        assert pattern in audio, audio
    assert win.vm.path == str(mp3) and win.vm.notes


def test_reference_in_a_midi_folder_beside_the_audio_folder_is_found(qtbot, win, tmp_path):
    (tmp_path / "audio").mkdir()
    (tmp_path / "midi").mkdir()
    audio = write_recording(tmp_path / "audio", "x.wav")
    midi = tmp_path / "midi" / "x.mid"
    write_midi([Note(p, on, off) for p, on, off in PIECE], midi)
    open_and_wait(qtbot, win, audio)
    assert win.vm.reference_path == str(midi) and len(win.vm.reference) == len(PIECE)


def test_templates_built_in_the_app_can_be_saved(qtbot, win, recording, tmp_path, monkeypatch):
    notes = tmp_path / "notes"
    notes.mkdir()
    for name, pitch in (("C4", 60), ("E4", 64), ("G4", 67)):
        sf.write(notes / f"{name}.wav", synth_notes([(pitch, 0.1, 1.0)]), 22050)
    save = action(win, "Model", "Save templates")
    assert not save.isEnabled()  # nothing built yet
    open_and_wait(qtbot, win, recording)
    with qtbot.waitSignal(win.run_finished, timeout=60000):
        win.files._spec(templates=str(notes))
    assert str(notes) in win.engine.templates.source
    assert save.isEnabled()
    target = tmp_path / "mine.npz"
    chosen = []

    def fake_save(_parent, _title, start, _filt):
        chosen.append(start)
        return str(target), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake_save))
    save.trigger()
    assert chosen and target.is_file()
    np.testing.assert_array_equal(load_templates(target).W, win.engine.templates.W)
    # a path that was not chosen in the (overwrite-confirming) dialog is never overwritten
    before = target.read_bytes()
    with qtbot.waitSignal(win.error_shown, timeout=5000):
        assert not win.files.save_templates(target)
    assert target.read_bytes() == before
