"""The runs of MU and of the unrolled layers, whole or in time chunks: one implementation of each.

:func:`initialize`, :func:`iterate_mu` and :func:`iter_layers` take ``chunk``:
None (the default) runs the whole recording as one chunk, which is how
training, the tests and short recordings use them; a number of frames bounds
the memory of long recordings. The update formulas themselves are in
:mod:`unmf_core.nmf.kernels`.

With chunks, the factorisation runs layer by layer (or iteration by iteration) over the
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
  A_H's key context (other keys' rows as extra channels, ``ah_context``) reads
  the same frames of other rows, so it adds nothing to the halo.
* **W updates** are sums over time: :func:`unmf_core.nmf.kernels.w_stats` of the
  chunks add up to the whole recording's numerator and denominator, and
  :func:`unmf_core.nmf.kernels.apply_W` applies them once.
* **Initialisation**: the start H (flat, or a seeded random draw for the
  whole length, the same draw as unchunked) is made whole, its MU steps run
  per chunk, and the rescaling of W uses sums over all chunks.

Results equal the one-chunk ones up to float rounding (summation order);
``tests/core/nmf/test_chunking.py`` checks it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, cast

import torch

from .kernels import EPS, Step, apply_W, data_terms, fit_divergence, start_H, update_H, w_stats
from ..frontend.blocks import check_cancel

#: Default chunk length in seconds used by :class:`unmf_core.transcription.engine.Engine`. Besides bounding
#: memory, ~10 s chunks keep A_H's activations (32 × 88 × 862 floats) small enough to stay in
#: cache: an unrolled layer runs ~2x faster per frame than in 30 s chunks or on a whole minute
#: (docs/benchmarks/README.md).
DEFAULT_CHUNK_SECONDS = 10.0


def spans(n_frames: int, chunk: int | None, halo: int = 0) -> list[tuple[int, int, int, int]]:
    """Cut ``n_frames`` into chunks of at most ``chunk`` frames.

    Parameters
    ----------
    n_frames : int
        Length of the recording in frames.
    chunk : int or None
        Frames per chunk (at least 1); None: one chunk.
    halo : int
        Extra frames read on each side (clipped at the ends).

    Returns
    -------
    list of (lo, a, b, hi)
        The chunk is frames ``[a, b)``; ``[lo, hi)`` is the chunk with its halo.
    """
    chunk = max(1, n_frames if chunk is None else int(chunk))
    out = []
    for a in range(0, n_frames, chunk):
        b = min(n_frames, a + chunk)
        out.append((max(0, a - halo), a, b, min(n_frames, b + halo)))
    return out


def divergence(M: torch.Tensor, W: torch.Tensor, H: torch.Tensor, beta: float, chunk: int | None = None,
               cache: dict | None = None) -> float:
    """D_β(M | WH) summed over chunks (never forms the whole ``W @ H``; :func:`~unmf_core.nmf.kernels.fit_divergence`).

    ``cache`` (a dict kept by the caller across steps) holds the terms that depend on M alone.
    """
    return float(sum(_chunk_divergence(M, W, H[..., a:b], beta, a, b, cache)
                     for _, a, b, _ in spans(M.shape[-1], chunk)))


def _chunk_divergence(M: torch.Tensor, W: torch.Tensor, h: torch.Tensor, beta: float, a: int, b: int,
                      cache: dict | None) -> torch.Tensor:
    """D_β(M[..., a:b] | W h), the M-only terms taken from (or stored in) ``cache``."""
    m = M[..., a:b]
    if beta != 1 or cache is None:
        return fit_divergence(m, W, h, beta)
    if (a, b) not in cache:
        cache[(a, b)] = tuple(float(t) for t in data_terms(m))  # floats: no small tensor left between big ones
    return fit_divergence(m, W, h, beta, cache[(a, b)])


def initialize(M: torch.Tensor, W: torch.Tensor, n_iter: int = 5, beta: float = 1.0, seed: int | None = None,
               chunk: int | None = None, cancel=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Initial (W, H): W rescaled so that ‖WH‖₁ = ‖M‖₁, H from a few MU steps.

    Parameters
    ----------
    M : torch.Tensor
        ``(..., F, T)`` data.
    W : torch.Tensor
        ``(F, K)`` templates.
    n_iter : int
        MU steps on H from the start (:func:`~unmf_core.nmf.kernels.start_H`).
    beta : float
        β of the divergence.
    seed : int, optional
        None (default): the flat start; an int: the seeded random start.
    chunk : int, optional
        Frames per chunk (None: the whole recording at once).
    cancel : callable, optional
        Checked before every chunk; when it returns True,
        :class:`~unmf_core.errors.Cancelled` is raised (a cancel takes effect
        within one chunk).

    Returns
    -------
    (W, H) : tuple of torch.Tensor
    """
    H = start_H(M, W.shape[-1], seed)
    dims = (-2, -1)
    parts = spans(M.shape[-1], chunk)
    m_sum = cast(torch.Tensor, sum(M[..., a:b].sum(dim=dims, keepdim=True) for _, a, b, _ in parts))
    wh_sum = cast(torch.Tensor, sum((W @ H[..., a:b]).sum(dim=dims, keepdim=True) for _, a, b, _ in parts))
    H = H.mul_(m_sum / wh_sum.clamp_min(EPS))  # H is start_H's own tensor: scaled in place (no second copy)
    total = torch.zeros_like(m_sum)
    for _, a, b, _ in parts:
        check_cancel(cancel)
        h = H[..., a:b]
        for _ in range(n_iter):
            h = update_H(M[..., a:b], W, h, beta)
        H = _put(H, a, b, h, len(parts))
        total = total + (W @ h).sum(dim=dims, keepdim=True)
    return W * (m_sum / total.clamp_min(EPS)), H


