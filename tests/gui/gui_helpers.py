"""Helpers of the GUI tests: a window with temporary settings and no sound card, small recordings."""
from __future__ import annotations

from pathlib import Path

import soundfile as sf

from tests.conftest import synth_notes
from unmf_core.transcription.notes import Note, write_midi

#: A short test piece: (MIDI pitch, onset s, offset s).
PIECE = [(60, 0.2, 0.9), (64, 0.6, 1.4), (67, 1.1, 1.9), (72, 1.6, 2.5), (55, 2.0, 2.8)]


def write_recording(folder: Path, name: str = "piece.wav", notes=PIECE, duration: float | None = None,
                    reference: bool = False) -> Path:
    """Write a synthetic recording (and optionally its reference MIDI with the same stem)."""
    path = folder / name
    sf.write(path, synth_notes(notes, duration=duration), 22050)
    if reference:
        write_midi([Note(p, on, off) for p, on, off in notes], path.with_suffix(".mid"))
    return path


class NoStream:
    """A stream factory that fails like a machine without PortAudio."""

    def __call__(self):
        raise OSError("PortAudio library not found")


def make_window(qtbot, tmp_path, **kwargs):
    """A real MainWindow with temporary QSettings and no audio device, shown offscreen."""
    from PySide6.QtCore import QSettings

    from unmf_gui.main_window import MainWindow
    from unmf_gui.playback import Player

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    player = kwargs.pop("player", None) or Player(stream_factory=NoStream())
    win = MainWindow(settings=settings, device="cpu", player=player, **kwargs)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def open_and_wait(qtbot, win, path, timeout: int = 30000) -> None:
    """Open ``path`` and wait until its run has finished."""
    with qtbot.waitSignal(win.run_finished, timeout=timeout):
        win.open_file(path)


def start_long_mu_run(qtbot, win, path) -> None:
    """Open ``path`` with plain MU set to 100 000 iterations and wait for its first step (a run that lasts)."""
    win.method_box.setCurrentIndex(1)
    win.iterations_box.setValue(100000)
    with qtbot.waitSignal(win.vm.runUpdated, timeout=30000):
        win.open_file(path)
