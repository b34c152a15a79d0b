"""Constant-Q transform in torch, on the same device as the factorisation.

:func:`compute_cqt` applies the filters of librosa's recursive-octave CQT
(``librosa.cqt``) in torch (:class:`~unmf_core.frontend.transform.CQT`); the
filters are built once per :class:`CQTParams` and read from a file afterwards
(:mod:`.filterbank`). The result agrees with ``librosa.cqt`` (correlation
> 0.99 per frame, see the tests).

This module imports neither torch nor librosa when it is imported (the
command line's ``--help`` and the note code only need the parameters and the
key names); torch is imported by the first :func:`compute_cqt` or ``CQT``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .params import LOWEST_PITCH, N_KEYS, CQTParams, key_names

if TYPE_CHECKING:
    import torch

    from .transform import CQT  # noqa: F401

__all__ = ["CQT", "CQTParams", "LOWEST_PITCH", "N_KEYS", "compute_cqt", "cqt_module", "key_names"]


_CACHE: dict[tuple, Any] = {}


def compute_cqt(samples: np.ndarray | torch.Tensor, params: CQTParams = CQTParams(),
                device: str | torch.device = "cpu") -> torch.Tensor:
    """Magnitude CQT of a mono signal at ``params.sr``.

    Parameters
    ----------
    samples : np.ndarray or torch.Tensor
        Mono signal, already at ``params.sr``.
    params : CQTParams
        Transform parameters.
    device : str or torch.device
        Where to compute.

    Returns
    -------
    torch.Tensor
        float32 ``(n_bins, frames)`` on ``device``.
    """
    import torch

    device = torch.device(device)
    y = torch.as_tensor(np.asarray(samples, dtype=np.float32) if not torch.is_tensor(samples) else samples)
    with torch.no_grad():
        return cqt_module(params, device)(y.to(device))


def cqt_module(params: CQTParams = CQTParams(), device: str | torch.device = "cpu") -> CQT:
    """The :class:`~unmf_core.frontend.transform.CQT` module of ``params`` on ``device`` (built once, then shared)."""
    import torch

    from .transform import CQT

    key = (params, str(torch.device(device)))
    if key not in _CACHE:
        _CACHE[key] = CQT(params).to(device)
    return _CACHE[key]


def __getattr__(name: str):
    # ``CQT`` (the torch module) lives in .transform; imported on first use so that
    # importing this module stays free of torch.
    if name == "CQT":
        from .transform import CQT

        return CQT
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
