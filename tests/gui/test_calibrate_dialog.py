"""Model ▸ Calibrate to my instrument…: recorded through a file-backed input stream (the microphone's code path),
from files, without a microphone, cancelled, and with bad recordings; the saved templates are used after a restart."""
from __future__ import annotations

import sys

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QTimer

from gui_helpers import make_window, open_and_wait, write_recording
from unmf_core.frontend.audio import Audio
from unmf_core.frontend.cqt import LOWEST_PITCH, key_names
from unmf_core.frontend.inputstream import FileStream, InputDevice
from unmf_core.transcription.notes import Note
from unmf_core.transcription.synth import synthesize
from unmf_core.calibration import load_templates

SR = 22050
TEST_INPUT = [InputDevice(0, "test input (a file)", 1, SR, True)]
#: Single notes one after another (C2 … C6), each left to ring: what the dialog asks the user to play.
SCALE = [36, 48, 60, 72, 84]


def single_notes(pitches=SCALE, length=1.0, gap=0.4) -> np.ndarray:
    notes = [Note(p, 0.3 + i * (length + gap), 0.3 + i * (length + gap) + length, 90) for i, p in enumerate(pitches)]
    return synthesize(notes, SR, partials=10, decay=2.0, peak=0.5)


def bad_recording(kind: str) -> np.ndarray:
    rng = np.random.default_rng(1)
    if kind == "silence":
        return np.zeros(3 * SR, np.float32)
    if kind == "noise":
        return (0.3 * rng.standard_normal(3 * SR)).astype(np.float32)
    # a chord: C4 E4 G4 C5 struck together, twice
    return synthesize([Note(p, on, on + 1.2, 90) for on in (0.3, 1.8) for p in (60, 64, 67, 72)], SR,
                      partials=10, decay=2.0, peak=0.5)


def file_input(samples: np.ndarray, realtime: bool = False):
    """A stream factory standing in for the microphone: the same Recorder path, fed from a signal."""
    def factory(device):
        assert device is TEST_INPUT[0]
        return FileStream(Audio(samples, SR), blocksize=1024, realtime=realtime)

    return factory


def model_menu(win):
    return next(a.menu() for a in win.menuBar().actions() if a.text() == "&Model")


def open_from_menu(win):
    next(a for a in model_menu(win).actions() if a.text().startswith("C&alibrate")).trigger()
    dlg = win.calibrate_dialog
    assert dlg.isVisible() and not dlg.isModal()
    return dlg


@pytest.fixture
def win(qtbot, tmp_path, one_thread):
    w = make_window(qtbot, tmp_path)
    yield w
    w.close()


def status_text(dlg) -> str:
    return dlg.status.text()


def test_recording_through_a_file_stream_makes_templates_that_the_next_launch_uses(qtbot, win, tmp_path):
    dlg = open_from_menu(win)
    dlg.set_inputs(TEST_INPUT, stream_factory=file_input(single_notes()))
    assert dlg.record_button.isEnabled() and not dlg.mic_reason_label.isVisible()
    levels, ticks = [], []
    dlg.levelChanged.connect(lambda rms, peak: levels.append(peak))
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(dlg.calibrating))
    timer.start(20)
    with qtbot.waitSignal(dlg.calibrated, timeout=180000) as sig:
        dlg.record_button.click()
        assert dlg.recording and not dlg.record_button.isEnabled() and dlg.cancel_button.text() == "Cancel"
    timer.stop()
    assert any(ticks)  # the event loop kept running while the worker calibrated
    cal = sig.args[0]
    assert levels and max(levels) == pytest.approx(20 * np.log10(0.5), abs=0.5)  # the meter saw the signal
    # the detected notes are listed with their fit, and the new W is drawn beside the bundled one
    names = key_names()
    recorded = [names[p - LOWEST_PITCH] for p in sorted(cal.recorded)]  # recorded: MIDI pitch → fit
    assert recorded == ["C2", "C3", "C4", "C5", "C6"]  # every key played, nothing else
    assert [dlg.keys_table.item(r, 0).text() for r in range(dlg.keys_table.rowCount())] == recorded
    assert all(0.0 <= float(dlg.keys_table.item(r, 1).text()) <= 1.0 for r in range(len(recorded)))
    assert dlg.new_plot.image.image is not None and dlg.bundled_plot.image.image is not None
    assert "recorded" in status_text(dlg) and dlg.save_button.isEnabled()
    # save (a new file, atomically) and use it; the choice outlives the window
    target = tmp_path / "my-piano.npz"
    with qtbot.waitSignal(dlg.saved, timeout=10000):
        assert dlg.save_to(target)
    saved = load_templates(target)
    np.testing.assert_allclose(saved.W, cal.templates.W, atol=1e-6)
    assert saved.meta["method"] == "single-notes-recording"  # the file records how it was made
    assert sorted(saved.meta["recorded"]) == sorted(recorded)
    assert win.spec.templates == str(target)
    assert not dlg.save_to(target)  # never replaced without the user's say-so
    assert "already exists" in status_text(dlg)
    win.close()
    again = make_window(qtbot, tmp_path)  # same settings file: the next launch
    try:
        assert again.spec.templates == str(target.resolve())
        open_and_wait(qtbot, again, write_recording(tmp_path, "piece.wav"), timeout=120000)
        np.testing.assert_allclose(again.engine.templates.W, saved.W, atol=1e-6)
        # back to the defaults: forgotten for the launch after
        next(a for a in model_menu(again).actions() if a.text().startswith("&Default")).trigger()
        assert again.spec.templates is None
    finally:
        again.close()
    third = make_window(qtbot, tmp_path)
    assert third.spec.templates is None
    third.close()


