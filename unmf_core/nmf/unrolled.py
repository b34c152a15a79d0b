"""Unrolled MU: L multiplicative updates as network layers with learned acceleration.

Each layer applies the MU step of :mod:`unmf_core.nmf.kernels` and multiplies it by
acceleration factors from two small 1-D CNNs (Kervazo & Cohen, EUSIPCO 2024):
``A_W`` runs over frequency on every column of W, ``A_H`` over time on every row
of H, all columns / rows in one batched call. Layer parameter names follow the
seed research code (``layers.N.Aw.conv1`` …), so its checkpoints load.

A_H may also see other keys: with ``ah_context`` offsets, each row of H comes
with the rows that many keys away (:func:`~unmf_core.nmf.accel.key_context`,
e.g. an octave above: its partials) as further input channels. The CNN itself
and its output heads are in :mod:`unmf_core.nmf.accel`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterator

import torch
from torch import nn

from . import chunking
from .accel import AccelCNN, key_context
from .gate import NoteGate
from .kernels import Step
from ..errors import OptionError

__all__ = ["AccelCNN", "UnrolledConfig", "UnrolledLayer", "UnrolledMU", "key_context"]


@dataclass
class UnrolledConfig:
    """Architecture of an unrolled model.

    Attributes
    ----------
    n_layers : int
        Number of layers L.
    hidden : int
        h: the CNNs have channels c → 2h → h → 1 (c = 1 for A_W, 1 + len(ah_context) for A_H).
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
        MU steps that initialise H from the start (:func:`~unmf_core.nmf.kernels.start_H`).
    batchnorm : bool
        Batch normalisation after the first two convolutions (some seed checkpoints).
    learn_step : bool
        Each layer also learns a step size ω: the exponent on the MU ratio of H
        (``exp`` of a parameter that starts at 0, so ω = 1 and the untrained
        layer is still plain MU; kept within [0.5, 2.5]). Over-relaxed steps
        (ω > 1) speed up MU; the CNNs cannot see the MU ratio, so this is what
        they cannot learn by themselves.
    ah_context : tuple of int
        Key offsets whose rows A_H gets as extra input channels (:func:`~unmf_core.nmf.accel.key_context`;
        e.g. ``(-24, -19, -12, 12, 19, 24)``: the keys an octave, a twelfth and two octaves away); ``()``:
        each row alone (1 channel, the models trained before this option).
    note_gate : int
        Channels of the model's note gate (:class:`~unmf_core.nmf.gate.NoteGate`), which reads the
        last H and the CQT and says where notes start; 0: no gate (the models trained before it).
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
    ah_context: tuple[int, ...] = ()
    note_gate: int = 0

    def __post_init__(self) -> None:
        offsets = self.ah_context
        if isinstance(offsets, (str, bytes)) or not isinstance(offsets, (tuple, list)) or not all(
                isinstance(o, int) and not isinstance(o, bool) for o in offsets):
            raise OptionError(f"ah_context must be a list of whole numbers, not {offsets!r}")
        if len(set(offsets)) != len(offsets) or not all(0 < abs(o) < 88 for o in offsets):
            raise OptionError(f"ah_context {list(offsets)}: key offsets must be distinct, nonzero and within ±87")
        self.ah_context = tuple(offsets)  # JSON gives a list
        if isinstance(self.note_gate, bool) or not isinstance(self.note_gate, int) or not 0 <= self.note_gate <= 256:
            raise OptionError(f"note_gate must be a whole number of channels in 0..256, not {self.note_gate!r}")

    def to_dict(self) -> dict:
        """Plain dict (JSON-ready)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "UnrolledConfig":
        """Inverse of :meth:`to_dict` (also after JSON); unknown keys are ignored."""
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def _accel_h(cfg: UnrolledConfig) -> AccelCNN:
    return AccelCNN(cfg.hidden, cfg.head, cfg.batchnorm, in_channels=1 + len(cfg.ah_context))


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
        self.Ah = Ah if Ah is not None else _accel_h(cfg)
        if cfg.learn_step:
            self.log_step = nn.Parameter(torch.zeros(()))

    def step_size(self) -> torch.Tensor | float:
        """ω, the exponent on the MU ratio of H (1.0 without a learned step)."""
        if not self.cfg.learn_step:
            return 1.0
        return self.log_step.exp().clamp(0.5, 2.5)

    def accel_H(self, H: torch.Tensor, peak: torch.Tensor | None = None) -> torch.Tensor:
        """A_H(H): factors for every row of H ``(..., K, T)`` in one batched call.

        Each row comes with its ``cfg.ah_context`` rows as further channels
        (:func:`~unmf_core.nmf.accel.key_context`, the same frames). ``peak``
        (shape ``(..., 1, 1)``) replaces H's own maximum in the "max" input
        normalisation: a time chunk of H then gets exactly the factors it gets
        inside the whole H (see :mod:`unmf_core.nmf.chunking`).
        """
        if peak is not None and self.cfg.input_norm == "max":
            x = H / peak.clamp_min(1e-12)
        else:
            x = _normalise(H, self.cfg.input_norm, (-2, -1))
        x = key_context(x, self.cfg.ah_context)  # (..., K, 1 + offsets, T)
        return self.Ah(x.reshape(-1, x.shape[-2], H.shape[-1])).reshape(H.shape)

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
            Aw, Ah = AccelCNN(cfg.hidden, cfg.head, cfg.batchnorm), _accel_h(cfg)
            self.layers = nn.ModuleList(UnrolledLayer(cfg, Aw, Ah) for _ in range(cfg.n_layers))
        else:
            self.layers = nn.ModuleList(UnrolledLayer(cfg) for _ in range(cfg.n_layers))
        #: The note gate (None: notes come from H alone, as for plain MU).
        self.gate = NoteGate(cfg.note_gate) if cfg.note_gate else None

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
