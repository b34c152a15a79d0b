"""Model checkpoints: save and load unrolled models with everything needed to use them.

A checkpoint is a ``torch.save`` dict loaded with ``weights_only=True`` (no code
runs on load) holding ``format`` ("unmf-checkpoint"), ``version``,
``state_dict``, ``config`` (:class:`~unmf_core.nmf.unrolled.UnrolledConfig` as a dict),
``cqt`` (:class:`~unmf_core.frontend.cqt.CQTParams` as a dict), ``templates`` (the W it
was trained with, a float32 tensor), ``templates_source``, ``meta``
(training metadata) and, optionally, ``notes``: note extraction settings
calibrated for the model (:class:`~unmf_core.transcription.notes.NoteParams` as a dict; a
fine-tuning picks the onset threshold on the user's files). The seed research code's checkpoints (a bare state dict or
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

from ..frontend.cqt import CQTParams
from ..errors import CheckpointError
from ..transcription.notes import NoteParams
from ..nmf.gate import NEEDED_BINS
from ..nmf.unrolled import UnrolledConfig, UnrolledMU

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
    notes : NoteParams or None
        Note settings calibrated for this model (None: use the defaults).
    """

    model: UnrolledMU
    cqt: CQTParams | None = None
    templates: np.ndarray | None = None
    templates_source: str = ""
    meta: dict = field(default_factory=dict)
    path: str = ""
    kind: str = "unmf"
    notes: NoteParams | None = None


