"""Transcription metrics: mir_eval note-level scores and frame-level scores."""
from __future__ import annotations

import mir_eval
import numpy as np

from .notes import Note, piano_roll


def _intervals_pitches(notes: list[Note]) -> tuple[np.ndarray, np.ndarray]:
    if not notes:
        return np.zeros((0, 2)), np.zeros(0)
    iv = np.array([[n.onset, n.offset] for n in notes], dtype=float)
    hz = mir_eval.util.midi_to_hz(np.array([n.pitch for n in notes], dtype=float))
    return iv, hz


def note_scores(ref: list[Note], est: list[Note], onset_tolerance: float = 0.05) -> dict:
    """Note-level precision, recall and F (mir_eval).

    Parameters
    ----------
    ref, est : list of Note
        Reference and estimated notes.
    onset_tolerance : float
        Onset window in seconds (50 ms by convention).

    Returns
    -------
    dict
        ``onset_precision``, ``onset_recall``, ``onset_f`` (onset and pitch only)
        and ``offset_precision``, ``offset_recall``, ``offset_f`` (offsets within
        20 % of the note length or 50 ms as well).
    """
    ri, rp = _intervals_pitches(ref)
    ei, ep = _intervals_pitches(est)
    out = {}
    for key, ratio in (("onset", None), ("offset", 0.2)):
        if len(ri) == 0 or len(ei) == 0:
            p = r = f = 0.0
            if len(ri) == 0 and len(ei) == 0:
                p = r = f = 1.0
        else:
            p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
                ri, rp, ei, ep, onset_tolerance=onset_tolerance, offset_ratio=ratio)
        out[f"{key}_precision"], out[f"{key}_recall"], out[f"{key}_f"] = float(p), float(r), float(f)
    return out


def frame_scores(ref: list[Note], est: list[Note], n_frames: int, frame_rate: float) -> dict:
    """Frame-level precision, recall and F of the piano rolls on one frame grid."""
    R = piano_roll(ref, n_frames, frame_rate)
    E = piano_roll(est, n_frames, frame_rate)
    tp = float(np.logical_and(R, E).sum())
    p = tp / E.sum() if E.sum() else float(not R.any())
    r = tp / R.sum() if R.sum() else float(not E.any())
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"frame_precision": p, "frame_recall": r, "frame_f": f}


def all_scores(ref: list[Note], est: list[Note], n_frames: int, frame_rate: float) -> dict:
    """:func:`note_scores` and :func:`frame_scores` in one dict."""
    return {**note_scores(ref, est), **frame_scores(ref, est, n_frames, frame_rate)}
