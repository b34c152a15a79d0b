"""Model checkpoints: save and load unrolled models with everything needed to use them.

A checkpoint is a ``torch.save`` dict loaded with ``weights_only=True`` (no code
runs on load) holding ``format`` ("unmf-checkpoint"), ``version``,
``state_dict``, ``config`` (:class:`~unmf_core.unrolled.UnrolledConfig` as a dict),
``cqt`` (:class:`~unmf_core.cqt.CQTParams` as a dict), ``templates`` (the W it
was trained with, a float32 tensor), ``templates_source`` and ``meta``
(training metadata). The seed research code's checkpoints (a bare state dict or
``{"model_state_dict": …}``) load through the same :func:`load_checkpoint`.
"""
from __future__ import annotations

import io
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .cqt import CQTParams
from .errors import CheckpointError
from .unrolled import UnrolledConfig, UnrolledMU

FORMAT = "unmf-checkpoint"
VERSION = 1


@dataclass
class Checkpoint:
    """A loaded model with its provenance.

    Attributes
    ----------
    model : UnrolledMU
        The network, in eval mode.
    cqt : CQTParams or None
        CQT parameters it was trained with (None for seed checkpoints).
    templates : np.ndarray or None
        The W it was trained with.
    templates_source : str
        Description of those templates.
    meta : dict
        Training metadata.
    path : str
        Where it was loaded from.
    kind : str
        ``"unmf"`` or ``"seed"``.
    """

    model: UnrolledMU
    cqt: CQTParams | None = None
    templates: np.ndarray | None = None
    templates_source: str = ""
    meta: dict = field(default_factory=dict)
    path: str = ""
    kind: str = "unmf"


def save_checkpoint(path: str | Path, model: UnrolledMU, cqt: CQTParams, templates: np.ndarray | None = None,
                    templates_source: str = "", meta: dict | None = None, overwrite: bool = True) -> None:
    """Write a checkpoint atomically (see the module docstring for its content)."""
    from .io import write_bytes_atomic

    obj = {"format": FORMAT, "version": VERSION,
           "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
           "config": model.cfg.to_dict(), "cqt": cqt.to_dict(),
           "templates": None if templates is None else torch.from_numpy(np.asarray(templates, np.float32)),
           "templates_source": templates_source, "meta": meta or {}}
    buf = io.BytesIO()
    torch.save(obj, buf)
    write_bytes_atomic(path, buf.getvalue(), overwrite)


def _check_finite(sd: dict, name: str) -> None:
    for k, v in sd.items():
        if torch.is_tensor(v) and v.is_floating_point() and not torch.isfinite(v).all():
            raise CheckpointError(f"{name}: parameter {k} holds NaN or infinite values")


def load_checkpoint(path: str | Path, cqt: CQTParams | None = None) -> Checkpoint:
    """Load an unmf or seed checkpoint safely.

    Parameters
    ----------
    path : str or Path
        The ``.pt`` file.
    cqt : CQTParams, optional
        If given, a checkpoint trained on another CQT frequency axis is refused.

    Raises
    ------
    CheckpointError
        Missing file, a pickle that would run code, wrong or missing parameters,
        NaN weights, or incompatible CQT parameters; the message says which.
    """
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{name}: refused: the file is not a plain weights file and would run code on "
                              f"load ({_blocked(exc)})") from None
    except Exception as exc:  # torch raises RuntimeError, EOFError, zipfile errors…
        raise CheckpointError(f"{name}: not a readable checkpoint ({str(exc).splitlines()[0][:160]})") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{name}: not a checkpoint (holds a {type(obj).__name__})")
    if obj.get("format") == FORMAT:
        return _load_unmf(obj, name, str(path), cqt)
    sd = obj.get("model_state_dict", obj)
    if not isinstance(sd, dict) or not any(str(k).startswith("layers.") for k in sd):
        raise CheckpointError(f"{name}: no unrolled-model parameters found (expected keys like layers.0.Ah.conv1.weight)")
    _check_finite(sd, name)
    try:
        model = UnrolledMU.from_seed_state_dict(sd)
    except (RuntimeError, KeyError, ValueError) as exc:
        raise CheckpointError(f"{name}: parameters do not fit the unrolled model: {_first(exc)}") from None
    return Checkpoint(model.eval(), None, None, "", {}, str(path), "seed")


def _load_unmf(obj: dict, name: str, path: str, cqt: CQTParams | None) -> Checkpoint:
    missing = [k for k in ("state_dict", "config", "cqt") if k not in obj]
    if missing:
        raise CheckpointError(f"{name}: checkpoint lacks {', '.join(missing)}")
    try:
        cfg = UnrolledConfig.from_dict(obj["config"])
        ck_cqt = CQTParams.from_dict(obj["cqt"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{name}: malformed configuration ({_first(exc)})") from None
    if cqt is not None and (ck_cqt.fmin, ck_cqt.bins_per_octave, ck_cqt.n_bins) != (cqt.fmin, cqt.bins_per_octave, cqt.n_bins):
        raise CheckpointError(f"{name}: made for another CQT ({ck_cqt.n_bins} bins, {ck_cqt.bins_per_octave}/octave "
                              f"from {ck_cqt.fmin} Hz) than the one in use ({cqt.n_bins}, {cqt.bins_per_octave}, {cqt.fmin})")
    sd = obj["state_dict"]
    _check_finite(sd, name)
    model = UnrolledMU(cfg)
    try:
        model.load_state_dict(sd)
    except RuntimeError as exc:
        raise CheckpointError(f"{name}: parameters do not fit its configuration: {_first(exc)}") from None
    W = obj.get("templates")
    templates = None if W is None else W.numpy().astype(np.float32)
    if templates is not None and templates.shape != (ck_cqt.n_bins, 88):
        raise CheckpointError(f"{name}: templates have shape {templates.shape}, expected ({ck_cqt.n_bins}, 88)")
    return Checkpoint(model.eval(), ck_cqt, templates, str(obj.get("templates_source", "")),
                      dict(obj.get("meta") or {}), path, "unmf")


def _blocked(exc: Exception) -> str:
    """What torch's weights-only unpickler refused, without its advice to load unsafely."""
    m = re.search(r"(unsupported GLOBAL|Unsupported global:?|Unsupported operand)\s*:?\s*(GLOBAL\s+)?([\w.]+)", str(exc))
    return f"it asks for {m.group(3)}" if m else "it holds objects other than tensors and plain data"


def _first(exc: Exception) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return " ".join(lines[:2])[:300]
