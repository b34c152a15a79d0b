"""Export writes the final layer unless the layer on screen is chosen; a bad model file does not stay selected;
model, templates, threshold and the note-gate option are remembered between launches."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QCheckBox, QFileDialog

from gui_helpers import make_window, open_and_wait, write_recording
from unmf_core.transcription.notes import read_midi, write_csv
from unmf_core.transcription.engine import DEFAULT_MODEL


@pytest.fixture
def recording(tmp_path):
    return write_recording(tmp_path)


def _triples(notes):
    return [(n.pitch, round(n.onset, 3), round(n.offset, 3)) for n in notes]


def test_export_writes_the_final_layer_while_layer_0_is_on_screen(qtbot, win, recording, tmp_path):
    open_and_wait(qtbot, win, recording)
    final = list(win.vm.notes)
    win.layer_bar.slider.setValue(0)
    assert win.vm.layer == 0 and _triples(win.vm.notes) != _triples(final)
    assert win.files.export_midi(tmp_path / "final.mid")
    assert _triples(read_midi(tmp_path / "final.mid")) == _triples(read_midi_roundtrip(final, tmp_path))
    assert win.files.export_csv(tmp_path / "final.csv")
    assert len((tmp_path / "final.csv").read_text().splitlines()) == len(final) + 1
    # the layer on screen only when asked for
    assert win.files.export_midi(tmp_path / "shown.mid", on_screen=True)
    assert _triples(read_midi(tmp_path / "shown.mid")) == _triples(read_midi_roundtrip(win.vm.notes, tmp_path))


def read_midi_roundtrip(notes, tmp_path):
    from unmf_core.transcription.notes import write_midi

    path = tmp_path / "roundtrip.mid"
    write_midi(notes, path)
    return read_midi(path)


@pytest.mark.parametrize("tick", [False, True])
def test_export_dialog_says_which_layer_and_defaults_to_the_final_one(qtbot, win, recording, tmp_path, tick):
    open_and_wait(qtbot, win, recording)
    final = list(win.vm.notes)
    win.layer_bar.slider.setValue(0)
    shown = list(win.vm.notes)
    assert shown != final and final == win.vm.final_notes()
    out = tmp_path / "chosen.csv"
    seen = {}

    def answer():
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QFileDialog):
            QTimer.singleShot(10, answer)  # not shown yet
            return
        box = dialog.findChild(QCheckBox, "export-on-screen")
        if box is None:
            dialog.reject()
            return
        seen["text"], seen["checked"], seen["title"] = box.text(), box.isChecked(), dialog.windowTitle()
        box.setChecked(tick)
        dialog.selectFile(str(out))
        dialog.accept()

    QTimer.singleShot(0, answer)
    win.files.export_csv()
    assert "text" in seen, "the export dialog has no 'layer on screen' option"
    assert "final layer" in seen["title"]
    n = win.layers_box.value()
    assert seen["text"] == f"Export layer 0 on screen instead of the final layer ({n})" and not seen["checked"]
    write_csv(shown if tick else final, tmp_path / "expected.csv")
    assert out.read_text() == (tmp_path / "expected.csv").read_text()


def test_a_bad_checkpoint_is_dropped_after_its_error(qtbot, win, recording, tmp_path):
    open_and_wait(qtbot, win, recording)
    good = win.spec
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with qtbot.waitSignal(win.error_shown, timeout=30000) as sig:
        win.files._spec(model=str(bad))
    assert "bad.pt" in sig.args[0]
    assert win.spec == good, "the bad checkpoint must not stay selected"
    with qtbot.waitSignal(win.run_finished, timeout=30000):  # later runs work again
        win.run()
    assert win.vm.run.finished


def test_a_bad_templates_file_is_dropped_before_a_file_is_open(qtbot, win, recording, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"junk")
    win.files._spec(templates=str(bad))
    with qtbot.waitSignal(win.error_shown, timeout=30000):
        win.open_file(recording)
    assert win.spec.templates is None
    open_and_wait(qtbot, win, recording)
    assert win.vm.path == str(recording) and win.vm.run.finished


def test_model_templates_and_threshold_are_remembered(qtbot, tmp_path, recording):
    model = tmp_path / "mine.pt"
    shutil.copy(DEFAULT_MODEL, model)
    first = make_window(qtbot, tmp_path)
    with qtbot.waitSignal(first.run_finished, timeout=30000):
        first.open_file(recording)
    with qtbot.waitSignal(first.run_finished, timeout=30000):
        first.files._spec(model=str(model))
    first.notes_controls.threshold.setValue(0.2)
    first.close()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    assert settings.value("model") == str(model)
    second = make_window(qtbot, tmp_path)  # the same settings file
    try:
        assert second.spec.model == str(model) and second.spec.templates is None
        assert second.notes_controls.threshold.value() == pytest.approx(0.2)
        open_and_wait(qtbot, second, recording)
        assert second.engine.checkpoint.path == str(model)
        assert second.vm.note_params.threshold == pytest.approx(0.2)
        assert np.isclose(second.notes_controls.threshold.value(), 0.2)
    finally:
        second.close()


def test_note_gate_with_my_templates_is_a_remembered_model_option(qtbot, tmp_path, recording):
    first = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, first, recording)
    assert first.files.note_gate_action.isChecked()  # on by default, as Options and the CLI
    assert first.options("unrolled").note_gate == "on" and first.vm.run.results[-1].params["note_gate"] == "on"
    with qtbot.waitSignal(first.run_finished, timeout=30000):
        first.files.note_gate_action.setChecked(False)  # the open file runs again
    assert first.options("unrolled").note_gate == "auto" and first.vm.run.results[-1].params["note_gate"] == "auto"
    first.close()
    second = make_window(qtbot, tmp_path)  # the same settings file
    try:
        assert not second.files.note_gate_action.isChecked() and second.options("mu").note_gate == "auto"
        second.files.note_gate_action.setChecked(True)  # no file open: nothing runs
        assert second.options("unrolled").note_gate == "on" and not second.controller.running
    finally:
        second.close()


def test_the_app_adapts_a_calibration_as_the_command_line_does_and_remembers_the_option(qtbot, tmp_path):
    from tests.conftest import write_odd_zone_instrument
    from unmf_core.calibration import calibrate
    from unmf_core.transcription.engine import Engine

    notes, piece = write_odd_zone_instrument(tmp_path / "instrument")
    cal = tmp_path / "cal.npz"
    calibrate(notes).templates.save(cal)
    first = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, first, piece)
    with qtbot.waitSignal(first.run_finished, timeout=60000):
        first.files._spec(templates=str(cal))
    assert first.files.adapt_action.isChecked()  # on by default, as Options and the CLI
    result = first.vm.run.results[-1]
    assert result.params["adapted_keys"] == ["E3"] and result.params["adapt_to_piece"] is True
    assert "learned from this recording: E3" in first.message_label.full_text()
    cli = Engine(templates=cal, device="cpu").transcribe(piece, first.options("unrolled"))
    assert _triples(result.notes) == _triples(cli.notes)  # the notes the CLI writes
    with qtbot.waitSignal(first.run_finished, timeout=60000):
        first.files.adapt_action.setChecked(False)  # the open file runs again
    assert first.vm.run.results[-1].params["adapted_keys"] == [] and not first.options("unrolled").adapt_to_piece
    first.close()
    second = make_window(qtbot, tmp_path)  # the same settings file
    try:
        assert not second.files.adapt_action.isChecked() and not second.options("unrolled").adapt_to_piece
    finally:
        second.close()
