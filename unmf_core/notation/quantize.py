"""Quantisation of notes to a beat grid (straight or triplet subdivisions of the beat).

Positions are snapped in beats (so a tempo that drifts moves the grid with it)
and mapped back to seconds: the quantised notes are ordinary
:class:`~unmf_core.transcription.notes.Note` objects for every writer.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..errors import OptionError
from ..transcription.notes import Note
from .tempo import BeatGrid

#: Quantisation names → grid step in beats (a beat is a quarter note); ``off`` is None.
STEPS: dict[str, Fraction | None] = {
    "off": None,
    "1/4": Fraction(1),
    "1/8": Fraction(1, 2),
    "1/16": Fraction(1, 4),
    "1/32": Fraction(1, 8),
    "1/8t": Fraction(1, 3),
    "1/16t": Fraction(1, 6),
}


def grid_step(name: str) -> Fraction | None:
    """The step in beats of a quantisation name (``"1/16"`` → 1/4); None for ``"off"``."""
    key = str(name).strip().lower()
    if key not in STEPS:
        raise OptionError(f"quantisation {name!r}: use one of {', '.join(STEPS)}")
    return STEPS[key]


def quantize_positions(notes: list[Note], grid: BeatGrid, step: Fraction) -> list[tuple[Note, Fraction, Fraction]]:
    """Each note with its onset and offset in beats, snapped to multiples of ``step``.

    Every note keeps at least one step; two notes of one key that land on the
    same onset become one (the longer), and a note held into the next onset of
    its key ends there. Sorted by onset, then pitch.
    """
    if not notes:
        return []
    on = grid.to_beats([n.onset for n in notes])
    off = grid.to_beats([n.offset for n in notes])
    s = float(step)
    q_on = np.maximum(0, np.round(on / s)).astype(np.int64)
    q_off = np.maximum(q_on + 1, np.round(off / s).astype(np.int64))
    by_key: dict[tuple[int, int], list] = {}
    for n, a, b in zip(notes, q_on, q_off):
        k = (n.pitch, int(a))
        if k not in by_key or b > by_key[k][2]:
            by_key[k] = [n, int(a), int(b)]
    items = sorted(by_key.values(), key=lambda x: (x[1], x[0].pitch))
    last: dict[int, list] = {}
    for it in items:
        prev = last.get(it[0].pitch)
        if prev is not None and prev[2] > it[1]:
            prev[2] = it[1]  # prev[1] < it[1]: one note per key and onset
        last[it[0].pitch] = it
    return [(n, a * step, b * step) for n, a, b in items]


def quantize(notes: list[Note], grid: BeatGrid, name: str = "1/16") -> list[Note]:
    """Notes snapped to the grid (see :func:`quantize_positions`); ``"off"`` returns them unchanged.

    Parameters
    ----------
    notes : list of Note
    grid : BeatGrid
        The beats (and so the tempo) to snap to.
    name : str
        ``off``, ``1/4``, ``1/8``, ``1/16``, ``1/32``, ``1/8t`` or ``1/16t``.

    Returns
    -------
    list of Note
        Same pitches and velocities, onsets and offsets in seconds on the grid.
    """
    step = grid_step(name)
    if step is None:
        return list(notes)
    q = quantize_positions(notes, grid, step)
    if not q:
        return []
    on = grid.to_seconds([float(a) for _, a, _ in q])
    off = grid.to_seconds([float(b) for _, _, b in q])
    return [Note(n.pitch, float(a), float(b), n.velocity) for (n, _, _), a, b in zip(q, on, off)]
