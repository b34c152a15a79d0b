"""File ▸ Export MusicXML…, Export MIDI with tempo and bars…, and Tempo and quantisation… (issue 14).

The maths is :mod:`unmf_core.notation` (the same calls as ``unmf transcribe
--tempo/--quantize/--format``); this module holds the settings dialog and the
exports. Each export tracks the beats on the recording (snapped to the final
layer's notes, as ``unmf transcribe`` does; or uses the fixed tempo) and
publishes them to the state (:meth:`AppState.set_beat_times`).
"""
from __future__ import annotations

from dataclasses import dataclass

import threading

from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer
from PySide6.QtWidgets import (QComboBox, QProgressDialog, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout)

from unmf_core.notation.quantize import STEPS
from unmf_core.notation.tempo import MAX_BPM, MIN_BPM

MUSICXML_FILTER = "MusicXML (*.musicxml *.xml)"
MIDI_FILTER = "MIDI (*.mid *.midi)"


@dataclass
class NotationSettings:
    """Tempo (``"auto"`` or bpm), quantisation name and beats per bar of the exports."""

    tempo: str | float = "auto"
    quantize: str = "1/16"
    beats_per_bar: int = 4


class NotationDialog(QDialog):
    """Tempo (auto or a fixed bpm), quantisation and time signature."""

    def __init__(self, parent, settings: NotationSettings):
        super().__init__(parent)
        self.setWindowTitle("Tempo and quantisation")
        form = QFormLayout(self)
        self.mode = QComboBox(objectName="tempo-mode")
        self.mode.addItems(["auto (track the beats)", "fixed"])
        self.bpm = QDoubleSpinBox(objectName="tempo-bpm")
        self.bpm.setRange(MIN_BPM / 2, 2 * MAX_BPM)
        self.bpm.setDecimals(1)
        self.bpm.setSuffix(" bpm")
        self.quantize = QComboBox(objectName="quantize")
        self.quantize.addItems(list(STEPS))
        self.metre = QComboBox(objectName="metre")
        self.metre.addItems(["4/4", "3/4", "2/4"])
        form.addRow("Tempo", self.mode)
        form.addRow("Fixed tempo", self.bpm)
        form.addRow("Quantise to", self.quantize)
        form.addRow("Time signature", self.metre)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.mode.currentIndexChanged.connect(lambda i: self.bpm.setEnabled(i == 1))
        auto = settings.tempo == "auto"
        self.mode.setCurrentIndex(0 if auto else 1)
        self.bpm.setValue(120.0 if auto else float(settings.tempo))
        self.bpm.setEnabled(not auto)
        self.quantize.setCurrentText(settings.quantize)
        self.metre.setCurrentText(f"{settings.beats_per_bar}/4")

    def settings(self) -> NotationSettings:
        """What the dialog shows."""
        tempo: str | float = "auto" if self.mode.currentIndex() == 0 else float(self.bpm.value())
        return NotationSettings(tempo, self.quantize.currentText(), int(self.metre.currentText()[0]))


class NotationActions(QObject):
    """The notation entries of the File menu of a :class:`~unmf_gui.main_window.MainWindow`."""

    def __init__(self, window, menu, files):
        super().__init__(window)
        self.w, self.files = window, files
        self.settings = NotationSettings()
        files._act(menu, "Export &MusicXML…", None, self.export_musicxml)
        files._act(menu, "Export MIDI with tempo and &bars…", None, self.export_midi)
        files._act(menu, "&Tempo and quantisation…", None, self.edit_settings)

    def edit_settings(self) -> bool:
        """File ▸ Tempo and quantisation: returns whether the settings were changed."""
        dialog = NotationDialog(self.w, self.settings)
        ok = dialog.exec() == QDialog.Accepted
        if ok:
            self.settings = dialog.settings()
        dialog.deleteLater()
        return ok

    def grid(self, notes):
        """The beat grid of ``notes`` with the current settings, published to the state."""
        from unmf_core.notation.tempo import beat_grid

        vm = self.w.vm
        audio = vm.loaded.audio if vm.loaded is not None else None
        pcm = (audio.samples, audio.sr) if audio is not None else None
        settings = self.settings
        job = lambda: beat_grid(notes, vm.duration, settings.tempo, pcm, settings.beats_per_bar)  # noqa: E731
        grid = self._off_the_gui_thread(job) if settings.tempo == "auto" else job()
        vm.set_beat_times(grid.beats)
        return grid

    def _off_the_gui_thread(self, job):
        """Run ``job()`` in a thread while the window stays live behind a modal "Tracking the beats…" dialog.

        Tracking takes seconds the first time (librosa's onset and beat code, numba-compiled at import);
        the dialog blocks input to the window but not its painting. Returns ``job()``'s value or raises its error.
        """
        out: dict = {}

        def work():
            try:
                out["value"] = job()
            except BaseException as exc:  # handed to the GUI thread below
                out["error"] = exc

        thread = threading.Thread(target=work, name="unmf-beat-tracking", daemon=True)
        dialog = QProgressDialog("Tracking the beats (the first time loads the beat tracker: a few seconds)…",
                                 None, 0, 0, self.w)
        dialog.setWindowTitle("Tempo")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(400)
        loop = QEventLoop()
        timer = QTimer()
        timer.setInterval(20)
        timer.timeout.connect(lambda: None if thread.is_alive() else loop.quit())
        thread.start()
        timer.start()
        loop.exec()
        timer.stop()
        dialog.close()
        dialog.deleteLater()
        if "error" in out:
            raise out["error"]
        return out["value"]

    def _write(self, path, title: str, filt: str, suffix: str, write) -> bool:
        vm = self.w.vm
        edited = vm.edited_notes()  # hand-edited notes are the transcription
        notes = edited if edited is not None else vm.final_notes()
        if not notes:
            self.w.notify("Nothing to export yet: open a recording and let it run", 6000)
            return False
        return self.files._export(path, title, filt, suffix, lambda p: write(notes, self.grid(notes), p))

    def export_musicxml(self, path=None) -> bool:
        """File ▸ Export MusicXML: the edited notes, else the final layer's, on two staves; returns success."""
        from unmf_core.notation.musicxml import write_musicxml

        q = self.settings.quantize
        return self._write(path, "Export MusicXML", MUSICXML_FILTER, ".musicxml",
                           lambda notes, grid, p: write_musicxml(notes, p, grid, q))

    def export_midi(self, path=None) -> bool:
        """File ▸ Export MIDI with tempo and bars (quantised as set); returns success."""
        from unmf_core.notation.midi import write_midi
        from unmf_core.notation.quantize import quantize

        q = self.settings.quantize
        return self._write(path, "Export MIDI with tempo and bars", MIDI_FILTER, ".mid",
                           lambda notes, grid, p: write_midi(quantize(notes, grid, q), p, grid))
