"""The precision the unrolled model's CNNs run in without gradients (float32, or bfloat16 where the CPU has it)."""
from __future__ import annotations

import os

import torch

from ..errors import OptionError


def bf16_supported() -> bool:
    """Whether this machine's CPU runs bfloat16 convolutions natively (oneDNN with AVX-512 BF16 or AMX)."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


#: Environment variable that fixes every engine's CNN precision: ``float32``, ``bfloat16`` or ``auto`` (default).
PRECISION_ENV = "UNMF_PRECISION"


def inference_precision(device: torch.device | str = "cpu", name: str | None = None) -> torch.dtype:
    """The precision an engine runs the CNNs in: ``name`` (None: ``$UNMF_PRECISION``, else ``"auto"``).

    Auto is bfloat16 on a CPU that runs it natively (:func:`bf16_supported`: A_H 2.2× faster, onset-F
    within 0.0005 of float32 per source and room on the quality benchmark, ``docs/benchmarks/precision.md``),
    float32 elsewhere (other CPUs, GPUs). Raises :class:`~unmf_core.errors.OptionError` for other names.
    """
    given = name or os.environ.get(PRECISION_ENV) or "auto"
    if given.lower() == "auto":
        return torch.bfloat16 if torch.device(device).type == "cpu" and bf16_supported() else torch.float32
    if given.lower() not in ("float32", "bfloat16"):
        where = "" if name else f" (${PRECISION_ENV})"
        raise OptionError(f"precision {given!r}{where}: use auto, float32 or bfloat16")
    return getattr(torch, given.lower())
