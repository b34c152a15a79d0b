"""The main window: transcription views, compare view, run / note / playback controls, menus.

It forwards user intent to the :class:`~unmf_gui.workers.RunController` and the
:class:`~unmf_gui.viewmodel.ViewModel`; the views observe the view-model.
"""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, metadata
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (QLabel, QMainWindow, QMessageBox, QProgressBar, QPushButton, QSplitter, QTabWidget,
                               QVBoxLayout, QWidget)

from unmf_core.errors import UnmfError
from unmf_core.transcription.notes import NoteParams, read_midi
from unmf_core.transcription.engine import DEMO_AUDIO, Options
from unmf_gui.live import LiveAction
from unmf_core.transcription.synth import mix, synthesize
from unmf_gui.controls import LayerBar, RunToolbar
from unmf_gui.editing import EDIT_HELP, NoteEditor
from unmf_gui.files import FileActions
from unmf_gui.model_choice import remember_choice, restored_choice
from unmf_gui.playback import Player
from unmf_gui.project_actions import ProjectActions
from unmf_gui.status import WordElidedLabel
from unmf_gui.viewmodel import ViewModel
from unmf_gui.views.activations import PianoRollView
from unmf_gui.views.compare import CompareView, describe_scores
from unmf_gui.views.divergence import DivergenceView
from unmf_gui.views.spectrogram import SpectrogramView
from unmf_gui.views.templates_view import TemplatesView
from unmf_gui.workers import EngineSpec, RunController, RunRequest, warm_up

MIDI_SUFFIXES = (".mid", ".midi")
#: Preferred window size; smaller screens get their available geometry.
PREFERRED_SIZE = (1500, 950)
#: QSettings key of the onset threshold remembered between launches (model and templates: model_choice).
THRESHOLD_KEY = "threshold"


