"""Keys without a recording, predicted from the recorded ones on the bundled templates' frame.

In harmonic-relative coordinates (CQT bin offset from each key's fundamental)
the recorded log-spectra are interpolated across keys (linearly in key number,
constant beyond the recorded range); the bundled templates, corrected by the
interpolated log-ratio of recorded to bundled, fill what no recording covers
(:func:`interpolate_templates`). :func:`adapt` then mixes that prediction, and
the recorded templates themselves, with the bundled templates.
"""
from __future__ import annotations

import numpy as np

from ..errors import TemplateError
from ..transcription.templates import normalise_columns

#: Log-ratios are clipped to ± this (a factor of e^4 ≈ 55).
MAX_LOG_RATIO = 4.0
#: Added before taking logarithms of unit-L2 templates.
TINY = 1e-7
#: Relative floor of a template below which its log-ratio is not trusted.
FLOOR = 1e-2
#: Share of a recorded key's own template in its calibrated one (the rest: the bundled template).
RECORDED_WEIGHT = 0.7
#: Share of the interpolated prediction in an unrecorded key's template, inside the recorded range.
PREDICTED_WEIGHT = 0.65
#: Beyond the lowest or highest recorded key, the prediction's share decays as exp(-d / REACH), d in keys.
REACH = 6.0


