"""Live ▸ Start listening: transcribe the microphone while the user plays.

:class:`LiveWorker` runs :func:`unmf_core.streaming.session.listen` in a
QThread (the generator stops between two blocks when asked). :class:`LiveWindow`
draws the scrolling CQT and the notes as they are found, the input level and the
latency; Stop ends the take, which the main window then holds as a normal
transcription (:func:`take_to_window`): a loaded recording plus one unrolled run
whose result is the take, so it can be edited, exported and compared like a file run.
:class:`LiveAction` is the menu entry and toolbar button, disabled with the reason
when there is no microphone or no PortAudio.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRectF, QThread, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QMenu, QProgressBar, QPushButton, QVBoxLayout

from unmf_core.frontend.audio import Audio
from unmf_core.frontend.inputstream import MicrophoneStream, microphone_status
from unmf_core.frontend.recorder import FLOOR_DB
from unmf_core.streaming.session import listen
from unmf_core.streaming.transcriber import LiveTranscriber
from unmf_core.transcription.display import activation_db, reconstruction, to_db

#: Seconds of CQT and notes the live view shows.
VIEW_SECONDS = 10.0
#: A note reported again within this of its first onset is the same note (the tracker's match: the rule's min_ioi).
MOVED_S = 0.1


class LiveWorker(QObject):
    """Runs a live take in a worker thread; ``stop()`` ends it between two blocks (the take is kept)."""

    step = Signal(object)  # LiveStep
    finished = Signal(object, object)  # Transcription, Audio
    failed = Signal(str)

    def __init__(self, engine, stream_factory: Callable, spec=None):
        super().__init__()
        self.engine, self.stream_factory, self.spec = engine, stream_factory, spec
        self._stop = False

    def stop(self) -> None:
        """Ask the take to end (thread-safe)."""
        self._stop = True

    @Slot()
    def run(self) -> None:
        try:
            if self.engine is None:  # no file run built one yet: build it here, off the GUI thread
                from unmf_core.transcription.engine import Engine

                spec = self.spec
                self.engine = Engine(templates=getattr(spec, "templates", None), model=getattr(spec, "model", None),
                                     device="cpu")
            stream = self.stream_factory(self.engine.cqt.sr)
            transcriber = LiveTranscriber(self.engine)
            blocks: list[np.ndarray] = []
            orig = transcriber.feed

            def feed(x: np.ndarray):  # keep the take's audio at the engine's rate
                blocks.append(x)
                return orig(x)

            transcriber.feed = feed  # type: ignore[method-assign]
            for st in listen(transcriber, stream, stop=lambda: self._stop):
                self.step.emit(st)
            samples = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
            audio = Audio(samples, self.engine.cqt.sr, "live take", self.engine.cqt.sr)
            self.finished.emit(transcriber.transcription(), audio)
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a traceback
            self.failed.emit(f"{type(exc).__name__}: {exc}" if not str(exc).startswith("no audio") else str(exc))
        finally:
            QThread.currentThread().quit()


class LiveWindow(QDialog):
    """The live view: scrolling CQT, notes as they come, level meter, latency, Stop."""

    notesChanged = Signal(int)  # notes drawn so far
    takeReady = Signal(object, object)  # Transcription, Audio
    failed = Signal(str)

    def __init__(self, engine, stream_factory: Callable, parent=None, spec=None):
        super().__init__(parent)
        self.setWindowTitle("unmf — listening")
        from unmf_core.frontend.cqt import CQTParams

        cqt = engine.cqt if engine is not None else CQTParams()
        fr = cqt.frame_rate
        self._frames = int(VIEW_SECONDS * fr)
        self._M = np.full((cqt.n_bins, self._frames), -80.0, dtype=np.float32)
        self._notes: dict[tuple[int, float], object] = {}
        self._latencies: list[float] = []
        self.take = None
        self.cqt_plot = pg.PlotWidget()
        self.cqt_image = pg.ImageItem(axisOrder="row-major")
        self.cqt_plot.addItem(self.cqt_image)
        self.roll = pg.PlotWidget()
        self.roll.setYRange(21, 108)
        self.roll_curve = self.roll.plot([], [], pen=pg.mkPen("c", width=4), connect="pairs")
        self.roll.setLabel("left", "MIDI pitch")
        self.roll.setLabel("bottom", "time (s)")
        self.cqt_plot.setLabel("left", "CQT bin")
        self.cqt_plot.setXLink(self.roll)  # both in seconds of the take
        self._fr = fr
        self._shown_to = 0.0  # end of the last committed frame drawn (s)
        self.level = QProgressBar()
        self.level.setRange(int(FLOOR_DB), 0)
        self.level.setFormat("level %v dBFS")
        self.latency_label = QLabel("latency: –")
        self.status_label = QLabel("starting…")
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        lay = QVBoxLayout(self)
        lay.addWidget(self.cqt_plot, 1)
        lay.addWidget(self.roll, 1)
        row = QHBoxLayout()
        for w in (self.level, self.latency_label, self.status_label, self.stop_button):
            row.addWidget(w)
        lay.addLayout(row)
        self.resize(900, 600)
        self._thread = QThread()
        self.worker = LiveWorker(engine, stream_factory, spec)
        self.worker.moveToThread(self._thread)
        self._thread.started.connect(self.worker.run)
        self.worker.step.connect(self._on_step)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)

    def start(self) -> None:
        """Start listening."""
        self._thread.start()

    @Slot()
    def stop(self) -> None:
        """End the take (it is kept)."""
        self.stop_button.setEnabled(False)
        self.status_label.setText("stopping…")
        self.worker.stop()

    def wait(self) -> None:
        """Wait for the worker thread (after stop / the end of the stream)."""
        self._thread.wait()

    def closeEvent(self, event) -> None:
        self.worker.stop()
        self._thread.wait()
        super().closeEvent(event)

    @Slot(object)
    def _on_step(self, st) -> None:
        if st.level is not None:
            self.level.setValue(int(max(FLOOR_DB, min(0.0, st.level.peak_db))))
        for u in st.updates:
            n = u.M.shape[1]
            if n:
                self._M = np.roll(self._M, -n, axis=1)
                self._M[:, -min(n, self._frames):] = to_db(u.M)[:, -self._frames:]
                self._shown_to = (u.start + n) / self._fr
            for note in u.retracted + u.onsets + u.ended:  # a note's onset may move while its frames are revised
                for key in [k for k in self._notes if k[0] == note.pitch and abs(k[1] - note.onset) < MOVED_S]:
                    del self._notes[key]
            for note in u.onsets + u.ended:
                self._notes[(note.pitch, round(note.onset, 3))] = note
        self._latencies.extend(st.latencies)
        self.cqt_image.setImage(self._M, autoLevels=False, levels=(-80.0, 0.0))
        self.cqt_image.setRect(QRectF(self._shown_to - self._frames / self._fr, 0, self._frames / self._fr,
                                      self._M.shape[0]))
        t_end = st.audio_time
        xs, ys = [], []
        for note in self._notes.values():
            if note.offset >= t_end - VIEW_SECONDS:
                xs += [note.onset, max(note.offset, note.onset + 0.05)]
                ys += [note.pitch, note.pitch]
        self.roll_curve.setData(xs, ys)
        self.roll.setXRange(max(0.0, t_end - VIEW_SECONDS), max(VIEW_SECONDS, t_end), padding=0)
        if self._latencies:
            lat = sorted(self._latencies[-50:])
            self.latency_label.setText(f"latency: {1000 * lat[len(lat) // 2]:.0f} ms")
        self.status_label.setText(f"{st.audio_time:.1f} s · {len(self._notes)} notes")
        if st.updates and any(u.onsets for u in st.updates):
            self.notesChanged.emit(len(self._notes))

    @Slot(object, object)
    def _on_finished(self, result, audio) -> None:
        self.take = (result, audio)
        self.status_label.setText(f"stopped: {len(result.notes)} notes")
        self.stop_button.setEnabled(False)
        self.takeReady.emit(result, audio)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.status_label.setText(message)
        self.failed.emit(message)


def take_to_window(win, result, audio: Audio, engine) -> None:
    """Hold a live take in the main window as a normal transcription (a loaded recording and one unrolled run)."""
    from unmf_core.frontend.blocks import block_cqt
    from unmf_gui.runs import Loaded, Snapshot

    if len(audio.samples) == 0:
        return
    M = block_cqt(audio.samples, engine.cqt).cpu().numpy()
    T = min(M.shape[1], result.H.shape[1])
    M, H = M[:, :T], result.H[:, :T]
    from dataclasses import replace

    result = replace(result, H=H, duration=audio.duration)
    loaded = Loaded(audio, M, engine.cqt.frame_rate, audio.duration)
    win.player.pause()
    win.vm.set_loaded(loaded)
    win.vm.clear_runs(["unrolled"])
    win.vm.begin_method("unrolled", 1)
    snap = Snapshot(int(result.params.get("steps", 1)), math.nan, result, activation_db(H),
                    to_db(reconstruction(result.W, H), float(M.max()) if M.size else 1.0))
    win.vm.add_step("unrolled", snap)
    win.vm.finish_method("unrolled", float(result.timings.get("compute", 0.0)))
    win.setWindowTitle("unmf — live take")


class LiveAction:
    """Live ▸ Start listening, in the menu and on the toolbar; disabled with the reason without a microphone.

    ``stream_factory(sr)`` makes the input stream (default: the default microphone); tests pass a
    file-backed stream. ``status`` is ``(devices, reason)`` as
    :func:`~unmf_core.frontend.inputstream.microphone_status` (default: asked now).
    """

    def __init__(self, win, stream_factory: Callable | None = None, status: tuple | None = None):
        self.win = win
        self.stream_factory = stream_factory or (lambda sr: MicrophoneStream(None, sr=None))
        bar = win.menuBar()
        help_action = next((a for a in bar.actions() if a.text() == "&Help"), None)
        menu = QMenu("&Live", bar)  # before Help, which stays last
        if help_action is not None:
            bar.insertMenu(help_action, menu)
        else:
            bar.addMenu(menu)
        menu.setToolTipsVisible(True)
        self.action = QAction("Start &listening", win)
        self.action.triggered.connect(lambda _c=False: self.start())
        menu.addAction(self.action)
        win.toolbar.addAction(self.action)
        self.window: LiveWindow | None = None
        self.set_status(*(status if status is not None else
                          (([], "") if stream_factory is not None else microphone_status())))

    def set_status(self, devices, reason: str) -> None:
        """Enable the action, or disable it with ``reason`` as its tooltip."""
        self.reason = reason
        self.action.setEnabled(not reason)
        self.action.setToolTip(reason or "Transcribe the microphone while you play")
        self.action.setStatusTip(reason)

    def start(self) -> LiveWindow | None:
        """Open the live view and start listening (None when there is no input)."""
        if self.reason:
            self.win.notify(self.reason, 6000)
            return None
        w = self.window = LiveWindow(self.win.engine, self.stream_factory, self.win, self.win.spec)
        w.takeReady.connect(lambda result, audio: take_to_window(self.win, result, audio, w.worker.engine))
        w.failed.connect(lambda msg: self.win.notify(msg, 8000))
        w.show()
        w.start()
        return w
