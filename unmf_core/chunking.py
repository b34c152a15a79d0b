"""Bounded-memory MU and unrolled MU for long recordings: the same results, in time chunks.

The factorisation runs layer by layer (or iteration by iteration) over the
whole recording as before, but every step walks the frames in chunks, so the
large temporaries (``W @ H``, and above all the A_H convolution's 32-channel
activations) only ever exist for one chunk. The full ``M`` and ``H`` stay in
memory (288 and 88 floats per frame: 60 MB and 18 MB for ten minutes).

Every piece is exact, not an approximation:

* **H updates** (W fixed) are independent per frame: a chunk of H is updated
  from the same chunk of M.
* **A_H** reads ±4 frames (kernels 5, 3, 3): each chunk is taken with that
  halo of real frames on both sides, and the halo's outputs are dropped. Its
  "max" input normalisation uses the maximum of the whole H, found first.
* **W updates** are sums over time: :func:`unmf_core.nmf.w_stats` of the
  chunks add up to the whole recording's numerator and denominator, and
  :func:`unmf_core.nmf.apply_W` applies them once.
* **Initialisation**: the seeded random H is drawn for the whole length (same
  draw as unchunked), its MU steps run per chunk, and the rescaling of W uses
  sums over all chunks.

Results equal the unchunked ones up to float rounding (summation order);
``tests/core/test_chunking.py`` checks it.
"""
from __future__ import annotations

from typing import Iterator, cast

import torch

from .nmf import EPS, Step, apply_W, beta_divergence, random_H, update_H, w_stats
from .streaming import check_cancel

#: Default chunk length in seconds used by :class:`unmf_core.pipeline.Engine`. Besides bounding
#: memory, ~10 s chunks keep A_H's activations (32 × 88 × 862 floats) small enough to stay in
#: cache: an unrolled layer runs ~2x faster per frame than in 30 s chunks or on a whole minute
#: (docs/benchmarks/README.md).
DEFAULT_CHUNK_SECONDS = 10.0
#: The same in frames at the default CQT rate (22050 Hz, hop 256).
DEFAULT_CHUNK_FRAMES = round(DEFAULT_CHUNK_SECONDS * 22050 / 256)


def spans(n_frames: int, chunk: int, halo: int = 0) -> list[tuple[int, int, int, int]]:
    """Cut ``n_frames`` into chunks of at most ``chunk`` frames.

    Parameters
    ----------
    n_frames : int
        Length of the recording in frames.
    chunk : int
        Frames per chunk (at least 1).
    halo : int
        Extra frames read on each side (clipped at the ends).

    Returns
    -------
    list of (lo, a, b, hi)
        The chunk is frames ``[a, b)``; ``[lo, hi)`` is the chunk with its halo.
    """
    chunk = max(1, int(chunk))
    out = []
    for a in range(0, n_frames, chunk):
        b = min(n_frames, a + chunk)
        out.append((max(0, a - halo), a, b, min(n_frames, b + halo)))
    return out


def divergence(M: torch.Tensor, W: torch.Tensor, H: torch.Tensor, beta: float, chunk: int) -> float:
    """D_β(M | WH) summed over chunks (never forms the whole ``W @ H``)."""
    return float(sum(beta_divergence(M[..., a:b], W @ H[..., a:b], beta) for _, a, b, _ in spans(M.shape[-1], chunk)))