def save_checkpoint(path: str | Path, model: UnrolledMU, cqt: CQTParams, templates: np.ndarray | None = None,
                    templates_source: str = "", meta: dict | None = None, overwrite: bool = True,
                    notes: NoteParams | None = None) -> None:
    """Write a checkpoint atomically (see the module docstring for its content)."""
    from .atomic import write_bytes_atomic

    obj = {"format": FORMAT, "version": VERSION,
           "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
           "config": model.cfg.to_dict(), "cqt": cqt.to_dict(),
           "templates": None if templates is None else torch.from_numpy(np.asarray(templates, np.float32)),
           "templates_source": templates_source, "meta": meta or {}}
    if notes is not None:
        obj["notes"] = notes.to_dict()
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
        blocked = _blocked(exc)
        if blocked is None:
            raise CheckpointError(f"{name}: not a readable checkpoint (not a PyTorch weights file)") from None
        raise CheckpointError(f"{name}: refused: the file is not a plain weights file and would run code on "
                              f"load (it asks for {blocked})") from None
    except Exception as exc:  # torch raises RuntimeError, EOFError, zipfile errors…
        raise CheckpointError(f"{name}: not a readable checkpoint ({_first(exc)[:160]})") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{name}: not a checkpoint (holds a {type(obj).__name__})")
    if obj.get("format") == FORMAT:
        return _load_unmf(obj, name, str(path), cqt)
    sd = obj.get("model_state_dict", obj)
    if not isinstance(sd, dict) or not any(str(k).startswith("layers.") for k in sd):
        raise CheckpointError(f"{name}: no unrolled-model parameters found "
                              f"(expected keys like layers.0.Ah.conv1.weight)")
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
    except (TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{name}: malformed configuration ({_first(exc)})") from None
    _check_config(cfg, ck_cqt, name)
    axis = (ck_cqt.fmin, ck_cqt.bins_per_octave, ck_cqt.n_bins)
    if cqt is not None and axis != (cqt.fmin, cqt.bins_per_octave, cqt.n_bins):
        raise CheckpointError(f"{name}: made for another CQT ({ck_cqt.n_bins} bins, {ck_cqt.bins_per_octave}/octave "
                              f"from {ck_cqt.fmin} Hz) than the one in use "
                              f"({cqt.n_bins}, {cqt.bins_per_octave}, {cqt.fmin})")
    sd = obj["state_dict"]
    if not isinstance(sd, dict) or not all(torch.is_tensor(v) for v in sd.values()):
        raise CheckpointError(f"{name}: state_dict is not a set of named tensors")
    _check_finite(sd, name)
    try:
        model = UnrolledMU(cfg)
        model.load_state_dict(sd)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{name}: parameters do not fit its configuration: {_first(exc)}") from None
    W = obj.get("templates")
    if W is not None and not torch.is_tensor(W):
        raise CheckpointError(f"{name}: templates are not a tensor")
    templates = None if W is None else W.numpy().astype(np.float32)
    if templates is not None and templates.shape != (ck_cqt.n_bins, 88):
        raise CheckpointError(f"{name}: templates have shape {templates.shape}, expected ({ck_cqt.n_bins}, 88)")
    if templates is not None and not (np.all(np.isfinite(templates)) and np.all(templates >= 0)):
        raise CheckpointError(f"{name}: templates hold negative, NaN or infinite values")
    return Checkpoint(model.eval(), ck_cqt, templates, str(obj.get("templates_source", "")),
                      dict(obj.get("meta") or {}), path, "unmf", _notes(obj.get("notes"), name))


def _notes(d, name: str) -> NoteParams | None:
    """The checkpoint's calibrated note settings, checked field by field."""
    if d is None:
        return None
    defaults = NoteParams().to_dict()
    if not isinstance(d, dict) or set(d) - set(defaults):
        raise CheckpointError(f"{name}: malformed note settings (expected fields of {', '.join(defaults)})")
    for k, v in d.items():
        want = type(defaults[k])
        ok = isinstance(v, bool) if want is bool else (isinstance(v, (int, float)) and not isinstance(v, bool)
                                                         and np.isfinite(v) and v >= 0)
        if not ok:
            raise CheckpointError(f"{name}: malformed note settings: {k} = {v!r}")
    if not 0 < d.get("threshold", defaults["threshold"]) <= 1:
        raise CheckpointError(f"{name}: malformed note settings: threshold must be in (0, 1]")
    return NoteParams(**{**defaults, **{k: (v if isinstance(v, bool) else float(v)) for k, v in d.items()}})


#: Bounds on what a checkpoint may ask for (an untrusted file must not make the loader build a huge model).
LIMITS = {"n_layers": (1, 1000), "hidden": (1, 1024), "w_every": (0, 1000), "init_iters": (0, 10000)}
CQT_LIMITS = {"sr": (1000, 384000), "hop": (1, 65536), "bins_per_octave": (12, 120), "n_bins": (12, 2000)}


def _check_config(cfg: UnrolledConfig, cqt: CQTParams, name: str) -> None:
    """Refuse configurations outside :data:`LIMITS` / :data:`CQT_LIMITS`, naming the field."""
    def bad(field, value, why):
        raise CheckpointError(f"{name}: malformed configuration: {field} = {value!r} ({why})")

    for src, limits in ((cfg, LIMITS), (cqt, CQT_LIMITS)):
        for field_name, (lo, hi) in limits.items():
            v = getattr(src, field_name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                bad(field_name, v, "not a whole number")
            if not lo <= v <= hi:
                bad(field_name, v, f"must be {lo} to {hi}")
    if cfg.head not in ("centered", "seed"):
        bad("head", cfg.head, "use centered or seed")
    if cfg.input_norm not in ("max", "none"):
        bad("input_norm", cfg.input_norm, "use max or none")
    for field_name in ("beta", "lambda_w", "lambda_h"):
        v = getattr(cfg, field_name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
            bad(field_name, v, "not a finite number")
    if cfg.clip_h is not None and (not isinstance(cfg.clip_h, (int, float)) or not cfg.clip_h > 0):
        bad("clip_h", cfg.clip_h, "must be a positive number or None")
    if not (np.isfinite(cqt.fmin) and cqt.fmin > 0 and np.isfinite(cqt.filter_scale) and cqt.filter_scale > 0):
        bad("cqt", cqt.to_dict(), "fmin and filter_scale must be positive")
    if cfg.note_gate and not (cqt.bins_per_octave == 36 and abs(cqt.fmin - 27.5) < 1e-6
                              and cqt.n_bins >= NEEDED_BINS):
        bad("note_gate", cfg.note_gate, f"a note gate reads a CQT of 36 bins per octave from A0 (27.5 Hz) "
                                        f"with at least {NEEDED_BINS} bins")


def _blocked(exc: Exception) -> str | None:
    """The callable torch's weights-only unpickler refused to import, or None for plain garbage."""
    m = re.search(r"GLOBAL\s+([\w.]+)", str(exc))
    return m.group(1) if m else None


def _first(exc: Exception) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return " ".join(lines[:2])[:300] or type(exc).__name__
