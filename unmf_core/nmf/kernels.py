"""β-divergence NMF by multiplicative updates (MU): the update formulas.

One implementation of the MU step serves both plain MU and every layer of the
unrolled network: :func:`update_H` and :func:`update_W` take an optional
element-wise acceleration factor, which plain MU leaves out (factor 1). The
runs built from them (initialisation, MU iterations, the unrolled layers,
whole or in time chunks) are in :mod:`unmf_core.nmf.chunking`.

For β outside [1, 2] the update ratio is raised to the majorisation-minimisation
exponent γ(β) of Févotte & Idier (2011), which makes the divergence provably
non-increasing for every real β; for β in [1, 2] γ = 1 (the classical update).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

#: Floor applied to WH and to denominators to avoid division by zero.
EPS = 1e-12


def mm_exponent(beta: float) -> float:
    """Exponent γ(β) that makes MU monotone (Févotte & Idier 2011)."""
    if beta < 1:
        return 1.0 / (2.0 - beta)
    if beta > 2:
        return 1.0 / (beta - 1.0)
    return 1.0


def beta_divergence(M: torch.Tensor, V: torch.Tensor, beta: float = 1.0, eps: float = EPS) -> torch.Tensor:
    """β-divergence D_β(M | V), summed over all entries (batch dims summed too).

    Parameters
    ----------
    M : torch.Tensor
        Non-negative data.
    V : torch.Tensor
        Non-negative model, same shape (usually ``W @ H``).
    beta : float
        0 = Itakura-Saito, 1 = Kullback-Leibler, 2 = half squared Euclidean.

    Returns
    -------
    torch.Tensor
        A scalar.
    """
    V = V.clamp_min(eps)
    if beta == 2:
        return 0.5 * ((M - V) ** 2).sum()
    if beta == 1:
        Mp = M.clamp_min(eps)
        return (torch.where(M > 0, M * torch.log(Mp / V), torch.zeros_like(M)) - M + V).sum()
    if beta == 0:
        R = M.clamp_min(eps) / V
        return (R - torch.log(R) - 1).sum()
    Mp = M.clamp_min(eps)
    return ((Mp ** beta + (beta - 1) * V ** beta - beta * Mp * V ** (beta - 1)) / (beta * (beta - 1))).sum()


def data_terms(M: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Σ M log M, Σ M)`` in float64: the part of the KL divergence that depends on M alone.

    Computed once per recording (or chunk) and passed to :func:`fit_divergence`.
    """
    return torch.special.xlogy(M, M).sum(dtype=torch.float64), M.sum(dtype=torch.float64)


