"""Hand edits of a transcription: a layer of reversible edits over the notes :meth:`Engine.finish` gave.

The one path from H to notes stays :meth:`Engine.finish
<unmf_core.transcription.engine.Engine.finish>`; :class:`NoteEdits` holds its
notes (the *base*) and the edited list, and every change is an :class:`Edit`
(notes removed, notes added) that can be applied and reverted. The app's undo
commands wrap these; nothing here knows Qt.

:func:`snap_time` puts a time on a beat grid (beats subdivided), for editing
on the beat when a tempo is known.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from .notes import Note

#: Lowest and highest MIDI pitch a note may take (the piano's keys).
PITCH_RANGE = (21, 108)
#: Shortest note an edit leaves (seconds).
MIN_LENGTH = 0.02


def clamp_velocity(velocity: float) -> int:
    """``velocity`` rounded into 1..127."""
    return int(np.clip(round(float(velocity)), 1, 127))


def clamp_pitch(pitch: float) -> int:
    """``pitch`` rounded into the piano's range (:data:`PITCH_RANGE`)."""
    return int(np.clip(round(float(pitch)), *PITCH_RANGE))


def make_note(pitch: float, onset: float, offset: float, velocity: float = 80) -> Note:
    """A valid note: pitch and velocity clamped, onset ≥ 0, at least :data:`MIN_LENGTH` long."""
    onset = max(0.0, float(onset))
    offset = max(float(offset), onset + MIN_LENGTH)
    return Note(clamp_pitch(pitch), round(onset, 6), round(offset, 6), clamp_velocity(velocity))


@dataclass(frozen=True)
class Edit:
    """One reversible change: ``removed`` notes leave the list, ``added`` notes join it.

    ``label`` names it for an Edit ▸ Undo menu ("Move 3 notes").
    """

    removed: tuple[Note, ...] = ()
    added: tuple[Note, ...] = ()
    label: str = "Edit notes"

    def inverse(self) -> Edit:
        """The edit that undoes this one."""
        return Edit(self.added, self.removed, self.label)

    def apply(self, notes: list[Note]) -> list[Note]:
        """``notes`` with this edit applied (sorted by onset, then pitch).

        Raises
        ------
        ValueError
            A note to remove is not in ``notes`` (the edit belongs to another list).
        """
        left = Counter(notes)
        gone = Counter(self.removed)
        for note, n in gone.items():
            if left[note] < n:
                raise ValueError(f"{note} is not among the notes this edit changes")
            left[note] -= n
        out = list(left.elements()) + list(self.added)
        out.sort(key=lambda n: (n.onset, n.pitch, n.offset, n.velocity))
        return out

    @property
    def empty(self) -> bool:
        """Whether it changes nothing."""
        return Counter(self.removed) == Counter(self.added)


def _plural(n: int) -> str:
    return "1 note" if n == 1 else f"{n} notes"


def add_note(note: Note) -> Edit:
    """Add ``note``."""
    return Edit((), (note,), "Add note")


def delete_notes(notes) -> Edit:
    """Delete ``notes``."""
    notes = tuple(notes)
    return Edit(notes, (), f"Delete {_plural(len(notes))}")


def move_notes(notes, dt: float = 0.0, dpitch: int = 0) -> Edit:
    """Shift ``notes`` by ``dt`` seconds and ``dpitch`` semitones (kept at t ≥ 0 and on the keyboard, together)."""
    notes = tuple(notes)
    if not notes:
        return Edit(label="Move notes")
    dt = max(float(dt), -min(n.onset for n in notes))
    lo, hi = PITCH_RANGE
    dpitch = int(np.clip(int(dpitch), lo - min(n.pitch for n in notes), hi - max(n.pitch for n in notes)))
    moved = tuple(make_note(n.pitch + dpitch, n.onset + dt, n.offset + dt, n.velocity) for n in notes)
    return Edit(notes, moved, f"Move {_plural(len(notes))}")


def resize_note(note: Note, offset: float) -> Edit:
    """Move the end of ``note`` to ``offset`` (at least :data:`MIN_LENGTH` after its onset)."""
    return Edit((note,), (make_note(note.pitch, note.onset, offset, note.velocity),), "Resize note")


