"""Display-ready arrays: decibel scaling of spectrograms and activations, reconstruction W·H.

The desktop app draws what these return; keeping the arithmetic here leaves
the GUI free of maths and makes it testable without Qt.
"""
from __future__ import annotations

from dataclasses import dataclass

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


#: Most columns of a :class:`DbImage`: longer inputs are max-pooled in time. 65536 columns show a minute
#: across a screen at full detail for an hour of audio (5 frames, 58 ms, per column), in 18 MB for a CQT.
MAX_COLUMNS = 65536
#: Frames converted at a time (bounds the float temporaries of long inputs).
_BLOCK_FRAMES = 16384


@dataclass(frozen=True)
class DbImage:
    """A dB image for display: ``20·log10(X / ref)`` in ``[floor_db, 0]`` quantised to 256 codes.

    Code ``c`` stands for ``floor_db + c · (−floor_db) / 255`` dB (0.31 dB steps for an 80 dB range), a
    quarter of float32's memory; inputs longer than :data:`MAX_COLUMNS` frames are max-pooled over
    ``frames_per_column`` frames (a peak stays visible). Views draw :attr:`codes` with
    :meth:`levels` as colour levels.

    Attributes
    ----------
    codes : np.ndarray
        uint8 ``(rows, columns)``.
    floor_db : float
        dB of code 0 (code 255 is 0 dB).
    frames_per_column : int
        Input frames per column (1: full resolution).
    n_frames : int
        Frames of the input (the last column may stand for fewer).
    """

    codes: np.ndarray
    floor_db: float
    frames_per_column: int
    n_frames: int

    @property
    def shape(self) -> tuple[int, int]:
        """Shape of :attr:`codes`."""
        return self.codes.shape

    def levels(self, lo_db: float, hi_db: float) -> tuple[float, float]:
        """Colour levels in codes for the dB range ``[lo_db, hi_db]``."""
        scale = 255.0 / -self.floor_db
        return (lo_db - self.floor_db) * scale, (hi_db - self.floor_db) * scale

    def to_db(self) -> np.ndarray:
        """The quantised dB values, float32 ``(rows, columns)``."""
        return (self.codes.astype(np.float32) * np.float32(-self.floor_db / 255.0) + np.float32(self.floor_db))


def _pool(x: np.ndarray, k: int) -> np.ndarray:
    """Max over consecutive groups of ``k`` columns (the last group may be shorter)."""
    if k == 1:
        return x
    n = x.shape[1]
    full = n // k * k
    out = x[:, :full].reshape(x.shape[0], -1, k).max(axis=2)
    return np.concatenate([out, x[:, full:].max(axis=1, keepdims=True)], axis=1) if full < n else out


def _codes(x: np.ndarray, ref: float, floor_db: float) -> np.ndarray:
    floor = ref * 10.0 ** (floor_db / 20.0)
    db = np.log10(np.maximum(x, np.float32(floor)) / np.float32(ref))
    db *= np.float32(20.0 * 255.0 / -floor_db)
    db += np.float32(255.0)
    np.clip(db, 0.0, 255.0, out=db)
    return np.rint(db, out=db).astype(np.uint8)


def _image(columns, n_rows: int, n_frames: int, ref: float, floor_db: float, max_columns: int) -> DbImage:
    """A :class:`DbImage` from ``columns(a, b)`` (the float magnitudes of frames ``[a, b)``), block by block."""
    k = max(1, -(-n_frames // max(1, max_columns)))
    out = np.empty((n_rows, -(-n_frames // k)), dtype=np.uint8)
    if not np.isfinite(ref) or ref <= 0:
        out.fill(0)
        return DbImage(out, float(floor_db), k, n_frames)
    block = max(k, _BLOCK_FRAMES // k * k)
    for a in range(0, n_frames, block):
        b = min(n_frames, a + block)
        out[:, a // k: -(-b // k)] = _codes(_pool(np.asarray(columns(a, b), dtype=np.float32), k), ref, floor_db)
    return DbImage(out, float(floor_db), k, n_frames)


def db_image(X: np.ndarray, ref: float | None = None, floor_db: float = FLOOR_DB,
             max_columns: int = MAX_COLUMNS) -> DbImage:
    """:func:`to_db` of ``X`` ``(rows, frames)`` as a :class:`DbImage` (in blocks: no full-size float copy)."""
    X = np.asarray(X)
    ref = float(X.max()) if ref is None and X.size else float(ref or 0.0)
    return _image(lambda a, b: X[:, a:b], X.shape[0], X.shape[1], ref, floor_db, max_columns)


def activation_image(H: np.ndarray, floor_db: float = -50.0, max_columns: int = MAX_COLUMNS) -> DbImage:
    """:func:`activation_db` as a :class:`DbImage`."""
    H = np.asarray(H)
    return db_image(H, activation_scale(H), floor_db, max_columns)


def reconstruction_image(W: np.ndarray, H: np.ndarray, ref: float, floor_db: float = FLOOR_DB,
                         max_columns: int = MAX_COLUMNS) -> DbImage:
    """``W @ H`` in dB relative to ``ref`` as a :class:`DbImage`, formed block by block (never whole)."""
    Wt = torch.from_numpy(np.ascontiguousarray(W, dtype=np.float32))
    H = np.asarray(H, dtype=np.float32)

    def columns(a: int, b: int) -> np.ndarray:
        with torch.no_grad():
            return (Wt @ torch.from_numpy(np.ascontiguousarray(H[:, a:b]))).numpy()

    return _image(columns, Wt.shape[0], H.shape[1], float(ref), floor_db, max_columns)