def initialize(M: torch.Tensor, W: torch.Tensor, n_iter: int = 5, beta: float = 1.0, seed: int = 0,
               chunk: int = DEFAULT_CHUNK_FRAMES, cancel=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Chunked :func:`unmf_core.nmf.initialize` (same result).

    Parameters
    ----------
    M, W : torch.Tensor
        Data ``(..., F, T)`` and templates ``(F, K)``.
    n_iter, beta, seed
        As in :func:`unmf_core.nmf.initialize`.
    chunk : int
        Frames per chunk.
    cancel : callable, optional
        Checked before every chunk; when it returns True,
        :class:`~unmf_core.errors.Cancelled` is raised (a cancel takes effect
        within one chunk).

    Returns
    -------
    (W, H) : tuple of torch.Tensor
    """
    H = random_H(M, W.shape[-1], seed)
    dims = (-2, -1)
    parts = spans(M.shape[-1], chunk)
    m_sum = cast(torch.Tensor, sum(M[..., a:b].sum(dim=dims, keepdim=True) for _, a, b, _ in parts))
    wh_sum = cast(torch.Tensor, sum((W @ H[..., a:b]).sum(dim=dims, keepdim=True) for _, a, b, _ in parts))
    H = H * (m_sum / wh_sum.clamp_min(EPS))
    total = torch.zeros_like(m_sum)
    for _, a, b, _ in parts:
        check_cancel(cancel)
        h = H[..., a:b]
        for _ in range(n_iter):
            h = update_H(M[..., a:b], W, h, beta)
        H[..., a:b] = h
        total = total + (W @ h).sum(dim=dims, keepdim=True)
    return W * (m_sum / total.clamp_min(EPS)), H


def _sum_w_stats(M, W, H, beta, parts, cancel=None):
    num = den = None
    for _, a, b, _ in parts:
        check_cancel(cancel)
        n, d = w_stats(M[..., a:b], W, H[..., a:b], beta)
        num, den = (n, d) if num is None else (num + n, den + d)
    return num, den


def iterate_mu(M: torch.Tensor, W: torch.Tensor, H: torch.Tensor, n_iter: int, beta: float = 1.0,
               update_w: bool = False, lambda_H: float = 0.0, lambda_W: float = 0.0,
               track_divergence: bool = True, chunk: int = DEFAULT_CHUNK_FRAMES, cancel=None) -> Iterator[Step]:
    """Chunked :func:`unmf_core.nmf.iterate_mu`: a :class:`Step` after every iteration.

    Parameters
    ----------
    M, W, H, n_iter, beta, update_w, lambda_H, lambda_W, track_divergence
        As in :func:`unmf_core.nmf.iterate_mu`.
    chunk : int
        Frames per chunk.
    cancel : callable, optional
        Checked before every chunk; when it returns True,
        :class:`~unmf_core.errors.Cancelled` is raised (a cancel takes effect
        within one chunk).
    """
    parts = spans(M.shape[-1], chunk)
    with torch.no_grad():
        for i in range(1, n_iter + 1):
            H = H.clone()
            num: torch.Tensor | None = None
            den: torch.Tensor | None = None
            for _, a, b, _ in parts:
                check_cancel(cancel)
                h = update_H(M[..., a:b], W, H[..., a:b], beta, lambda_H=lambda_H)
                H[..., a:b] = h
                if update_w:
                    n, d = w_stats(M[..., a:b], W, h, beta)
                    num, den = (n, d) if num is None or den is None else (num + n, den + d)
            if update_w:
                assert num is not None and den is not None  # parts is never empty
                W = apply_W(W, num, den, beta, lambda_W=lambda_W)
            div = divergence(M, W, H, beta, chunk) if track_divergence else float("nan")
            yield Step(i, W, H, div)


def iter_layers(model, M: torch.Tensor, W: torch.Tensor, H: torch.Tensor, track_divergence: bool = False,
                chunk: int = DEFAULT_CHUNK_FRAMES, n_layers: int | None = None, cancel=None) -> Iterator[Step]:
    """Chunked :meth:`unmf_core.unrolled.UnrolledMU.iter_layers` (same steps, bounded memory).

    Parameters
    ----------
    model : UnrolledMU
        The unrolled model (in eval mode: batch normalisation must not use
        chunk statistics).
    M, W, H : torch.Tensor
        Data ``(..., F, T)`` and initial factors.
    track_divergence : bool
        Compute D(M | WH) after each layer (in the same pass as the H update).
    chunk : int
        Frames per chunk (the halo of A_H's receptive field comes on top).
    n_layers : int, optional
        Stop after this many layers (default: all).
    cancel : callable, optional
        As in :func:`iterate_mu`.
    """
    cfg = model.cfg
    n = len(model.layers) if n_layers is None else min(n_layers, len(model.layers))
    with torch.no_grad():
        for i, layer in enumerate(model.layers[:n]):
            halo = layer.receptive_halo()
            parts = spans(M.shape[-1], chunk, halo)
            if model.updates_w(i):
                num, den = _sum_w_stats(M, W, H, cfg.beta, parts, cancel)
                W = apply_W(W, num, den, cfg.beta, accel=layer.accel_W(W), lambda_W=cfg.lambda_w)
            peak = H.amax(dim=(-2, -1), keepdim=True)
            H_new = torch.empty_like(H)
            div = 0.0
            for lo, a, b, hi in parts:
                check_cancel(cancel)
                acc = layer.accel_H(H[..., lo:hi], peak)[..., a - lo:b - lo]
                h = update_H(M[..., a:b], W, H[..., a:b], cfg.beta, accel=acc, lambda_H=cfg.lambda_h,
                             clip=cfg.clip_h, step=layer.step_size())
                H_new[..., a:b] = h
                if track_divergence:
                    div += float(beta_divergence(M[..., a:b], W @ h, cfg.beta))
            H = H_new
            yield Step(i + 1, W, H, div if track_divergence else float("nan"))
