"""A calibration adapted to one recording: unrecorded keys learned from the recording's own clean attacks.

A calibration from a few notes predicts the other keys (:mod:`.adapt`), and a
sampled or real piano can change its sound between two recorded keys in a way
no prediction sees (docs/benchmarks/calibration.md: MuseScore_General plays
E3-G3 from samples whose second partial is stronger than their fundamental,
where C3 and C4 have it weaker, and the key an octave up takes that partial).
After a first transcription with the calibration, every predicted key that
the transcription strikes alone (no other onset within :data:`APART`) at
least :data:`MIN_ATTACKS` times gives the spectrum each of those attacks adds
(:func:`~.material.group_attacks`, as a recording with its MIDI does). A key
struck together with only the key an octave above, that one at least
:data:`OCTAVE_SOFTER` velocity units softer, counts as struck alone
(:func:`octave_attacks`): where the prediction misses a strong second
partial, the transcription finds the lower key and a soft ghost an octave up
at every strike, and the key would never be struck alone. The
key is learned when its attacks agree with each other (mean cosine to their
mean ≥ :data:`MIN_AGREEMENT`), sound like the key (cosine of their mean to
its base template ≥ :data:`~.material.MIN_LIKENESS`) and fit their mean
clearly better than the template that found them (by :data:`MIN_GAIN` in
mean cosine): only keys the calibration got wrong change. The calibration is
then made again with the learned keys as recorded ones (:func:`adapt_to_piece`).

Measured on the calibration benchmark's renders (the thresholds chosen on
TimGM6mb and FluidR3_GM, :data:`OCTAVE_SOFTER` also on their zone-shifted
variants; the other sources measured): docs/benchmarks/calibration.md.
"""
from __future__ import annotations

import numpy as np

from ..frontend.cqt import LOWEST_PITCH
from ..transcription.templates import Templates
from .adapt import adapt, cosine
from .material import MIN_LIKENESS, group_attacks, note_groups, single_attacks

#: Onsets closer than this to another onset are not learned from (seconds; as for a recording + MIDI).
APART = 0.06
#: A key needs at least this many clean attacks in the recording.
MIN_ATTACKS = 2
#: Mean cosine of a key's attacks to their mean, at least.
MIN_AGREEMENT = 0.9
#: How much better (mean cosine) the attacks must fit their mean than the template that found them.
MIN_GAIN = 0.1
#: A key struck with only its octave above counts as struck alone when that note is this much softer (MIDI velocity).
OCTAVE_SOFTER = 10


def octave_attacks(groups: list[list], attacks: list[tuple[list[int], np.ndarray]]) -> dict[int, list[np.ndarray]]:
    """Lower key → the unit-norm attack spectra of the groups that strike it with only a softer octave above.

    Parameters
    ----------
    groups : list of list of Note
        Onset groups (:func:`~.material.note_groups`).
    attacks : list of (list of int, np.ndarray)
        Their attacks (:func:`~.material.group_attacks`), in the same order.

    Returns
    -------
    dict of int to list of np.ndarray
        For each group of exactly two keys an octave apart whose upper note's
        velocity is at least :data:`OCTAVE_SOFTER` under the lower one's: the
        lower key's index (0..87) → its attack spectra (unit L2).
    """
    found: dict[int, list[np.ndarray]] = {}
    for group, (keys, v) in zip(groups, attacks):
        if len(keys) != 2 or keys[1] - keys[0] != 12 or not v.any():
            continue
        loudest = {k: max(n.velocity for n in group if n.pitch - LOWEST_PITCH == k) for k in keys}
        if loudest[keys[1]] <= loudest[keys[0]] - OCTAVE_SOFTER:
            found.setdefault(keys[0], []).append(v / np.linalg.norm(v))
    return found


def adaptable(templates: Templates, base: Templates) -> bool:
    """Whether ``templates`` are a mixed calibration on ``base`` with some keys only predicted."""
    R = templates.own
    if R is None or not templates.meta.get("mixed") or templates.meta.get("base") != base.source:
        return False
    n = int(np.count_nonzero(R.any(axis=0)))
    return 0 < n < R.shape[1] and R.shape == base.W.shape


def learn_from_piece(C: np.ndarray, notes, frame_rate: float, current: np.ndarray, base: np.ndarray,
                     recorded) -> dict[int, np.ndarray]:
    """Templates of predicted keys, learned from their clean attacks in a transcribed recording.

    Parameters
    ----------
    C : np.ndarray
        ``(n_bins, T)`` magnitude CQT of the recording.
    notes : list of Note
        Its transcription with ``current`` (velocities tell a soft octave, :func:`octave_attacks`).
    frame_rate : float
        CQT frames per second.
    current : np.ndarray
        ``(n_bins, 88)`` the templates of that transcription.
    base : np.ndarray
        ``(n_bins, 88)`` the calibration's base templates.
    recorded : collection of int
        Key indices (0..87) the calibration recorded: never learned again.

    Returns
    -------
    dict of int to np.ndarray
        Key index → the mean of its unit-norm attack spectra, for the keys that
        pass the tests above (often none).
    """
    groups = note_groups(notes, C.shape[1], APART, frame_rate)
    struck = group_attacks(C, groups, APART, frame_rate)
    attacks = single_attacks(struck)
    for k, vs in octave_attacks(groups, struck).items():
        attacks.setdefault(k, []).extend(vs)
    learned = {}
    for k, vs in attacks.items():
        if k in recorded or len(vs) < MIN_ATTACKS:
            continue
        mean = np.mean(vs, axis=0)
        agreement = float(np.mean([cosine(v, mean) for v in vs]))
        fit_now = float(np.mean([cosine(v, current[:, k]) for v in vs]))
        if agreement >= MIN_AGREEMENT and agreement - fit_now >= MIN_GAIN and cosine(mean, base[:, k]) >= MIN_LIKENESS:
            learned[k] = mean
    return learned


def adapt_to_piece(templates: Templates, base: Templates, C: np.ndarray, notes,
                   frame_rate: float) -> tuple[np.ndarray, list[int]]:
    """``templates`` (a calibration, :func:`adaptable`) made again with keys learned from a transcribed recording.

    Returns
    -------
    W : np.ndarray
        float32 ``(n_bins, 88)``: :func:`~.adapt.adapt` of the recorded and the
        learned keys on ``base`` (``templates.W`` when nothing was learned).
    learned : list of int
        The learned keys' indices (0..87), ascending.
    """
    R = templates.own
    assert R is not None  # adaptable() checked it
    recorded = {int(k): R[:, k].astype(np.float64) for k in np.flatnonzero(R.any(axis=0))}
    learned = learn_from_piece(C, notes, frame_rate, templates.W, base.W, recorded)
    if not learned:
        return templates.W, []
    W = adapt(base.W.astype(np.float64), {**recorded, **learned}, templates.cqt.bins_per_semitone)
    return W, sorted(learned)
