"""Shared pieces of the time views: key-name ticks, note outlines, playhead and click-to-seek."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel

from unmf_core.frontend.cqt import LOWEST_PITCH, N_KEYS, key_names
from unmf_core.transcription.display import DbImage

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)

COLORMAP = "inferno"
NOTE_PEN = pg.mkPen((80, 230, 255), width=1.5)
REF_PEN = pg.mkPen((120, 255, 120, 200), width=1.2, style=pg.QtCore.Qt.DashLine)
PLAYHEAD_PEN = pg.mkPen((255, 255, 255, 220), width=1.5)
#: Smallest size of a plot (small screens, e.g. 1366×768 at 2× scaling, must fit the whole window).
MIN_PLOT_SIZE = (60, 40)
#: Empty-state hints of the plots: before a recording is open, and before its run has delivered a step.
OPEN_HINT = "Open a recording (Ctrl+O)\nor drop one on the window"
#: A plot emptied for a run about to deliver keeps its axes this long (ms) before the hint replaces them: a
#: run's first step usually comes sooner, and the axes are then not laid out twice (hidden, shown again).
HINT_DELAY_MS = 400
RUN_HINT = "No result yet: it appears as the run goes\n(Run: Ctrl+R)"


def key_ticks(rows_per_key: float = 1.0, centre: float = 0.5) -> list[list[tuple[float, str]]]:
    """pyqtgraph ticks for a key axis: every C labelled as major ticks, every key as minor ticks."""
    names = key_names()
    major = [(k * rows_per_key + centre, names[k]) for k in range(N_KEYS)
             if names[k].startswith("C") and "#" not in names[k]]
    minor = [(k * rows_per_key + centre, names[k]) for k in range(N_KEYS)]
    return [major, minor]


def note_outline(notes, rows_per_key: float = 1.0, below: float = 0.0, height: float = 1.0):
    """x, y arrays drawing one rectangle per note (NaN-separated), in seconds and rows."""
    if not notes:
        return np.zeros(0), np.zeros(0)
    on = np.array([note.onset for note in notes], dtype=float)
    off = np.array([note.offset for note in notes], dtype=float)
    y0 = (np.array([note.pitch for note in notes], dtype=float) - LOWEST_PITCH) * rows_per_key - below
    y1 = y0 + height
    nan = np.full_like(on, np.nan)
    x = np.stack([on, off, off, on, on, nan], axis=1)
    y = np.stack([y0, y0, y1, y1, y0, nan], axis=1)
    return x.ravel(), y.ravel()


class DeferWhileHidden:
    """Mixin for views: skip a redraw while hidden (another tab is shown) and do the last one when shown."""

    _deferred = None

    def defer(self, redraw) -> bool:
        """Return True (and remember ``redraw``) when the widget is hidden, else False."""
        if self.isVisible():
            return False
        self._deferred = redraw
        return True

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        redraw, self._deferred = self._deferred, None
        if redraw is not None:
            redraw()


def empty_hint(vm) -> str:
    """The hint of an empty plot of view-model ``vm``: open a recording, or wait for / start a run."""
    return OPEN_HINT if vm.loaded is None else RUN_HINT


class EmptyHint:
    """Mixin for plot widgets: while there is nothing to show, hide the axes and show a centred hint.

    Call :meth:`init_hint` once the plot is built, then :meth:`set_empty` with a text (empty) or None (data shown).
    """

    hint: QLabel
    #: Items hidden along with the axes (playhead, step marker).
    hint_hides: tuple = ()

    def init_hint(self, text: str = OPEN_HINT) -> None:
        """Create the hint label over the plot, allow small plots, and start empty."""
        self.setMinimumSize(*MIN_PLOT_SIZE)
        self.hint = QLabel(text, self.viewport())
        self.hint.setAlignment(Qt.AlignCenter)
        self.hint.setAttribute(Qt.WA_TransparentForMouseEvents)
        self.hint.setStyleSheet("color: #a0a0a0; font-size: 11pt; background: transparent;")
        self._hint_text = text
        self._hint_timer = QTimer(self)
        self._hint_timer.setSingleShot(True)
        self._hint_timer.setInterval(HINT_DELAY_MS)
        self._hint_timer.timeout.connect(lambda: self.set_empty(self._hint_later))
        self._hint_later = text
        self._axes_shown: bool | None = None  # unknown until the first set_empty
        self.set_empty(text)

    def set_empty(self, text: str | None, later: bool = False) -> None:
        """Show ``text`` instead of axes (None: show the axes and hide the hint).

        The axes are only shown or hidden when that changes: showing a shown pyqtgraph axis drops its
        drawn ticks (every layer of a run would lay them out again). ``later``: the plot's data is gone but
        a run is about to deliver more; shown axes stay for :data:`HINT_DELAY_MS` before ``text`` replaces
        them (unless data comes first).
        """
        if text is not None and later and self._axes_shown:
            self._hint_later = text
            if not self._hint_timer.isActive():
                self._hint_timer.start()
            return
        self._hint_timer.stop()
        if (text is None) != self._axes_shown:
            self._axes_shown = text is None
            plot = self.getPlotItem()
            for name in ("left", "bottom"):
                plot.showAxis(name, text is None)
            for item in self.hint_hides:
                item.setVisible(text is None)
        if text is not None:
            self._hint_text = text
            self._place_hint()
        self.hint.setVisible(text is not None)

    def _place_hint(self) -> None:
        """Centre the hint below the plot's title; only its first line when the plot is too small for all."""
        title = self.getPlotItem().titleLabel
        top = int(title.boundingRect().height()) if title.isVisible() else 0
        rect = self.viewport().rect().adjusted(0, top, 0, 0)
        self.hint.setGeometry(rect)
        lines, fm = self._hint_text.split("\n"), self.hint.fontMetrics()
        fits = len(lines) * fm.lineSpacing() <= rect.height() and all(fm.horizontalAdvance(t) <= rect.width()
                                                                      for t in lines)
        self.hint.setText(self._hint_text if fits else lines[0])

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        if getattr(self, "hint", None) is not None:
            self._place_hint()


