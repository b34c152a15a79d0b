"""Long recordings: a CQT computed in blocks (bounded memory) and cooperative cancellation.

:func:`block_cqt` transforms a long signal in blocks of frames, each read with
a margin of real samples on both sides that covers the longest CQT filter and
the decimation filters, so the frames equal those of one whole-signal
transform up to float rounding (``tests/core/frontend/test_long_inputs.py`` checks it).
Its memory is bounded by the block, not by the recording, and it checks for a
cancel between blocks.

:func:`check_cancel` is what every long loop (this one, and the chunk loops of
:mod:`unmf_core.nmf.chunking`) calls between two pieces of work: a cancel takes
effect within one piece, well under a second.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .cqt import CQTParams, compute_cqt
from ..errors import Cancelled

#: Signals longer than this (seconds) are transformed in blocks of this length (each with its margins: a 30 s
#: file in 20 s blocks cost 36 s of transform, 20 % of the batch's CQT time; the STFT's working memory is
#: bounded per stretch of frames, :meth:`~unmf_core.frontend.transform.CQT.forward`, so a longer block costs little).
BLOCK_SECONDS = 40.0
#: Real samples read on each side of a block (seconds; covers the 27.5 Hz filter and the decimation).
MARGIN_SECONDS = 3.0

CancelCheck = Callable[[], bool] | None


def check_cancel(cancel: CancelCheck) -> None:
    """Raise :class:`Cancelled` when ``cancel`` (a callable, or None) says so."""
    if cancel is not None and cancel():
        raise Cancelled("cancelled")


def block_cqt(samples: np.ndarray, params: CQTParams = CQTParams(), device: str | torch.device = "cpu",
              block_seconds: float = BLOCK_SECONDS, cancel: CancelCheck = None) -> torch.Tensor:
    """Magnitude CQT of a mono signal, computed in blocks of frames.

    Parameters
    ----------
    samples : np.ndarray
        Mono signal at ``params.sr``.
    params : CQTParams
        Transform parameters.
    device : str or torch.device
        Where to compute (the result stays there).
    block_seconds : float
        Frames per block, in seconds; a signal no longer than one block is
        transformed whole.
    cancel : callable, optional
        Checked before each block; when it returns True, :class:`Cancelled` is raised.

    Returns
    -------
    torch.Tensor
        float32 ``(n_bins, 1 + len(samples) // hop)``, as :func:`unmf_core.frontend.cqt.compute_cqt`.
    """
    samples = np.asarray(samples, dtype=np.float32)
    hop = params.hop
    n_frames = 1 + len(samples) // hop
    block = max(1, int(round(block_seconds * params.sr / hop)))
    check_cancel(cancel)
    if n_frames <= block:
        return compute_cqt(samples, params, device)
    # the margin is a whole number of frames; blocks start on frame boundaries, which keeps every
    # octave's decimated grid aligned with the whole signal's (hop is divisible by each decimation)
    margin = int(np.ceil(MARGIN_SECONDS * params.sr / hop))
    out = torch.empty((params.n_bins, n_frames), dtype=torch.float32, device=device)
    for a in range(0, n_frames, block):
        check_cancel(cancel)
        b = min(n_frames, a + block)
        lo = max(0, a - margin)
        hi = min(n_frames, b + margin)
        piece = samples[lo * hop: min(len(samples), (hi - 1) * hop + 1)]
        if hi == n_frames:
            piece = samples[lo * hop:]
        C = compute_cqt(piece, params, device)
        out[:, a:b] = C[:, a - lo: b - lo]
    return out
