"""D(M‖WH) against the step (layer or iteration), one curve per method, with the selected step marked."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Signal

from unmf_gui.viewmodel import ViewModel
from unmf_gui.views.common import DeferWhileHidden

METHOD_PENS = {"unrolled": pg.mkPen((255, 170, 40), width=2), "mu": pg.mkPen((90, 170, 255), width=2)}
METHOD_LABELS = {"unrolled": "unrolled MU (layer)", "mu": "MU (iteration)"}


class DivergenceView(DeferWhileHidden, pg.PlotWidget):
    """Divergence curves of every stored run; clicking picks a step.

    Parameters
    ----------
    vm : ViewModel
        Source of the runs.
    compare : bool
        Mark and pick the compare view's step instead of the main layer.
    """

    stepClicked = Signal(int)

    def __init__(self, vm: ViewModel, compare: bool = False, title: str = "Divergence D(M‖WH) per step", parent=None):
        super().__init__(parent=parent)
        self.vm = vm
        self.compare = compare
        self.setTitle(title, size="10pt")
        self.setLabel("bottom", "layer / iteration")
        self.setLabel("left", "D")
        self.setLogMode(y=True)
        self.showGrid(x=True, y=True, alpha=0.25)
        # top right in the main view (the curve falls); bottom right in the compare view (MU stays high)
        self.addLegend(offset=(-10, -10) if compare else (-10, 10))
        self.setMenuEnabled(False)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.marker = pg.InfiniteLine(0, angle=90, pen=pg.mkPen((255, 255, 255, 160), width=1))
        self.addItem(self.marker)
        self.scene().sigMouseClicked.connect(self._clicked)
        vm.runStarted.connect(self._refresh)
        vm.fileChanged.connect(self._refresh)
        vm.runUpdated.connect(self._refresh)
        if compare:
            vm.compareChanged.connect(lambda: self.set_marker(vm.compare_step))
            self.stepClicked.connect(vm.set_compare_step)
        else:
            vm.layerChanged.connect(lambda _pos: self.set_marker(vm.current_step()))
            self.stepClicked.connect(self._pick_layer)

    def _refresh(self, *_args) -> None:
        if self.defer(self._refresh):
            return
        for method in [m for m in self.curves if m not in self.vm.runs]:
            self.removeItem(self.curves.pop(method))
            legend = self.getPlotItem().legend
            if legend is not None:
                legend.removeItem(METHOD_LABELS.get(method, method))
        for method, run in sorted(self.vm.runs.items(), reverse=True):
            self.set_curve(method, run.div_steps, run.divergences)

    def _pick_layer(self, step: int) -> None:
        run = self.vm.run
        if run is not None and run.steps:
            self.vm.select_layer(run.position_of(step), user=True)

    def set_curve(self, method: str, steps, values) -> None:
        """Set one method's curve (created on first use)."""
        if method not in self.curves:
            self.curves[method] = self.plot([], [], pen=METHOD_PENS.get(method), name=METHOD_LABELS.get(method, method),
                                            symbol="o" if method == "unrolled" else None, symbolSize=5,
                                            symbolBrush=METHOD_PENS.get(method, pg.mkPen("w")).color())
        self.curves[method].setData(list(steps), [max(v, 1e-12) for v in values])

    def clear_curves(self) -> None:
        """Remove every curve."""
        for c in self.curves.values():
            self.removeItem(c)
        self.curves.clear()
        legend = self.getPlotItem().legend
        if legend is not None:
            legend.clear()

    def set_marker(self, step: int) -> None:
        """Mark the selected step."""
        self.marker.setValue(step)

    def _clicked(self, event) -> None:
        vb = self.getPlotItem().vb
        if vb.sceneBoundingRect().contains(event.scenePos()):
            self.stepClicked.emit(max(0, int(round(vb.mapSceneToView(event.scenePos()).x()))))
