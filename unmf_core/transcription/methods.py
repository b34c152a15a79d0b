"""The methods a run can use, each owning its β and its step count (decided here and nowhere else).

:class:`MU` is plain β-divergence MU; :class:`Unrolled` runs the layers of an
unrolled model. Both give the same interface to the engine: ``name``,
``beta``, ``steps`` (the steps that will run), :meth:`run` (the steps
themselves, whole or in time chunks) and :meth:`describe` (what a result
records). :func:`method_for` builds one from an
:class:`~unmf_core.transcription.options.Options`; out-of-range settings are
refused with :class:`~unmf_core.errors.OptionError` rather than clamped.

To add a method: write a class with these members, build it in
:func:`method_for`, and add its name to :data:`METHODS`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, ClassVar, Iterator

import numpy as np
import torch

from ..errors import OptionError
from ..nmf import chunking
from ..nmf.kernels import Step
from ..nmf.unrolled import UnrolledMU
from .options import Options

#: Method names :class:`Options` accepts.
METHODS = ("unrolled", "mu")

Cancel = Callable[[], bool] | None


def _whole_number(name: str, value, lo: int, hi: int | None = None, why: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo or (
            hi is not None and value > hi):
        span = f"{lo} to {hi}" if hi is not None else f"at least {lo}"
        raise OptionError(f"{name} = {value!r}: must be a whole number {span}{why}")
    return int(value)


@dataclass(frozen=True)
class MU:
    """Plain β-divergence MU: ``iterations`` updates of H (and of W with ``update_w``)."""

    iterations: int = 100
    beta: float = 1.0
    update_w: bool = False
    name: ClassVar[str] = "mu"

    def __post_init__(self):
        object.__setattr__(self, "iterations", _whole_number("iterations", self.iterations, 1))
        if isinstance(self.beta, bool) or not isinstance(self.beta, (int, float)) or not math.isfinite(self.beta):
            raise OptionError(f"beta = {self.beta!r}: must be a finite number")
        object.__setattr__(self, "beta", float(self.beta))

    @property
    def steps(self) -> int:
        """Iterations that run."""
        return self.iterations

    def run(self, M: torch.Tensor, W: torch.Tensor, H: torch.Tensor, chunk: int | None = None,
            track_divergence: bool = True, cancel: Cancel = None) -> Iterator[Step]:
        """The iterations from (W, H): a :class:`Step` after each (see :func:`unmf_core.nmf.chunking.iterate_mu`)."""
        return chunking.iterate_mu(M, W, H, self.iterations, self.beta, self.update_w,
                                   track_divergence=track_divergence, chunk=chunk, cancel=cancel)

    def describe(self) -> dict:
        """What a result records: method, β, steps, W updates."""
        return {"method": self.name, "beta": self.beta, "steps": self.steps, "update_w": self.update_w}


@dataclass(frozen=True)
class Unrolled:
    """The first ``layers`` layers of an unrolled model (None: all of them); β is the model's."""

    model: UnrolledMU = field(repr=False)
    layers: int | None = None
    name: ClassVar[str] = "unrolled"

    def __post_init__(self):
        n = self.model.cfg.n_layers
        if self.layers is None:
            object.__setattr__(self, "layers", n)
        object.__setattr__(self, "layers", _whole_number("layers", self.layers, 1, n,
                                                         f" (the model has {n} layers)"))

    @property
    def beta(self) -> float:
        """The model's β."""
        return float(self.model.cfg.beta)

    @property
    def steps(self) -> int:
        """Layers that run."""
        assert self.layers is not None  # __post_init__ resolved None to the model's layer count
        return self.layers

    def run(self, M: torch.Tensor, W: torch.Tensor, H: torch.Tensor, chunk: int | None = None,
            track_divergence: bool = True, cancel: Cancel = None) -> Iterator[Step]:
        """The layers from (W, H), without gradients (see :func:`unmf_core.nmf.chunking.iter_layers`)."""
        return _no_grad(chunking.iter_layers(self.model, M, W, H, track_divergence, chunk, self.layers, cancel))

    def describe(self) -> dict:
        """What a result records: method, β, steps, W updates (the model's own schedule)."""
        return {"method": self.name, "beta": self.beta, "steps": self.steps, "update_w": False}


@torch.no_grad()
def _no_grad(steps: Iterator[Step]) -> Iterator[Step]:
    yield from steps


def method_for(opts: Options, model: UnrolledMU) -> MU | Unrolled:
    """The method ``opts`` asks for (``model``: the engine's unrolled model).

    Raises
    ------
    OptionError
        Unknown method, or a setting out of range (iterations below 1, more
        layers than the model has, a non-finite β).
    """
    if opts.method == "mu":
        return MU(opts.iterations, opts.beta, opts.update_w)
    if opts.method == "unrolled":
        return Unrolled(model, opts.layers)
    raise OptionError(f"unknown method {opts.method!r} (use {' or '.join(METHODS)})")
