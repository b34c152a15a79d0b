"""Two runs side by side: H and notes of each at step k, linked axes, both divergences, times, scores.

By default unrolled MU vs plain MU; the view-model's :class:`~unmf_gui.viewmodel.Comparison`
may name other runs (e.g. the base vs the fine-tuned model, both unrolled).
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from unmf_gui.viewmodel import METHODS_COMPARISON, ViewModel
from unmf_gui.views.activations import H_LEVELS
from unmf_gui.views.common import DeferWhileHidden, TimeImage, empty_hint
from unmf_gui.views.divergence import DivergenceView

METHODS = METHODS_COMPARISON.keys


def describe_scores(scores: dict | None) -> str:
    """One line of note-level scores (or an empty string without a reference)."""
    if not scores:
        return ""
    return (f"onset P/R/F {scores['onset_precision']:.2f} / {scores['onset_recall']:.2f} / {scores['onset_f']:.2f}"
            f"   with offsets F {scores['offset_f']:.2f}")


class CompareView(DeferWhileHidden, QWidget):
    """Two columns (the compared runs: unrolled MU and MU by default) sharing time and key axes,
    one step slider, one divergence plot.

    ``rolls`` and ``labels`` are keyed by the run keys of the current comparison.
    """

    runRequested = Signal()

    def __init__(self, vm: ViewModel, parent=None):
        super().__init__(parent)
        self.vm = vm
        self.running = False
        grid = QGridLayout()
        self._columns: list[tuple[TimeImage, QLabel]] = []
        for col in range(2):
            roll = TimeImage("", rows_per_key=1, levels=H_LEVELS)
            roll.seekRequested.connect(vm.set_position)
            label = QLabel("not run yet")
            label.setWordWrap(True)
            grid.addWidget(roll, 0, col)
            grid.addWidget(label, 1, col)
            self._columns.append((roll, label))
        (a, _), (b, _) = self._columns
        b.setXLink(a)
        b.setYLink(a)
        self.rolls: dict[str, TimeImage] = {}
        self.labels: dict[str, QLabel] = {}
        self.divergence = DivergenceView(vm, compare=True, title="Divergence of both against the step")
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setObjectName("compare-slider")
        self.slider.valueChanged.connect(vm.set_compare_step)
        self.step_label = QLabel("step 0")
        self.run_button = QPushButton()
        self.run_button.setToolTip("Run unrolled MU and plain MU from the same initialisation")
        self.run_button.clicked.connect(self.runRequested)
        row = QHBoxLayout()
        row.addWidget(self.run_button)
        row.addWidget(QLabel("step k:"))
        row.addWidget(self.slider, 1)
        row.addWidget(self.step_label)
        lay = QVBoxLayout(self)
        lay.addLayout(row)
        lay.addLayout(grid, 5)
        lay.addWidget(self.divergence, 2)
        self._apply_comparison()
        vm.comparisonChanged.connect(self._apply_comparison)
        vm.compareChanged.connect(self.refresh)
        vm.fileChanged.connect(self.refresh)
        vm.runStarted.connect(self.refresh)
        vm.referenceChanged.connect(self._reference)
        vm.positionChanged.connect(self._position)

    def _apply_comparison(self) -> None:
        """Name the columns after the runs the view-model compares now."""
        comparison = self.vm.comparison
        self.rolls, self.labels = {}, {}
        for column, (roll, label) in zip(comparison.columns, self._columns):
            roll.setTitle(column.label, size="10pt")
            label.setObjectName(f"compare-label-{column.key}")
            self.rolls[column.key], self.labels[column.key] = roll, label
        default = comparison == METHODS_COMPARISON
        self.run_button.setText("Run both on this file" if default else "Run MU / unrolled MU on this file")
        self.refresh()

    def set_running(self, running: bool) -> None:
        """A run is in progress (columns not started yet say they wait instead of "not run yet")."""
        self.running = running
        self.refresh()

    def refresh(self) -> None:
        """Redraw both columns at the compare step (once shown, when hidden)."""
        if self.defer(self.refresh):
            return
        vm = self.vm
        self.slider.blockSignals(True)
        self.slider.setRange(0, vm.compare_max())
        self.slider.setValue(vm.compare_step)
        self.slider.blockSignals(False)
        self.step_label.setText(f"step {vm.compare_step} / {vm.compare_max()}")
        for column in vm.comparison.columns:
            key = column.key
            step, H_db, notes = vm.compare_snapshot(key)
            roll = self.rolls[key]
            roll.hint_text = empty_hint(vm)
            roll.set_image(H_db, vm.frame_rate or 1.0)
            roll.set_notes(notes)
            run = vm.runs.get(key)
            if run is None:
                self.labels[key].setText(f"{column.label}: " + ("waiting to run…" if self.running else "not run yet"))
                continue
            what = "layer" if column.method == "unrolled" else "iteration"
            done = run.div_steps[-1] if run.div_steps else 0
            time = f"wall time {run.wall_time:.2f} s" if run.finished else f"running… {done}/{run.total}"
            div = run.divergences[step] if step < len(run.divergences) else float("nan")
            scores = describe_scores(vm.scores_for(notes))
            self.labels[key].setText(f"{column.label}: {what} {step} of {run.total} · {time} · D = {div:.4g} · "
                                     f"{len(notes)} notes" + (f"\n{scores}" if scores else ""))

    def _reference(self) -> None:
        for roll in self.rolls.values():
            roll.set_reference(self.vm.reference)
        self.refresh()

    def _position(self, seconds: float) -> None:
        for roll in self.rolls.values():
            roll.set_position(seconds)