def _sum_w_stats(M, W, H, beta, parts, cancel=None):
    num = den = None
    for _, a, b, _ in parts:
        check_cancel(cancel)
        n, d = w_stats(M[..., a:b], W, H[..., a:b], beta)
        num, den = (n, d) if num is None else (num + n, den + d)
    return num, den


def _put(H: torch.Tensor, a: int, b: int, h: torch.Tensor, n_parts: int) -> torch.Tensor:
    """H with frames [a, b) replaced by h (h itself when it is the only chunk: no copy)."""
    if n_parts == 1:
        return h
    H[..., a:b] = h
    return H


def iterate_mu(M: torch.Tensor, W: torch.Tensor, H: torch.Tensor, n_iter: int, beta: float = 1.0,
               update_w: bool = False, lambda_H: float = 0.0, lambda_W: float = 0.0,
               track_divergence: bool = True, chunk: int | None = None, cancel=None) -> Iterator[Step]:
    """Yield a :class:`Step` after every MU iteration (a generator; stop it to cancel).

    Parameters
    ----------
    M, W, H : torch.Tensor
        Data and starting factors.
    n_iter : int
        Number of iterations.
    beta : float
        β of the divergence.
    update_w : bool
        Also update W (after H) in every iteration.
    lambda_H, lambda_W : float
        Penalties added to the denominators.
    track_divergence : bool
        Compute D_β(M | WH) for every step.
    chunk : int, optional
        Frames per chunk (None: the whole recording at once).
    cancel : callable, optional
        Checked before every chunk; when it returns True,
        :class:`~unmf_core.errors.Cancelled` is raised (a cancel takes effect
        within one chunk).
    """
    parts = spans(M.shape[-1], chunk)
    cache: dict = {}
    with torch.no_grad():
        for i in range(1, n_iter + 1):
            H = H.clone() if len(parts) > 1 else H
            num = den = None
            for _, a, b, _ in parts:
                check_cancel(cancel)
                h = update_H(M[..., a:b], W, H[..., a:b], beta, lambda_H=lambda_H)
                H = _put(H, a, b, h, len(parts))
                if update_w:
                    n, d = w_stats(M[..., a:b], W, h, beta)
                    num, den = (n, d) if num is None or den is None else (num + n, den + d)
            if update_w:
                assert num is not None and den is not None  # parts is never empty
                W = apply_W(W, num, den, beta, lambda_W=lambda_W)
            div = divergence(M, W, H, beta, chunk, cache) if track_divergence else float("nan")
            yield Step(i, W, H, div)


@dataclass
class MUResult:
    """Outcome of :func:`mu`: final factors and the divergence per iteration."""

    W: torch.Tensor
    H: torch.Tensor
    divergences: list[float] = field(default_factory=list)
    iterations: int = 0
    cancelled: bool = False


