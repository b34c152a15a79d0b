"""Display-ready arrays: decibel scaling of spectrograms and activations, reconstruction W·H.

The desktop app draws what these return; keeping the arithmetic here leaves
the GUI free of maths and makes it testable without Qt.
"""
from __future__ import annotations

import numpy as np
import torch

from .notes import activation_scale

#: Floor of the dB images (below the reference level).
FLOOR_DB = -80.0


def to_db(X: np.ndarray, ref: float | None = None, floor_db: float = FLOOR_DB) -> np.ndarray:
    """``20·log10(X / ref)`` clipped to ``[floor_db, 0]``.

    Parameters
    ----------
    X : np.ndarray
        Non-negative magnitudes.
    ref : float, optional
        Reference level (0 dB); default ``X.max()``.
    floor_db : float
        Lowest value returned.

    Returns
    -------
    np.ndarray
        float32 array of ``X``'s shape.
    """
    X = np.asarray(X, dtype=np.float32)
    ref = float(X.max()) if ref is None and X.size else float(ref or 0.0)
    if ref <= 0 or not np.isfinite(ref):
        return np.full(X.shape, floor_db, dtype=np.float32)
    floor = ref * 10.0 ** (floor_db / 20.0)
    return np.clip(20.0 * np.log10(np.maximum(X, floor) / ref), floor_db, 0.0).astype(np.float32)


def activation_db(H: np.ndarray, floor_db: float = -50.0) -> np.ndarray:
    """Activations in dB relative to :func:`~unmf_core.transcription.notes.activation_scale` (the threshold's scale)."""
    return to_db(H, activation_scale(np.asarray(H)), floor_db)


def reconstruction(W: np.ndarray, H: np.ndarray) -> np.ndarray:
    """The model ``W @ H`` as float32 ``(n_bins, T)``.

    Multiplied by torch: numpy's threaded BLAS can take tens of milliseconds for
    this small product when torch's threads are busy in another thread.
    """
    Wt = torch.from_numpy(np.ascontiguousarray(W, dtype=np.float32))
    Ht = torch.from_numpy(np.ascontiguousarray(H, dtype=np.float32))
    with torch.no_grad():
        return (Wt @ Ht).numpy()
