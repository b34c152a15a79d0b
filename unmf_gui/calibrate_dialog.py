"""Model ▸ Calibrate to my instrument…: templates from the user's own piano, recorded in the app or from files.

The user records single notes from a microphone (input device choice, a live
level meter, a guided prompt) or picks a folder of single notes, one recording
of single notes, or a recording with its MIDI. :func:`unmf_core.calibration.calibrate`
runs in a worker thread; the dialog then lists the recorded keys with their
fit and the skipped segments with their reasons, and draws the new W beside
the bundled W. "Save and use…" writes the templates where the user chooses
(atomically; the save dialog asks before replacing a file), makes the window
use them and remembers the choice for the next launch.

Recording goes through :mod:`unmf_core.frontend.inputstream`: a
:class:`~unmf_core.frontend.recorder.Recorder` polled by a timer in the GUI thread
(the stream's own thread or PortAudio's delivers the blocks), so tests feed
the dialog from a :class:`~unmf_core.frontend.inputstream.FileStream` through the same
path as the microphone. Without PortAudio or an input device the Record button
is disabled with the reason, and files still work.
"""
from __future__ import annotations

import inspect
import threading
import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QRectF, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QFileDialog, QGridLayout, QGroupBox, QHBoxLayout,
                               QHeaderView, QLabel, QListWidget, QProgressBar, QPushButton, QSplitter, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from unmf_core.frontend.cqt import LOWEST_PITCH, CQTParams, key_names
from unmf_core.transcription.display import to_db
from unmf_core.errors import UnmfError
from unmf_core.frontend.inputstream import InputDevice, InputUnavailable, MicrophoneStream, microphone_status
from unmf_core.frontend.recorder import FLOOR_DB, Level, Recorder
from unmf_core.transcription.engine import DEFAULT_TEMPLATES
from unmf_gui.views.common import COLORMAP, key_ticks

#: The guided prompt. A slow scale from the low register is what scored best (docs/benchmarks/calibration.md:
#: C2..C6 within 0.002 of all 88 keys on the unseen test piano; a few C's an octave apart, e.g. C2..C7, no better
#: than no calibration there).
PROMPT = ("Play a slow chromatic scale, one key at a time, letting each ring for about a second: two octaves or "
          "more, from C2 or C3 upward (C2 to C6 is best). Single notes in any order work too. Every key you play "
          "is recorded; the others are predicted from them.")
AUDIO_FILTER = "Audio (*.wav *.flac *.ogg);;All files (*)"
MIDI_FILTER = "MIDI (*.mid *.midi);;All files (*)"
RECORD_AGAIN = "Play one key at a time, letting each ring for about a second, and record again."
#: How often the level meter and the recording are updated while recording (ms).
POLL_MS = 50
#: Range of the level meter (dBFS).
METER_DB = (-60.0, 0.0)
#: How far the level bar may fall per update (dB).
METER_FALL = 1.5
W_LEVELS = (-60.0, 0.0)


def _calibrate(source, midi, cancel):
    """Run :func:`unmf_core.calibration.calibrate` (passing ``cancel`` when it takes one)."""
    from unmf_core.calibration import calibrate

    kwargs = {"midi": midi} if midi is not None else {}
    if "cancel" in inspect.signature(calibrate).parameters:
        kwargs["cancel"] = cancel
    return calibrate(source, **kwargs)


