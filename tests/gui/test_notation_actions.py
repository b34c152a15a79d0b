"""File ▸ Export MusicXML / MIDI with tempo and bars, and the tempo and quantisation dialog, on the real window."""
import mido
import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from gui_helpers import open_and_wait, write_recording
from unmf_core.notation.musicxml import read_musicxml
from unmf_gui.notation_actions import NotationDialog, NotationSettings


def test_export_musicxml_and_midi_publish_the_beats(qtbot, win, tmp_path):
    assert not win.files.notation.export_musicxml(tmp_path / "empty.musicxml")  # nothing ran yet
    assert not (tmp_path / "empty.musicxml").exists()
    open_and_wait(qtbot, win, write_recording(tmp_path))
    notes = win.vm.final_notes()
    assert notes
    seen = []
    win.vm.state.events.beats.connect(lambda: seen.append(win.vm.beat_times))
    win.files.notation.settings = NotationSettings(tempo=90.0, quantize="1/8")
    assert win.files.notation.export_musicxml(tmp_path / "out.musicxml")
    assert seen and np.allclose(np.diff(seen[-1]), 60 / 90)
    back = read_musicxml(tmp_path / "out.musicxml")
    assert sorted(p for p, _, _ in back) == sorted(n.pitch for n in notes)
    assert all((a * 2).denominator == 1 for _, a, _ in back)  # on the eighth-note grid
    assert win.files.notation.export_midi(tmp_path / "out.mid")
    tempi = [m.tempo for m in mido.MidiFile(str(tmp_path / "out.mid")).tracks[0] if m.type == "set_tempo"]
    assert tempi and mido.tempo2bpm(tempi[0]) == pytest.approx(90, rel=1e-4)
    # auto: beats tracked on the recording, published, and the file re-reads with every pitch
    win.files.notation.settings = NotationSettings()
    assert win.files.notation.export_musicxml(tmp_path / "auto.musicxml")
    beats = seen[-1]
    assert beats[0] == 0 and len(beats) >= 2 and beats[-1] >= win.vm.duration
    assert sorted(p for p, _, _ in read_musicxml(tmp_path / "auto.musicxml")) == sorted(n.pitch for n in notes)


def test_dialog_round_trips_the_settings(qtbot, win):
    dialog = NotationDialog(win, NotationSettings(tempo=72.5, quantize="1/16t", beats_per_bar=3))
    qtbot.addWidget(dialog)
    assert dialog.bpm.isEnabled() and dialog.settings() == NotationSettings(72.5, "1/16t", 3)
    dialog.mode.setCurrentIndex(0)
    assert not dialog.bpm.isEnabled() and dialog.settings().tempo == "auto"


def test_menu_dialog_accepts_the_choice(qtbot, win):
    def choose():
        d = QApplication.activeModalWidget()
        d.quantize.setCurrentText("1/8t")
        d.accept()

    QTimer.singleShot(0, choose)
    assert win.files.notation.edit_settings()
    assert win.files.notation.settings.quantize == "1/8t"


def test_beat_tracking_runs_off_the_gui_thread(qtbot, win, tmp_path, monkeypatch):
    # tracking takes seconds the first time (librosa's beat code): the window's event loop must keep running
    import threading

    import unmf_core.notation.tempo as tempo

    open_and_wait(qtbot, win, write_recording(tmp_path))
    real, gate, threads = tempo.beat_grid, threading.Event(), []

    def slow_grid(*args, **kwargs):
        threads.append(threading.current_thread() is threading.main_thread())
        assert gate.wait(30)  # released by a timer of the GUI thread: only if its event loop runs meanwhile
        return real(*args, **kwargs)

    monkeypatch.setattr(tempo, "beat_grid", slow_grid)
    QTimer.singleShot(50, gate.set)
    win.files.notation.settings = NotationSettings()  # auto tempo
    assert win.files.notation.export_midi(tmp_path / "tracked.mid")
    assert threads == [False]
    assert (tmp_path / "tracked.mid").exists()
