"""Training objectives of the unrolled model.

* :func:`activation_loss`: every layer's H against the MIDI piano roll, after
  normalising H by its activation scale (the reference level of note
  extraction, :func:`unmf_core.transcription.notes.activation_scale`), so the arbitrary scale
  of H does not matter. ``"threshold"`` (default) is a binary cross-entropy on
  ``τ·(log(H/scale) − log θ)`` with θ the onset threshold of
  :class:`~unmf_core.transcription.notes.NoteParams`: H should cross the extraction threshold
  exactly where notes sound, onset frames weighted up. ``"onset"`` uses the
  same logits but asks for what onset-F rewards: above the threshold at every
  onset (± one frame, weighted up), below it wherever no note sounds (3 frames
  of slack around each note), and cares little about the decaying sustain
  (weight :data:`SUSTAIN_WEIGHT`): a piano note fades below any fixed threshold
  long before its MIDI offset, and asking H to stay up there teaches the model
  to inflate quiet activations, which become false notes (measured on the
  rendered validation pieces: 0.59 → 0.57 after 3 epochs with ``"threshold"``,
  0.59 → 0.64 after one with ``"onset"``). ``"mse"`` is the seed's recipe
  (squared error between H / max H and the roll).
* :func:`divergence_ratio`: the fit D(M | WH) / D(M | W0 H0), which anchors the
  scale that the activation loss ignores; with ``cfg.fit_layers == "all"``
  (default) on every layer, else on the last one only (measured on the bundled
  recipe: with the last layer only, the trained model's intermediate layers
  drifted to D ≈ 10¹⁴ against 10⁴ for MU on the demo; with every layer D falls
  monotonically and faster than MU, at the same validation onset-F).
* :func:`warmup_loss`: the seed's warm-up objective, factors towards 1.

``cfg`` arguments are :class:`unmf_core.training.trainer.TrainConfig` objects.
"""
from __future__ import annotations

import math
from typing import cast

import torch
from torch import nn

from ..nmf.chunking import initialize
from ..nmf.kernels import beta_divergence
from ..transcription.notes import NoteParams
from ..nmf.unrolled import UnrolledLayer, UnrolledMU

LOSSES = ("onset", "threshold", "mse")
LAYER_WEIGHTS = ("final", "linear", "uniform")
#: Weight of the frames where a note sounds after its onset in the ``"onset"`` loss.
SUSTAIN_WEIGHT = 0.1


def layer_weights(n: int, how: str) -> list[float]:
    """Loss weights of the n layers (sum 1)."""
    if how == "final":
        w = [0.0] * (n - 1) + [1.0]
    elif how == "linear":
        w = [float(i + 1) for i in range(n)]
    elif how == "uniform":
        w = [1.0] * n
    else:
        raise ValueError(f"unknown layer weighting {how!r} (use {', '.join(LAYER_WEIGHTS)})")
    s = sum(w)
    return [x / s for x in w]


def activation_loss(H: torch.Tensor, roll: torch.Tensor, onsets: torch.Tensor, cfg,
                    threshold: float | None = None) -> torch.Tensor:
    """Loss between activations ``(B, 88, T)`` and the target roll (see the module docstring)."""
    if cfg.loss == "mse":
        Hn = H / H.detach().amax(dim=(-2, -1), keepdim=True).clamp_min(1e-8)
        w = 1.0 + cfg.onset_weight * onsets
        return (w * (Hn - roll) ** 2).mean()
    if cfg.loss not in ("threshold", "onset"):
        raise ValueError(f"unknown loss {cfg.loss!r} (use {', '.join(LOSSES)})")
    theta = NoteParams().threshold if threshold is None else threshold
    scale = H.detach().sum(dim=-2, keepdim=True).amax(dim=-1, keepdim=True).clamp_min(1e-8)
    logit = cfg.tau * (torch.log(H / scale + 1e-8) - math.log(theta))
    if cfg.loss == "threshold":
        w = 1.0 + cfg.onset_weight * onsets
        return nn.functional.binary_cross_entropy_with_logits(logit, roll, weight=w)
    pool = nn.functional.max_pool1d
    pos = pool(onsets, 3, 1, 1)  # the onset frames and one either side (the 50 ms tolerance is symmetric)
    near = pool(roll, 7, 1, 3)  # sounding, give or take 3 frames
    sustain = (roll - pos).clamp_min(0.0)
    w = cfg.onset_weight * pos + (1.0 - near) + SUSTAIN_WEIGHT * sustain
    target = torch.maximum(roll, pos)
    return nn.functional.binary_cross_entropy_with_logits(logit, target, weight=w)


def _start(model: UnrolledMU, M: torch.Tensor, W: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        return initialize(M, W, model.cfg.init_iters, model.cfg.beta)  # the engine's start


def divergence_ratio(M: torch.Tensor, W: torch.Tensor, H: torch.Tensor, W0: torch.Tensor, H0: torch.Tensor,
                     beta: float) -> torch.Tensor:
    """Mean over the batch of D(M | WH) / D(M | W0 H0): how much of the starting misfit is left."""
    ratios = [beta_divergence(M[i], W[i] @ H[i], beta) / beta_divergence(M[i], W0[i] @ H0[i], beta).clamp_min(1e-3)
              for i in range(M.shape[0])]
    return torch.stack(ratios).mean()


def batch_loss(model: nn.Module, M: torch.Tensor, W: torch.Tensor, roll: torch.Tensor, onsets: torch.Tensor,
               cfg, threshold: float | None = None) -> torch.Tensor:
    """Weighted loss over the layers for one batch (W: ``(B, F, 88)`` templates per item).

    ``threshold``: the onset threshold the notes will be extracted with (default
    :class:`~unmf_core.transcription.notes.NoteParams`'s); the activation loss is aligned to it.

    Plus ``cfg.divergence_weight`` times the final fit :func:`divergence_ratio`:
    the activation loss alone ignores the scale of H, and without this anchor
    the factors drift away from factorising M (measured: validation onset-F
    fell from 0.58 to 0.26-0.32 after one epoch).
    """
    core = _core(model)
    W0, H0 = _start(core, M, W)
    WL, _, Hs, Ws = model(M, W0, H0, return_all=True)
    weights = layer_weights(len(Hs), cfg.layer_weights)
    loss = sum(w * activation_loss(H, roll, onsets, cfg, threshold) for w, H in zip(weights, Hs) if w > 0)
    if cfg.divergence_weight:
        if cfg.fit_layers == "all":
            fit = sum(w * divergence_ratio(M, Wl, Hl, W0, H0, core.cfg.beta)
                      for w, Hl, Wl in zip(weights, Hs, Ws) if w > 0)
        else:
            fit = divergence_ratio(M, WL, Hs[-1], W0, H0, core.cfg.beta)
        loss = loss + cfg.divergence_weight * fit
    return cast(torch.Tensor, loss)


def warmup_loss(model: UnrolledMU, M: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """Mean squared distance of every layer's acceleration factors from 1 (the warm-up objective)."""
    W, H = _start(model, M, W)
    total = M.new_zeros(())
    for i, layer in enumerate(model.layers):
        assert isinstance(layer, UnrolledLayer)
        if model.updates_w(i):
            total = total + ((layer.accel_W(W) - 1) ** 2).mean()
        total = total + ((layer.accel_H(H) - 1) ** 2).mean()
        W, H = layer(M, W, H, model.updates_w(i))
        W, H = W.detach(), H.detach()
    return total / len(model.layers)


def _core(model: nn.Module) -> UnrolledMU:
    return cast(UnrolledMU, model.module if hasattr(model, "module") else model)
