"""Validation of unrolled models: note onset-F on whole files, as the app transcribes them.

:func:`onset_f_by_threshold` factorises each file once and scores the notes at
several onset thresholds, which is how a fine-tuning calibrates the threshold
it stores with the model (:data:`CALIBRATION_THRESHOLDS`).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..frontend.cqt import CQTParams
from .datasets import Example
from ..transcription.notes import NoteParams
from ..nmf.unrolled import UnrolledMU


#: Onset thresholds tried by a calibrating run (see ``TrainConfig.calibrate``).
CALIBRATION_THRESHOLDS = tuple(float(t) for t in np.round(np.arange(0.03, 0.1501, 0.005), 3))


def evaluate_onset_f(model: UnrolledMU, examples: list[Example], W: np.ndarray, cqt: CQTParams,
                     device: str = "cpu", sets: list[np.ndarray] | None = None,
                     notes: NoteParams | None = None) -> float:
    """Mean note onset-F of the model on whole files, exactly as the engine transcribes them.

    With ``sets`` (all template sets), an example whose own instrument's set
    is known (``Example.template``) also counts once with that set, so the
    score covers matched as well as generic templates. ``notes``: note
    settings (default :class:`~unmf_core.transcription.notes.NoteParams`).
    """
    notes = notes or NoteParams()
    return float(onset_f_by_threshold(model, examples, W, cqt, device, sets, [notes.threshold], notes)[0])


def onset_f_by_threshold(model: UnrolledMU, examples: list[Example], W: np.ndarray, cqt: CQTParams,
                         device: str = "cpu", sets: list[np.ndarray] | None = None,
                         thresholds=CALIBRATION_THRESHOLDS, notes: NoteParams | None = None) -> np.ndarray:
    """Mean onset-F at each onset threshold (one factorisation per file, notes extracted once per threshold).

    See :func:`evaluate_onset_f` for ``sets``; ``notes`` gives the other note settings.

    Returns
    -------
    np.ndarray
        ``(len(thresholds),)`` mean onset-F.
    """
    from ..transcription.metrics import note_scores
    from ..transcription.engine import Engine, Options
    from ..transcription.templates import Templates

    notes = notes or NoteParams()
    was_training = model.training
    engine = Engine(templates=Templates(np.asarray(W, np.float32), cqt, "training"), model=model, cqt=cqt,
                    device=device)
    opts = Options(track_divergence=False)
    generic = engine.templates
    scores = []
    for ex in examples:
        M = torch.from_numpy(ex.M).to(engine.device)
        own = ex.template
        extra = ([Templates(sets[own], cqt, f"set {own}")]
                 if sets is not None and own is not None and own != 0 and own < len(sets) else [])
        for templates in [generic, *extra]:
            engine.set_templates(templates)
            last = None
            for last in engine.steps(M, opts):
                pass
            assert last is not None  # steps() always yields the initial state first
            result = engine.finish(M, last, opts)
            scores.append([note_scores(ex.notes, result.renotes(replace(notes, threshold=t)))["onset_f"]
                           for t in thresholds])
        engine.set_templates(generic)
    model.train(was_training)
    return np.mean(np.asarray(scores, dtype=float).reshape(-1, len(thresholds)), axis=0)


#: Onset-F a calibrated threshold must gain over thresholds nearer the starting one (about one note in
#: two short pieces): with few validation files, smaller differences are noise and would not carry over.
CALIBRATION_TOLERANCE = 0.005


def best_threshold(scores: np.ndarray, thresholds, start: float, tol: float = CALIBRATION_TOLERANCE) -> int:
    """Index of the threshold to keep: the one nearest ``start`` among those within ``tol`` of the best score."""
    scores = np.asarray(scores, dtype=float)
    good = np.flatnonzero(scores >= scores.max() - tol - 1e-12)
    return int(good[np.argmin(np.abs(np.asarray(thresholds, dtype=float)[good] - start))])
