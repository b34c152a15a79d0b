"""Training and fine-tuning of the unrolled model.

The objective (:mod:`unmf_core.losses`) compares every layer's H, normalised by
its activation scale, with the MIDI piano roll, plus a fit term that anchors
the scale of H. An optional warm-up stage first trains the acceleration
factors towards 1 (the seed's way of starting from plain MU; the default
"centered" head starts there already).

:func:`train` runs Adam with gradient clipping and a NaN guard (a step with a
non-finite loss or gradient is skipped and reported), validates note onset-F on
whole files after every epoch (optionally calibrating the note onset
threshold on them: ``TrainConfig.calibrate``), stops early, writes the best model atomically to
``out`` and a resumable state beside it (``<out>.resume.pt``). It runs
data-parallel (DistributedDataParallel, gloo on CPU, nccl on GPU) when started
by ``torchrun``. Progress goes to a callback; a cancel flag stops it between
steps, leaving the last written checkpoint valid.
"""
from __future__ import annotations

import copy
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from .checkpoints import save_checkpoint
from .cqt import CQTParams
from .datasets import Example, PairDataset
from .errors import Cancelled, OutputError, UnmfError
from .losses import (LAYER_WEIGHTS, LOSSES, _core, activation_loss, batch_loss,  # noqa: F401 (re-exported)
                     divergence_ratio, layer_weights, warmup_loss)
from .notes import NoteParams
from .unrolled import UnrolledMU
from .validation import CALIBRATION_THRESHOLDS, best_threshold, evaluate_onset_f, onset_f_by_threshold  # noqa: F401



@dataclass
class TrainConfig:
    """Hyper-parameters of a training run.

    Attributes
    ----------
    epochs : int
        Maximum number of epochs.
    batch : int
        Crops per step (per process under torchrun).
    crop_seconds : float
        Length of the random training crops.
    crops_per_file : int
        Crops drawn from each training file per epoch.
    lr : float
        Adam learning rate.
    loss : str
        ``"onset"`` (default), ``"threshold"`` or ``"mse"`` (the seed's); see :mod:`unmf_core.losses`.
    layer_weights : str
        ``"final"`` (last layer only), ``"linear"`` (layer l weighted ∝ l) or ``"uniform"``.
    onset_weight : float
        Extra weight of onset frames in the loss.
    tau : float
        Sharpness of the threshold loss.
    clip_grad : float
        Gradient norm clipping.
    divergence_weight : float
        Weight of the fit term D(M | WH) / D(M | W0 H0) of the final layer.
    fit_layers : str
        ``"final"``: the fit term on the last layer only; ``"all"``: on every
        layer with the layer weights (keeps every layer's W H at the scale of M).
    warmup_steps : int
        Steps of the warm-up stage (factors towards 1); 0 skips it.
    patience : int
        Stop after this many epochs without a better validation onset-F.
    seed : int
        Random seed.
    threads : int
        CPU threads for torch (0: leave torch's setting).
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    max_minutes : float
        Stop (after the current step, validating first) once this much time has passed; 0 = no limit.
    calibrate : bool
        Validate every epoch at each threshold of :data:`CALIBRATION_THRESHOLDS`
        and keep the best one with the model (stored in the checkpoint and used
        by the :class:`~unmf_core.pipeline.Engine` for unrolled runs); otherwise
        validate at the starting note settings only.
    """

    epochs: int = 20
    batch: int = 8
    crop_seconds: float = 4.0
    crops_per_file: int = 4
    lr: float = 3e-4
    loss: str = "onset"
    layer_weights: str = "linear"
    onset_weight: float = 4.0
    tau: float = 3.0
    clip_grad: float = 1.0
    divergence_weight: float = 1.0
    fit_layers: str = "all"
    warmup_steps: int = 0
    patience: int = 4
    seed: int = 0
    threads: int = 0
    device: str = "auto"
    max_minutes: float = 0.0
    calibrate: bool = False

    def to_dict(self) -> dict:
        """Plain dict (JSON-ready)."""
        return asdict(self)