def _smooth(W: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(W, sigma, axis=0, mode="constant")


def _relative(W: np.ndarray, bps: int, pad: int) -> np.ndarray:
    """``(n_bins + pad, 88)``: column k shifted so that its fundamental sits at row ``pad`` (NaN outside)."""
    n_bins = W.shape[0]
    R = np.full((n_bins + pad, W.shape[1]), np.nan)
    for k in range(W.shape[1]):
        f0 = k * bps
        lo = max(0, f0 - pad)
        R[lo - f0 + pad: n_bins - f0 + pad, k] = W[lo:, k]
    return R


def _absolute(R: np.ndarray, n_bins: int, bps: int, pad: int) -> np.ndarray:
    W = np.zeros((n_bins, R.shape[1]))
    for k in range(R.shape[1]):
        f0 = k * bps
        lo = max(0, f0 - pad)
        W[lo:, k] = R[lo - f0 + pad: n_bins - f0 + pad, k]
    return W


def log_ratios(base: np.ndarray, recorded: dict[int, np.ndarray], bps: int = 3, pad: int = 6) -> np.ndarray:
    """Harmonic-relative log-ratios of recorded templates to the bundled ones.

    Parameters
    ----------
    base : np.ndarray
        ``(n_bins, 88)`` bundled templates (unit-L2 columns).
    recorded : dict of int to np.ndarray
        Key index (0..87) → recorded template ``(n_bins,)``.
    bps : int
        CQT bins per semitone.
    pad : int
        Relative bins kept below each fundamental.

    Returns
    -------
    np.ndarray
        ``(n_bins + pad, 88)``: row ``pad + j`` is bin offset j from the key's
        fundamental; NaN where the key has no recording, where the bin is off
        the CQT axis, or where the bundled template has no energy (below
        :data:`FLOOR` of its peak).
    """
    Wr = np.zeros_like(base, dtype=np.float64)
    for k, col in recorded.items():
        Wr[:, k] = col / (np.linalg.norm(col) or 1.0)
    Sb, Sr = _smooth(base.astype(np.float64)), _smooth(Wr)
    eps = FLOOR * Sb.max(axis=0, keepdims=True)
    L = np.clip(np.log((Sr + eps) / (Sb + eps)), -MAX_LOG_RATIO, MAX_LOG_RATIO)
    L[Sb < eps] = np.nan
    mask = np.zeros(base.shape[1], dtype=bool)
    mask[list(recorded)] = True
    L[:, ~mask] = np.nan
    return _relative(L, bps, pad)


def interpolate_keys(R: np.ndarray, fill: float = 0.0) -> np.ndarray:
    """Fill every key's column of a relative array from the keys that have values.

    Row by row, linear interpolation in key number between the nearest keys
    with a (finite) value there, constant beyond the first and last (as
    ``np.interp``); ``fill`` in rows where no key has one.
    """
    ok = np.isfinite(R)
    n = R.shape[1]
    idx = np.arange(n)
    prev = np.maximum.accumulate(np.where(ok, idx, -1), axis=1)
    nxt = np.minimum.accumulate(np.where(ok, idx, n)[:, ::-1], axis=1)[:, ::-1]
    has_p, has_n = prev >= 0, nxt < n
    rows = np.arange(R.shape[0])[:, None]
    vp = np.where(has_p, R[rows, np.clip(prev, 0, n - 1)], np.nan)
    vn = np.where(has_n, R[rows, np.clip(nxt, 0, n - 1)], np.nan)
    span = np.where(has_p & has_n & (nxt > prev), nxt - prev, 1)
    w = np.where(has_p & has_n, (idx[None, :] - prev) / span, 0.0)
    out = np.where(has_p & has_n, (1 - w) * vp + w * np.nan_to_num(vn), np.where(has_p, vp, vn))
    return np.where(has_p | has_n, out, fill)


def interpolate_templates(base: np.ndarray, recorded: dict[int, np.ndarray], bps: int = 3) -> np.ndarray:
    """88 templates: the recorded ones, the others interpolated from them on the bundled ones' frame.

    Every template is moved to harmonic-relative coordinates (bin offset from
    its key's fundamental). An unrecorded key's log-spectrum at each relative
    bin is interpolated linearly in key number between the recorded keys
    (constant beyond the first and last recorded key). Relative bins that no
    recording covers (off the CQT axis for every recorded key) take the
    bundled template corrected by the interpolated log-ratio of recorded to
    bundled templates (:func:`log_ratios`), so even one high note gives a full
    template for a low key.

    Parameters
    ----------
    base : np.ndarray
        ``(n_bins, 88)`` bundled templates.
    recorded : dict of int to np.ndarray
        Key index (0..87) → recorded template ``(n_bins,)``; at least one.
    bps : int
        CQT bins per semitone (the offset of one key's fundamental to the next).

    Returns
    -------
    np.ndarray
        float32 ``(n_bins, 88)`` with unit-L2 columns; recorded keys keep
        their own template.

    Raises
    ------
    TemplateError
        No recorded key, a key outside 0..87 or a template of the wrong length.
    """
    _check(base, recorded, bps)
    n_bins = base.shape[0]
    pad = n_bins  # the whole axis below the fundamental too: its low-level content is part of the timbre
    Wr = np.full((n_bins, base.shape[1]), np.nan)
    for k, col in recorded.items():
        Wr[:, k] = col / (np.linalg.norm(col) or 1.0)
    rel = _relative(Wr, bps, pad)
    L = interpolate_keys(np.log(rel + TINY), fill=np.nan)
    ratio = interpolate_keys(log_ratios(base, recorded, bps, pad))
    fallback = np.log(_relative(base.astype(np.float64), bps, pad) + TINY) + ratio
    L = np.where(np.isfinite(L), L, fallback)
    W = _absolute(np.exp(L), n_bins, bps, pad)
    W[W <= 2 * TINY] = 0.0
    for k, col in recorded.items():
        W[:, k] = col
    return normalise_columns(W)


def _check(base: np.ndarray, recorded: dict[int, np.ndarray], bps: int) -> None:
    if not recorded:
        raise TemplateError("no recorded notes to calibrate from")
    if base.ndim != 2 or bps < 1:
        raise TemplateError(f"base templates must be (n_bins, keys) with bps ≥ 1, got {base.shape}, bps {bps}")
    for k, col in recorded.items():
        if not 0 <= k < base.shape[1] or np.shape(col) != (base.shape[0],):
            raise TemplateError(f"recorded key {k}: needs 0 ≤ key < {base.shape[1]} and {base.shape[0]} bins")


def mix_weights(keys, n_keys: int = 88) -> np.ndarray:
    """Per key, the share of the recorded or predicted template in :func:`adapt`'s mix with the bundled one.

    :data:`RECORDED_WEIGHT` at recorded keys, :data:`PREDICTED_WEIGHT` at the
    others between the lowest and highest recorded key, decaying beyond them
    as ``exp(-d / REACH)`` with d the distance in keys to the recorded range.
    """
    keys = np.asarray(sorted(keys), dtype=int)
    if keys.size == 0 or keys.min() < 0 or keys.max() >= n_keys:
        raise TemplateError(f"mix weights need at least one recorded key in 0..{n_keys - 1}")
    i = np.arange(n_keys)
    d = np.maximum(keys.min() - i, 0) + np.maximum(i - keys.max(), 0)
    w = PREDICTED_WEIGHT * np.exp(-d / REACH)
    w[keys] = RECORDED_WEIGHT
    return w


def adapt(base: np.ndarray, recorded: dict[int, np.ndarray], bps: int = 3, mix: bool = True) -> np.ndarray:
    """88 templates calibrated to the recorded keys: a mix of their prediction and the bundled templates.

    Each key's template is ``w·own + (1 - w)·bundled`` (unit-L2 columns, then
    normalised again), ``own`` being the recorded template or, for the other
    keys, the prediction from the recorded ones (:func:`interpolate_templates`),
    and w from :func:`mix_weights`.

    Parameters
    ----------
    base : np.ndarray
        ``(n_bins, 88)`` bundled templates.
    recorded : dict of int to np.ndarray
        Key index (0..87) → recorded template ``(n_bins,)``; at least one.
    bps : int
        CQT bins per semitone (the offset of one key's fundamental to the next).
    mix : bool
        False: no mixing, :func:`interpolate_templates` alone (one instrument's
        exact templates, e.g. a preset's 88 keys for training).

    Returns
    -------
    np.ndarray
        float32 ``(n_bins, 88)`` with unit-L2 columns.

    Raises
    ------
    TemplateError
        No recorded key, a key outside 0..87 or a template of the wrong length.

    Notes
    -----
    Measured in ``docs/benchmarks/calibration.md`` (weights chosen on TimGM6mb
    and FluidR3_GM with bundled templates made without that SoundFont, then
    checked on the unseen MuseScore_General): the default engine scores higher
    with the mix than with either part alone, even when all 88 keys are
    recorded; the bundled templates average 16 instruments and make errors
    that do not add up with a single recording's. Scaling the bundled
    templates by the recorded log-ratio alone, a smooth gain per absolute
    frequency, or eigen-templates (mean and principal components of the
    16 training template sets fitted to the recorded keys) scored lower.
    """
    W = interpolate_templates(base, recorded, bps).astype(np.float64)
    if not mix:
        return W.astype(np.float32)
    w = mix_weights(list(recorded), base.shape[1])
    return normalise_columns((1.0 - w) * normalise_columns(base.astype(np.float64)) + w * W)


def fit_quality(base: np.ndarray, recorded: dict[int, np.ndarray], bps: int = 3) -> dict[int, float]:
    """Cosine similarity of each recorded template to its prediction from the other recorded keys.

    The prediction is :func:`interpolate_templates`' (unmixed), the bundled
    template when the key is the only one recorded.
    """
    out = {}
    for k, col in recorded.items():
        others = {i: c for i, c in recorded.items() if i != k}
        pred = interpolate_templates(base, others, bps)[:, k] if others else base[:, k]
        out[k] = cosine(pred, col)
    return out


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two spectra (0 when either is all zeros)."""
    return float(np.dot(a, b) / ((np.linalg.norm(a) * np.linalg.norm(b)) or 1.0))
