"""Unrolled MU: L multiplicative updates as network layers with learned acceleration.

Each layer applies the MU step of :mod:`unmf_core.nmf.kernels` and multiplies it by
acceleration factors from two small 1-D CNNs (Kervazo & Cohen, EUSIPCO 2024):
``A_W`` runs over frequency on every column of W, ``A_H`` over time on every row
of H, all columns / rows in one batched call. Layer parameter names follow the
seed research code (``layers.N.Aw.conv1`` …), so its checkpoints load.

Two output heads exist:

* ``"centered"`` (default): ``softplus(x + ln(e − 1))`` with a zero-initialised
  last convolution, so an untrained model outputs exactly 1 (plain MU) and a
  trained one can push factors above or below 1;
* ``"seed"``: the seed's ``softplus(relu(x))``, never below ln 2, kept only to
  load the seed's checkpoints.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterator, cast

import torch
from torch import nn

from . import chunking, im2col
from .kernels import Step

_OFFSET = math.log(math.e - 1.0)
#: Frames per time tile and values per block when :class:`AccelCNN` runs a large input in blocks.
TILE = 2048
BLOCK = 16384


@dataclass
class UnrolledConfig:
    """Architecture of an unrolled model.

    Attributes
    ----------
    n_layers : int
        Number of layers L.
    hidden : int
        h: the CNNs have channels 1 → 2h → h → 1.
    w_every : int
        W is updated in layers ``w_every-1, 2·w_every-1, …``; 0 never updates W.
    shared : bool
        One A_W / A_H pair for all layers instead of one per layer.
    clip_h : float or None
        Clip H at this value after each layer.
    lambda_w, lambda_h : float
        Penalties added to the MU denominators.
    beta : float
        β of the divergence.
    head : str
        ``"centered"`` or ``"seed"`` (see the module docstring).
    input_norm : str
        ``"max"``: CNN inputs are divided by their maximum (scale-free);
        ``"none"``: raw values (the seed's way).
    init_iters : int
        MU steps that initialise H from a seeded random start.
    batchnorm : bool
        Batch normalisation after the first two convolutions (some seed checkpoints).
    learn_step : bool
        Each layer also learns a step size ω: the exponent on the MU ratio of H
        (``exp`` of a parameter that starts at 0, so ω = 1 and the untrained
        layer is still plain MU; kept within [0.5, 2.5]). Over-relaxed steps
        (ω > 1) speed up MU; the CNNs cannot see the MU ratio, so this is what
        they cannot learn by themselves.
    """

    n_layers: int = 10
    hidden: int = 16
    w_every: int = 5
    shared: bool = False
    clip_h: float | None = None
    lambda_w: float = 0.0
    lambda_h: float = 0.0
    beta: float = 1.0
    head: str = "centered"
    input_norm: str = "max"
    init_iters: int = 5
    batchnorm: bool = False
    learn_step: bool = False

    def to_dict(self) -> dict:
        """Plain dict (JSON-ready)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "UnrolledConfig":
        """Inverse of :meth:`to_dict`; unknown keys are ignored."""
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


class AccelCNN(nn.Module):
    """1-D CNN giving a positive factor per sample: channels 1 → 2h → h → 1.

    Kernels 5, 3, 3 with 'same' padding and LeakyReLU between them.
    ``forward(x)`` maps ``(N, L)`` to ``(N, L)``: each of the N rows is one
    column of W or one row of H, all in one batched convolution.
    """

    def __init__(self, hidden: int = 16, head: str = "centered", batchnorm: bool = False):
        super().__init__()
        if head not in ("centered", "seed"):
            raise ValueError(f"unknown head {head!r}")
        self.head = head
        self.conv1 = nn.Conv1d(1, 2 * hidden, 5, padding=2)
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Factors for every row of ``x`` (shape ``(N, L)``).

        Large inputs go through the network in cache-sized blocks of time
        tiles (:data:`TILE` frames plus a halo of the receptive field, the
        padding outside each row masked to zero after every convolution), which
        gives exactly the result of one call on the whole input and is several
        times faster on a CPU: one call over all rows streams
        ``2h × N × L`` intermediate values through main memory.
        """
        n, length = x.shape
        if n * length <= BLOCK or (self.training and not isinstance(self.bn1, nn.Identity)):
            y = self._trunk(x.unsqueeze(1), None).squeeze(1)
        elif length <= TILE:
            per = max(1, BLOCK // length)
            y = torch.cat([self._trunk(x[i:i + per].unsqueeze(1), None) for i in range(0, n, per)]).squeeze(1)
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

    def _trunk_inference(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """:meth:`_trunk` without gradients: the same convolutions, laid out for speed.

        Each convolution runs as a 2-D one of height 1 in channels-last layout
        (the channels of one frame adjacent, which oneDNN computes several times
        faster than the 1-D layout for these few channels), activations in
        place, in :attr:`precision` (float32: equal to the 1-D layout up to
        float rounding; bfloat16: faster on CPUs with AMX / AVX-512 BF16, see
        :func:`~unmf_core.nmf.precision.bf16_supported`). The output ``(n, 1, L)`` has the input's dtype.
        """
        n, _, length = x.shape
        if mask is None and n * length <= im2col.MAX_VALUES:  # short windows (live): float32 matrix products
            return im2col.trunk(x.reshape(n, length), self._matrix_weights(), self.act.negative_slope)
        (w1, b1), (w2, b2), (w3, b3) = self._inference_weights()
        dtype = w1.dtype
        y = nn.functional.conv2d(x.to(dtype).reshape(n, 1, 1, length), w1, b1, padding=(0, _pad(self.conv1)))
        y = nn.functional.leaky_relu_(y, self.act.negative_slope)
        if mask is not None:
            y.mul_(mask.unsqueeze(2))
        y = nn.functional.leaky_relu_(nn.functional.conv2d(y, w2, b2, padding=(0, _pad(self.conv2))),
                                      self.act.negative_slope)
        if mask is not None:
            y.mul_(mask.unsqueeze(2))
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

    def _inference_weights(self) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """The convolutions' weights as channels-last 2-D kernels in :attr:`precision` (cached until they change)."""
        convs = (self.conv1, self.conv2, self.conv3)
        # bfloat16 replaces float32 only: a model kept in float64 runs in float64
        dtype = self.precision if self.conv1.weight.dtype == torch.float32 else self.conv1.weight.dtype
        key = (dtype, self.conv1.weight.device,
               tuple((c.weight._version, c.weight.data_ptr()) for c in convs))
        cached = self.__dict__.get("_fast")
        if cached is None or cached[0] != key:
            ws = [(c.weight.detach().unsqueeze(2).to(dtype).contiguous(memory_format=torch.channels_last),
                   None if c.bias is None else c.bias.detach().to(dtype)) for c in convs]
            self.__dict__["_fast"] = cached = (key, ws)
        return cached[1]

    def _tiled(self, x: torch.Tensor) -> torch.Tensor:
        n, length = x.shape
        halo = self.halo()
        tiles = -(-length // TILE)
        pad = (halo, tiles * TILE - length + halo)
        xs = nn.functional.pad(x, pad).unfold(1, TILE + 2 * halo, TILE).reshape(-1, 1, TILE + 2 * halo)
        ones = x.new_ones(1, length)
        ms = nn.functional.pad(ones, pad).unfold(1, TILE + 2 * halo, TILE).reshape(-1, 1, TILE + 2 * halo)
        ms = ms.repeat(n, 1, 1)
        per = max(1, BLOCK // (TILE + 2 * halo))
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


def _normalise(x: torch.Tensor, how: str, dims: tuple[int, ...]) -> torch.Tensor:
    if how == "none":
        return x
    return x / x.amax(dim=dims, keepdim=True).clamp_min(1e-12)


class UnrolledLayer(nn.Module):
    """One layer: an accelerated MU update of H (and of W when asked).

    Its learned parts are A_W, A_H and the step size ω; the update itself is
    :func:`unmf_core.nmf.chunking.apply_layer` (one implementation, whole or in
    time chunks). The ``beta`` buffer only keeps the seed's state-dict layout;
    the update uses ``cfg.beta``.
    """

    beta: torch.Tensor  # a buffer

    def __init__(self, cfg: UnrolledConfig, Aw: AccelCNN | None = None, Ah: AccelCNN | None = None):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("beta", torch.tensor(float(cfg.beta)))
        self.Aw = Aw if Aw is not None else AccelCNN(cfg.hidden, cfg.head, cfg.batchnorm)
        self.Ah = Ah if Ah is not None else AccelCNN(cfg.hidden, cfg.head, cfg.batchnorm)
        if cfg.learn_step:
            self.log_step = nn.Parameter(torch.zeros(()))

    def step_size(self) -> torch.Tensor | float:
        """ω, the exponent on the MU ratio of H (1.0 without a learned step)."""
        if not self.cfg.learn_step:
            return 1.0
        return self.log_step.exp().clamp(0.5, 2.5)

    def accel_H(self, H: torch.Tensor, peak: torch.Tensor | None = None) -> torch.Tensor:
        """A_H(H): factors for every row of H ``(..., K, T)`` in one batched call.

        ``peak`` (shape ``(..., 1, 1)``) replaces H's own maximum in the "max"
        input normalisation: a time chunk of H then gets exactly the factors
        it gets inside the whole H (see :mod:`unmf_core.nmf.chunking`).
        """
        if peak is not None and self.cfg.input_norm == "max":
            x = H / peak.clamp_min(1e-12)
        else:
            x = _normalise(H, self.cfg.input_norm, (-2, -1))
        return self.Ah(x.reshape(-1, H.shape[-1])).reshape(H.shape)

    def receptive_halo(self) -> int:
        """Frames each side of a frame that A_H reads (2 + 1 + 1 = 4 for kernels 5, 3, 3)."""
        return self.Ah.halo()

    def accel_W(self, W: torch.Tensor) -> torch.Tensor:
        """A_W(W): factors for every column of W ``(..., F, K)`` in one batched call."""
        x = _normalise(W, self.cfg.input_norm, (-2,)).transpose(-1, -2)
        out = self.Aw(x.reshape(-1, W.shape[-2]))
        return out.reshape(x.shape).transpose(-1, -2)

    def forward(self, M: torch.Tensor, W: torch.Tensor, H: torch.Tensor,
                with_w: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply the layer (:func:`unmf_core.nmf.chunking.apply_layer`); W is updated only if ``with_w``."""
        W, H, _ = chunking.apply_layer(self, M, W, H, with_w)
        return W, H


class UnrolledMU(nn.Module):
    """The unrolled network: L :class:`UnrolledLayer` s.

    Parameters
    ----------
    cfg : UnrolledConfig
        Architecture; ``UnrolledConfig()`` is the default model's.
    """

    def __init__(self, cfg: UnrolledConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or UnrolledConfig()
        if cfg.shared:
            Aw, Ah = AccelCNN(cfg.hidden, cfg.head, cfg.batchnorm), AccelCNN(cfg.hidden, cfg.head, cfg.batchnorm)
            self.layers = nn.ModuleList(UnrolledLayer(cfg, Aw, Ah) for _ in range(cfg.n_layers))
        else:
            self.layers = nn.ModuleList(UnrolledLayer(cfg) for _ in range(cfg.n_layers))

    def set_precision(self, dtype: torch.dtype) -> None:
        """Run the CNNs' convolutions in ``dtype`` (float32 or bfloat16) when no gradients are taken.

        Parameters stay float32 (checkpoints are unchanged); only the
        inference-time copies of the kernels and the activations change.
        """
        if dtype not in (torch.float32, torch.bfloat16):
            raise ValueError(f"precision must be float32 or bfloat16, not {dtype}")
        for m in self.modules():
            if isinstance(m, AccelCNN):
                m.precision = dtype

    def updates_w(self, i: int) -> bool:
        """Whether layer ``i`` (0-based) updates W."""
        k = self.cfg.w_every
        return k > 0 and i % k == k - 1

    def iter_layers(self, M: torch.Tensor, W: torch.Tensor, H: torch.Tensor,
                    track_divergence: bool = False) -> Iterator[Step]:
        """Yield a :class:`~unmf_core.nmf.kernels.Step` after each layer (stop iterating to cancel).

        The whole recording as one chunk of :func:`unmf_core.nmf.chunking.iter_layers`.
        """
        return chunking.iter_layers(self, M, W, H, track_divergence)

    def forward(self, M: torch.Tensor, W: torch.Tensor, H: torch.Tensor,
                return_all: bool = False):
        """Run all layers.

        Parameters
        ----------
        M : torch.Tensor
            ``(..., F, T)`` data.
        W, H : torch.Tensor
            Initial factors (see :func:`unmf_core.nmf.chunking.initialize`).
        return_all : bool
            Also return the lists of every layer's H and W (for a loss on every layer).

        Returns
        -------
        (W, H) or (W, H, [H_1, …, H_L], [W_1, …, W_L])
        """
        Hs, Ws = [], []
        for step in self.iter_layers(M, W, H):
            W, H = step.W, step.H
            Hs.append(H)
            Ws.append(W)
        return (W, H, Hs, Ws) if return_all else (W, H)

    @classmethod
    def from_seed_state_dict(cls, sd: dict, **overrides) -> "UnrolledMU":
        """Build a model in the seed's variant from one of its state dicts.

        Layer count and h are read from the parameter names and shapes; layers
        whose CNN weights are all identical become a shared model.
        """
        n_layers = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("layers."))
        hidden = sd["layers.0.Ah.conv2.weight"].shape[0]
        shared = n_layers > 1 and all(
            torch.equal(sd[k], sd[k.replace("layers.0.", f"layers.{i}.", 1)])
            for k in sd if k.startswith("layers.0.A") for i in range(1, n_layers))
        batchnorm = any(".bn1." in k for k in sd)
        cfg = UnrolledConfig(n_layers=n_layers, hidden=hidden, shared=shared, head="seed",
                             input_norm="none", batchnorm=batchnorm, **overrides)
        model = cls(cfg)
        model.load_state_dict(sd)
        return model
