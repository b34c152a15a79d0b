"""Control widgets: the run toolbar, the layer bar (slider, ◀ ▶, play-through) and the note settings."""
from __future__ import annotations

import torch
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QSlider, QSpinBox, QToolBar,
                               QToolButton, QWidget)

from unmf_core.transcription.notes import NoteParams
from unmf_gui.viewmodel import ViewModel

#: Time each layer stays on screen during a play-through (ms).
PLAY_THROUGH_MS = 350
#: The longest usual text of the layer bar's label (its width; a longer one widens it).
LABEL_TEMPLATE = "iteration 1000 / 1000   D = 8.888e+08"


class LayerBar(QWidget):
    """Slider over the stored layers of the primary run, ◀ ▶ buttons and an animated play-through."""

    def __init__(self, vm: ViewModel, parent=None):
        super().__init__(parent)
        self.vm = vm
        self.running = False
        self.prev_button = QToolButton(text="◀")
        self.next_button = QToolButton(text="▶")
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setObjectName("layer-slider")
        self.slider.setFocusPolicy(Qt.NoFocus)
        self.label = QLabel("no run")
        # a fixed size (wide enough for the usual texts, widened for a longer one): a new step's text then never
        # lays the window out again, which repaints all of it
        self.label.setFixedSize(max(190, self.label.fontMetrics().horizontalAdvance(LABEL_TEMPLATE) + 8),
                                self.label.sizeHint().height())
        self.play_button = QPushButton()
        self.play_button.setCheckable(True)
        self.title = QLabel()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 0)
        lay.addWidget(self.title)
        lay.addWidget(self.prev_button)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.next_button)
        lay.addWidget(self.label)
        lay.addWidget(self.play_button)
        self.timer = QTimer(self)
        self.timer.setInterval(PLAY_THROUGH_MS)
        self.timer.timeout.connect(self._advance)
        self.prev_button.clicked.connect(lambda: vm.step_layer(-1))
        self.next_button.clicked.connect(lambda: vm.step_layer(1))
        self.slider.valueChanged.connect(lambda v: vm.select_layer(v, user=True))
        self.play_button.toggled.connect(self._toggle_play)
        vm.layerChanged.connect(self.refresh)
        vm.runUpdated.connect(self.refresh)
        vm.runStarted.connect(self.refresh)
        vm.fileChanged.connect(self.refresh)
        self.refresh()

    def set_running(self, running: bool) -> None:
        """A run is in progress (the label says so until its first step arrives)."""
        self.running = running
        self.refresh()

    def refresh(self, *_args) -> None:
        """Redraw the slider and the labels (named after the primary method's steps)."""
        vm = self.vm
        what = "layer" if vm.method == "unrolled" else "iteration"
        self.title.setText(f"{what.capitalize()}:")
        self.prev_button.setToolTip(f"Previous {what} (Left)")
        self.next_button.setToolTip(f"Next {what} (Right)")
        self.play_button.setText(f"Play through {what}s")
        n = vm.n_layers()
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, n - 1))
        self.slider.setValue(vm.layer)
        self.slider.blockSignals(False)
        run = vm.run
        if run is None or not run.steps:
            self.label.setText("running…" if self.running else "no run")
            return
        step = vm.current_step()
        div = run.divergences[step] if step < len(run.divergences) else float("nan")
        self.label.setText(f"{what} {step} / {run.total}   D = {div:.4g}")
        if self.label.sizeHint().width() > self.label.width():  # a run of many iterations
            self.label.setFixedWidth(self.label.sizeHint().width())

    def _toggle_play(self, on: bool) -> None:
        if on:
            if self.vm.layer >= self.vm.n_layers() - 1:
                self.vm.select_layer(0, user=True)
            self.timer.start()
        else:
            self.timer.stop()

    def _advance(self) -> None:
        if self.vm.layer >= self.vm.n_layers() - 1:
            self.play_button.setChecked(False)
            return
        self.vm.step_layer(1)