class MainWindow(QMainWindow):
    """The unmf desktop app.

    Parameters
    ----------
    settings : QSettings, optional
        Where recent files are kept (tests pass a temporary one).
    method, device : str
        Initial method (``"unrolled"`` / ``"mu"``) and device (``"auto"``, ``"cpu"``, ``"cuda"``).
    player : Player, optional
        Audio output (default: sounddevice, or "unavailable").
    """

    error_shown = Signal(str)
    run_finished = Signal()
    run_cancelled = Signal()
    run_failed = Signal(str)

    def __init__(self, settings: QSettings | None = None, method: str = "unrolled", device: str = "auto",
                 player: Player | None = None):
        super().__init__()
        warm_up()
        self.setWindowTitle("unmf — piano transcription by (unrolled) NMF")
        self.setAcceptDrops(True)
        self.settings = settings or QSettings("unmf", "unmf")
        self.vm = ViewModel(self)
        self.controller = RunController(self)
        self.player = player or Player(parent=self)
        #: The last model / templates / device that built an engine: a choice that fails goes back to it.
        self._good_spec = EngineSpec(device=device)
        model, templates, restore_note = restored_choice(self.settings)
        self.spec = EngineSpec(templates, model, device)
        self.engine = None
        self._notes_model: tuple | None = None  # the model whose threshold the note controls were last set to
        self._pending_path: str | None = None
        self.reference_override: str | None = None
        self._error_box: QMessageBox | None = None
        self._methods: list[str] = []
        self._done_steps = 0
        self._previous: dict = {}  # complete results a re-run replaces, restored if it is cancelled or fails
        self._build_views()
        self._build_controls(method, device)
        self._restore_threshold()
        self.vm.method = self.method
        self.files = FileActions(self)
        self.editor = NoteEditor(self)
        self.project = ProjectActions(self)
        self._build_shortcuts()
        self.live = LiveAction(self)  # Live ▸ Start listening (unmf_gui/live.py)
        self._connect()
        self._update_engine_label()
        self.layer_bar.refresh()
        self.divergence.refresh()
        if restore_note:
            self.notify(restore_note, 8000)
        if not self.player.available:
            self._playback_unavailable()
        self.fit_to_screen()

    # ---- construction ---------------------------------------------------------
    def _build_views(self) -> None:
        vm = self.vm
        self.spectrogram = SpectrogramView(vm, "M")
        self.activations = PianoRollView(vm)
        self.reconstruction = SpectrogramView(vm, "WH")
        self.templates = TemplatesView(vm)
        self.divergence = DivergenceView(vm)
        for view in (self.activations, self.reconstruction):
            view.setXLink(self.spectrogram)
        left = QSplitter(Qt.Vertical)
        for w in (self.spectrogram, self.activations, self.reconstruction):
            left.addWidget(w)
        right = QSplitter(Qt.Vertical)
        right.addWidget(self.templates)
        right.addWidget(self.divergence)
        main = QSplitter(Qt.Horizontal)
        main.addWidget(left)
        main.addWidget(right)
        main.setSizes([1050, 450])
        self.layer_bar = LayerBar(vm)
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(main, 1)
        lay.addWidget(self.layer_bar)
        self.compare_view = CompareView(vm)
        self.tabs = QTabWidget()
        self.tabs.addTab(page, "Transcription")
        self.tabs.addTab(self.compare_view, "Compare MU / unrolled MU")
        self.setCentralWidget(self.tabs)

    def _build_controls(self, method: str, device: str) -> None:
        bar = self.toolbar = RunToolbar(self.vm, method, device, Options().iterations)
        self.addToolBar(bar)
        self.method_box, self.device_box, self.layers_box = bar.method_box, bar.device_box, bar.layers_box
        self.iterations_box, self.run_button, self.notes_controls = bar.iterations_box, bar.run_button, bar.notes
        self.source_box, self.play_button = bar.source_box, bar.play_button
        sb = self.statusBar()
        self.engine_label = WordElidedLabel()
        self.metrics_label = QLabel()
        self.play_status = QLabel()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.message_label = WordElidedLabel()
        self.message_label.setVisible(False)
        self._message_timer = QTimer(self)
        self._message_timer.setSingleShot(True)
        self._message_timer.timeout.connect(lambda: self.notify(""))
        sb.addPermanentWidget(self.engine_label, 2)
        sb.addPermanentWidget(self.metrics_label)
        sb.addPermanentWidget(self.message_label, 1)
        sb.addPermanentWidget(self.play_status)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.cancel_button)

    def _restore_threshold(self) -> None:
        """The threshold of the last session (kept for its model; another model sets its calibrated one)."""
        saved = self.settings.value(THRESHOLD_KEY)
        try:
            value = float(saved) if saved is not None else None
        except (TypeError, ValueError):
            value = None
        if value is not None:
            self.notes_controls.threshold.setValue(value)
            self._notes_model = (self.spec.model, self.spec.templates)
        self.notes_controls.threshold.valueChanged.connect(lambda v: self.settings.setValue(THRESHOLD_KEY, float(v)))

    def _build_shortcuts(self) -> None:
        run = self.menuBar().addMenu("&Run")
        self.run_action = self._action(run, "&Run", "Ctrl+R", self.run)
        self.cancel_action = self._action(run, "&Cancel", "Esc", self.cancel)
        self._action(run, "Run &both (compare)", "Ctrl+Shift+R", self.compare)
        play = self.menuBar().addMenu("&Play")
        play.setToolTipsVisible(True)  # a disabled Play says why
        self.play_action = self._action(play, "Play / &pause", None, self.toggle_play)
        self._shortcuts = []
        for key, slot in (("Space", self.toggle_play), ("Left", lambda: self.vm.step_layer(-1)),
                          ("Right", lambda: self.vm.step_layer(1))):
            sc = QShortcut(QKeySequence(key), self)
            sc.activated.connect(slot)
            self._shortcuts.append(sc)
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", None, self.show_shortcuts)
        self._action(help_menu, "&About unmf", None, self.show_about)

    def _action(self, menu, text, shortcut, slot) -> QAction:
        act = QAction(text, self)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
        act.triggered.connect(lambda _checked=False: slot())
        menu.addAction(act)
        self.addAction(act)
        return act

    def _connect(self) -> None:
        c, vm = self.controller, self.vm
        c.engineReady.connect(self._engine_ready)
        c.loaded.connect(self._loaded)
        c.methodStarted.connect(self._method_started)
        c.step.connect(self._step)
        c.result.connect(vm.set_result)
        c.methodFinished.connect(vm.finish_method)
        c.finished.connect(self._finished)
        c.failed.connect(self._failed)
        c.cancelled.connect(self._cancelled)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        self.play_button.clicked.connect(self.toggle_play)
        self.compare_view.runRequested.connect(self.compare)
        self.method_box.currentIndexChanged.connect(lambda _i: self._method_changed())
        self.device_box.currentTextChanged.connect(self._device_changed)
        vm.runUpdated.connect(self._show_progress)
        vm.metricsChanged.connect(self._metrics)
        vm.positionChanged.connect(self._position)
        vm.notesChanged.connect(self._notes_changed)
        self.player.positionChanged.connect(vm.set_position)
        self.player.stopped.connect(lambda: self.play_button.setText("Play"))

    # ---- running ----------------------------------------------------------------
    @property
    def method(self) -> str:
        """The primary method chosen in the toolbar."""
        return self.method_box.currentData()

    def options(self, method: str) -> Options:
        """Options for a run of ``method`` from the toolbar's settings."""
        box = self.layers_box  # at its maximum: all the model's layers (the model may change before it runs)
        layers = None if box.value() == box.maximum() else box.value()
        return Options(method=method, iterations=self.iterations_box.value(), layers=layers,
                       notes=self.vm.note_params, track_divergence=self.divergence_shown(),
                       note_gate=self.files.note_gate, adapt_to_piece=self.files.adapt_to_piece)

    def divergence_shown(self) -> bool:
        """Whether a divergence view is on screen: only then does a run compute its per-step divergence
        (a view shown later draws the kept layers' divergence, :meth:`AppState.fill_divergences`)."""
        return self.divergence.isVisible() or self.compare_view.divergence.isVisible()

    def open_file(self, path: str | Path) -> None:
        """Open a recording and transcribe it (both methods when the compare tab is shown)."""
        path = str(path)
        self._pending_path = path
        methods = self._methods_for_new_run()
        self.notify(f"Opening {Path(path).name}…", 3000)
        self._start(RunRequest(path, [self.options(m) for m in methods], self.spec, self.engine), methods)

    def open_demo(self) -> None:
        """Open the bundled demo recording."""
        self.open_file(DEMO_AUDIO)

    def run(self, methods: list[str] | None = None) -> None:
        """Run again on the open file (cancels a run in progress)."""
        if self.vm.loaded is None:
            if self._pending_path:
                self.open_file(self._pending_path)
            return
        methods = methods or self._methods_for_new_run()
        self._start(RunRequest(self.vm.loaded, [self.options(m) for m in methods], self.spec, self.engine), methods)

    def compare(self) -> None:
        """Run unrolled MU and MU from the same initialisation and show the compare tab."""
        self.vm.set_comparison(None)
        self.tabs.setCurrentWidget(self.compare_view)
        self.run(["unrolled", "mu"])

    def cancel(self) -> None:
        """Cancel the run in progress (the worker stops at the next step)."""
        if self.controller.running:
            self.notify("Cancelling…")
            self.controller.cancel()

    def _methods_for_new_run(self) -> list[str]:
        if self.tabs.currentWidget() is self.compare_view:
            return ["unrolled", "mu"]
        return [self.method]

    def _start(self, request: RunRequest, methods: list[str]) -> None:
        if not self.editor.allow_run(methods, isinstance(request.source, str)):  # it would drop the note edits
            self.notify("Run not started: your note edits are kept", 4000)
            return
        if isinstance(request.source, str):  # a new file replaces every result
            self._previous = {}
        else:  # keep the complete results this run replaces (and those a still-running re-run replaced)
            previous = dict(self._previous) if self.controller.running else {}
            for key in methods:
                run = self.vm.runs.get(key)
                if run is not None and run.finished:
                    previous[key] = run
            self._previous = {k: v for k, v in previous.items() if k in methods}
        self._methods = methods
        self._done_steps = 0
        if isinstance(request.source, str):
            self.vm.runStarted.emit()
        else:
            self.vm.clear_runs(methods)
        self.controller.start(request)
        self.progress.setRange(0, 0)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.layer_bar.set_running(True)
        self.compare_view.set_running(True)

    def _engine_ready(self, engine) -> None:
        self.engine = engine
        self._good_spec = self.spec
        remember_choice(self.settings, self.spec.model, self.spec.templates)
        n = engine.model.cfg.n_layers
        self.layers_box.setMaximum(n)
        self.layers_box.setValue(n)
        if self._notes_model != (self.spec.model, self.spec.templates):  # a model's calibrated note settings
            self._notes_model = (self.spec.model, self.spec.templates)
            calibrated = engine.calibrated_notes
            params = calibrated or NoteParams()
            self.vm.set_note_params(params)  # all of them, as `unmf transcribe` uses them
            self.notes_controls.threshold.setValue(params.threshold)
            self.notes_controls.min_duration.setValue(params.min_duration)
            if calibrated is not None:
                self.notify(f"Onset threshold {calibrated.threshold:g}: calibrated for this model", 6000)
        self._update_engine_label()

    def _loaded(self, loaded) -> None:
        self.player.pause()
        self.vm.set_loaded(loaded)
        self.vm.clear_runs(self._methods)
        self.files.opened(loaded.audio.path)
        self.setWindowTitle(f"unmf — {Path(loaded.audio.path).name}")

    def _method_started(self, method: str, total: int) -> None:
        self.vm.begin_method(method, total)
        self.progress.setRange(0, total * len(self._methods))

    def _step(self, method: str, snap) -> None:
        self._done_steps += 1
        self.vm.add_step(method, snap)

    def _show_progress(self, _key: str = "") -> None:
        """Move the progress bar with the views (once per redraw), painted with them.

        ``QProgressBar.setValue`` repaints at once, which paints every view with a pending update there
        and then (mid-way through a redraw); with its updates off it only schedules a paint.
        """
        bar = self.progress
        bar.setUpdatesEnabled(False)
        bar.setValue(self._done_steps)
        bar.setUpdatesEnabled(True)

    def _finished(self) -> None:
        self._run_ended()
        self._previous = {}
        if set(self.vm.comparison.keys) <= set(self._methods):  # a compare run: show both at their last step
            self.vm.set_compare_step(self.vm.compare_max())
        run = self.vm.run
        last = run.results[-1] if run is not None and run.results else None
        learned = last.params.get("adapted_keys") if last is not None else None
        self.notify(f"Finished · learned from this recording: {', '.join(learned)}" if learned
                    else "Transcription finished", 8000 if learned else 4000)  # the calibration adapted to it
        self.run_finished.emit()

    def _failed(self, message: str) -> None:
        self._run_ended()
        self._restore_previous()
        if self.engine is None and self.spec != self._good_spec:  # the chosen model / templates did not load
            self._engine_failed(message)
            return
        pending = self._pending_path
        if pending and (self.vm.path is None or Path(pending) != Path(self.vm.path)):
            self._pending_path = self.vm.path
            self.show_error(f"Could not open {Path(pending).name}:\n{message}")
        else:
            self.show_error(message)
        self.run_failed.emit(message)

    def _engine_failed(self, message: str) -> None:
        """Go back to the last model / templates that worked, say so, and run with them again."""
        bad, self.spec = self.spec, self._good_spec
        remember_choice(self.settings, self.spec.model, self.spec.templates)
        self.device_box.blockSignals(True)
        self.device_box.setCurrentText(self.spec.device)
        self.device_box.blockSignals(False)
        self._update_engine_label()
        changed = [f"{what} {Path(b).name}" for what, b, g in (("model", bad.model, self.spec.model),
                                                                ("templates", bad.templates, self.spec.templates))
                   if b != g and b]
        back = (f"model {Path(self.spec.model).name if self.spec.model else 'default'}, "
                f"templates {Path(self.spec.templates).name if self.spec.templates else 'default'}")
        self.show_error(f"Could not use {' and '.join(changed) or 'device ' + bad.device}:\n{message}\n\n"
                        f"Back to the previous choice ({back}).")
        self.run_failed.emit(message)
        if self.vm.loaded is not None:
            self.run()
        elif self._pending_path:
            self.open_file(self._pending_path)

    def _cancelled(self) -> None:
        self._run_ended()
        restored = self._restore_previous()
        self.notify("Run cancelled: the previous result is shown" if restored else "Run cancelled", 4000)
        self.run_cancelled.emit()

    def _restore_previous(self) -> bool:
        """Put back the complete results an unfinished re-run replaced; True when there were any."""
        vm = self.vm
        restore = {k: run for k, run in self._previous.items() if k not in vm.runs or not vm.runs[k].finished}
        self._previous = {}
        if not restore:
            return False
        vm.clear_runs(list(restore))  # drops the partial runs and their cached notes
        for key, run in restore.items():
            vm.runs[key] = run
            vm.finish_method(key, run.wall_time)
        return True

    def _run_ended(self) -> None:
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self.notify("")
        self.layer_bar.set_running(False)
        self.compare_view.set_running(False)

    def _method_changed(self) -> None:
        self.vm.set_method(self.method)
        self.layer_bar.refresh()
        self.divergence.refresh()
        if self.vm.loaded is not None and self.method not in self.vm.runs:
            self.run()

    def _device_changed(self, name: str) -> None:
        self.set_engine_spec(EngineSpec(self.spec.templates, self.spec.model, name))

    def set_engine_spec(self, spec: EngineSpec, run: bool = True) -> None:
        """Use other templates / model / device; the open file is transcribed again with them (when ``run``)."""
        self.spec = spec
        remember_choice(self.settings, spec.model, spec.templates)
        self.engine = None
        self._update_engine_label()
        if run and self.vm.loaded is not None:
            self.run()

    def _update_engine_label(self) -> None:
        if self.engine is None:
            s = self.spec
            self.engine_label.set_full_text(f"device: {s.device} · model: {s.model or 'default'} · templates: "
                                            f"{s.templates or 'default'} (loaded with the next run)")
            return
        d = self.engine.describe()  # the longest part last: the label drops whole words from its end
        self.engine_label.set_full_text(f"device: {d['device']} · model: {Path(d['model']).name} ({d['layers']} "
                                        f"layers) · templates: {d['templates']}")

    # ---- notes, reference, metrics ---------------------------------------------------
    def load_reference(self, path: str | Path) -> bool:
        """Load a reference MIDI; a bad file shows an error. Returns success."""
        try:
            notes = read_midi(path)
        except UnmfError as exc:
            self.show_error(str(exc))
            return False
        self.vm.set_reference(notes, str(path))
        return True

    def _notes_changed(self) -> None:
        if self.player.playing and self.source_box.currentText() != "recording":
            self.player.pause()

    def _metrics(self, scores) -> None:
        self.metrics_label.setText(describe_scores(scores))

    # ---- playback --------------------------------------------------------------------------
    def _playback_unavailable(self) -> None:
        """Disable Play, with the reason in its tooltip (once in the status bar, in full in its tooltip)."""
        reason = self.player.reason or "playback unavailable"
        for widget in (self.play_button, self.play_action):
            widget.setEnabled(False)
            widget.setToolTip(reason)
        self.play_status.setText("playback unavailable")
        self.play_status.setToolTip(reason)

    def toggle_play(self) -> None:
        """Play or pause the chosen source from the playhead."""
        if self.player.playing:
            self.player.pause()
            return
        if not self.player.available:  # Play is disabled and the status bar says why
            return
        if self.vm.loaded is None:
            return
        self.player.set_signal(self.playback_signal(self.source_box.currentText()), self.vm.loaded.audio.sr)
        self.player.seek(self.vm.position)
        if self.player.play():
            self.play_button.setText("Pause")
        else:
            self.play_status.setText("playback failed")
            self.play_status.setToolTip(self.player.reason)

    def playback_signal(self, source: str):
        """Samples of ``"recording"``, ``"transcription"`` (synthesised notes) or ``"mix"``."""
        audio = self.vm.loaded.audio
        if source == "recording":
            return audio.samples
        synth = synthesize(self.vm.notes, audio.sr, audio.duration)
        return synth if source == "transcription" else mix(audio.samples, synth)

    def _position(self, seconds: float) -> None:
        if abs(self.player.position - seconds) > 0.05:
            self.player.seek(seconds)

    # ---- window size, help -------------------------------------------------------------------
    def fit_to_screen(self) -> None:
        """Take the preferred size, or the screen's available geometry (less the frame) when that is smaller."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            self.resize(*PREFERRED_SIZE)
            return
        avail = screen.availableGeometry()
        frame_w, frame_h = 16, 48  # room for the window manager's frame and title bar before it is known
        w = min(PREFERRED_SIZE[0], avail.width() - frame_w)
        h = min(PREFERRED_SIZE[1], avail.height() - frame_h)
        self.resize(w, h)
        self.move(avail.x() + (avail.width() - w - frame_w) // 2, avail.y() + (avail.height() - h - frame_h) // 2)

    def shortcuts(self) -> list[tuple[str, str]]:
        """(key, what it does) for every keyboard shortcut of the window."""
        rows = [(a.shortcut().toString(QKeySequence.NativeText), a.text().replace("&", "").rstrip("…"))
                for a in self.actions() if not a.shortcut().isEmpty()]
        rows += [("Space", "Play / pause"), ("Left", "Previous layer / iteration"),
                 ("Right", "Next layer / iteration")]
        return rows

    def show_shortcuts(self) -> None:
        """Help ▸ Keyboard shortcuts."""
        rows = "".join(f"<tr><td><b>{key}</b>&nbsp;&nbsp;</td><td>{what}</td></tr>" for key, what in self.shortcuts())
        self._show_help("Keyboard shortcuts", f"<table>{rows}</table><p>Click a time view to move the playhead; "
                                              "drop a recording or a MIDI reference on the window.</p>"
                                              f"<p>{EDIT_HELP}</p>")

    def show_about(self) -> None:
        """Help ▸ About: version, model, templates, licence."""
        try:
            meta = metadata("unmf")
            version, licence = meta["Version"], meta.get("License-Expression") or meta.get("License") or "MIT"
        except PackageNotFoundError:
            version, licence = "(not installed)", "MIT"
        if self.engine is not None:
            d = self.engine.describe()
            model, templates = f"{Path(d['model']).name} ({d['layers']} layers)", d["templates"]
        else:
            model = self.spec.model or "the bundled model (loads with the first run)"
            templates = self.spec.templates or "the model's own (loads with the first run)"
        import torch

        self._show_help("About unmf", f"<h3>unmf {version}</h3><p>Piano transcription by NMF and unrolled NMF, "
                                      f"shown layer by layer.</p><p><b>Model:</b> {model}<br><b>Templates:</b> "
                                      f"{templates}</p><p><b>Licence:</b> {licence}</p><p>PySide6 {pyside_version}"
                                      f" · torch {torch.__version__}</p>")

    def _show_help(self, title: str, html: str) -> None:
        box = QMessageBox(QMessageBox.Information, title, html, QMessageBox.Ok, self)
        box.setTextFormat(Qt.RichText)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.open()

    # ---- messages, errors, drag and drop, closing ----------------------------------------
    def notify(self, text: str, ms: int = 0) -> None:
        """Show a short message in the status bar (cleared after ``ms`` when given; "" clears it)."""
        self.message_label.set_full_text(text)
        self.message_label.setVisible(bool(text))
        if ms and text:
            self._message_timer.start(ms)
        else:
            self._message_timer.stop()

    def show_error(self, message: str) -> None:
        """Show a non-blocking error dialog (and emit ``error_shown``)."""
        box = QMessageBox(QMessageBox.Warning, "unmf", message, QMessageBox.Ok, self)
        box.setAttribute(Qt.WA_DeleteOnClose)
        self._error_box = box
        box.open()
        self.notify(message.splitlines()[0], 6000)
        self.error_shown.emit(message)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 (Qt override)
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if not paths:
            return
        event.acceptProposedAction()
        self.open_dropped(paths[0])

    def open_dropped(self, path: str) -> None:
        """A dropped MIDI file becomes the reference; anything else is opened as a recording."""
        if path.lower().endswith(MIDI_SUFFIXES):
            self.load_reference(path)
        else:
            self.open_file(path)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if not self.editor.allow_close():  # unsaved note edits: the user chose to keep the window
            event.ignore()
            return
        self.player.pause()
        self.layer_bar.timer.stop()
        self.controller.shutdown()
        self.settings.sync()
        super().closeEvent(event)
