"""A_H's three convolutions as matrix products, for the short windows of live transcription.

oneDNN's convolutions carry a fixed cost per call that dominates when a call
holds a few thousand samples (88 keys × the ~14 frames of a live update: 0.6 ms
a call, of which the arithmetic is ~30 µs). Unfolding each row's neighbourhood
("im2col") and multiplying by the kernel as a matrix is 2-3× faster there, and
slower than the convolutions for long inputs (measured: faster up to ~128 frames
× 88 rows, 1.7× slower at 512), so :meth:`AccelCNN._trunk_inference
<unmf_core.nmf.accel.AccelCNN._trunk_inference>` uses it only below
:data:`MAX_VALUES`, in float32 whatever the model's inference precision (at
these sizes bfloat16 convolutions were no faster: 0.47 vs 0.42 ms for 88 × 18).
Same arithmetic as the convolutions ('same' zero padding, LeakyReLU between
them), float rounding aside.
"""
from __future__ import annotations

import torch
from torch import nn

#: Inputs with at most this many values (rows × frames) go through matrix products.
MAX_VALUES = 88 * 64


def conv_weights(conv: nn.Conv1d) -> tuple[torch.Tensor, torch.Tensor | None, int]:
    """A 'same'-padded Conv1d as (matrix ``(k * c_in, c_out)``, bias, kernel size) for :func:`conv_rows`."""
    w = conv.weight.detach()  # (c_out, c_in, k)
    k = w.shape[-1]
    mat = w.permute(2, 1, 0).reshape(k * w.shape[1], w.shape[0]).contiguous()
    return mat, None if conv.bias is None else conv.bias.detach(), k


def conv_rows(x: torch.Tensor, mat: torch.Tensor, bias: torch.Tensor | None, k: int) -> torch.Tensor:
    """Convolve every row of ``x`` ``(n, L, c_in)`` along L: ``(n, L, c_out)``, zero 'same' padding."""
    n, length, c_in = x.shape
    half = k // 2
    cols = nn.functional.pad(x, (0, 0, half, k - 1 - half)).unfold(1, k, 1)  # (n, L, c_in, k)
    cols = cols.transpose(2, 3).reshape(n * length, k * c_in)
    y = cols @ mat if bias is None else torch.addmm(bias, cols, mat)
    return y.view(n, length, -1)


def trunk(x: torch.Tensor, layers: list[tuple[torch.Tensor, torch.Tensor | None, int]],
          negative_slope: float) -> torch.Tensor:
    """conv → LeakyReLU → conv → LeakyReLU → conv on rows ``(n, L)`` or ``(n, c, L)`` (c input channels).

    Returns ``(n, 1, L)``.
    """
    if x.dim() == 2:
        x = x.unsqueeze(1)
    n, _, length = x.shape
    y = x.transpose(1, 2)  # (n, L, c)
    for i, (mat, bias, k) in enumerate(layers):
        y = conv_rows(y, mat.to(y.dtype), None if bias is None else bias.to(y.dtype), k)
        if i + 1 < len(layers):
            y = nn.functional.leaky_relu_(y, negative_slope)
    return y.reshape(n, 1, length)
