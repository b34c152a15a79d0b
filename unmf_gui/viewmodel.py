"""The state the views observe: file, runs, selected layer, note settings, reference, playhead, comparison.

Views read from :class:`ViewModel` and react to its signals; they never talk to
each other. Note extraction and scoring are calls into :mod:`unmf_core`.
Runs are stored under a key: the method for ordinary runs (``"unrolled"``,
``"mu"``), another name for the runs of a :class:`Comparison` such as base vs
fine-tuned model.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from unmf_core.transcription.display import activation_db, reconstruction, to_db
from unmf_core.transcription.metrics import note_scores
from unmf_core.transcription.notes import Note, NoteParams, extract_notes
from unmf_core.transcription.engine import METHODS
from unmf_gui.workers import Loaded, Snapshot

#: Shortest time between two redraws while a run streams in (ms).
REDRAW_MS = 80
#: Titles of the pipeline's methods (compare columns, legends).
METHOD_LABELS = {"unrolled": "unrolled MU (layer)", "mu": "MU (iteration)"}


@dataclass(frozen=True)
class Column:
    """One side of the compare view: the key of the run it shows, that run's method, its title and colour.

    ``threshold``: the column's own onset threshold (a model's calibrated one,
    so each model is shown as it transcribes); None follows the window's setting.
    """

    key: str
    method: str
    label: str
    color: tuple | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class Comparison:
    """The two runs the compare view puts side by side, and the compare tab's title."""

    columns: tuple[Column, Column]
    title: str

    @property
    def keys(self) -> tuple[str, ...]:
        """Run keys of the columns, left to right."""
        return tuple(c.key for c in self.columns)

    def column(self, key: str) -> Column | None:
        """The column showing run ``key`` (None when not compared)."""
        return next((c for c in self.columns if c.key == key), None)


#: The default comparison: unrolled MU vs plain MU from the same initialisation.
METHODS_COMPARISON = Comparison((Column("unrolled", "unrolled", METHOD_LABELS["unrolled"]),
                                 Column("mu", "mu", METHOD_LABELS["mu"])), "Compare MU / unrolled MU")


@dataclass
class RunData:
    """Everything one method delivered: stored snapshots and the full divergence curve."""

    method: str
    total: int = 0
    steps: list[int] = field(default_factory=list)
    H: list[np.ndarray] = field(default_factory=list)
    W: list[np.ndarray] = field(default_factory=list)
    div_steps: list[int] = field(default_factory=list)
    divergences: list[float] = field(default_factory=list)
    wall_time: float | None = None
    _last_W: np.ndarray | None = None

    @property
    def finished(self) -> bool:
        """Whether the run reached its last step."""
        return self.wall_time is not None

    def add(self, snap: Snapshot) -> None:
        """Record one snapshot."""
        if snap.W is not None:
            self._last_W = snap.W
        self.div_steps.append(snap.index)
        self.divergences.append(snap.divergence)
        if snap.H is not None:
            self.steps.append(snap.index)
            self.H.append(snap.H)
            self.W.append(self._last_W)

    def position_of(self, step: int) -> int:
        """Position of the last stored snapshot at or before ``step`` (0 when none)."""
        return max(0, bisect.bisect_right(self.steps, step) - 1)


