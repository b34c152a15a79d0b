"""The app's state without Qt: the file, runs and their layers, notes, reference, selection, comparison, playhead.

:class:`AppState` is plain Python: unit tests drive it without a window
(``tests/gui/test_state.py``). Observers subscribe to its :class:`Events`
(napari-style callbacks: ``state.events.layer.connect(cb)``); the Qt
:class:`~unmf_gui.viewmodel.ViewModel` is a thin adapter that re-emits them as
Qt signals for the views.

Nothing here computes on a slider step: the run worker delivers each kept
layer with its :class:`~unmf_core.transcription.engine.Transcription` (notes by
:meth:`Engine.finish <unmf_core.transcription.engine.Engine.finish>`, the same path as
``unmf transcribe``) and its dB images already computed
(:class:`~unmf_gui.workers.Snapshot`); other note settings re-extract with
:meth:`Transcription.renotes <unmf_core.transcription.engine.Transcription.renotes>` and
are cached per layer and settings. Runs are stored under a key: the method for
ordinary runs (``"unrolled"``, ``"mu"``), another name for the runs of a
:class:`Comparison` such as base vs fine-tuned model.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from unmf_core.transcription.edits import Edit, NoteEdits, replace_all
from unmf_core.transcription.metrics import note_scores
from unmf_core.transcription.notes import Note, NoteParams
from unmf_core.transcription.engine import METHODS, Transcription

#: Titles of the pipeline's methods (compare columns, legends).
METHOD_LABELS = {"unrolled": "unrolled MU (layer)", "mu": "MU (iteration)"}
#: Most note lists kept for settings other than a layer's own.
NOTE_CACHE = 64


class Event:
    """A list of callbacks: ``connect(cb)``, ``disconnect(cb)``, ``emit(*args)``."""

    def __init__(self) -> None:
        self._callbacks: list[Callable] = []

    def connect(self, callback: Callable) -> Callable:
        """Call ``callback(*args)`` on every :meth:`emit`; returns it."""
        self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable) -> None:
        """Stop calling ``callback``."""
        self._callbacks.remove(callback)

    def emit(self, *args) -> None:
        """Call every callback with ``args``."""
        for cb in list(self._callbacks):
            cb(*args)


class Events:
    """What :class:`AppState` announces (each an :class:`Event`)."""

    #: name → arguments: file (), run_started (), run_updated (key), run_finished (key), layer (pos), notes (),
    #: reference (), metrics (scores or None), compare (), comparison (), position (seconds), edits (),
    #: beats ()
    NAMES = ("file", "run_started", "run_updated", "run_finished", "layer", "notes", "reference", "metrics",
             "compare", "comparison", "position", "edits", "beats")

    def __init__(self) -> None:
        for name in self.NAMES:
            setattr(self, name, Event())


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
    """Everything one run delivered: its kept layers (with results and images) and the full divergence curve.

    ``steps[i]``, ``results[i]``, ``H_db[i]`` and ``WH_db[i]`` describe the
    i-th kept layer; ``H`` and ``W`` are views of the results' arrays. ``results[i]`` is None while that
    layer's notes are on their way (:meth:`AppState.set_result`; ``pending_W`` holds its templates).
    """

    method: str
    total: int = 0
    steps: list[int] = field(default_factory=list)
    results: list[Transcription | None] = field(default_factory=list)
    pending_W: dict[int, np.ndarray] = field(default_factory=dict)
    H_db: list[np.ndarray | None] = field(default_factory=list)
    WH_db: list[np.ndarray | None] = field(default_factory=list)
    div_steps: list[int] = field(default_factory=list)
    divergences: list[float] = field(default_factory=list)
    wall_time: float | None = None

    @property
    def finished(self) -> bool:
        """Whether the run reached its last step."""
        return self.wall_time is not None

    @property
    def H(self) -> list[np.ndarray]:
        """Activations ``(88, T)`` of the kept layers."""
        return [r.H for r in self.results if r is not None]

    @property
    def W(self) -> list[np.ndarray]:
        """Templates ``(n_bins, 88)`` of the kept layers."""
        return [r.W for r in self.results if r is not None]

    def add(self, snap) -> None:
        """Record one :class:`~unmf_gui.workers.Snapshot` (its layer is kept when it has a result)."""
        self.div_steps.append(snap.index)
        self.divergences.append(snap.divergence)
        if snap.kept:
            self.steps.append(snap.index)
            self.results.append(snap.result)
            self.H_db.append(snap.H_db)
            self.WH_db.append(snap.WH_db)
            if snap.result is None and snap.W is not None:
                self.pending_W[snap.index] = snap.W

    def set_result(self, step: int, result: Transcription) -> int | None:
        """The transcription of kept step ``step`` arrived; returns its position (None: not a kept step)."""
        if step not in self.steps:
            return None
        pos = self.steps.index(step)
        self.results[pos] = result
        self.pending_W.pop(step, None)
        return pos

    def has_divergence(self) -> bool:
        """Whether some step's divergence is known (the run tracked it, or :meth:`AppState.fill_divergences` ran)."""
        return any(np.isfinite(self.divergences))

    def position_of(self, step: int) -> int:
        """Position of the last kept layer at or before ``step`` (0 when none)."""
        return max(0, bisect.bisect_right(self.steps, step) - 1)


