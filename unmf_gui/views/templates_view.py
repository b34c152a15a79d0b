"""The dictionary W (288 CQT bins × 88 keys) of the selected layer, each column in dB."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

from unmf_core.transcription.display import to_db
from unmf_gui.viewmodel import ViewModel
from unmf_gui.views.common import COLORMAP, RUN_HINT, DeferWhileHidden, EmptyHint, empty_hint, key_ticks

W_LEVELS = (-60.0, 0.0)


class TemplatesView(EmptyHint, DeferWhileHidden, pg.PlotWidget):
    """Templates W: keys on x (names), CQT bins on y (labelled with the note at each C)."""

    def __init__(self, vm: ViewModel, parent=None):
        super().__init__(parent=parent)
        self.vm = vm
        self.setTitle("Dictionary W (dB)", size="10pt")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get(COLORMAP))
        self.addItem(self.image)
        self.getAxis("bottom").setTicks(key_ticks(1.0, 0.5))
        self.getAxis("left").setTicks(key_ticks(3.0, 0.5))
        self.getAxis("left").setWidth(42)
        self.setLabel("bottom", "key")
        self.getAxis("bottom").enableAutoSIPrefix(False)
        self.setMenuEnabled(False)
        vm.layerChanged.connect(self._layer)
        vm.fileChanged.connect(self._file)
        self._shape = None
        self._shown: np.ndarray | None = None  # the W drawn (a layer with the same W is not drawn again)
        self.init_hint()

    def _file(self) -> None:
        self._shown = None
        self.image.clear()
        self.set_empty(RUN_HINT, later=True)

    def _layer(self, _pos: int = 0) -> None:
        if self.defer(self._layer):
            return
        W = self.vm.current_W()
        if W is None:
            self._shown = None
            self.image.clear()
            self.set_empty(empty_hint(self.vm))
            return
        if self._shown is not None and (W is self._shown or np.array_equal(W, self._shown)):
            return  # most layers keep W (it changes every few layers)
        self._shown = W
        self.set_empty(None)
        self.image.setImage(to_db(W, float(W.max())), autoLevels=False, levels=W_LEVELS)
        if self._shape != W.shape:
            self._shape = W.shape
            self.image.setRect(QRectF(0.0, 0.0, float(W.shape[1]), float(W.shape[0])))
            self.autoRange(padding=0)