def mu(M: torch.Tensor, W: torch.Tensor, H: torch.Tensor, n_iter: int = 100, beta: float = 1.0,
       update_w: bool = False, callback: Callable[[int, torch.Tensor, torch.Tensor, float], object] | None = None,
       track_divergence: bool | None = None, **kw) -> MUResult:
    """Plain MU for ``n_iter`` iterations (:func:`iterate_mu` run to the end).

    Parameters
    ----------
    M, W, H : torch.Tensor
        Data ``(F, T)``, templates ``(F, K)`` and starting activations ``(K, T)``.
    n_iter : int
        Iterations.
    beta : float
        β of the divergence (1 = KL).
    update_w : bool
        Update W too (else W stays fixed).
    callback : callable, optional
        ``callback(iteration, W, H, divergence)`` after each iteration; returning
        ``False`` cancels (the result then has ``cancelled=True``).
    track_divergence : bool, optional
        Record the divergence per iteration (default: only with a callback).
    **kw
        ``lambda_H``, ``lambda_W``, ``chunk`` as in :func:`iterate_mu`.

    Returns
    -------
    MUResult
    """
    track = callback is not None if track_divergence is None else track_divergence
    res = MUResult(W, H)
    for step in iterate_mu(M, W, H, n_iter, beta, update_w, track_divergence=track, **kw):
        res.W, res.H, res.iterations = step.W, step.H, step.index
        if track:
            res.divergences.append(step.divergence)
        if callback is not None and callback(step.index, step.W, step.H, step.divergence) is False:
            res.cancelled = True
            break
    return res


def iter_layers(model, M: torch.Tensor, W: torch.Tensor, H: torch.Tensor, track_divergence: bool = False,
                chunk: int | None = None, n_layers: int | None = None, cancel=None) -> Iterator[Step]:
    """The unrolled layers: a :class:`Step` after each (stop iterating to cancel).

    Gradients flow when enabled (training runs it whole); the engine runs it
    under ``torch.no_grad``.

    Parameters
    ----------
    model : UnrolledMU
        The unrolled model. With chunks it must be in eval mode (batch
        normalisation must not use chunk statistics).
    M, W, H : torch.Tensor
        Data ``(..., F, T)`` and initial factors.
    track_divergence : bool
        Compute D(M | WH) after each layer (in the same pass as the H update).
    chunk : int, optional
        Frames per chunk (the halo of A_H's receptive field comes on top);
        None: the whole recording at once.
    n_layers : int, optional
        Stop after this many layers (default: all).
    cancel : callable, optional
        As in :func:`iterate_mu`.
    """
    n = len(model.layers) if n_layers is None else min(n_layers, len(model.layers))
    cache: dict = {}
    for i, layer in enumerate(model.layers[:n]):
        W, H, div = apply_layer(layer, M, W, H, model.updates_w(i), chunk, track_divergence, cancel, cache)
        yield Step(i + 1, W, H, div)


def apply_layer(layer, M: torch.Tensor, W: torch.Tensor, H: torch.Tensor, with_w: bool, chunk: int | None = None,
                track_divergence: bool = False, cancel=None,
                cache: dict | None = None, peak: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, float]:
    """One unrolled layer: W updated if ``with_w`` (accelerated by A_W), then H (by A_H, with step ω).

    ``cache``: a dict the caller keeps across layers for the divergence's M-only terms.
    ``peak`` (shape ``(..., 1, 1)``) replaces the maximum of H in A_H's input normalisation (default: the
    maximum of the H given): the live transcriber (:mod:`unmf_core.streaming`) runs a window of a stream
    with the running maximum of everything it has seen.

    Returns
    -------
    (W, H, divergence)
        The new factors and D(M | WH) (NaN unless ``track_divergence``).
    """
    cfg = layer.cfg
    parts = spans(M.shape[-1], chunk, layer.receptive_halo())
    if with_w:
        num, den = _sum_w_stats(M, W, H, cfg.beta, parts, cancel)
        W = apply_W(W, num, den, cfg.beta, accel=layer.accel_W(W), lambda_W=cfg.lambda_w)
    whole = len(parts) == 1
    if peak is None and not whole:
        peak = H.amax(dim=(-2, -1), keepdim=True)  # one chunk normalises by its own max
    H_new = H if whole else torch.empty_like(H)
    div = 0.0
    for lo, a, b, hi in parts:
        check_cancel(cancel)
        acc = layer.accel_H(H, peak) if whole else layer.accel_H(H[..., lo:hi], peak)[..., a - lo:b - lo]
        h = update_H(M[..., a:b], W, H[..., a:b], cfg.beta, accel=acc, lambda_H=cfg.lambda_h,
                     clip=cfg.clip_h, step=layer.step_size())
        H_new = _put(H_new, a, b, h, len(parts))
        if track_divergence:
            div += float(_chunk_divergence(M, W.detach(), h.detach(), cfg.beta, a, b, cache))
    return W, H_new, div if track_divergence else float("nan")