class AppState:
    """Observable state of the app (one per main window); see :class:`Events` for what it announces.

    ``add_step`` only stores: call :meth:`flush` to announce what arrived (the
    Qt adapter coalesces redraws with a timer; tests call it directly).
    """

    def __init__(self) -> None:
        self.events = Events()
        self.path: str | None = None
        self.loaded = None
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
        #: Hand edits of one layer's notes (None: none made); see :meth:`apply_edit`.
        self.edits: NoteEdits | None = None
        #: Beat times in seconds (``(n_beats,)``, increasing) when a tempo is known: the editing grid.
        self.beat_times: np.ndarray | None = None
        self._note_cache: dict[tuple, list[Note]] = {}
        self._pending: set[str] = set()

    # ---- file and runs -------------------------------------------------
    @property
    def frame_rate(self) -> float:
        """Frames per second of M and H (0 before a file is loaded)."""
        return self.loaded.frame_rate if self.loaded else 0.0

    @property
    def duration(self) -> float:
        """Length of the recording in seconds."""
        return self.loaded.seconds if self.loaded else 0.0

    @property
    def M_db(self) -> np.ndarray | None:
        """The recording's CQT in dB (computed by the worker that loaded it)."""
        return self.loaded.M_db if self.loaded else None

    def set_loaded(self, loaded) -> None:
        """A new recording (:class:`~unmf_gui.workers.Loaded`) arrived: drop every result of the old one."""
        self.loaded = loaded
        self.path = loaded.audio.path
        self.runs.clear()
        self._note_cache.clear()
        self.notes = []
        self.position = 0.0
        self._drop_edits()
        self.set_beat_times(None)
        if self.comparison != METHODS_COMPARISON:  # a comparison of other runs was of the old file
            self.set_comparison(None)
        self.events.file.emit()
        self.events.position.emit(0.0)
        self._update_notes()

    def clear_runs(self, keys: list[str]) -> None:
        """Forget the named runs' results before they are run again."""
        for k in keys:
            self.runs.pop(k, None)
        if self.edits is not None and self.edits.key in keys:
            self._drop_edits()
        self._note_cache = {k: v for k, v in self._note_cache.items() if k[0] not in keys}
        self.follow = True
        self.events.run_started.emit()

    def begin_method(self, key: str, total: int) -> None:
        """Run ``key`` starts streaming ``total`` steps."""
        self.runs[key] = RunData(key, total)

    def add_step(self, key: str, snap) -> None:
        """Store a snapshot of run ``key`` (announced by the next :meth:`flush`)."""
        self.runs.setdefault(key, RunData(key)).add(snap)
        self._pending.add(key)

    def set_result(self, key: str, step: int, result: Transcription) -> None:
        """The notes of kept step ``step`` of run ``key`` arrived after the layer (see :class:`RunData`)."""
        run = self.runs.get(key)
        pos = run.set_result(step, result) if run is not None else None
        if pos is None:
            return
        if key == self.method and pos == self._clamped(run):
            self._update_notes()
            self.events.layer.emit(self.layer)
        if key in self.comparison.keys:
            self.events.compare.emit()

    def fill_divergences(self, keys) -> bool:
        """Give the finished runs ``keys`` that did not track their divergence the curve of their kept layers.

        A run asks for its per-step divergence only while a view shows it (it costs ~15 % of a run); a view
        shown afterwards calls this (:func:`~unmf_gui.runs.layer_divergences`). True when a curve was added.
        """
        from unmf_gui.runs import layer_divergences

        added = False
        for key in keys:
            run = self.runs.get(key)
            if run is None or not run.finished or not run.results or run.has_divergence() or self.loaded is None:
                continue
            done = [(s, r) for s, r in zip(run.steps, run.results) if r is not None]
            values = dict(zip([s for s, _ in done], layer_divergences(self.loaded.M, [r for _, r in done])))
            run.divergences = [values.get(s, d) for s, d in zip(run.div_steps, run.divergences)]
            added = True
        return added

    def finish_method(self, key: str, seconds: float) -> None:
        """Run ``key`` reached its end in ``seconds``: its last layer is shown."""
        run = self.runs.get(key)
        if run is None:
            return
        run.wall_time = seconds
        self._pending.add(key)
        self.flush()
        if key == self.method:
            self.select_layer(len(run.steps) - 1)
        self.events.run_finished.emit(key)

    def flush(self) -> None:
        """Announce the runs that received steps since the last flush (a followed run shows its newest layer)."""
        pending, self._pending = self._pending, set()
        for key in sorted(pending):
            run = self.runs.get(key)
            if run is None:
                continue
            if key == self.method and self.follow and run.steps:
                self._set_layer(len(run.steps) - 1)
            self.events.run_updated.emit(key)
        if pending:
            self.events.compare.emit()

    # ---- layer selection ------------------------------------------------
    @property
    def run(self) -> RunData | None:
        """The primary method's run."""
        return self.runs.get(self.method)

    def n_layers(self) -> int:
        """Number of kept layers of the primary run."""
        return len(self.run.steps) if self.run else 0

    def select_layer(self, pos: int, user: bool = False) -> None:
        """Show the kept layer at ``pos`` (clamped); ``user`` stops following a live run."""
        if user:
            self.follow = False
        self._set_layer(pos)

    def step_layer(self, delta: int) -> None:
        """Move the selection by ``delta`` layers (◀ ▶)."""
        self.select_layer(self.layer + delta, user=True)

    def _set_layer(self, pos: int) -> None:
        n = self.n_layers()
        pos = int(np.clip(pos, 0, max(0, n - 1)))
        changed = pos != self.layer
        self.layer = pos
        self._update_notes()
        if changed or n:
            self.events.layer.emit(pos)

    def set_method(self, method: str) -> None:
        """Make ``method`` the primary one (its last layer is shown)."""
        self.method = method
        self.layer = -1
        self._set_layer(self.n_layers() - 1)

    def _clamped(self, run: RunData) -> int:
        """The selected position within ``run`` (a new run may hold fewer layers than the last)."""
        return int(np.clip(self.layer, 0, len(run.steps) - 1))

    def _current(self, attr: str):
        run = self.run
        return getattr(run, attr)[self._clamped(run)] if run and run.steps else None

    def current_step(self) -> int:
        """Step number (layer / iteration) of the selected layer."""
        return self._current("steps") or 0

    def current_W(self) -> np.ndarray | None:
        """Templates of the selected layer."""
        result = self._current("results")
        if result is None:
            run = self.run
            return run.pending_W.get(self.current_step()) if run is not None else None
        return result.W

    def current_H_db(self) -> np.ndarray | None:
        """Selected activations in dB (for the piano roll)."""
        return self._current("H_db")

    def current_WH_db(self) -> np.ndarray | None:
        """Reconstruction W·H of the selected layer in dB, on the scale of M."""
        return self._current("WH_db")

    # ---- notes ------------------------------------------------------------
    def set_note_params(self, params: NoteParams | None = None, **changes) -> None:
        """Change note settings (``params`` whole, or fields such as ``threshold=0.2``); no new factorisation."""
        self.note_params = replace(params or self.note_params, **changes)
        if self.edits is not None and not self.edited:  # an edit layer with nothing left in it: of old settings
            self._drop_edits()
        self._update_notes()
        self.events.compare.emit()

    def note_params_for(self, key: str) -> NoteParams:
        """Note settings of run ``key``: the window's, with its compare column's own threshold if it has one."""
        col = self.comparison.column(key)
        if col is not None and col.threshold is not None:
            return replace(self.note_params, threshold=col.threshold)
        return self.note_params

    def notes_for(self, key: str, pos: int) -> list[Note]:
        """Notes of run ``key``'s kept layer at ``pos`` with its settings (:meth:`note_params_for`).

        The layer's own notes (:meth:`Engine.finish`) when the settings are the
        run's, else :meth:`Transcription.renotes` (cached).
        """
        run = self.runs.get(key)
        if run is None or not run.steps:
            return []
        pos = int(np.clip(pos, 0, len(run.steps) - 1))
        result = run.results[pos]
        if result is None:  # its notes are on their way
            return []
        params = self.note_params_for(key)
        if params.to_dict() == result.params.get("notes"):
            return result.notes
        cache_key = (key, run.steps[pos], tuple(params.to_dict().values()))
        if cache_key not in self._note_cache:
            if len(self._note_cache) > NOTE_CACHE:
                self._note_cache.clear()
            self._note_cache[cache_key] = result.renotes(params)
        return self._note_cache[cache_key]

    def final_notes(self, key: str | None = None) -> list[Note]:
        """Notes of the last kept layer of run ``key`` (default: the primary run): what ``unmf transcribe`` gives."""
        run = self.runs.get(key or self.method)
        return self.notes_for(key or self.method, len(run.steps) - 1) if run and run.steps else []

    def _update_notes(self) -> None:
        self.notes = self.notes_for(self.method, self.layer)
        if self.edits_shown():
            self.notes = list(self.edits.notes)
        self.events.notes.emit()
        self._update_metrics()

    def scores_for(self, notes: list[Note]) -> dict | None:
        """Note-level scores of ``notes`` against the reference (None without one)."""
        if self.reference is None:
            return None
        return note_scores(self.reference, notes)

    def _update_metrics(self) -> None:
        self.metrics = self.scores_for(self.notes) if self.run and self.run.steps else None
        self.events.metrics.emit(self.metrics)

    def set_reference(self, notes: list[Note] | None, path: str | None = None) -> None:
        """Set (or clear) the reference notes."""
        self.reference = notes
        self.reference_path = path
        self.events.reference.emit()
        self._update_metrics()
        self.events.compare.emit()

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
            self.events.comparison.emit()
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
        self.events.compare.emit()

    def compare_snapshot(self, key: str) -> tuple[int, np.ndarray | None, list[Note]]:
        """(step shown, H in dB, notes) of run ``key`` at the compare step."""
        run = self.runs.get(key)
        if run is None or not run.steps:
            return 0, None, []
        pos = run.position_of(self.compare_step)
        return run.steps[pos], run.H_db[pos], self.notes_for(key, pos)

    # ---- playback position ----------------------------------------------------
    def set_position(self, seconds: float) -> None:
        """Move the playhead."""
        self.position = float(np.clip(seconds, 0.0, self.duration or 0.0))
        self.events.position.emit(self.position)

    # ---- hand edits of the notes, beat grid -------------------------------------------------
    def edits_shown(self) -> bool:
        """Whether the layer on screen is the one the edits were made on (its notes are the edited ones)."""
        e = self.edits
        return e is not None and e.key == self.method and self.run is not None and bool(self.run.steps) \
            and self.current_step() == e.step

    @property
    def edited(self) -> bool:
        """Whether hand edits change some layer's notes (its note settings are then locked)."""
        return self.edits is not None and self.edits.edited

    def edited_notes(self) -> list[Note] | None:
        """The edited notes (what exports write), or None without edits."""
        return list(self.edits.notes) if self.edited else None

    def can_edit(self) -> bool:
        """Whether the notes on screen may be edited: a run's layer is shown, and no other layer holds edits."""
        if self.run is None or not self.run.steps:
            return False
        return not self.edited or self.edits_shown()

    def apply_edit(self, edit: Edit) -> None:
        """Apply ``edit`` to the notes on screen (the first one starts the edit layer on them).

        Raises
        ------
        ValueError
            :meth:`can_edit` is False (another layer holds the edits, or nothing ran).
        """
        if not self.can_edit():
            raise ValueError("the notes on screen cannot be edited")
        if not self.edits_shown():
            self.edits = NoteEdits(self.method, self.current_step(), list(self.notes_for(self.method, self.layer)))
        self.edits.apply(edit)
        self._edits_changed()

    def revert_edit(self, edit: Edit) -> None:
        """Undo ``edit`` (the edit layer's last one), showing the layer it was made on."""
        if self.edits is None:
            return
        self.edits.revert(edit)
        self.show_edited_layer()
        self._edits_changed()

    def reapply_edit(self, edit: Edit) -> None:
        """Redo ``edit`` on the edit layer, showing the layer it was made on."""
        if self.edits is None:
            return
        self.edits.apply(edit)
        self.show_edited_layer()
        self._edits_changed()

    def discard_edit(self) -> Edit | None:
        """The edit that puts the base notes back (None without edits); apply it with :meth:`reapply_edit`."""
        if not self.edited:
            return None
        return replace_all(self.edits.notes, self.edits.base)

    def restore_edits(self, key: str, step: int, notes: list[Note]) -> bool:
        """Put saved edited ``notes`` on run ``key``'s layer ``step`` (a project reopened); False if it has none."""
        run = self.runs.get(key)
        if run is None or step not in run.steps:
            return False
        pos = run.steps.index(step)
        self.edits = NoteEdits(key, step, list(self.notes_for(key, pos)), sorted(notes, key=lambda n: (
            n.onset, n.pitch, n.offset, n.velocity)))
        self.show_edited_layer()
        self._edits_changed()
        return True

    def show_edited_layer(self) -> None:
        """Select the layer the edits were made on (when its run is the primary one)."""
        if self.edits is not None and not self.edits_shown() and self.edits.key == self.method and self.run:
            if self.edits.step in self.run.steps:
                self.select_layer(self.run.steps.index(self.edits.step), user=True)

    def clear_edits(self) -> None:
        """Forget the edits (not undoable: a new recording or project replaces them)."""
        self._drop_edits()
        self._update_notes()

    def _drop_edits(self) -> None:
        if self.edits is not None:
            self.edits = None
            self.events.edits.emit()

    def _edits_changed(self) -> None:
        self._update_notes()
        self.events.edits.emit()

    def set_beat_times(self, beat_times: np.ndarray | None) -> None:
        """Set (or clear) the beat grid: ``(n_beats,)`` increasing times in seconds."""
        if beat_times is not None:
            beat_times = np.asarray(beat_times, dtype=float)
            if beat_times.ndim != 1 or not np.all(np.isfinite(beat_times)) or np.any(np.diff(beat_times) <= 0):
                raise ValueError("beat_times must be a 1-D array of increasing finite times")
        if beat_times is None and self.beat_times is None:
            return
        self.beat_times = beat_times
        self.events.beats.emit()