class CalibrateWorker(QObject):
    """Runs one calibration in a worker thread; ``done(job, Calibration)`` or ``failed(job, message)``."""

    done = Signal(int, object)
    failed = Signal(int, str)

    def __init__(self, job: int, source, midi=None):
        super().__init__()
        self.job, self.source, self.midi = job, source, midi
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Ask the calibration to stop (where it checks; otherwise its result is dropped)."""
        self._cancel.set()

    @Slot()
    def run(self) -> None:
        from unmf_gui.workers import _lower_priority

        _lower_priority()
        try:
            cal = _calibrate(self.source, self.midi, self._cancel.is_set)
        except UnmfError as exc:
            self.failed.emit(self.job, " ".join(str(exc).split()))
        except Exception as exc:  # a bug must show in the dialog, not kill the thread silently
            self.failed.emit(self.job, f"unexpected {type(exc).__name__}: {exc}")
        else:
            self.done.emit(self.job, cal)
        finally:
            QThread.currentThread().quit()


def default_stream_factory(device: InputDevice | None):
    """A microphone stream on ``device`` (None: the default input)."""
    return MicrophoneStream(device=None if device is None else device.index)


class WPlot(pg.PlotWidget):
    """A small image of a template matrix W (keys on x, CQT bins on y, dB)."""

    def __init__(self, title: str, parent=None):
        super().__init__(parent=parent)
        self.setTitle(title, size="9pt")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get(COLORMAP))
        self.addItem(self.image)
        self.marks = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(80, 230, 255), symbol="t")
        self.addItem(self.marks)
        self.getAxis("bottom").setTicks(key_ticks(1.0, 0.5))
        self.getAxis("left").setTicks(key_ticks(3.0, 0.5))
        self.getAxis("left").setWidth(36)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setMinimumSize(260, 200)

    def set_W(self, W: np.ndarray | None, marked: list[int] | None = None) -> None:  # noqa: N802 (maths name)
        """Show W; ``marked`` keys get a triangle above their column."""
        if W is None:
            self.image.clear()
            self.marks.setData([], [])
            return
        self.image.setImage(to_db(W, float(W.max())), autoLevels=False, levels=W_LEVELS)
        self.image.setRect(QRectF(0.0, 0.0, float(W.shape[1]), float(W.shape[0])))
        keys = sorted(marked or [])
        self.marks.setData([k + 0.5 for k in keys], [W.shape[0] + 4.0] * len(keys))
        self.setXRange(0, W.shape[1], padding=0)
        self.setYRange(0, W.shape[0] + 8, padding=0)


class CalibrateDialog(QDialog):
    """The calibration dialog of a main window.

    Parameters
    ----------
    window : MainWindow
        Gets the new templates ("Save and use…") and keeps the choice in its settings.
    stream_factory : callable, optional
        ``stream_factory(device)`` → an input stream (default: the microphone);
        tests pass one that returns a :class:`~unmf_core.frontend.inputstream.FileStream`.
    status : tuple, optional
        ``(devices, reason)`` as :func:`unmf_core.frontend.inputstream.microphone_status`
        returns (default: asked from PortAudio).
    """

    recordingStarted = Signal()
    recordingStopped = Signal(float)  # seconds recorded (kept)
    calibrationStarted = Signal()
    calibrated = Signal(object)  # Calibration
    failed = Signal(str)
    cancelled = Signal()
    saved = Signal(str)
    levelChanged = Signal(float, float)  # rms, peak dBFS

    def __init__(self, window, stream_factory=None, status: tuple[list[InputDevice], str] | None = None):
        super().__init__(window)
        self.window_ = window
        self.setWindowTitle("Calibrate to my instrument")
        self.setModal(False)
        self.result = None
        self.recorder: Recorder | None = None
        self._stream_factory = stream_factory or default_stream_factory
        self._devices: list[InputDevice] = []
        self._mic_reason = ""
        self._job = 0
        self._worker: CalibrateWorker | None = None
        self._threads: list[tuple[QThread, CalibrateWorker]] = []
        self._hint = ""
        self._shown_db = FLOOR_DB  # what the level meter shows
        self._bundled_W = self._load_bundled()
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._poll_recorder)
        self._build()
        self.set_inputs(*(status if status is not None else microphone_status()), stream_factory=stream_factory)
        window.installEventFilter(self)  # stop recording and join the worker when the window closes

    # ---- construction -------------------------------------------------------------------
    def _build(self) -> None:
        prompt = QLabel(PROMPT)
        prompt.setWordWrap(True)
        prompt.setStyleSheet("font-weight: 600;")

        self.status = QLabel("Record, or pick files.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.busy = QProgressBar()
        self.busy.setRange(0, 1)
        self.busy.setValue(0)
        self.busy.setTextVisible(False)
        self.busy.setFixedHeight(8)
        self.busy.setVisible(False)

        self.save_button = QPushButton("Save and use these templates…")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save_dialog)
        self.cancel_button = QPushButton("Close")
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.cancel_button)

        lay = QVBoxLayout(self)
        lay.addWidget(prompt)
        lay.addWidget(self._record_box())
        lay.addWidget(self._files_box())
        lay.addWidget(self.status)
        lay.addWidget(self.busy)
        lay.addWidget(self._results(), 1)
        lay.addLayout(buttons)
        self.resize(1000, 680)

    def _record_box(self) -> QGroupBox:
        """The microphone: input choice, record / stop, level meter and why recording is unavailable."""
        rec = QGroupBox("Record from a microphone")
        grid = QGridLayout(rec)
        self.device_box = QComboBox()
        self.device_box.setMinimumWidth(260)
        self.record_button = QPushButton("● Record")
        self.record_button.clicked.connect(self.start_recording)
        self.stop_button = QPushButton("■ Stop")
        self.stop_button.setToolTip("stop recording and calibrate from what was played")
        self.stop_button.clicked.connect(self.stop_recording)
        self.stop_button.setEnabled(False)
        self.meter = QProgressBar()
        self.meter.setRange(int(METER_DB[0] * 10), int(METER_DB[1] * 10))
        self.meter.setTextVisible(False)
        self.meter.setFixedHeight(14)
        self.meter.setValue(self.meter.minimum())
        self.level_label = QLabel("level: –")
        self.level_label.setMinimumWidth(200)
        self.mic_reason_label = QLabel()
        self.mic_reason_label.setWordWrap(True)
        self.mic_reason_label.setStyleSheet("color: #b06000;")
        grid.addWidget(QLabel("Input"), 0, 0)
        grid.addWidget(self.device_box, 0, 1)
        grid.addWidget(self.record_button, 0, 2)
        grid.addWidget(self.stop_button, 0, 3)
        grid.addWidget(QLabel("Level"), 1, 0)
        grid.addWidget(self.meter, 1, 1)
        grid.addWidget(self.level_label, 1, 2, 1, 2)
        grid.addWidget(self.mic_reason_label, 2, 0, 1, 4)
        grid.setColumnStretch(1, 1)
        return rec

    def _files_box(self) -> QGroupBox:
        """The three kinds of files to calibrate from."""
        files = QGroupBox("Or use files")
        row = QHBoxLayout(files)
        self.folder_button = QPushButton("Folder of single notes…")
        self.folder_button.setToolTip("files named after their keys: A0.wav … C8.wav (any number of them)")
        self.folder_button.clicked.connect(self._browse_folder)
        self.recording_button = QPushButton("One recording of single notes…")
        self.recording_button.setToolTip("single notes played one after another, in any order")
        self.recording_button.clicked.connect(self._browse_recording)
        self.midi_button = QPushButton("Recording + its MIDI…")
        self.midi_button.setToolTip("a piece and the MIDI of what was played (a MIDI piano, or a score aligned to it)")
        self.midi_button.clicked.connect(self._browse_recording_midi)
        for b in (self.folder_button, self.recording_button, self.midi_button):
            row.addWidget(b)
        row.addStretch(1)
        return files

    def _results(self) -> QSplitter:
        """The recorded keys with their fit, what was skipped, and the bundled W beside the new one."""
        self.keys_table = QTableWidget(0, 2)
        self.keys_table.setHorizontalHeaderLabels(["recorded key", "fit"])
        self.keys_table.horizontalHeaderItem(1).setToolTip(
            "how well the recorded note agrees with what the other recorded keys predict for it (1: exactly)")
        self.keys_table.verticalHeader().setVisible(False)
        self.keys_table.verticalHeader().setDefaultSectionSize(20)
        self.keys_table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.keys_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.keys_table.setSelectionMode(QAbstractItemView.NoSelection)
        self.skipped_list = QListWidget()
        self.skipped_list.setWordWrap(True)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.keys_table, 3)
        self.skipped_label = QLabel("Skipped")
        lv.addWidget(self.skipped_label)
        lv.addWidget(self.skipped_list, 1)
        self.bundled_plot = WPlot("bundled W (dB)")
        self.new_plot = WPlot("new W (dB) · ▼ recorded keys")
        self.bundled_plot.set_W(self._bundled_W)
        self.new_plot.setXLink(self.bundled_plot)
        self.new_plot.setYLink(self.bundled_plot)
        results = QSplitter(Qt.Horizontal)
        results.addWidget(left)
        results.addWidget(self.bundled_plot)
        results.addWidget(self.new_plot)
        results.setSizes([220, 380, 380])
        return results

    def _load_bundled(self) -> np.ndarray | None:
        from unmf_core.calibration import load_templates

        try:
            return load_templates(DEFAULT_TEMPLATES, CQTParams()).W
        except UnmfError:
            return None

    def set_inputs(self, devices: list[InputDevice], reason: str = "", stream_factory=None) -> None:
        """Offer these input devices (none: Record is disabled and ``reason`` is shown)."""
        if stream_factory is not None:
            self._stream_factory = stream_factory
        self._devices = list(devices)
        self._mic_reason = "" if self._devices else (reason or "no audio input device")
        self.device_box.clear()
        for d in self._devices:
            self.device_box.addItem(str(d))
        if not self._devices:
            self.device_box.addItem("no input device")
        why = self._mic_reason.removeprefix("no audio input: ")
        self.mic_reason_label.setText(f"Recording is unavailable: {why}. You can still use files."
                                      if self._mic_reason else "")
        self.mic_reason_label.setVisible(bool(self._mic_reason))
        self.record_button.setToolTip(self._mic_reason or "record from the chosen input")
        self._update_buttons()

    # ---- state ---------------------------------------------------------------------------
    @property
    def recording(self) -> bool:
        """Whether the microphone (or the stream standing in for it) is being recorded."""
        return self.recorder is not None

    @property
    def calibrating(self) -> bool:
        """Whether a calibration is running."""
        return self._worker is not None

    @property
    def mic_available(self) -> bool:
        """Whether recording is possible."""
        return bool(self._devices)

    def _update_buttons(self) -> None:
        busy = self.recording or self.calibrating
        self.record_button.setEnabled(self.mic_available and not busy)
        self.device_box.setEnabled(self.mic_available and not busy)
        self.stop_button.setEnabled(self.recording)
        for b in (self.folder_button, self.recording_button, self.midi_button):
            b.setEnabled(not busy)
        self.save_button.setEnabled(self.result is not None and not busy)
        self.cancel_button.setText("Cancel" if busy else "Close")
        self.busy.setRange(0, 0 if self.calibrating else 1)
        self.busy.setVisible(self.calibrating)

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #c0392b;" if error else "")

    # ---- recording --------------------------------------------------------------------------
    def start_recording(self) -> bool:
        """Start recording from the chosen input; False (and the reason shown) when it cannot."""
        if not self.mic_available or self.recording or self.calibrating:
            return False
        device = self._devices[max(0, self.device_box.currentIndex())]
        try:
            recorder = Recorder(self._stream_factory(device))
            recorder.start()
        except (InputUnavailable, UnmfError) as exc:
            self._say(f"Cannot record: {exc}", error=True)
            self.failed.emit(str(exc))
            return False
        self.recorder = recorder
        self.result = None
        self._shown_db = FLOOR_DB
        self.meter.setValue(self.meter.minimum())
        self._clear_results()
        self._say("Recording… play the notes now, then press Stop.")
        self._poll.start()
        self._update_buttons()
        self.recordingStarted.emit()
        return True

    def _poll_recorder(self) -> None:
        rec = self.recorder
        if rec is None:
            self._poll.stop()
            return
        levels = rec.poll()
        if levels:
            self._show_level(levels)
        if rec.finished:  # the stream ended by itself (end of a file, device gone, length limit)
            self.stop_recording()
        else:
            self.level_label.setText(f"{self._level_text()} · {rec.seconds:.0f} s")

    def _show_level(self, levels: list[Level]) -> None:
        peak = max(lvl.peak_db for lvl in levels)
        rms = max(lvl.rms_db for lvl in levels)
        # the bar jumps up and falls back at most METER_FALL dB per update, as level meters do
        shown = max(peak, self.meter.value() / 10.0 - METER_FALL)
        self._shown_db = shown if shown > METER_DB[0] else peak
        self.meter.setValue(int(round(max(METER_DB[0], min(METER_DB[1], shown)) * 10)))
        colour = "#c0392b" if peak >= -1.0 else ("#e0a030" if peak < -40 else "#3aa655")
        self.meter.setStyleSheet(f"QProgressBar::chunk {{ background: {colour}; }}")
        self.levelChanged.emit(rms, peak)

    def _level_text(self) -> str:
        peak = self._shown_db
        if peak <= FLOOR_DB:
            return "level: silence"
        hint = " · too loud" if peak >= -1.0 else (" · too quiet" if peak < -40 else "")
        return f"peak {peak:.0f} dBFS{hint}"

    def stop_recording(self) -> bool:
        """Stop recording and calibrate from what was recorded; False when nothing usable was recorded."""
        rec, self.recorder = self.recorder, None
        self._poll.stop()
        if rec is None:
            return False
        try:
            audio = rec.stop()  # raises AudioError for a silent or empty recording
            if audio.sr != CQTParams().sr:
                audio = rec.audio(sr=CQTParams().sr)
        except UnmfError as exc:
            self._update_buttons()
            self.recordingStopped.emit(rec.seconds)
            self._fail(f"{exc}", RECORD_AGAIN if "silent" not in str(exc) else "")
            return False
        self.level_label.setText(f"{self._level_text()} · {rec.seconds:.1f} s recorded")
        self.recordingStopped.emit(rec.seconds)
        return self._start_job(audio, None, f"the {audio.duration:.1f} s recording", RECORD_AGAIN)

    # ---- files ------------------------------------------------------------------------------------
    def _start_dir(self) -> str:
        path = getattr(self.window_.vm, "path", None)
        return str(Path(path).parent) if path else str(Path.home())

    def _browse_folder(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Folder of single-note recordings (A0.wav … C8.wav)",
                                             self._start_dir())
        if d:
            self.calibrate_source(d)

    def _browse_recording(self) -> None:
        f, _ = QFileDialog.getOpenFileName(self, "A recording of single notes", self._start_dir(), AUDIO_FILTER)
        if f:
            self.calibrate_source(f)

    def _browse_recording_midi(self) -> None:
        f, _ = QFileDialog.getOpenFileName(self, "A recording (then its MIDI)", self._start_dir(), AUDIO_FILTER)
        if not f:
            return
        from unmf_gui.files import find_reference

        found = find_reference(f)
        m, _ = QFileDialog.getOpenFileName(self, f"The MIDI of {Path(f).name}",
                                           str(found) if found else str(Path(f).parent), MIDI_FILTER)
        if m:
            self.calibrate_source(f, m)

    def calibrate_source(self, source: str | Path, midi: str | Path | None = None) -> bool:
        """Calibrate from a folder of single notes, a recording of single notes, or a recording and its MIDI."""
        if self.recording or self.calibrating:
            return False
        name = Path(source).name + (f" with {Path(midi).name}" if midi else "")
        hint = "" if midi is not None or Path(source).is_dir() else RECORD_AGAIN
        return self._start_job(str(source), None if midi is None else str(midi), name, hint)

    # ---- the calibration job ---------------------------------------------------------------------------
    def _start_job(self, source, midi, what: str, hint: str = "") -> bool:
        self._job += 1
        self._hint = hint
        self.result = None
        self._clear_results()
        thread = QThread()
        thread.setObjectName(f"unmf-calibrate-{self._job}")
        worker = CalibrateWorker(self._job, source, midi)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.done.connect(self._done)
        worker.failed.connect(self._failed)
        thread.finished.connect(self._reap)
        self._threads.append((thread, worker))
        self._worker = worker
        self._say(f"Finding the notes in {what} and fitting the templates…")
        self._update_buttons()
        thread.start()
        self.calibrationStarted.emit()
        return True

    @Slot(int, object)
    def _done(self, job: int, cal) -> None:
        if job != self._job or self._worker is None:
            return  # cancelled meanwhile
        self._worker = None
        if not cal.recorded:
            why = "; ".join(cal.skipped[:4]) if cal.skipped else "nothing sounded like a single piano note"
            self._fail(f"no usable single notes were found ({why})", self._hint)
            return
        self.result = cal
        self._show_result(cal)
        self._update_buttons()
        self.calibrated.emit(cal)

    @Slot(int, str)
    def _failed(self, job: int, message: str) -> None:
        if job != self._job or self._worker is None:
            return
        self._worker = None
        self._fail(message, self._hint)

    def _fail(self, message: str, hint: str = "") -> None:
        self._update_buttons()
        self._say(f"Could not calibrate: {message}" + (f"\n{hint}" if hint else ""), error=True)
        self.failed.emit(message)

    @Slot()
    def _reap(self) -> None:
        thread = self.sender()
        for pair in list(self._threads):
            if pair[0] is thread:
                self._threads.remove(pair)
                pair[1].deleteLater()
                thread.deleteLater()

    def cancel(self) -> None:
        """Cancel the recording or the calibration in progress; close the dialog when idle."""
        if self.recording:
            rec, self.recorder = self.recorder, None
            self._poll.stop()
            rec.cancel()
            self._say("Recording cancelled; nothing was kept.")
        elif self.calibrating:
            self._worker.cancel()
            self._worker = None
            self._job += 1  # whatever the running job still reports is dropped
            self._say("Calibration cancelled.")
        else:
            self.close()
            return
        self.meter.setValue(int(METER_DB[0] * 10))
        self._shown_db = FLOOR_DB
        self._update_buttons()
        self.cancelled.emit()

    # ---- results ------------------------------------------------------------------------------------------
    def _clear_results(self) -> None:
        self.keys_table.setRowCount(0)
        self.skipped_list.clear()
        self.skipped_label.setText("Skipped")
        self.new_plot.set_W(None)
        self._update_buttons()

    def _show_result(self, cal) -> None:
        names = key_names()
        pitches = sorted(cal.recorded)  # MIDI pitches
        keys = [p - LOWEST_PITCH for p in pitches]
        self.keys_table.setRowCount(len(keys))
        for row, (p, k) in enumerate(zip(pitches, keys, strict=True)):
            fit = float(cal.recorded[p])
            self.keys_table.setItem(row, 0, QTableWidgetItem(names[k]))
            item = QTableWidgetItem(f"{fit:.2f}")
            item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            self.keys_table.setItem(row, 1, item)
        for s in cal.skipped:
            self.skipped_list.addItem(str(s))
        self.skipped_label.setText(f"Skipped ({len(cal.skipped)})")
        self.new_plot.set_W(cal.templates.W, keys)
        span = f" ({names[keys[0]]} … {names[keys[-1]]})" if len(keys) > 1 else f" ({names[keys[0]]})"
        skipped = f"; {len(cal.skipped)} skipped (see the list)" if cal.skipped else ""
        advice = cal.advice()
        note = f" Note: {advice}." if advice else ""
        self._say(f"{len(keys)} key{'s' if len(keys) != 1 else ''} recorded{span}, the other {88 - len(keys)} "
                  f"predicted from them{skipped}. Save the templates to use them.{note}")

    # ---- saving ------------------------------------------------------------------------------------------------
    def save_dialog(self) -> bool:
        """Ask where to save the templates (the save dialog asks before replacing a file), then save and use them."""
        if self.result is None:
            return False
        start = str(Path.home() / f"my-piano-templates-{time.strftime('%Y%m%d-%H%M')}.npz")
        path, _ = QFileDialog.getSaveFileName(self, "Save the calibrated templates", start, "Templates (*.npz)")
        if not path:
            return False
        if not path.lower().endswith(".npz"):
            path += ".npz"
        return self.save_to(path, overwrite=True)

    def save_to(self, path: str | Path, overwrite: bool = False) -> bool:
        """Write the templates to ``path`` atomically, make the window use them and remember the choice.

        ``overwrite`` is the user's answer to "replace it?" (the save dialog's);
        the bundled templates are never replaced.
        """
        if self.result is None:
            return False
        path = Path(path)
        if DEFAULT_TEMPLATES.exists() and path.exists() and path.resolve() == DEFAULT_TEMPLATES.resolve():
            self._say("Choose another file: the bundled templates are never replaced.", error=True)
            return False
        try:
            self.result.templates.save(path, overwrite=overwrite)  # atomic (unmf_core.io.atomic.atomic_path)
        except UnmfError as exc:
            self._say(f"Not saved: {exc}", error=True)
            return False
        from unmf_gui.workers import EngineSpec

        spec = self.window_.spec
        self.window_.set_engine_spec(EngineSpec(str(path), spec.model, spec.device))
        self._say(f"Saved {path.name}; the window now transcribes with these templates (also after a restart).")
        self.window_.notify(f"Using the calibrated templates {path.name}", 6000)
        self.saved.emit(str(path))
        return True

    # ---- shutdown ---------------------------------------------------------------------------------------------------
    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Stop recording, drop the calibration and join its thread; True when every thread has ended."""
        if self.recording or self.calibrating:
            self.cancel()
        ok = True
        for thread, worker in list(self._threads):
            worker.cancel()
            ok = thread.wait(timeout_ms) and ok
        return ok

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt override)
        if obj is self.window_ and event.type() == QEvent.Close:
            self.shutdown()
        return False

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if self.recording or self.calibrating:
            self.cancel()
        super().closeEvent(event)

    def reject(self) -> None:  # Esc
        if self.recording or self.calibrating:
            self.cancel()
        else:
            super().reject()


def open_dialog(window) -> CalibrateDialog:
    """Show the window's calibration dialog (one per window)."""
    dlg = getattr(window, "calibrate_dialog", None)
    if dlg is None:
        dlg = window.calibrate_dialog = CalibrateDialog(window)
    dlg.show()
    dlg.raise_()
    return dlg