def test_a_folder_of_single_notes_calibrates_without_a_microphone(qtbot, win, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # as on a machine without PortAudio
    dlg = open_from_menu(win)
    assert not dlg.record_button.isEnabled() and dlg.mic_reason_label.isVisible()
    assert "PortAudio" in dlg.mic_reason_label.text() and "still use files" in dlg.mic_reason_label.text()
    assert "PortAudio" in dlg.record_button.toolTip()
    folder = tmp_path / "notes"
    folder.mkdir()
    for name, pitch in (("C3", 48), ("C5", 72)):
        sf.write(folder / f"{name}.wav", synthesize([Note(pitch, 0.05, 1.0, 90)], SR, partials=10), SR)
    with qtbot.waitSignal(dlg.calibrated, timeout=120000) as sig:
        assert dlg.calibrate_source(folder)
    assert sorted(sig.args[0].recorded) == [48, 72]
    assert dlg.keys_table.rowCount() == 2 and not dlg.record_button.isEnabled()


def test_a_recording_with_its_midi_calibrates(qtbot, win, tmp_path):
    dlg = open_from_menu(win)
    wav = write_recording(tmp_path, "piece.wav", reference=True)
    with qtbot.waitSignal(dlg.calibrated, timeout=120000) as sig:
        assert dlg.calibrate_source(wav, wav.with_suffix(".mid"))
    cal = sig.args[0]
    assert cal.method == "recording+midi" and sorted(cal.recorded) == [55, 60, 64, 67, 72]
    assert dlg.keys_table.rowCount() == 5 and "5 keys recorded" in status_text(dlg)
    assert "Note: the keys below G3 are only extrapolated" in status_text(dlg)  # the piece starts at G3


def test_no_input_device_disables_record_with_the_reason(qtbot, win):
    dlg = open_from_menu(win)
    dlg.set_inputs([], "no audio input: no microphone or other input device was found")
    assert not dlg.record_button.isEnabled() and not dlg.device_box.isEnabled()
    assert "no microphone" in dlg.mic_reason_label.text() and dlg.mic_reason_label.isVisible()
    assert not dlg.start_recording()
    assert dlg.folder_button.isEnabled() and dlg.recording_button.isEnabled() and dlg.midi_button.isEnabled()


def test_cancel_while_recording_while_calibrating_and_when_idle(qtbot, win, tmp_path):
    dlg = open_from_menu(win)
    dlg.set_inputs(TEST_INPUT, stream_factory=file_input(single_notes(), realtime=True))
    with qtbot.waitSignal(dlg.levelChanged, timeout=10000):
        assert dlg.start_recording()
    with qtbot.waitSignal(dlg.cancelled, timeout=5000):
        dlg.cancel_button.click()
    assert not dlg.recording and dlg.record_button.isEnabled() and "nothing was kept" in status_text(dlg)
    assert dlg.cancel_button.text() == "Close"
    # cancelled during the calibration: its result never arrives
    folder = tmp_path / "notes"
    folder.mkdir()
    sf.write(folder / "C4.wav", synthesize([Note(60, 0.05, 1.0, 90)], SR, partials=10), SR)
    with qtbot.assertNotEmitted(dlg.calibrated, wait=0):
        with qtbot.waitSignal(dlg.cancelled, timeout=5000):
            assert dlg.calibrate_source(folder)
            assert dlg.calibrating and dlg.cancel_button.text() == "Cancel"
            dlg.cancel_button.click()
        assert not dlg.calibrating and dlg.result is None and not dlg.save_button.isEnabled()
        qtbot.waitUntil(lambda: not dlg._threads, timeout=60000)  # the abandoned job ends; nothing shown
    assert dlg.keys_table.rowCount() == 0
    # idle: Cancel closes the dialog
    dlg.cancel_button.click()
    assert not dlg.isVisible()


@pytest.mark.parametrize("kind", ["silence", "noise", "chord"])
def test_a_bad_recording_gives_a_clear_message(qtbot, win, tmp_path, kind):
    dlg = open_from_menu(win)
    dlg.set_inputs(TEST_INPUT, stream_factory=file_input(bad_recording(kind)))
    with qtbot.waitSignal(dlg.failed, timeout=120000) as sig:
        dlg.record_button.click()
    message = sig.args[0]
    text = status_text(dlg)
    assert text.startswith("Could not calibrate") and "color" in dlg.status.styleSheet()
    assert "Traceback" not in text and "unexpected" not in text and len(text) < 600
    if kind == "silence":
        assert "silent" in message and "input device" in message
    else:
        assert "single note" in message.lower() or "no note" in message.lower(), message
    assert dlg.result is None and not dlg.save_button.isEnabled() and dlg.record_button.isEnabled()
    assert not list(tmp_path.glob("*.npz")) and win.spec.templates is None


@pytest.mark.parametrize("state", ["gone", "corrupt"])
def test_remembered_templates_that_are_gone_or_broken_fall_back_to_the_defaults(qtbot, tmp_path, state):
    from PySide6.QtCore import QSettings

    from unmf_gui.model_choice import TEMPLATES_KEY

    path = tmp_path / "mine.npz"
    if state == "corrupt":
        path.write_bytes(b"not a templates file")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    settings.setValue(TEMPLATES_KEY, str(path))
    settings.sync()
    w = make_window(qtbot, tmp_path)
    try:
        assert w.spec.templates is None
        message = w.message_label.full_text()  # the whole message (the label shows it shortened to its width)
        assert "using the bundled templates" in message
        assert "gone" in message if state == "gone" else "cannot be used" in message
        assert w.settings.value(TEMPLATES_KEY) is None  # forgotten: said once, not at every launch
    finally:
        w.close()