@dataclass
class Progress:
    """What a running training reports to its callback.

    Attributes
    ----------
    kind : str
        ``"step"``, ``"epoch"``, ``"skipped"`` (a non-finite step was skipped),
        ``"warmup"``, ``"info"`` (a message) or ``"done"``.
    epoch : int
        Current epoch (0 = before training).
    step : int
        Steps done in this epoch.
    steps : int
        Steps per epoch.
    loss : float
        Last step's loss (mean over the epoch for ``"epoch"``).
    val_f : float
        Validation onset-F (NaN until measured; at the calibrated threshold when calibrating).
    best_f : float
        Best validation onset-F so far.
    message : str
        A human-readable line.
    """

    kind: str
    epoch: int = 0
    step: int = 0
    steps: int = 0
    loss: float = float("nan")
    val_f: float = float("nan")
    best_f: float = float("nan")
    message: str = ""


@dataclass
class TrainResult:
    """Outcome of :func:`train`."""

    out: str
    best_f: float
    base_f: float
    epochs: int
    history: list = field(default_factory=list)
    skipped_steps: int = 0
    cancelled: bool = False
    seconds: float = 0.0
    notes: NoteParams | None = None


def resume_path(out: str | Path) -> Path:
    """Where :func:`train` keeps its resumable state for ``out``."""
    out = Path(out)
    return out.with_name(out.name + ".resume.pt")


def _dist_info() -> tuple[int, int]:
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def _setup_distributed(device: torch.device) -> tuple[int, int]:
    rank, world = _dist_info()
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return rank, world