class TimeImage(EmptyHint, DeferWhileHidden, pg.PlotWidget):
    """An image over time (seconds on x) with note overlays, a playhead and click-to-seek.

    Parameters
    ----------
    title : str
        Plot title.
    rows_per_key : float
        Image rows per piano key (1 for H, 3 for the CQT).
    levels : tuple
        Fixed colour levels of the image.
    """

    seekRequested = Signal(float)

    def __init__(self, title: str, rows_per_key: float, levels=(-80.0, 0.0), parent=None):
        super().__init__(parent=parent)
        self.rows_per_key = rows_per_key
        self.setTitle(title, size="10pt")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get(COLORMAP))
        # no setLevels here: pyqtgraph keeps levels set before the first image and applies them after it,
        # over the ones :meth:`set_image` gives (a DbImage's levels are in codes: the first file's M was all yellow)
        self.levels = levels
        self.addItem(self.image)
        self.ref_curve = pg.PlotCurveItem(pen=REF_PEN, connect="finite")
        self.note_curve = pg.PlotCurveItem(pen=NOTE_PEN, connect="finite")
        self.addItem(self.ref_curve)
        self.addItem(self.note_curve)
        self.playhead = pg.InfiniteLine(0.0, angle=90, pen=PLAYHEAD_PEN, movable=False)
        self.addItem(self.playhead)
        centre = 0.5 if rows_per_key == 1 else 0.5
        self.getAxis("left").setTicks(key_ticks(rows_per_key, centre))
        self.getAxis("left").setWidth(42)
        self.setLabel("bottom", "time", units="s")
        self.getAxis("bottom").enableAutoSIPrefix(False)  # always seconds (never "ms" or "×0.001")
        self.getPlotItem().vb.setMouseEnabled(x=True, y=True)
        self.setMenuEnabled(False)
        self.scene().sigMouseClicked.connect(self._clicked)
        self._shape = None
        self.hint_text = OPEN_HINT
        self.hint_hides = (self.playhead,)
        self.init_hint(OPEN_HINT)

    def set_image(self, data: DbImage | np.ndarray | None, frame_rate: float, later: bool = False) -> None:
        """Show ``data`` in place with the fixed levels; None shows :attr:`hint_text` (``later``: see
        :meth:`~EmptyHint.set_empty`).

        ``data``: a :class:`~unmf_core.transcription.display.DbImage` (uint8 codes, drawn as they are: no
        copy) or a float dB array (rows × frames).
        """
        if data is None:
            self.image.clear()
            self._shape = None
            self.set_empty(self.hint_text, later)
            return
        self.set_empty(None)
        if isinstance(data, DbImage):
            pixels, levels, per = data.codes, data.levels(*self.levels), data.frames_per_column
        else:
            pixels, levels, per = data, self.levels, 1
        self.image.setImage(pixels, autoLevels=False, levels=levels)
        shape = (pixels.shape, per)
        if self._shape != shape:
            self._shape = shape
            seconds = pixels.shape[1] * per / frame_rate
            self.image.setRect(QRectF(0.0, 0.0, seconds, float(pixels.shape[0])))
            self.setLimits(xMin=-0.5, xMax=seconds + 0.5, yMin=-2, yMax=pixels.shape[0] + 2)
            self.autoRange(padding=0)

    def set_notes(self, notes) -> None:
        """Outline the estimated notes (nothing is redrawn when they are those shown)."""
        notes = list(notes)
        if notes == getattr(self, "_notes_shown", None):
            return
        self._notes_shown = notes
        self.note_curve.setData(*note_outline(notes, self.rows_per_key, *self._band()))

    def set_reference(self, notes) -> None:
        """Outline the reference notes (dashed, another colour); None hides them."""
        self.ref_curve.setData(*note_outline(notes or [], self.rows_per_key, *self._band()))

    def _band(self) -> tuple[float, float]:
        if self.rows_per_key == 1:
            return 0.0, 1.0
        return 1.0, 3.0

    def set_position(self, seconds: float) -> None:
        """Move the playhead."""
        self.playhead.setValue(seconds)

    def _clicked(self, event) -> None:
        vb = self.getPlotItem().vb
        if event.button() != pg.QtCore.Qt.LeftButton or not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        self.seekRequested.emit(max(0.0, float(vb.mapSceneToView(event.scenePos()).x())))
