"""The notes over the piano roll, coloured by velocity, and the mouse gestures that edit them.

:class:`NotesItem` paints the notes (fill: velocity, outline: selection) and a
preview while a gesture is under way. :class:`NotesLayer` reads the mouse on
the piano roll's viewport and turns gestures into
:class:`~unmf_core.transcription.edits.Edit` requests (``editRequested``); the
:class:`~unmf_gui.editing.NoteEditor` applies them through its undo stack.

Gestures (left button): click a note to select it (Ctrl / Shift: add to the
selection) and hear it; drag it to move the selection in time and pitch; drag
its right end to resize it; drag on empty space to select with a rubber band;
click empty space to deselect and move the playhead; double-click empty space
to add a note. Ctrl + wheel changes the velocity of the selection (or of the
note under the mouse); right-click a note for velocities and Delete. The
middle button pans, the wheel and the right button zoom, as before. Times
snap to the beat grid when the state knows one.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QCursor, QPainterPath, QPen
from PySide6.QtWidgets import QMenu, QRubberBand

from unmf_core.frontend.cqt import LOWEST_PITCH, N_KEYS
from unmf_core.transcription.edits import (Edit, add_note, delete_notes, grid_step, make_note, move_notes, resize_note,
                                           set_velocity, snap_time)
from unmf_core.transcription.notes import Note

#: Grid points per beat when snapping (sixteenths in 4/4).
SUBDIVISION = 4
#: Length of a note added by double-click without a beat grid (seconds).
DEFAULT_LENGTH = 0.25
#: Pixels the mouse must move before a press becomes a drag; width of a note's resize handle.
DRAG_PX, HANDLE_PX = 4, 6
#: Velocity change per wheel notch (Ctrl + wheel).
WHEEL_STEP = 4
#: Velocity presets of a note's context menu.
VELOCITY_PRESETS = (("pp", 24), ("p", 48), ("mf", 72), ("f", 96), ("ff", 120))
#: Colour of velocity 1, 64 and 127 (blue → cyan → pale yellow), drawn over the inferno image of H.
VELOCITY_COLORS = ((40, 80, 220), (40, 210, 240), (235, 255, 170))
N_BINS = 16
SELECTED_PEN = QPen(QColor(255, 120, 30), 2.5)
OUTLINE_PEN = QPen(QColor(10, 20, 30, 200), 1.0)
PREVIEW_PEN = QPen(QColor(255, 255, 255, 230), 1.5, Qt.DashLine)
for _pen in (SELECTED_PEN, OUTLINE_PEN, PREVIEW_PEN):
    _pen.setCosmetic(True)


def velocity_color(velocity: float, alpha: int = 185) -> QColor:
    """Fill colour of a note of ``velocity`` (1..127)."""
    x = (float(np.clip(velocity, 1, 127)) - 1) / 126
    (a, b), f = ((VELOCITY_COLORS[0], VELOCITY_COLORS[1]), x * 2) if x < 0.5 else \
        ((VELOCITY_COLORS[1], VELOCITY_COLORS[2]), x * 2 - 1)
    return QColor(*(int(round(u + (v - u) * f)) for u, v in zip(a, b)), alpha)


def note_rect(note: Note) -> QRectF:
    """The note's rectangle in the piano roll's coordinates (seconds × key rows)."""
    return QRectF(note.onset, note.pitch - LOWEST_PITCH, note.offset - note.onset, 1.0)


class NotesItem(pg.GraphicsObject):
    """Filled note rectangles (colour: velocity), selected ones outlined, and a dashed preview of a gesture."""

    def __init__(self):
        super().__init__()
        self.notes: list[Note] = []
        self.selected: set[Note] = set()
        self.preview: list[Note] = []
        self._bins: list[tuple[QBrush, QPainterPath]] = []
        self._chosen, self._ghost = QPainterPath(), QPainterPath()
        self._bounds = QRectF()

    def set_notes(self, notes: list[Note], selected: set[Note], preview: list[Note] | None = None) -> None:
        """Draw ``notes`` with ``selected`` outlined (and ``preview`` dashed); the paths are built here, once."""
        self.prepareGeometryChange()
        self.notes, self.selected, self.preview = list(notes), set(selected), list(preview or [])
        bins: dict[int, QPainterPath] = {}
        self._chosen, self._ghost = QPainterPath(), QPainterPath()
        rect = QRectF()
        for n in self.notes:
            r = note_rect(n)
            rect = rect.united(r)
            b = int(np.clip((n.velocity - 1) * N_BINS // 127, 0, N_BINS - 1))
            bins.setdefault(b, QPainterPath()).addRect(r)
            if n in self.selected:
                self._chosen.addRect(r)
        for n in self.preview:
            r = note_rect(n)
            rect = rect.united(r)
            self._ghost.addRect(r)
        self._bins = [(QBrush(velocity_color(1 + (b + 0.5) * 127 / N_BINS)), path) for b, path in bins.items()]
        self._bounds = rect.adjusted(-0.05, -0.5, 0.05, 0.5)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        return self._bounds

    def paint(self, painter, *_args) -> None:
        painter.setPen(OUTLINE_PEN)
        for brush, path in self._bins:
            painter.setBrush(brush)
            painter.drawPath(path)
        painter.setBrush(Qt.NoBrush)
        painter.setPen(SELECTED_PEN)
        painter.drawPath(self._chosen)
        painter.setPen(PREVIEW_PEN)
        painter.drawPath(self._ghost)


class NotesLayer(QObject):
    """Mouse gestures on a piano roll (a :class:`~unmf_gui.views.common.TimeImage` with one row per key).

    Signals: ``editRequested(edit, merge)`` (merge: a name under which successive
    edits join one undo step, "" for none), ``auditionRequested(note)``,
    ``selectionChanged()``, ``refused(message)``, ``seekRequested(seconds)``.
    """

    editRequested = Signal(object, str)
    auditionRequested = Signal(object)
    selectionChanged = Signal()
    refused = Signal(str)

    def __init__(self, view, vm):
        super().__init__(view)
        self.view, self.vm = view, vm
        self.item = NotesItem()
        self.item.setZValue(5)
        view.addItem(self.item)
        self.beat_lines = pg.PlotCurveItem(pen=pg.mkPen((255, 255, 255, 70), width=1), connect="finite")
        self.sub_lines = pg.PlotCurveItem(pen=pg.mkPen((255, 255, 255, 28), width=1), connect="finite")
        for curve in (self.sub_lines, self.beat_lines):
            curve.setZValue(4)
            view.addItem(curve)
        self.notes: list[Note] = []
        self.selected: set[Note] = set()
        self.velocity = 80  # of the next note added: the last one touched
        self._gesture: dict | None = None
        self._right_menu = False  # a right press opened the menu: its release is ours too
        self.band = QRubberBand(QRubberBand.Rectangle, view.viewport())
        view.viewport().installEventFilter(self)
        view.viewport().setMouseTracking(True)
        vm.notesChanged.connect(self.refresh)
        vm.beatsChanged.connect(self._beats)

    # ---- state -----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Show the view-model's notes (the selection keeps the notes still there)."""
        notes = list(self.vm.notes)
        if notes == self.notes and not self.selected - set(notes):  # a layer with the same notes: nothing to draw
            return
        self.notes = notes
        self.selected &= set(self.notes)
        self._draw()

    def select(self, notes) -> None:
        """Select ``notes`` (those shown)."""
        self.selected = set(notes) & set(self.notes)
        self._draw()
        self.selectionChanged.emit()

    def selection(self) -> list[Note]:
        """The selected notes, sorted by onset."""
        return sorted(self.selected, key=lambda n: (n.onset, n.pitch))

    def _draw(self, preview: list[Note] | None = None) -> None:
        self.item.set_notes(self.notes, self.selected, preview)

    def _beats(self) -> None:
        beats = self.vm.beat_times
        for curve, times in ((self.beat_lines, beats), (self.sub_lines, self._subdivisions(beats))):
            if times is None or not len(times):
                curve.setData([], [])
                continue
            x = np.repeat(np.asarray(times, dtype=float), 3)
            y = np.tile([0.0, float(N_KEYS), np.nan], len(times))
            x[2::3] = np.nan
            curve.setData(x, y)

    @staticmethod
    def _subdivisions(beats) -> np.ndarray | None:
        if beats is None or len(beats) < 2:
            return None
        frac = np.arange(1, SUBDIVISION) / SUBDIVISION
        return (beats[:-1, None] + np.diff(beats)[:, None] * frac[None, :]).ravel()

    # ---- geometry ----------------------------------------------------------------------------
    @property
    def _vb(self):
        return self.view.getPlotItem().vb

    def _data(self, pos) -> QPointF | None:
        """Data coordinates (seconds, key row) of a viewport position; None outside the plot area."""
        scene = self.view.mapToScene(pos.toPoint())
        if not self._vb.sceneBoundingRect().contains(scene):
            return None
        return self._vb.mapSceneToView(scene)

    def _px_per_second(self) -> float:
        (x0, x1), _ = self._vb.viewRange()
        return self._vb.width() / max(1e-9, x1 - x0)

    def _hit(self, p: QPointF) -> tuple[Note | None, bool]:
        """The note under ``p`` (topmost: the last drawn) and whether ``p`` is on its resize handle."""
        pitch = LOWEST_PITCH + math.floor(p.y())
        handle = HANDLE_PX / self._px_per_second()
        for n in reversed(self.notes):
            if n.pitch != pitch:
                continue
            near_end = abs(p.x() - n.offset) <= handle and p.x() >= (n.onset + n.offset) / 2
            if n.onset <= p.x() <= n.offset or near_end:
                return n, near_end
        return None, False

    def _snap(self, t: float) -> float:
        return float(snap_time(t, self.vm.beat_times, SUBDIVISION))

    # ---- events ---------------------------------------------------------------------------------
    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt override)
        kind = event.type()
        if kind == QEvent.MouseButtonPress:
            return self._press(event)
        if kind == QEvent.MouseMove:
            return self._move(event)
        if kind == QEvent.MouseButtonRelease:
            return self._release(event)
        if kind == QEvent.MouseButtonDblClick:
            return self._double_click(event)
        if kind == QEvent.Wheel and event.modifiers() & Qt.ControlModifier:
            return self._wheel(event)
        return False

    def _press(self, event) -> bool:
        p = self._data(event.position())
        if p is None:
            return False
        if event.button() == Qt.RightButton:
            note, _ = self._hit(p)
            if note is None:
                return False
            if note not in self.selected:
                self.select([note])
            self._right_menu = True
            self._context_menu(event.globalPosition().toPoint())
            return True
        if event.button() != Qt.LeftButton:
            return False
        note, on_handle = self._hit(p)
        add = bool(event.modifiers() & (Qt.ControlModifier | Qt.ShiftModifier))
        start = event.position()
        if note is None:
            self._gesture = {"kind": "band", "start": start, "data": p, "add": add, "dragging": False}
            return True
        if add and note in self.selected and not on_handle:
            self.select(self.selected - {note})
            self._gesture = None
            return True
        if note not in self.selected:
            self.select((self.selected | {note}) if add else [note])
        self.velocity = note.velocity
        self.auditionRequested.emit(note)
        self._gesture = {"kind": "resize" if on_handle else "move", "note": note, "start": start, "data": p,
                         "dragging": False, "edit": None}
        return True

    def _move(self, event) -> bool:
        g = self._gesture
        if g is None:
            self._hover(event.position())
            return False
        if not g["dragging"]:
            if (event.position() - g["start"]).manhattanLength() < DRAG_PX:
                return True
            g["dragging"] = True
        p = self._vb.mapSceneToView(self.view.mapToScene(event.position().toPoint()))
        if g["kind"] == "band":
            self.band.setGeometry(QRect(g["start"].toPoint(), event.position().toPoint()).normalized())
            self.band.show()
            return True
        note = g["note"]
        if g["kind"] == "resize":
            edit = resize_note(note, self._snap(p.x()))
        else:
            dt = self._snap(note.onset + p.x() - g["data"].x()) - note.onset
            dpitch = math.floor(p.y()) - math.floor(g["data"].y())
            edit = move_notes(self.selection(), dt, dpitch)
        g["edit"] = edit
        self._draw(list(edit.added))
        return True

    def _release(self, event) -> bool:
        g, self._gesture = self._gesture, None
        if event.button() == Qt.RightButton and self._right_menu:
            self._right_menu = False
            return True
        if g is None or event.button() != Qt.LeftButton:
            return g is not None
        self.band.hide()
        if g["kind"] == "band":
            if g["dragging"]:
                end = self._vb.mapSceneToView(self.view.mapToScene(event.position().toPoint()))
                self._band_select(g["data"], end, g["add"])
            else:
                if self.selected:
                    self.select([])
                self.view.seekRequested.emit(max(0.0, float(g["data"].x())))
            return True
        edit = g.get("edit")
        self._draw()
        if g["dragging"] and edit is not None and not edit.empty:
            self._request(edit)
        return True

    def _double_click(self, event) -> bool:
        if event.button() != Qt.LeftButton:
            return False
        p = self._data(event.position())
        if p is None:
            return False
        note, _ = self._hit(p)
        if note is not None:
            return True
        onset = self._snap(p.x())
        length = grid_step(onset, self.vm.beat_times, SUBDIVISION) or DEFAULT_LENGTH
        new = make_note(LOWEST_PITCH + math.floor(p.y()), onset, onset + length, self.velocity)
        if self._request(add_note(new)):
            self.auditionRequested.emit(new)
        self._gesture = None
        return True

    def _wheel(self, event) -> bool:
        p = self._data(event.position())
        if p is None:
            return False
        notes = self.selection()
        if not notes:
            note, _ = self._hit(p)
            if note is None:
                return True
            self.select([note])
            notes = [note]
        steps = event.angleDelta().y() / 120
        if steps:
            self._request(set_velocity(notes, delta=WHEEL_STEP * steps), merge="wheel-velocity")
        return True

    def _hover(self, pos) -> None:
        p = self._data(pos)
        note, handle = self._hit(p) if p is not None else (None, False)
        vp = self.view.viewport()
        if note is None:
            vp.unsetCursor()
        else:
            vp.setCursor(QCursor(Qt.SizeHorCursor if handle else Qt.PointingHandCursor))

    def _band_select(self, a: QPointF, b: QPointF, add: bool) -> None:
        t0, t1 = sorted((a.x(), b.x()))
        k0, k1 = sorted((math.floor(a.y()), math.floor(b.y())))
        inside = {n for n in self.notes if n.onset <= t1 and n.offset >= t0
                  and k0 <= n.pitch - LOWEST_PITCH <= k1}
        self.select((self.selected | inside) if add else inside)

    # ---- edits ------------------------------------------------------------------------------------
    def _request(self, edit: Edit, merge: str = "") -> bool:
        """Ask for ``edit`` (refused when the notes on screen cannot be edited); True when asked."""
        if not self.vm.can_edit():
            self.refused.emit(self._why_not())
            self._draw()
            return False
        self.editRequested.emit(edit, merge)
        self.select(edit.added)
        if edit.added:
            self.velocity = edit.added[-1].velocity
        return True

    def _why_not(self) -> str:
        if self.vm.run is None or not self.vm.run.steps:
            return "Transcribe a recording first: the notes you edit are a run's"
        e = self.vm.edits
        what = "layer" if e.key == "unrolled" else "iteration"
        return f"Your note edits are on {what} {e.step} ({e.key}): go back there to edit, or Edit ▸ Discard edits"

    def delete_selection(self) -> bool:
        """Delete the selected notes (Del); False when nothing is selected."""
        if not self.selected:
            return False
        return self._request(delete_notes(self.selection()))

    def set_selection_velocity(self, velocity: int) -> bool:
        """Give the selected notes ``velocity``; False when nothing is selected."""
        if not self.selected:
            return False
        return self._request(set_velocity(self.selection(), velocity))

    def _context_menu(self, pos) -> None:
        menu = QMenu(self.view)
        menu.setAttribute(Qt.WA_DeleteOnClose)
        n = len(self.selected)
        for name, v in VELOCITY_PRESETS:
            menu.addAction(f"Velocity {name} ({v})").triggered.connect(
                lambda _c=False, v=v: self.set_selection_velocity(v))
        menu.addSeparator()
        menu.addAction(f"Delete {n} note{'s' if n != 1 else ''}").triggered.connect(
            lambda _c=False: self.delete_selection())
        menu.popup(pos)