class ViewModel(QObject):
    """Observable state of the app (one per main window)."""

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

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.path: str | None = None
        self.loaded: Loaded | None = None
        self.M_db: np.ndarray | None = None
        self.runs: dict[str, RunData] = {}
        self.method = "unrolled"
        self.layer = 0
        self.follow = True
        self.note_params = NoteParams()
        self.notes: list[Note] = []
        self.reference: list[Note] | None = None
        self.reference_path: str | None = None
        self.metrics: dict | None = None
        self.compare_step = 0
        self.comparison = METHODS_COMPARISON
        self.position = 0.0
        self._note_cache: dict[tuple, list[Note]] = {}
        self._pending: set[str] = set()
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(REDRAW_MS)
        self._redraw.timeout.connect(self._flush)

    # ---- file and runs -------------------------------------------------
    @property
    def frame_rate(self) -> float:
        """Frames per second of M and H (0 before a file is loaded)."""
        return self.loaded.frame_rate if self.loaded else 0.0

    @property
    def duration(self) -> float:
        """Length of the recording in seconds."""
        return self.loaded.seconds if self.loaded else 0.0

    def set_loaded(self, loaded: Loaded) -> None:
        """A new recording and its spectrogram arrived: drop every result of the old one."""
        self.loaded = loaded
        self.path = loaded.audio.path
        self.M_db = to_db(loaded.M)
        self.runs.clear()
        self._note_cache.clear()
        self.notes = []
        self.position = 0.0
        if self.comparison != METHODS_COMPARISON:  # a comparison of other runs was of the old file
            self.set_comparison(None)
        self.fileChanged.emit()
        self.positionChanged.emit(0.0)
        self._update_notes()

    def clear_runs(self, methods: list[str]) -> None:
        """Forget the named methods' results before they are run again."""
        for m in methods:
            self.runs.pop(m, None)
        self._note_cache = {k: v for k, v in self._note_cache.items() if k[0] not in methods}
        self.follow = True
        self.runStarted.emit()

    def begin_method(self, method: str, total: int) -> None:
        """A method starts streaming ``total`` steps."""
        self.runs[method] = RunData(method, total)

    def add_step(self, method: str, snap: Snapshot) -> None:
        """Store a snapshot; redraws are coalesced to one per :data:`REDRAW_MS`."""
        run = self.runs.setdefault(method, RunData(method))
        run.add(snap)
        self._pending.add(method)
        if not self._redraw.isActive():
            self._redraw.start()

    def finish_method(self, method: str, seconds: float) -> None:
        """A method ran to its end in ``seconds``."""
        run = self.runs.get(method)
        if run is None:
            return
        run.wall_time = seconds
        self._pending.add(method)
        self._flush()
        if method == self.method:
            self.select_layer(len(run.steps) - 1)
        self.runFinished.emit(method)

    def _flush(self) -> None:
        self._redraw.stop()
        pending, self._pending = self._pending, set()
        for method in sorted(pending):
            run = self.runs.get(method)
            if run is None:
                continue
            if method == self.method and self.follow and run.steps:
                self._set_layer(len(run.steps) - 1)
            self.runUpdated.emit(method)
        if pending:
            self.compareChanged.emit()

    # ---- layer selection ------------------------------------------------
    @property
    def run(self) -> RunData | None:
        """The primary method's run."""
        return self.runs.get(self.method)

    def n_layers(self) -> int:
        """Number of stored snapshots of the primary run."""
        return len(self.run.steps) if self.run else 0

    def select_layer(self, pos: int, user: bool = False) -> None:
        """Show the snapshot at ``pos`` (clamped); ``user`` stops following a live run."""
        if user:
            self.follow = False
        self._set_layer(pos)

    def step_layer(self, delta: int) -> None:
        """Move the selection by ``delta`` snapshots (◀ ▶)."""
        self.select_layer(self.layer + delta, user=True)

    def _set_layer(self, pos: int) -> None:
        n = self.n_layers()
        pos = int(np.clip(pos, 0, max(0, n - 1)))
        changed = pos != self.layer
        self.layer = pos
        self._update_notes()
        if changed or n:
            self.layerChanged.emit(pos)

    def set_method(self, method: str) -> None:
        """Make ``method`` the primary one (its last layer is shown)."""
        self.method = method
        self.layer = -1
        self._set_layer(self.n_layers() - 1)

    def _clamped(self, run: RunData) -> int:
        """The selected position within ``run`` (a new run may hold fewer snapshots than the last)."""
        return int(np.clip(self.layer, 0, len(run.steps) - 1))

    def current_step(self) -> int:
        """Step number (layer / iteration) of the selected snapshot."""
        run = self.run
        return run.steps[self._clamped(run)] if run and run.steps else 0

    def current_H(self) -> np.ndarray | None:
        """Activations of the selected snapshot."""
        run = self.run
        return run.H[self._clamped(run)] if run and run.steps else None

    def current_W(self) -> np.ndarray | None:
        """Templates of the selected snapshot."""
        run = self.run
        return run.W[self._clamped(run)] if run and run.steps else None

    def current_H_db(self) -> np.ndarray | None:
        """Selected activations in dB (for the piano roll)."""
        H = self.current_H()
        return None if H is None else activation_db(H)

    def current_WH_db(self) -> np.ndarray | None:
        """Reconstruction W·H of the selected snapshot in dB, on the scale of M."""
        H, W = self.current_H(), self.current_W()
        if H is None or W is None or self.loaded is None:
            return None
        return to_db(reconstruction(W, H), float(self.loaded.M.max()))

    # ---- notes ------------------------------------------------------------
    def set_note_params(self, **changes) -> None:
        """Change note settings (e.g. ``threshold=0.2``); notes are re-extracted from the stored H."""
        self.note_params = replace(self.note_params, **changes)
        self._update_notes()
        self.compareChanged.emit()

    def note_params_for(self, key: str) -> NoteParams:
        """Note settings of run ``key``: the window's, with its compare column's own threshold if it has one."""
        col = self.comparison.column(key)
        if col is not None and col.threshold is not None:
            return replace(self.note_params, threshold=col.threshold)
        return self.note_params

    def notes_for(self, method: str, pos: int) -> list[Note]:
        """Notes of ``method``'s snapshot at ``pos`` with the current settings (cached)."""
        run = self.runs.get(method)
        if run is None or not run.steps:
            return []
        pos = int(np.clip(pos, 0, len(run.steps) - 1))
        params = self.note_params_for(method)
        key = (method, run.steps[pos], tuple(params.to_dict().values()))
        if key not in self._note_cache:
            if len(self._note_cache) > 64:
                self._note_cache.clear()
            self._note_cache[key] = extract_notes(run.H[pos], self.frame_rate, params)
        return self._note_cache[key]

    def _update_notes(self) -> None:
        self.notes = self.notes_for(self.method, self.layer)
        self.notesChanged.emit()
        self._update_metrics()

    def scores_for(self, notes: list[Note]) -> dict | None:
        """Note-level scores of ``notes`` against the reference (None without one)."""
        if self.reference is None:
            return None
        return note_scores(self.reference, notes)

    def _update_metrics(self) -> None:
        self.metrics = self.scores_for(self.notes) if self.run and self.run.steps else None
        self.metricsChanged.emit(self.metrics)

    def set_reference(self, notes: list[Note] | None, path: str | None = None) -> None:
        """Set (or clear) the reference notes."""
        self.reference = notes
        self.reference_path = path
        self.referenceChanged.emit()
        self._update_metrics()
        self.compareChanged.emit()

    # ---- compare --------------------------------------------------------------
    def set_comparison(self, comparison: Comparison | None) -> None:
        """Compare other runs (None: unrolled MU vs MU); stored runs of neither the methods nor it are dropped."""
        comparison = comparison or METHODS_COMPARISON
        keep = set(METHODS) | set(comparison.keys)
        for key in [k for k in self.runs if k not in keep]:
            del self.runs[key]
        self._note_cache = {k: v for k, v in self._note_cache.items() if k[0] in keep}
        changed = comparison != self.comparison
        self.comparison = comparison
        if changed:
            self.comparisonChanged.emit()
        self.set_compare_step(self.compare_step)

    def label_of(self, key: str) -> str:
        """Title of run ``key`` (its compare column's, else its method's)."""
        col = self.comparison.column(key)
        return col.label if col else METHOD_LABELS.get(key, key)

    def method_of(self, key: str) -> str:
        """Method (``"unrolled"`` / ``"mu"``) of run ``key``."""
        col = self.comparison.column(key)
        return col.method if col else key

    def compare_max(self) -> int:
        """Largest step number over the compared runs."""
        runs = [self.runs[k] for k in self.comparison.keys if k in self.runs]
        return max((r.steps[-1] for r in runs if r.steps), default=0)

    def set_compare_step(self, step: int) -> None:
        """Step k shown in the compare view (layer k vs iteration k)."""
        self.compare_step = int(np.clip(step, 0, self.compare_max()))
        self.compareChanged.emit()

    def compare_snapshot(self, method: str) -> tuple[int, np.ndarray | None, list[Note]]:
        """(step shown, H in dB, notes) of run ``method`` at the compare step."""
        run = self.runs.get(method)
        if run is None or not run.steps:
            return 0, None, []
        pos = run.position_of(self.compare_step)
        return run.steps[pos], activation_db(run.H[pos]), self.notes_for(method, pos)

    # ---- playback position ----------------------------------------------------
    def set_position(self, seconds: float) -> None:
        """Move the playhead."""
        self.position = float(np.clip(seconds, 0.0, self.duration or 0.0))
        self.positionChanged.emit(self.position)
