"""Benchmark 1: our torch CQT against ``librosa.cqt`` with the same parameters (time ratio, error)."""
from __future__ import annotations

import librosa
import numpy as np

from unmf_core.frontend.cqt import CQTParams, compute_cqt

from .common import interleaved, tiled_samples


def run(durations, reps: int) -> dict:
    """Time both transforms on the tiled demo of each duration; compare their outputs."""
    p = CQTParams()
    rows = []
    for sec in durations:
        y = tiled_samples(sec, p.sr)

        def ours():
            return compute_cqt(y, p, "cpu").numpy()

        def ref():
            return np.abs(librosa.cqt(y, sr=p.sr, hop_length=p.hop, fmin=p.fmin, n_bins=p.n_bins,
                                      bins_per_octave=p.bins_per_octave, filter_scale=p.filter_scale))

        t = interleaved({"ours": ours, "librosa": ref}, reps)
        a, b = ours(), ref()
        n = min(a.shape[1], b.shape[1])
        a, b = a[:, :n], b[:, :n]
        peak = float(np.abs(b).max())
        big = b > 1e-3 * peak
        corr = [np.corrcoef(a[:, j], b[:, j])[0, 1] for j in range(0, n, max(1, n // 200))
                if b[:, j].max() > 1e-3 * peak]
        rows.append({"seconds": sec, "ours_s": t["ours"], "librosa_s": t["librosa"],
                     "speedup": t["librosa"] / t["ours"],
                     "max_abs_err_rel_to_peak": float(np.abs(a - b).max()) / peak,
                     "max_rel_err_above_1e-3_peak": float((np.abs(a - b)[big] / b[big]).max()),
                     "median_rel_err_above_1e-3_peak": float(np.median(np.abs(a - b)[big] / b[big])),
                     "min_frame_correlation": float(np.min(corr))})
    return {"params": p.to_dict(), "rows": rows}
