"""The acceleration CNN of the unrolled layers (A_W, A_H) and the key context of A_H's input.

Two output heads exist:

* ``"centered"`` (default): ``softplus(x + ln(e − 1))`` with a zero-initialised
  last convolution, so an untrained model outputs exactly 1 (plain MU) and a
  trained one can push factors above or below 1;
* ``"seed"``: the seed's ``softplus(relu(x))``, never below ln 2, kept only to
  load the seed's checkpoints.
"""
from __future__ import annotations

import math
from typing import Sequence, cast

import torch
from torch import nn

from . import im2col

_OFFSET = math.log(math.e - 1.0)
#: Frames per time tile and values per block when :class:`AccelCNN` runs a large input in blocks.
TILE = 2048
BLOCK = 16384
#: Without gradients, rows of up to :data:`TILE` frames are zero-padded to a multiple of this many frames
#: (:meth:`AccelCNN._bucketed`): oneDNN compiles and keeps kernels per input shape (~2 MB for each file's
#: chunk length, measured over 16 files), and with padded rows files of any length share a few shapes.
QUANTUM = 64


def aligned_chunk(frames: int, halo: int) -> int:
    """The largest chunk of at most ``frames`` frames whose rows with a halo of ``halo`` on both sides fill a
    multiple of :data:`QUANTUM` frames (at least one quantum), so that the chunks need no padding."""
    return max(QUANTUM, (frames + 2 * halo) // QUANTUM * QUANTUM) - 2 * halo


def key_context(x: torch.Tensor, offsets: Sequence[int]) -> torch.Tensor:
    """Each row of ``x`` with the rows ``offsets`` keys away as extra channels.

    Parameters
    ----------
    x : torch.Tensor
        ``(..., K, T)`` rows (keys) over time.
    offsets : sequence of int
        Key offsets; an empty sequence gives ``x`` with one channel.

    Returns
    -------
    torch.Tensor
        ``(..., K, 1 + len(offsets), T)``: channel 0 of row k is ``x[..., k, :]``, channel
        ``j + 1`` is ``x[..., k + offsets[j], :]``, zero where ``k + offsets[j]`` is outside ``0 … K−1``.
        Only the same frames are read, so a time chunk of ``x`` gives the same chunk of the result.
    """
    if not offsets:
        return x.unsqueeze(-2)
    k = x.shape[-2]
    reach = min(k, max(abs(int(o)) for o in offsets))
    padded = nn.functional.pad(x, (0, 0, reach, reach))  # zero rows above and below
    chans = [x] + [padded[..., reach + o:reach + o + k, :] if abs(o) < k else torch.zeros_like(x)
                   for o in (int(o) for o in offsets)]
    return torch.stack(chans, dim=-2)


class AccelCNN(nn.Module):
    """1-D CNN giving a positive factor per sample: channels c → 2h → h → 1.

    Kernels 5, 3, 3 with 'same' padding and LeakyReLU between them.
    ``forward(x)`` maps ``(N, L)`` (one input channel) or ``(N, c, L)`` to
    ``(N, L)``: each of the N rows is one column of W or one row of H (with
    its :func:`key_context` as further channels), all in one batched convolution.
    """

    def __init__(self, hidden: int = 16, head: str = "centered", batchnorm: bool = False, in_channels: int = 1):
        super().__init__()
        if head not in ("centered", "seed"):
            raise ValueError(f"unknown head {head!r}")
        self.head = head
        self.conv1 = nn.Conv1d(in_channels, 2 * hidden, 5, padding=2)
        self.conv2 = nn.Conv1d(2 * hidden, hidden, 3, padding=1)
        self.conv3 = nn.Conv1d(hidden, 1, 3, padding=1)
        self.act = nn.LeakyReLU()
        self.bn1 = nn.BatchNorm1d(2 * hidden) if batchnorm else nn.Identity()
        self.bn2 = nn.BatchNorm1d(hidden) if batchnorm else nn.Identity()
        #: Precision of the convolutions when run without gradients (:meth:`_trunk_inference`); not a parameter.
        self.precision = torch.float32
        if head == "centered":
            nn.init.zeros_(self.conv3.weight)
            if self.conv3.bias is not None:
                nn.init.zeros_(self.conv3.bias)

    @property
    def in_channels(self) -> int:
        """Input channels c (1, or 1 + the number of key offsets of A_H's context)."""
        return int(self.conv1.in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Factors for every row of ``x`` (shape ``(N, L)`` or ``(N, c, L)``): ``(N, L)``.

        Large inputs go through the network in cache-sized blocks of time
        tiles (:data:`TILE` frames plus a halo of the receptive field, the
        padding outside each row masked to zero after every convolution), which
        gives exactly the result of one call on the whole input and is several
        times faster on a CPU: one call over all rows streams
        ``2h × N × L`` intermediate values through main memory.
        """
        if x.dim() == 2:
            x = x.unsqueeze(1)
        n, c, length = x.shape
        if c != self.in_channels:
            raise ValueError(f"AccelCNN expects {self.in_channels} input channels, got {c}")
        if n * length <= BLOCK or (self.training and not isinstance(self.bn1, nn.Identity)):
            y = self._trunk(x, None).squeeze(1)
        elif length <= TILE and not torch.is_grad_enabled() and isinstance(self.bn1, nn.Identity):
            y = self._bucketed(x)
        elif length <= TILE:
            per = max(1, BLOCK // length)
            y = torch.cat([self._trunk(x[i:i + per], None) for i in range(0, n, per)]).squeeze(1)
        else:
            y = self._tiled(x)
        return self._head(y)

    def _trunk(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if not torch.is_grad_enabled() and isinstance(self.bn1, nn.Identity):
            return self._trunk_inference(x, mask)
        y = self.act(self.bn1(self.conv1(x)))
        if mask is not None:
            y = y * mask
        y = self.act(self.bn2(self.conv2(y)))
        if mask is not None:
            y = y * mask
        return self.conv3(y)

    def _bucketed(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`forward`'s inference on rows padded with zeros to a multiple of :data:`QUANTUM` frames.

        Exact: after each activation the padded frames are set back to zero, which is what the next
        convolution's own zero padding reads in the unpadded rows, and the output is cut to the rows'
        length. Returns ``(n, length)``.
        """
        n, _, length = x.shape
        width = -(-length // QUANTUM) * QUANTUM
        per = max(1, BLOCK // width)
        if width > length:
            x = nn.functional.pad(x, (0, width - length))
        y = torch.cat([self._trunk_inference(x[i:i + per], None, valid=length) for i in range(0, n, per)])
        return y[:, 0, :length]

    def _trunk_inference(self, x: torch.Tensor, mask: torch.Tensor | None, valid: int | None = None
                         ) -> torch.Tensor:
        """:meth:`_trunk` without gradients: the same convolutions, laid out for speed.

        The first convolution runs as a matrix product (:func:`.im2col.conv_rows`), the others as 2-D
        ones of height 1 in channels-last layout (the channels of one frame adjacent, which oneDNN
        computes several times faster than the 1-D layout for these few channels), activations in
        place, in :attr:`precision` (float32: equal to the 1-D layout up to
        float rounding; bfloat16: faster on CPUs with AMX / AVX-512 BF16, see
        :func:`~unmf_core.nmf.precision.bf16_supported`). ``x`` is ``(n, c, L)``;
        the output ``(n, 1, L)`` has the input's dtype. ``valid``: frames from this one on are padding,
        zeroed after every activation (:meth:`_bucketed`).
        """
        n, c, length = x.shape
        # short windows (live): float32 matrix products
        if mask is None and valid is None and n * length <= im2col.MAX_VALUES:
            return im2col.trunk(x, self._matrix_weights(), self.act.negative_slope)
        (mat1, b1, k1), (w2, b2), (w3, b3) = self._inference_weights()
        # the first convolution (c → 2h channels) as one matrix product over the unfolded frames: oneDNN's
        # kernel for so few input channels took ~⅔ of the three (measured 1.3 of 1.9 ms for 19 × 832 bfloat16
        # rows, the product 0.2 ms, the same values), and the product's (n, L, 2h) output already is the
        # channels-last layout of the next convolution's input
        y = im2col.conv_rows(x.to(mat1.dtype).transpose(1, 2), mat1, b1, k1).permute(0, 2, 1).unsqueeze(2)
        y = nn.functional.leaky_relu_(y, self.act.negative_slope)
        if mask is not None:
            y.mul_(mask.unsqueeze(2))
        if valid is not None and valid < length:
            y[..., valid:].zero_()
        y = nn.functional.leaky_relu_(nn.functional.conv2d(y, w2, b2, padding=(0, _pad(self.conv2))),
                                      self.act.negative_slope)
        if mask is not None:
            y.mul_(mask.unsqueeze(2))
        if valid is not None and valid < length:
            y[..., valid:].zero_()
        y = nn.functional.conv2d(y, w3, b3, padding=(0, _pad(self.conv3)))
        return y.reshape(n, 1, length).to(x.dtype)

    def _matrix_weights(self) -> list:
        """The convolutions as :mod:`.im2col` matrices (cached until they change)."""
        convs = (self.conv1, self.conv2, self.conv3)
        key = tuple((c.weight._version, c.weight.data_ptr(), c.weight.dtype) for c in convs)
        cached = self.__dict__.get("_matrices")
        if cached is None or cached[0] != key:
            self.__dict__["_matrices"] = cached = (key, [im2col.conv_weights(c) for c in convs])
        return cached[1]

    def _inference_weights(self) -> list[tuple]:
        """The weights in :attr:`precision` (cached until they change): the first convolution as an
        :mod:`.im2col` matrix ``(matrix, bias, kernel size)``, the others as channels-last 2-D kernels
        ``(weight, bias)``."""
        convs = (self.conv1, self.conv2, self.conv3)
        # bfloat16 replaces float32 only: a model kept in float64 runs in float64
        dtype = self.precision if self.conv1.weight.dtype == torch.float32 else self.conv1.weight.dtype
        key = (dtype, self.conv1.weight.device,
               tuple((c.weight._version, c.weight.data_ptr()) for c in convs))
        cached = self.__dict__.get("_fast")
        if cached is None or cached[0] != key:
            mat, bias, k = im2col.conv_weights(self.conv1)
            ws: list[tuple] = [(mat.to(dtype), None if bias is None else bias.to(dtype), k)]
            ws += [(c.weight.detach().unsqueeze(2).to(dtype).contiguous(memory_format=torch.channels_last),
                    None if c.bias is None else c.bias.detach().to(dtype)) for c in convs[1:]]
            self.__dict__["_fast"] = cached = (key, ws)
        return cached[1]

    def _tiled(self, x: torch.Tensor) -> torch.Tensor:
        n, c, length = x.shape
        halo = self.halo()
        width = TILE + 2 * halo
        tiles = -(-length // TILE)
        pad = (halo, tiles * TILE - length + halo)
        xs = nn.functional.pad(x, pad).unfold(2, width, TILE)  # (n, c, tiles, width)
        xs = xs.transpose(1, 2).reshape(n * tiles, c, width)
        ones = x.new_ones(1, length)
        ms = nn.functional.pad(ones, pad).unfold(1, width, TILE).reshape(-1, 1, width)
        ms = ms.repeat(n, 1, 1)
        per = max(1, BLOCK // width)
        out = torch.cat([self._trunk(xs[i:i + per], ms[i:i + per]) for i in range(0, xs.shape[0], per)])
        return out[:, 0, halo:TILE + halo].reshape(n, tiles * TILE)[:, :length]

    def halo(self) -> int:
        """Samples each side of a sample that the network reads (2 + 1 + 1 = 4 for kernels 5, 3, 3)."""
        return sum(c.dilation[0] * (c.kernel_size[0] - 1) // 2 for c in (self.conv1, self.conv2, self.conv3))

    def _head(self, y: torch.Tensor) -> torch.Tensor:
        if self.head == "seed":
            return nn.functional.softplus(torch.relu(y))
        return nn.functional.softplus(y + _OFFSET)


def _pad(conv: nn.Conv1d) -> int:
    return int(cast(tuple, conv.padding)[0])
