"""Note offsets from a note's own decay (used by :func:`unmf_core.transcription.notes.extract_notes`).

A piano note's activation decays roughly exponentially while the key is held and
drops much faster when the damper falls (or, in a room, turns into the room's
decay). A threshold relative to the whole recording ends loud notes late and
quiet ones early; here a note ends where its own log-activation changes from the
slow to the fast decay: the break point of a two-segment straight-line fit to
``log h`` between the note's peak and the frame where ``h`` first falls below a
fraction of that peak, or earlier where the activation first falls faster than a
given slope (a room's decay after the damper).

Only a break *into a faster decay* counts (the second line steeper than the first by a margin): a
piano note's own decay is itself double, a fast "prompt" decay in its first second and a slow
"aftersound" after it, and the unconstrained fit put many long notes' ends at that knee, long
before the damper. The slope rule likewise skips the frames just after the peak, where the
attack's own transient fades fast.
"""
from __future__ import annotations

import numpy as np


def two_segment_break(y: np.ndarray, min_len: int = 3, steeper: float | None = None) -> int:
    """Index ``e`` that best splits ``y`` into two straight lines ``y[:e]``, ``y[e:]`` (least squares).

    Parameters
    ----------
    y : np.ndarray
        ``(n,)`` values (here: log-activation from a note's peak on).
    min_len : int
        Fewest points on each side.
    steeper : float, optional
        If given, only splits whose second line falls faster than the first by more than this
        (slope per index) are considered: a break into a faster decay.

    Returns
    -------
    int
        The break, in ``min_len .. n - min_len``; ``n`` when ``y`` is too short to split, or when
        no split has a second line that much steeper.
    """
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    if n < 2 * min_len:
        return n
    x = np.arange(n, dtype=np.float64)

    def cum(v: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(v)])

    s1, sx, sy, sxx, sxy, syy = cum(np.ones(n)), cum(x), cum(y), cum(x * x), cum(x * y), cum(y * y)
    e = np.arange(min_len, n - min_len + 1)

    def fit(i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Residual sum of squares and slope of the line fit to ``y[i:j]``, for each pair."""
        m = s1[j] - s1[i]
        mx, my = sx[j] - sx[i], sy[j] - sy[i]
        vx = sxx[j] - sxx[i] - mx * mx / m
        cxy = sxy[j] - sxy[i] - mx * my / m
        vy = syy[j] - syy[i] - my * my / m
        ok = vx > 1e-12
        return vy - np.where(ok, cxy * cxy / np.maximum(vx, 1e-12), 0.0), np.where(ok, cxy / np.maximum(vx, 1e-12), 0.0)

    zero, end = np.zeros_like(e), np.full_like(e, n)
    (sse1, slope1), (sse2, slope2) = fit(zero, e), fit(e, end)
    sse = sse1 + sse2
    if steeper is not None:
        sse = np.where(slope2 < slope1 - steeper, sse, np.inf)
        if not np.isfinite(sse).any():
            return n
    return int(e[np.argmin(sse)])


def decay_offset(h: np.ndarray, start: int, limit: int, rel: float, floor: float = 0.01,
                 peak_frames: int | None = None, extra: int = 3, slope: float = 0.0,
                 slope_frames: int = 5, knee: float | None = None, slope_delay: int = 0) -> int:
    """Offset frame of the note starting at ``start`` on activation row ``h``.

    Parameters
    ----------
    h : np.ndarray
        ``(T,)`` activation of one key.
    start : int
        The note's onset frame.
    limit : int
        The note cannot last past this frame (the key's next onset, or T).
    rel : float
        The note's region ends where ``h`` first falls below ``rel × peak``.
    floor : float
        The fit sees ``20 log10(h / peak + floor)``: keeps the noise floor out of it.
    peak_frames : int, optional
        The peak is searched in the first ``peak_frames`` frames (default: to ``limit``).
    extra : int
        Frames after the cut that the fit still sees.
    slope : float
        If > 0: the note ends no later than the first frame from which its activation falls
        faster than ``slope`` (in dB per frame) over ``slope_frames`` frames. In a room the
        damper's drop turns into the room's decay, which the line fit follows too far.
    slope_frames : int
        Window of that slope, frames.
    knee : float, optional
        If given, the fit's break must be one into a decay faster by more than ``knee`` dB per frame
        (:func:`two_segment_break`'s ``steeper``); without such a break the note's region ends at the cut.
    slope_delay : int
        The slope rule looks only from this many frames after the peak on.

    Returns
    -------
    int
        End frame (exclusive) in ``start + 1 .. limit``; ``limit`` when ``h`` never falls below
        ``rel × peak`` before it.
    """
    limit = int(min(limit, len(h)))
    if limit - start < 2:
        return max(start + 1, limit)
    seg = np.asarray(h[start:limit], dtype=np.float64)
    p = int(np.argmax(seg[:peak_frames] if peak_frames else seg))
    pk = seg[p]
    if pk <= 0:
        return start + 1
    below = np.flatnonzero(seg[p:] < rel * pk)
    if not len(below):  # still sounding at the next onset of the key (or the end): it lasts until then
        return limit
    cut = p + int(below[0])
    tail = seg[p:cut + extra]  # a few frames past the cut, so that a drop at its end has a second segment
    db = 20 * np.log10(tail / pk + floor)
    e = p + min(two_segment_break(db, steeper=knee), cut - p) if len(tail) >= 6 else cut
    if slope > 0 and len(db) > slope_frames:
        steep = np.flatnonzero(db[slope_frames:] - db[:-slope_frames] < -slope * slope_frames)
        steep = steep[steep >= slope_delay]
        if len(steep):
            e = min(e, p + int(steep[0]))
    return start + max(1, min(e, len(seg)))


#: Intervals (semitones) at which a note can be a partial of a lower one: octave, twelfth, double octave.
PARTIAL_INTERVALS = (12, 19, 24)


def partial_notes(keys: np.ndarray, onsets: np.ndarray, peaks: np.ndarray, ratio: float, tolerance: int,
                  intervals: tuple[int, ...] = PARTIAL_INTERVALS, below: bool = False) -> np.ndarray:
    """Mask of notes explained as a partial of a simultaneous, stronger note.

    Note ``i`` is flagged when a note ``j`` starts within ``tolerance`` frames of it, lies one of
    ``intervals`` below it (or, with ``below``, also an octave above it: a sub-octave ghost) and
    ``peaks[i] < ratio × peaks[j]``.

    Parameters
    ----------
    keys, onsets, peaks : np.ndarray
        ``(n,)`` key index, onset frame and activation peak of each note.
    ratio : float
        How much weaker than its fundamental a partial note must be (0 flags nothing).

    Returns
    -------
    np.ndarray
        ``(n,)`` bool, True for the notes to drop.
    """
    keys, onsets, peaks = (np.asarray(v) for v in (keys, onsets, peaks))
    drop = np.zeros(len(keys), dtype=bool)
    if ratio <= 0 or len(keys) < 2:
        return drop
    diffs = set(intervals) | ({-12} if below else set())
    for i in range(len(keys)):
        near = np.abs(onsets - onsets[i]) <= tolerance
        rel = keys[i] - keys
        cand = near & np.isin(rel, list(diffs)) & (peaks[i] < ratio * peaks)
        drop[i] = bool(cand.any())
    return drop
