"""The Qt side of the app's state: :class:`ViewModel` re-emits :class:`~unmf_gui.state.AppState`'s events as signals.

The state itself (runs, layers, notes, reference, selection, comparison) is
plain Python in :mod:`unmf_gui.state`; this adapter only turns its callbacks
into Qt signals for the views, coalesces redraws while a run streams in (one
per :data:`REDRAW_MS`), and forwards reads and calls to the state. Views read
from the view-model and react to its signals; they never talk to each other.
"""
from __future__ import annotations

from PySide6.QtCore import QElapsedTimer, QObject, QTimer, Signal

from unmf_gui.state import (METHOD_LABELS, METHODS_COMPARISON, AppState, Column, Comparison,  # noqa: F401 (re-exported)
                            RunData)

#: Shortest time between two redraws while a run streams in (ms); every redraw repaints the image views
#: and the divergence curves (~20-30 ms of the GUI thread, which the run's worker then waits for on a
#: 2-core machine), so fewer, with the initial state, the first layer and the last step drawn at once.
REDRAW_MS = 250


class ViewModel(QObject):
    """Observable state of the app (one per main window): an :class:`AppState` with Qt signals.

    Attributes and methods not defined here are the state's (``vm.runs``,
    ``vm.select_layer(…)``, …).
    """

    fileChanged = Signal()
    runStarted = Signal()
    runUpdated = Signal(str)
    runFinished = Signal(str)
    layerChanged = Signal(int)
    notesChanged = Signal()
    referenceChanged = Signal()
    metricsChanged = Signal(object)
    compareChanged = Signal()
    comparisonChanged = Signal()
    positionChanged = Signal(float)
    editsChanged = Signal()
    beatsChanged = Signal()

    def __init__(self, parent: QObject | None = None, state: AppState | None = None):
        super().__init__(parent)
        self.state = state or AppState()
        ev = self.state.events
        for event, signal in ((ev.file, self.fileChanged), (ev.run_started, self.runStarted),
                              (ev.run_updated, self.runUpdated), (ev.run_finished, self.runFinished),
                              (ev.layer, self.layerChanged), (ev.notes, self.notesChanged),
                              (ev.reference, self.referenceChanged), (ev.metrics, self.metricsChanged),
                              (ev.compare, self.compareChanged), (ev.comparison, self.comparisonChanged),
                              (ev.position, self.positionChanged), (ev.edits, self.editsChanged),
                              (ev.beats, self.beatsChanged)):
            event.connect(signal.emit)
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(REDRAW_MS)
        self._redraw.timeout.connect(self._flush)
        self._last_flush = QElapsedTimer()

    def __getattr__(self, name: str):
        # only called for names QObject and this class do not have: the state's
        if name == "state":
            raise AttributeError(name)
        return getattr(self.state, name)

    def __setattr__(self, name: str, value) -> None:
        # writes to the state's attributes (``vm.method = "mu"``) go to the state
        state = self.__dict__.get("state")
        if state is not None and name in state.__dict__ and not hasattr(type(self), name):
            setattr(state, name, value)
        else:
            super().__setattr__(name, value)

    def add_step(self, key: str, snap) -> None:
        """Store a snapshot; redraws are coalesced to one per :data:`REDRAW_MS`.

        The first step after a quiet spell is drawn at once (a run's initial state appears without waiting
        for the timer), and so are its first layer (step 1) and its last step; the steps that follow within
        :data:`REDRAW_MS` are drawn together when it fires.
        """
        self.state.add_step(key, snap)
        run = self.state.runs.get(key)
        if run is not None and run.total and snap.index >= run.total:  # the result: on screen now
            self._redraw.stop()
            self._flush()
            return
        if snap.index == 1 and snap.kept:  # the first layer: on screen now too (later ones are coalesced)
            self._redraw.stop()
            self._flush()
            self._redraw.start()
            return
        if self._redraw.isActive():
            return
        if not self._last_flush.isValid() or self._last_flush.hasExpired(REDRAW_MS):
            self._flush()
        self._redraw.start()

    def _flush(self) -> None:
        self._last_flush.restart()
        self.state.flush()

    def finish_method(self, key: str, seconds: float) -> None:
        """Run ``key`` ended in ``seconds`` (pending redraws happen now)."""
        self._redraw.stop()
        self.state.finish_method(key, seconds)