class NoteControls(QWidget):
    """Threshold and minimum duration: changing them re-extracts notes from the stored H at once."""

    changed = Signal()

    def __init__(self, vm: ViewModel, parent=None):
        super().__init__(parent)
        self.vm = vm
        d = NoteParams()
        self.threshold = QDoubleSpinBox(decimals=3, minimum=0.001, maximum=1.0, singleStep=0.01, value=d.threshold)
        self.threshold.setObjectName("threshold")
        self.threshold.setToolTip("Onset threshold relative to the largest total activation of a frame")
        self.threshold_slider = QSlider(Qt.Horizontal)
        self.threshold_slider.setRange(1, 500)
        self.threshold_slider.setValue(int(round(d.threshold * 1000)))
        self.threshold_slider.setMaximumWidth(140)
        self.min_duration = QDoubleSpinBox(decimals=3, minimum=0.0, maximum=2.0, singleStep=0.01, value=d.min_duration,
                                           suffix=" s")
        self.min_duration.setObjectName("min-duration")
        self.notes_label = QLabel("")
        self.notes_label.setMinimumWidth(80)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel("Threshold"))
        lay.addWidget(self.threshold_slider)
        lay.addWidget(self.threshold)
        lay.addWidget(QLabel("Min duration"))
        lay.addWidget(self.min_duration)
        lay.addWidget(self.notes_label)
        self.threshold_slider.valueChanged.connect(lambda v: self.threshold.setValue(v / 1000))
        self.threshold.valueChanged.connect(self._threshold)
        self.min_duration.valueChanged.connect(lambda v: vm.set_note_params(min_duration=float(v)))
        vm.notesChanged.connect(lambda: self.notes_label.setText(f"{len(vm.notes)} notes"))

    def _threshold(self, value: float) -> None:
        self.threshold_slider.blockSignals(True)
        self.threshold_slider.setValue(int(round(value * 1000)))
        self.threshold_slider.blockSignals(False)
        self.vm.set_note_params(threshold=float(value))


class RunToolbar(QToolBar):
    """Method, device, layers, MU iterations, Run; note settings; playback source and Play."""

    def __init__(self, vm: ViewModel, method: str, device: str, iterations: int, parent=None):
        super().__init__("Run", parent)
        self.setObjectName("run-toolbar")
        self.method_box = QComboBox()
        self.method_box.addItem("unrolled MU", "unrolled")
        self.method_box.addItem("plain MU", "mu")
        self.method_box.setCurrentIndex(0 if method == "unrolled" else 1)
        self.device_box = QComboBox()
        for name in ("auto", "cpu", "cuda"):
            self.device_box.addItem(name)
        if not torch.cuda.is_available():
            self.device_box.model().item(2).setEnabled(False)
        self.device_box.setCurrentText(device if device in ("auto", "cpu", "cuda") else "auto")
        # maximum: the model's layer count once its engine is ready; at the maximum a run uses all layers
        self.layers_box = QSpinBox(minimum=1, maximum=10, value=10, prefix="layers ")
        self.iterations_box = QSpinBox(minimum=1, maximum=100000, value=iterations, prefix="MU iterations ")
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Run the factorisation on the open file (Ctrl+R)")
        self.notes = NoteControls(vm)
        self.source_box = QComboBox()
        for label in ("recording", "transcription", "mix"):
            self.source_box.addItem(label)
        self.play_button = QPushButton("Play")
        self.play_button.setToolTip("Play / pause (Space); click a time view to seek")
        for w in (QLabel(" Method "), self.method_box, QLabel(" Device "), self.device_box, self.layers_box,
                  self.iterations_box, self.run_button):
            self.addWidget(w)
        self.addSeparator()
        self.addWidget(self.notes)
        self.addSeparator()
        for w in (QLabel(" Listen to "), self.source_box, self.play_button):
            self.addWidget(w)