def set_velocity(notes, velocity: float | None = None, delta: float = 0.0) -> Edit:
    """Give ``notes`` the ``velocity`` (or change theirs by ``delta``), clamped into 1..127."""
    notes = tuple(notes)
    changed = tuple(replace(n, velocity=clamp_velocity(n.velocity + delta if velocity is None else velocity))
                    for n in notes)
    return Edit(notes, changed, f"Velocity of {_plural(len(notes))}")


def replace_all(current, base) -> Edit:
    """Go from the ``current`` notes back to ``base`` (discard every edit, itself undoable)."""
    return Edit(tuple(current), tuple(base), "Discard note edits")


@dataclass
class NoteEdits:
    """The notes of one layer of a run as :meth:`Engine.finish` gave them (``base``) and as edited (``notes``).

    Attributes
    ----------
    key : str
        The run the edits were made on (``"unrolled"``, ``"mu"``).
    step : int
        Its layer / iteration number.
    base : list of Note
        The notes the edits start from.
    notes : list of Note
        The edited notes (sorted by onset, then pitch).
    """

    key: str
    step: int
    base: list[Note]
    notes: list[Note] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.base = sorted(self.base, key=lambda n: (n.onset, n.pitch, n.offset, n.velocity))
        if not self.notes:
            self.notes = list(self.base)

    @property
    def edited(self) -> bool:
        """Whether the notes differ from the base."""
        return Counter(self.notes) != Counter(self.base)

    def apply(self, edit: Edit) -> None:
        """Apply ``edit`` to the notes."""
        self.notes = edit.apply(self.notes)

    def revert(self, edit: Edit) -> None:
        """Undo ``edit`` (the last one applied)."""
        self.notes = edit.inverse().apply(self.notes)


def snap_time(t, beat_times: np.ndarray | None, subdivision: int = 4):
    """Put times on the nearest point of a beat grid.

    Parameters
    ----------
    t : float or np.ndarray
        Time(s) in seconds.
    beat_times : np.ndarray or None
        ``(n_beats,)`` increasing beat times in seconds (at least two); None or
        fewer than two beats: no grid, ``t`` is returned unchanged.
    subdivision : int
        Grid points per beat (4: sixteenth notes in 4/4). Before the first and
        after the last beat the grid goes on with the first / last beat's length.

    Returns
    -------
    float or np.ndarray
        The snapped time(s), like ``t``.

    Raises
    ------
    ValueError
        ``beat_times`` is not 1-D, not finite or not strictly increasing, or
        ``subdivision`` < 1.
    """
    if beat_times is None:
        return t
    beats = np.asarray(beat_times, dtype=float)
    if beats.ndim != 1 or not np.all(np.isfinite(beats)):
        raise ValueError("beat_times must be a 1-D array of finite times")
    if int(subdivision) != subdivision or subdivision < 1:
        raise ValueError(f"subdivision must be a positive integer, got {subdivision}")
    if beats.size < 2:
        return t
    if np.any(np.diff(beats) <= 0):
        raise ValueError("beat_times must be strictly increasing")
    times = np.asarray(t, dtype=float)
    # fractional beat index of each time (linear between beats, extended with the edge beats' lengths)
    idx = np.arange(beats.size, dtype=float)
    first, last = beats[1] - beats[0], beats[-1] - beats[-2]
    pos = np.interp(times, beats, idx)
    pos = np.where(times < beats[0], (times - beats[0]) / first, pos)
    pos = np.where(times > beats[-1], beats.size - 1 + (times - beats[-1]) / last, pos)
    grid = np.round(pos * subdivision) / subdivision
    snapped = np.interp(grid, idx, beats)
    snapped = np.where(grid < 0, beats[0] + grid * first, snapped)
    snapped = np.where(grid > beats.size - 1, beats[-1] + (grid - (beats.size - 1)) * last, snapped)
    return float(snapped) if np.ndim(t) == 0 else snapped


def grid_step(t: float, beat_times: np.ndarray | None, subdivision: int = 4) -> float | None:
    """Length of the grid cell around ``t`` (None without a grid)."""
    if beat_times is None or len(beat_times) < 2:
        return None
    beats = np.asarray(beat_times, dtype=float)
    i = int(np.clip(np.searchsorted(beats, t) - 1, 0, beats.size - 2))
    return float(beats[i + 1] - beats[i]) / subdivision
