"""D(M‖WH) against the step (layer or iteration), one curve per run, with the selected step marked."""
from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QTimer, Signal

from unmf_core.transcription.engine import METHODS
from unmf_gui.viewmodel import METHOD_LABELS, ViewModel  # noqa: F401 (METHOD_LABELS re-exported)
from unmf_gui.views.common import DeferWhileHidden, EmptyHint, empty_hint

#: Time between two redraws of the curves while a run streams in (ms): a log-scale plot with markers, grid and
#: legend costs 5-15 ms a paint (of the GUI thread, which shares the CPU with the run's worker), so a run that
#: lasts a second or less draws its curve at its first step and at its last (issue 13: open-to-screen).
LIVE_REDRAW_MS = 1000
#: Width of the D axis (px): fixed, so new tick labels never lay the plot out again while a run streams in.
AXIS_WIDTH = 48
METHOD_PENS = {"unrolled": pg.mkPen((255, 170, 40), width=2), "mu": pg.mkPen((90, 170, 255), width=2)}


class DivergenceView(EmptyHint, DeferWhileHidden, pg.PlotWidget):
    """Divergence curves of the methods' runs (or of the compared runs); clicking picks a step.

    Parameters
    ----------
    vm : ViewModel
        Source of the runs.
    compare : bool
        Show the runs of ``vm.comparison`` and mark and pick the compare view's
        step instead of the main layer.
    """

    stepClicked = Signal(int)

    def __init__(self, vm: ViewModel, compare: bool = False, title: str = "Divergence D(M‖WH) per step", parent=None):
        super().__init__(parent=parent)
        self.vm = vm
        self.compare = compare
        self.setTitle(title, size="10pt")
        self.setLabel("bottom", "layer / iteration")
        self.getAxis("bottom").enableAutoSIPrefix(False)
        self.setLabel("left", "D")
        self.setLogMode(y=True)
        self.getAxis("left").setWidth(AXIS_WIDTH)
        self.showGrid(x=True, y=True, alpha=0.25)
        # top right in the main view (the curve falls); bottom right in the compare view (MU stays high)
        self.addLegend(offset=(-10, -10) if compare else (-10, 10))
        self.setMenuEnabled(False)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._names: dict[str, str] = {}
        self.marker = pg.InfiniteLine(0, angle=90, pen=pg.mkPen((255, 255, 255, 160), width=1))
        self.addItem(self.marker)
        self.hint_hides = (self.marker,)
        self._x_total: int | None = None
        self.scene().sigMouseClicked.connect(self._clicked)
        vm.runStarted.connect(self.refresh)
        vm.fileChanged.connect(self.refresh)
        vm.runUpdated.connect(self._run_updated)
        vm.runFinished.connect(self.refresh)
        # while a run streams in, the curves are redrawn every LIVE_REDRAW_MS and at its last step
        self._live = QTimer(self)
        self._live.setSingleShot(True)
        self._live.setInterval(LIVE_REDRAW_MS)
        self._live.timeout.connect(self.refresh)
        if compare:
            vm.comparisonChanged.connect(self.refresh)
            vm.compareChanged.connect(lambda: self.set_marker(vm.compare_step))
            self.stepClicked.connect(vm.set_compare_step)
        else:
            vm.layerChanged.connect(self._layer)
            self.stepClicked.connect(self._pick_layer)
        self.init_hint()
        self.update_step_label()

    def _layer(self, _pos: int = 0) -> None:
        if not self._live.isActive():  # else the coming redraw moves the marker (one paint, not two)
            self.set_marker(self.vm.current_step())

    def _run_updated(self, key: str = "") -> None:
        run = self.vm.runs.get(key)
        if run is not None and (len(run.div_steps) == 1 or run.total and run.div_steps
                                and run.div_steps[-1] >= run.total):
            self.refresh()  # a run's first step (its x-axis: the whole run) and its last (the whole curve) now
        elif not self._live.isActive():
            self._live.start()

    def update_step_label(self) -> None:
        """Name the x-axis after the steps shown: layers (unrolled MU), iterations (MU), or both (compare)."""
        if self.compare:
            text = "step k (layer / iteration)"
        else:
            text = "layer" if self.vm.method == "unrolled" else "iteration"
        if text != getattr(self, "_step_label", None):  # setting a label lays the axis out again
            self._step_label = text
            self.getAxis("bottom").setLabel(text)  # the axis's own: PlotItem.setLabel would also show it

    def shown_keys(self) -> tuple[str, ...]:
        """Keys of the runs this plot shows (when stored)."""
        return self.vm.comparison.keys if self.compare else METHODS

    def refresh(self, *_args) -> None:
        """Redraw the curves, the x-axis range (the whole run) and its name; once shown, when hidden."""
        self._live.stop()
        if self.defer(self.refresh):
            return
        if not self.compare:
            self.set_marker(self.vm.current_step())
        runs = self.vm.runs
        names = {k: self.vm.label_of(k) for k in self.shown_keys() if k in runs}
        self.vm.fill_divergences(list(names))  # runs that ran while no divergence view was shown
        for key in [k for k in self.curves if self._names.get(k) != names.get(k)]:
            self._remove(key)
        for key in names:
            self.set_curve(key, runs[key].div_steps, runs[key].divergences)
        self.update_step_label()
        # the x-axis spans the whole run (all its steps, known when it starts), so a live run grows into it;
        # the main view spans the primary method's run, the compare view the longer of its two
        spanned = [self.vm.method] if not self.compare and self.vm.method in names else list(names)
        total = max((max(runs[k].total, runs[k].div_steps[-1] if runs[k].div_steps else 0) for k in spanned),
                    default=0)
        if not any(runs[k].has_divergence() for k in names):
            self._x_total = None
            self.set_empty(empty_hint(self.vm), later=True)  # curves of a run that starts come soon
            return
        self.set_empty(None)
        if total != self._x_total:
            self._x_total = total
            self.setXRange(0, max(total, 1), padding=0.02)

    def _remove(self, key: str) -> None:
        curve = self.curves.pop(key)
        self._names.pop(key, None)
        self.removeItem(curve)
        legend = self.getPlotItem().legend
        if legend is not None:
            legend.removeItem(curve)

    def _pick_layer(self, step: int) -> None:
        run = self.vm.run
        if run is not None and run.steps:
            self.vm.select_layer(run.position_of(step), user=True)

    def set_curve(self, key: str, steps, values) -> None:
        """Set the curve of run ``key`` (created on first use, named after the run)."""
        if key not in self.curves:
            col = self.vm.comparison.column(key)
            pen = pg.mkPen(col.color, width=2) if col and col.color else METHOD_PENS.get(key, pg.mkPen("w"))
            self._names[key] = self.vm.label_of(key)
            self.curves[key] = self.plot([], [], pen=pen, name=self._names[key], symbolSize=5,
                                         symbol="o" if self.vm.method_of(key) == "unrolled" else None,
                                         symbolBrush=pen.color())
        pairs = [(s, max(v, 1e-12)) for s, v in zip(steps, values) if math.isfinite(v)]  # steps not computed: none
        self.curves[key].setData([s for s, _ in pairs], [v for _, v in pairs])

    def set_marker(self, step: int) -> None:
        """Mark the selected step."""
        self.marker.setValue(step)

    def _clicked(self, event) -> None:
        vb = self.getPlotItem().vb
        if vb.sceneBoundingRect().contains(event.scenePos()):
            self.stepClicked.emit(max(0, int(round(vb.mapSceneToView(event.scenePos()).x()))))