def train(model: UnrolledMU, train_examples: list[Example], val_examples: list[Example],
          templates: list[np.ndarray], cqt: CQTParams, out: str | Path, cfg: TrainConfig = TrainConfig(),
          templates_source: str = "", meta: dict | None = None, resume: bool = False,
          callback: Callable[[Progress], object] | None = None, cancel: Callable[[], bool] | None = None,
          protected: tuple = (), notes: NoteParams | None = None) -> TrainResult:
    """Train ``model`` in place and write the best one (by validation onset-F) to ``out``.

    Parameters
    ----------
    model : UnrolledMU
        Starting model (a fresh one, or the base of a fine-tuning).
    train_examples, val_examples : list of Example
        Training pairs (cropped) and validation pairs (whole files).
    templates : list of np.ndarray
        ``(n_bins, 88)`` template sets; each training crop uses one drawn at
        random, validation and the checkpoint use the first.
    cqt : CQTParams
        CQT of the examples.
    out : str or Path
        Checkpoint to write (atomically; also written before the first epoch
        with the starting model, so it always holds a usable model).
    cfg : TrainConfig
        Hyper-parameters.
    templates_source, meta : str, dict
        Stored in the checkpoint.
    resume : bool
        Continue from ``<out>.resume.pt`` when it exists.
    callback : callable, optional
        ``callback(Progress)``; returning ``False`` cancels.
    cancel : callable, optional
        Polled between steps; True cancels.
    protected : tuple of paths
        Files that ``out`` must not be (the base model, the bundled default).
    notes : NoteParams, optional
        The starting model's note settings (default :class:`~unmf_core.notes.NoteParams`);
        validation uses them, and with ``cfg.calibrate`` its threshold is re-chosen every epoch.

    Returns
    -------
    TrainResult

    Raises
    ------
    UnmfError
        ``out`` is a protected file, or training diverged (many non-finite steps in a row).
    """
    from .pipeline import resolve_device

    out = Path(out)
    for p in protected:
        if p and Path(p).exists() and out.exists() and out.resolve() == Path(p).resolve():
            raise OutputError(f"{out}: refusing to overwrite the base model; choose another --out")
    device = resolve_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    rank, world = _setup_distributed(device)
    torch.manual_seed(cfg.seed)
    t_start = time.perf_counter()
    model.to(device).train()
    if world > 1:  # every process starts from rank 0's weights
        for t in model.state_dict().values():
            torch.distributed.broadcast(t, 0)
    Ws = [torch.from_numpy(np.asarray(w, np.float32)).to(device) for w in templates]
    crop = max(8, int(round(cfg.crop_seconds * cqt.frame_rate)))
    ds = PairDataset(train_examples, cqt.frame_rate, crop, cfg.crops_per_file, len(Ws), cfg.seed)
    sampler: torch.utils.data.DistributedSampler | None = None
    if world > 1:
        sampler = torch.utils.data.DistributedSampler(ds, world, rank, shuffle=True, seed=cfg.seed)
    loader = torch.utils.data.DataLoader(ds, batch_size=cfg.batch, shuffle=sampler is None, sampler=sampler,
                                         drop_last=len(ds) >= cfg.batch * world,
                                         generator=torch.Generator().manual_seed(cfg.seed))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    history: list[dict] = []
    start_epoch, best_f, base_f, skipped, bad_run = 1, -1.0, float("nan"), 0, 0
    best_state = copy.deepcopy(model.state_dict())
    start_notes = notes or NoteParams()
    best_notes = start_notes
    state_file = resume_path(out)
    if resume and state_file.is_file():
        st = torch.load(str(state_file), map_location="cpu", weights_only=True)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        best_state, best_f, base_f = st["best_state"], float(st["best_f"]), float(st["base_f"])
        history, start_epoch, skipped = list(st["history"]), int(st["epoch"]) + 1, int(st["skipped"])
        best_notes = NoteParams(**st["best_notes"]) if st.get("best_notes") else start_notes
    meta = dict(meta or {})

    def report(p: Progress) -> None:
        if rank == 0 and callback is not None and callback(p) is False:
            raise Cancelled("training cancelled")

    def cancelled() -> bool:
        return bool(cancel is not None and cancel())

    def save_best() -> None:
        m = copy.deepcopy(model).cpu()
        m.load_state_dict(best_state)
        info = {**meta, "train_config": cfg.to_dict(), "best_val_onset_f": best_f, "base_val_onset_f": base_f,
                "history": history, "skipped_steps": skipped}
        save_checkpoint(out, m, cqt, templates[0], templates_source, info, overwrite=True,
                        notes=best_notes if (cfg.calibrate or notes is not None) else None)

    def save_state(epoch: int) -> None:
        import io as _io

        from .io import write_bytes_atomic

        buf = _io.BytesIO()
        torch.save({"format": "unmf-resume", "model": model.state_dict(), "optimizer": opt.state_dict(),
                    "best_state": best_state, "best_f": best_f, "base_f": base_f, "history": history,
                    "best_notes": best_notes.to_dict(),
                    "epoch": epoch, "skipped": skipped}, buf)
        write_bytes_atomic(state_file, buf.getvalue())

    def validate() -> tuple[float, NoteParams, float]:
        """Best validation onset-F, the note settings giving it, and onset-F at the starting threshold."""
        t0 = start_notes.threshold
        grid = sorted({*CALIBRATION_THRESHOLDS, t0}) if cfg.calibrate else [t0]
        v = torch.zeros(3, dtype=torch.float64)
        if rank == 0:
            fs = onset_f_by_threshold(model, val_examples, templates[0], cqt, str(device), templates, grid,
                                      start_notes)
            i = best_threshold(fs, grid, t0)
            v = torch.tensor([fs[i], grid[i], fs[grid.index(t0)]], dtype=torch.float64)
        if world > 1:
            v = v.to(device)
            torch.distributed.broadcast(v, 0)
        f, t, f0 = (float(x) for x in v.cpu())
        return f, replace(start_notes, threshold=t), f0

    result = TrainResult(str(out), best_f, base_f, 0, history)
    try:
        if start_epoch == 1:
            if cfg.warmup_steps and rank == 0:
                _warmup(model, loader, Ws, cfg, device, report, cancelled)
            base_f, best_notes, f0 = validate()
            best_f = base_f
            best_state = copy.deepcopy(model.state_dict())
            history.append({"epoch": 0, "loss": float("nan"), "val_f": base_f, "threshold": best_notes.threshold,
                            "val_f_start_threshold": f0, "seconds": 0.0})
            if rank == 0:
                save_best()
                save_state(0)
            report(Progress("epoch", 0, 0, len(loader), val_f=base_f, best_f=best_f,
                            message=f"epoch 0: validation onset-F {base_f:.3f} (starting model"
                            + (f" at threshold {best_notes.threshold:g}; {f0:.3f} at its threshold "
                               f"{start_notes.threshold:g})" if cfg.calibrate else ")")))
        stale = _stale_epochs(history)
        net: nn.Module = model
        if world > 1:  # wrapping broadcasts rank 0's parameters to every process
            net = nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)
        for epoch in range(start_epoch, cfg.epochs + 1):
            ds.set_epoch(epoch)
            if sampler is not None:
                sampler.set_epoch(epoch)
            losses = []
            timed_out = False
            for step, (M, roll, ons, k) in enumerate(loader, 1):
                if cancelled():
                    raise Cancelled("training cancelled")
                M, roll, ons = M.to(device), roll.to(device), ons.to(device)
                loss = batch_loss(net, M, torch.stack([Ws[int(i)] for i in k]), roll, ons, cfg,
                                  best_notes.threshold)
                opt.zero_grad(set_to_none=True)
                ok = bool(torch.isfinite(loss.detach()))
                if ok:
                    loss.backward()
                    norm = nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
                    ok = bool(torch.isfinite(norm))
                if world > 1:
                    flag = torch.tensor([1.0 if ok else 0.0], device=device)
                    torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MIN)
                    ok = bool(flag > 0)
                if not ok:
                    skipped += 1
                    bad_run += 1
                    opt.zero_grad(set_to_none=True)
                    report(Progress("skipped", epoch, step, len(loader), message=f"skipped a non-finite step "
                                                                                   f"({skipped} so far)"))
                    if bad_run >= 20:
                        raise UnmfError("training diverged: 20 steps in a row gave non-finite losses or gradients "
                                        "(try a lower --lr)")
                    continue
                bad_run = 0
                opt.step()
                losses.append(float(loss.detach()))
                report(Progress("step", epoch, step, len(loader), loss=losses[-1], best_f=best_f))
                if cfg.max_minutes and time.perf_counter() - t_start > 60 * cfg.max_minutes:
                    timed_out = True
                    break
            f, f_notes, _ = validate()
            improved = f > best_f
            if improved:
                best_f, best_state, best_notes, stale = f, copy.deepcopy(model.state_dict()), f_notes, 0
            else:
                stale += 1
            history.append({"epoch": epoch, "loss": float(np.mean(losses)) if losses else float("nan"),
                            "val_f": f, "threshold": f_notes.threshold, "seconds": time.perf_counter() - t_start})
            result.epochs = epoch
            if rank == 0:
                save_best()
                save_state(epoch)
            report(Progress("epoch", epoch, len(loader), len(loader), history[-1]["loss"], f, best_f,
                            f"epoch {epoch}: loss {history[-1]['loss']:.4f}, validation onset-F {f:.3f} "
                            + (f"at threshold {f_notes.threshold:g} " if cfg.calibrate else "")
                            + f"(best {best_f:.3f})"))
            if stale >= cfg.patience or timed_out:
                break
    except Cancelled:
        result.cancelled = True
    result.best_f, result.base_f, result.history, result.skipped_steps = best_f, base_f, history, skipped
    result.notes = best_notes
    result.seconds = time.perf_counter() - t_start
    model.load_state_dict(best_state)
    model.eval()
    if rank == 0 and callback is not None:
        callback(Progress("done", result.epochs, val_f=best_f, best_f=best_f,
                          message=("cancelled" if result.cancelled else "finished") + f": best validation onset-F "
                          f"{best_f:.3f} (starting model {base_f:.3f}) -> {out}"))
    return result


def _stale_epochs(history: list[dict]) -> int:
    best, stale = -1.0, 0
    for h in history:
        if h["val_f"] > best:
            best, stale = h["val_f"], 0
        else:
            stale += 1
    return stale


def _warmup(model, loader, Ws, cfg, device, report, cancelled) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    step = 0
    while step < cfg.warmup_steps:
        for M, _, _, k in loader:
            if cancelled():
                raise Cancelled("training cancelled")
            loss = warmup_loss(model, M.to(device), torch.stack([Ws[int(i)] for i in k]))
            if float(loss.detach()) < 1e-10:
                return
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
            opt.step()
            step += 1
            report(Progress("warmup", 0, step, cfg.warmup_steps, float(loss.detach()), message=f"warm-up {step}"))
            if step >= cfg.warmup_steps:
                return