def fit_divergence(M: torch.Tensor, W: torch.Tensor, H: torch.Tensor, beta: float = 1.0,
                   terms: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """D_β(M | WH) as :func:`beta_divergence` gives it, with fewer passes over ``(..., F, T)``.

    For β = 1 (KL) it is ``Σ M log M − Σ M log WH − Σ M + Σ WH`` where
    ``Σ WH = (1ᵀW)(H1)`` needs no product and the M-only terms come from
    :func:`data_terms` (computed once when ``terms`` is given): one matrix
    product, one log and one multiply-sum, instead of the ten element-wise
    passes of the textbook formula. Sums in float64. Other β: :func:`beta_divergence`.
    No gradients (the training loss uses :func:`beta_divergence`).

    Returns
    -------
    torch.Tensor
        A float64 scalar (summed over batch dimensions too).
    """
    if beta != 1:
        return beta_divergence(M, W @ H, beta).detach().to(torch.float64)
    with torch.no_grad():
        m_log_m, m_sum = terms if terms is not None else data_terms(M)
        log_v = (W @ H).clamp_min_(EPS).log_()
        w_col = W.sum(dim=-2, dtype=torch.float64).unsqueeze(-2)
        wh_sum = (w_col @ H.sum(dim=-1, dtype=torch.float64).unsqueeze(-1)).sum()
        return m_log_m - (M * log_v).sum(dtype=torch.float64) - m_sum + wh_sum


def _ratio(num: torch.Tensor, den: torch.Tensor, beta: float) -> torch.Tensor:
    r = num / den.clamp_min(EPS)
    g = mm_exponent(beta)
    return r if g == 1.0 else r ** g


def update_H(M: torch.Tensor, W: torch.Tensor, H: torch.Tensor, beta: float = 1.0,
             accel: torch.Tensor | None = None, lambda_H: float = 0.0,
             clip: float | None = None, step: torch.Tensor | float = 1.0) -> torch.Tensor:
    """One multiplicative update of H with W fixed.

    ``H ← H ⊙ accel ⊙ (Wᵀ[(WH)^(β-2) ⊙ M] / (Wᵀ(WH)^(β-1) + λ_H))^(γ(β)·step)``

    Parameters
    ----------
    M : torch.Tensor
        ``(..., F, T)`` data.
    W : torch.Tensor
        ``(..., F, K)`` templates.
    H : torch.Tensor
        ``(..., K, T)`` activations.
    beta : float
        β of the divergence.
    accel : torch.Tensor, optional
        Element-wise acceleration factor, shape of H (the unrolled layers' A_H).
    lambda_H : float
        Added to the denominator (sparsity penalty).
    clip : float, optional
        Upper bound on the new H.
    step : float or torch.Tensor
        Exponent on the MU ratio (1: plain MU; above 1: an over-relaxed step,
        the unrolled layers' learned step size).

    Returns
    -------
    torch.Tensor
        The updated H.
    """
    inplace = not torch.is_grad_enabled()  # no autograd graph to keep: temporaries can be reused
    WH = (W @ H).clamp_min_(EPS) if inplace else (W @ H).clamp_min(EPS)
    Wt = W.transpose(-1, -2)
    if beta == 1:
        num = Wt @ (torch.div(M, WH, out=WH) if inplace else M / WH)
        den = W.sum(dim=-2).unsqueeze(-1).expand_as(H)
    elif beta == 2:
        num = Wt @ M
        den = Wt @ WH
    else:
        num = Wt @ (WH ** (beta - 2) * M)
        den = Wt @ WH ** (beta - 1)
    if lambda_H:
        den = den + lambda_H
    ratio = _ratio(num, den, beta)
    if not (isinstance(step, float) and step == 1.0):
        ratio = ratio ** step
    if inplace and ratio.shape == H.shape and ratio.dtype == H.dtype:  # no gradients: reuse the ratio's memory
        H = ratio.mul_(H) if accel is None else ratio.mul_(H).mul_(accel)
        return H if clip is None else H.clamp_max_(clip)
    H = H * ratio
    if accel is not None:
        H = H * accel
    if clip is not None:
        H = H.clamp_max(clip)
    return H


def update_W(M: torch.Tensor, W: torch.Tensor, H: torch.Tensor, beta: float = 1.0,
             accel: torch.Tensor | None = None, lambda_W: float = 0.0) -> torch.Tensor:
    """One multiplicative update of W with H fixed (see :func:`update_H`).

    ``W ← W ⊙ accel ⊙ ([(WH)^(β-2) ⊙ M]Hᵀ / ((WH)^(β-1)Hᵀ + λ_W))^γ(β)``

    It is :func:`apply_W` of :func:`w_stats`; both are sums over time, so a
    long recording can add up :func:`w_stats` over time chunks and apply once.
    """
    return apply_W(W, *w_stats(M, W, H, beta), beta, accel, lambda_W)


def w_stats(M: torch.Tensor, W: torch.Tensor, H: torch.Tensor,
            beta: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Numerator and denominator of the W update, each ``(..., F, K)``.

    Both are sums over the frames of ``M`` and ``H``: the statistics of
    consecutive time chunks add up to those of the whole recording.
    """
    WH = (W @ H).clamp_min(EPS)
    Ht = H.transpose(-1, -2)
    if beta == 1:
        num = (M / WH) @ Ht
        den = H.sum(dim=-1).unsqueeze(-2).expand_as(W)
    elif beta == 2:
        num = M @ Ht
        den = WH @ Ht
    else:
        num = (WH ** (beta - 2) * M) @ Ht
        den = WH ** (beta - 1) @ Ht
    return num, den


def apply_W(W: torch.Tensor, num: torch.Tensor, den: torch.Tensor, beta: float = 1.0,
            accel: torch.Tensor | None = None, lambda_W: float = 0.0) -> torch.Tensor:
    """The W update from its statistics (see :func:`w_stats`)."""
    if lambda_W:
        den = den + lambda_W
    W = W * _ratio(num, den, beta)
    if accel is not None:
        W = W * accel
    return W


def start_H(M: torch.Tensor, n_keys: int, seed: int | None = None) -> torch.Tensor:
    """Activations ``(..., n_keys, T)`` on M's device to start MU from.

    ``seed`` None (the default): flat, every key equally active in every frame, so a run depends on
    nothing but its input. An int: seeded uniform random + 0.01 (the start until 2026-12-03; the
    bundled model was trained from it). A random start moves onset-F on the project's 12-piece
    calibration renders by ±0.003 from seed to seed, and on the three short pieces of ``../shared``
    by ±0.01; the flat start scores at or above the mean over seeds (docs/benchmarks/calibration.md).
    """
    shape = (*M.shape[:-2], n_keys, M.shape[-1])
    if seed is None:
        return torch.ones(shape, dtype=M.dtype, device=M.device)
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    return torch.rand(shape, generator=gen, dtype=M.dtype).to(M.device).add_(0.01)  # in place: an hour's H is 0.1 GB


def background_activation(M: torch.Tensor, W: torch.Tensor, beta: float = 1.0, percentile: float = 25.0,
                          smooth: int = 15, freq_median: int = 25, n_iter: int = 50) -> torch.Tensor:
    """Activations ``(K,)`` that the recording's steady broadband background alone gets.

    The background spectrum is the per-bin ``percentile`` over time of M
    smoothed over ``smooth`` frames (smoothing removes the frame-to-frame
    fluctuation of noise, so its level is not under-estimated), then
    median-filtered over ``freq_median`` bins so that harmonic peaks of a
    sustained tone drop out and only the broadband floor stays. It is
    factorised on W with MU. Note extraction asks a note to stand well above
    this level: steady noise gives no notes, a held tone still does.
    """
    floor = _time_floor(M, percentile, smooth)
    if freq_median > 1:
        half = freq_median // 2
        padded = torch.nn.functional.pad(floor.transpose(-1, -2), (half, half), mode="replicate")
        floor = padded.unfold(-1, freq_median, 1).median(dim=-1).values.transpose(-1, -2)
    h = torch.full((W.shape[-1], 1), float(floor.mean()) + EPS, dtype=M.dtype, device=M.device)
    with torch.no_grad():
        for _ in range(n_iter):
            h = update_H(floor, W, h, beta)
    return h[:, 0]


def _time_floor(M: torch.Tensor, percentile: float, smooth: int, block: int = 1 << 20) -> torch.Tensor:
    """Per-bin ``percentile`` over time of M smoothed over ``smooth`` frames, ``(..., F, 1)``.

    Rows are independent, so they go ``block`` values at a time: the smoothed
    copy and ``kthvalue``'s working copies (values and int64 indices) stay
    small for an hour of audio instead of ~3x M's size.
    """
    T = M.shape[-1]
    n = T - smooth + 1 if smooth > 1 and T > smooth else T
    k = max(1, min(n, int(round(percentile / 100.0 * n))))
    rows = M.reshape(-1, T)
    step = max(1, block // max(1, T))
    out = []
    for r in range(0, rows.shape[0], step):
        x = rows[r:r + step]
        if n != T:
            x = torch.nn.functional.avg_pool1d(x.unsqueeze(1), smooth, stride=1).squeeze(1)
        out.append(torch.kthvalue(x, k, dim=-1, keepdim=True).values)
    return torch.cat(out).reshape(*M.shape[:-1], 1)


@dataclass
class Step:
    """State after one MU iteration or unrolled layer.

    Attributes
    ----------
    index : int
        1-based iteration / layer number (0 = the initialisation).
    W, H : torch.Tensor
        The factors after this step.
    divergence : float
        D_β(M | WH) after this step (NaN when not computed).
    """

    index: int
    W: torch.Tensor
    H: torch.Tensor
    divergence: float = float("nan")
