"""Benchmark 2: time per MU iteration against scikit-learn's MU solver on the same matrices.

scikit-learn factorises ``X ≈ W H`` with ``X`` of shape (samples, features);
we give it ``X = Mᵀ``, its W = our ``Hᵀ`` and its H = our ``Wᵀ``. With
``update_H=False`` it then updates only our H with our W fixed; with
``update_H=True`` it updates our H then our W in each iteration, the order of
:func:`unmf_core.nmf.chunking.iterate_mu`. ``tol=0`` so it never stops early nor
computes its divergence; neither side tracks the divergence while timed.
With ``update_H=False`` scikit-learn ignores a given start for the factor it
updates and starts from the constant ``sqrt(mean(X) / K)``; our H starts from
the same constant there, so both run the same iterations from the same start.
"ours_chunked" is MU as the Engine runs a long input (in time chunks).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.decomposition import non_negative_factorization

from unmf_core.nmf.chunking import initialize, mu
from unmf_core.nmf.kernels import beta_divergence
from unmf_core.nmf import chunking
from unmf_core.transcription.engine import Engine, Options

from .common import interleaved, tiled_demo


def _sklearn(M, W, H, n_iter, update_w):
    with warnings.catch_warnings():  # "initial W is not used": expected, see the module docstring
        warnings.simplefilter("ignore", RuntimeWarning)
        return _sklearn_call(M, W, H, n_iter, update_w)


def _sklearn_call(M, W, H, n_iter, update_w):
    Hs, Ws, _ = non_negative_factorization(
        M.T, W=np.ascontiguousarray(H.T), H=np.ascontiguousarray(W.T), n_components=W.shape[1], init="custom",
        update_H=update_w, solver="mu", beta_loss="kullback-leibler", max_iter=n_iter, tol=0.0,
        alpha_W=0.0, alpha_H=0.0)
    return Ws.T, Hs.T


def run(durations, reps: int, n_iter: int | None = None) -> dict:
    """Time ``n_iter`` iterations both ways per duration; compare the divergences reached.

    ``n_iter`` defaults to 50 on 10 s, fewer on longer inputs (≈ 500 / seconds, at least 5).
    """
    engine = Engine(device="cpu")
    rows = []
    for sec in durations:
        M = engine.spectrogram(engine.load(tiled_demo(sec)))
        iters = n_iter or max(5, min(50, round(500 / sec)))
        W, H_init = initialize(M, engine.W, 5, 1.0, 0)
        Mn, Wn = M.numpy(), W.numpy()
        for update_w in (False, True):
            H = H_init if update_w else torch.full_like(H_init, float(np.sqrt(M.mean() / W.shape[1])))
            Hn = H.numpy()

            def ours():
                return mu(M, W, H, iters, 1.0, update_w=update_w, track_divergence=False)

            def ref():
                return _sklearn(Mn, Wn, Hn, iters, update_w)

            def chunked():
                return list(chunking.iterate_mu(M, W, H, iters, 1.0, update_w, track_divergence=False,
                                                chunk=chunk or M.shape[-1]))

            chunk = engine.chunk_frames(M, Options())
            t = interleaved({"ours": ours, "ours_chunked": chunked, "sklearn": ref}, reps)
            r = ours()
            Ws, Hs = ref()
            d_ours = float(beta_divergence(M.double(), (r.W.double() @ r.H.double()), 1.0))
            WH_ref = torch.from_numpy(Ws).double() @ torch.from_numpy(Hs).double()
            d_ref = float(beta_divergence(M.double(), WH_ref, 1.0))
            rows.append({"seconds": sec, "frames": M.shape[1], "update_w": update_w, "iterations": iters,
                         "ours_s_per_iter": t["ours"] / iters, "sklearn_s_per_iter": t["sklearn"] / iters,
                         "speedup": t["sklearn"] / t["ours"], "chunked_s_per_iter": t["ours_chunked"] / iters,
                         "chunked_speedup": t["sklearn"] / t["ours_chunked"], "engine_chunk_frames": chunk,
                         "divergence_ours": d_ours,
                         "divergence_sklearn": d_ref, "divergence_rel_diff": abs(d_ours - d_ref) / d_ref,
                         "H_max_rel_diff": float(np.abs(r.H.numpy() - Hs).max() / np.abs(Hs).max())})
    return {"rows": rows, "sklearn_dtype": "float32"}
