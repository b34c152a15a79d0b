"""Training and fine-tuning of the unrolled model.

The objective (:mod:`unmf_core.training.losses`) compares every layer's H, normalised by
its activation scale, with the MIDI piano roll, plus a fit term that anchors
the scale of H. An optional warm-up stage first trains the acceleration
factors towards 1 (the seed's way of starting from plain MU; the default
"centered" head starts there already).

:class:`Trainer` runs Adam with gradient clipping and a NaN guard (a step with a
non-finite loss or gradient is skipped and reported), validates note onset-F on
whole files after every epoch (optionally calibrating the note onset
threshold on them: ``TrainConfig.calibrate``), stops early, writes the best model atomically to
``out`` and a resumable state beside it (``<out>.resume.pt``). It runs
data-parallel (DistributedDataParallel, gloo on CPU, nccl on GPU) when started
by ``torchrun``. Progress goes to a callback; a cancel flag stops it between
steps, leaving the last written checkpoint valid. :func:`train` is
``Trainer(...).run()`` in one call.
"""
from __future__ import annotations

import copy
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..errors import Cancelled, OutputError, UnmfError
from ..frontend.cqt import CQTParams
from ..io.checkpoints import save_checkpoint
from ..nmf.unrolled import UnrolledMU
from ..transcription.notes import NoteParams
from .config import Progress, TrainConfig, TrainResult, resume_path  # noqa: F401 (re-exported)
from .datasets import Example, PairDataset
from .losses import (LAYER_WEIGHTS, LOSSES, _core, activation_loss, batch_loss,  # noqa: F401 (re-exported)
                     divergence_ratio, layer_weights, warmup_loss)
from .validation import CALIBRATION_THRESHOLDS, best_threshold, evaluate_onset_f, onset_f_by_threshold  # noqa: F401


def _dist_info() -> tuple[int, int]:
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def _setup_distributed(device: torch.device) -> tuple[int, int]:
    rank, world = _dist_info()
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return rank, world


class Trainer:
    """One training run: epochs of Adam steps, validation, checkpoints, cancel.

    Parameters are those of :func:`train` (but ``resume``: call
    :meth:`resume` before :meth:`run`). Everything a run keeps between
    epochs is an attribute: ``history``, ``best_f``, ``best_state``,
    ``best_notes``, ``skipped``…
    """

    def __init__(self, model: UnrolledMU, train_examples: list[Example], val_examples: list[Example],
                 templates: list[np.ndarray], cqt: CQTParams, out: str | Path, cfg: TrainConfig = TrainConfig(),
                 templates_source: str = "", meta: dict | None = None,
                 callback: Callable[[Progress], object] | None = None, cancel: Callable[[], bool] | None = None,
                 protected: tuple = (), notes: NoteParams | None = None):
        from ..transcription.engine import resolve_device

        self.out = out = Path(out)
        for p in protected:
            if p and Path(p).exists() and out.exists() and out.resolve() == Path(p).resolve():
                raise OutputError(f"{out}: refusing to overwrite the base model; choose another --out")
        self.model, self.val_examples, self.templates, self.cqt, self.cfg = model, val_examples, templates, cqt, cfg
        self.templates_source, self.meta = templates_source, dict(meta or {})
        self.callback, self.cancel, self.notes = callback, cancel, notes
        self.device = device = resolve_device(cfg.device)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.rank, self.world = _setup_distributed(device)
        torch.manual_seed(cfg.seed)
        self.t_start = time.perf_counter()
        model.to(device).train()
        if self.world > 1:  # every process starts from rank 0's weights
            for t in model.state_dict().values():
                torch.distributed.broadcast(t, 0)
        self.Ws = [torch.from_numpy(np.asarray(w, np.float32)).to(device) for w in templates]
        crop = max(8, int(round(cfg.crop_seconds * cqt.frame_rate)))
        self.ds = PairDataset(train_examples, cqt.frame_rate, crop, cfg.crops_per_file, len(self.Ws), cfg.seed,
                              cfg.default_share)
        self.sampler: torch.utils.data.DistributedSampler | None = None
        if self.world > 1:
            self.sampler = torch.utils.data.DistributedSampler(self.ds, self.world, self.rank, shuffle=True,
                                                               seed=cfg.seed)
        self.loader = torch.utils.data.DataLoader(
            self.ds, batch_size=cfg.batch, shuffle=self.sampler is None, sampler=self.sampler,
            drop_last=len(self.ds) >= cfg.batch * self.world, generator=torch.Generator().manual_seed(cfg.seed))
        self.opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        self.history: list[dict] = []
        self.start_epoch, self.best_f, self.base_f, self.skipped, self.bad_run = 1, -1.0, float("nan"), 0, 0
        self.best_state = copy.deepcopy(model.state_dict())
        self.start_notes = notes or NoteParams()
        self.best_notes = self.start_notes
        self.state_file = resume_path(out)
        self.result = TrainResult(str(out), self.best_f, self.base_f, 0, self.history)

    # ---- state on disk ------------------------------------------------------------------------

    def resume(self) -> bool:
        """Continue from ``<out>.resume.pt`` when it exists; whether it did."""
        if not self.state_file.is_file():
            return False
        st = torch.load(str(self.state_file), map_location="cpu", weights_only=True)
        self.model.load_state_dict(st["model"])
        self.opt.load_state_dict(st["optimizer"])
        self.best_state, self.best_f, self.base_f = st["best_state"], float(st["best_f"]), float(st["base_f"])
        self.history, self.start_epoch, self.skipped = list(st["history"]), int(st["epoch"]) + 1, int(st["skipped"])
        self.best_notes = NoteParams(**st["best_notes"]) if st.get("best_notes") else self.start_notes
        return True

    def save_best(self) -> None:
        """Write the best model so far to ``out`` (atomically)."""
        m = copy.deepcopy(self.model).cpu()
        m.load_state_dict(self.best_state)
        info = {**self.meta, "train_config": self.cfg.to_dict(), "best_val_onset_f": self.best_f,
                "base_val_onset_f": self.base_f, "history": self.history, "skipped_steps": self.skipped}
        save_checkpoint(self.out, m, self.cqt, self.templates[0], self.templates_source, info, overwrite=True,
                        notes=self.best_notes if (self.cfg.calibrate or self.notes is not None) else None)

    def save_state(self, epoch: int) -> None:
        """Write the resumable state after ``epoch`` (atomically)."""
        import io as _io

        from ..io.atomic import write_bytes_atomic

        buf = _io.BytesIO()
        torch.save({"format": "unmf-resume", "model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
                    "best_state": self.best_state, "best_f": self.best_f, "base_f": self.base_f,
                    "history": self.history, "best_notes": self.best_notes.to_dict(),
                    "epoch": epoch, "skipped": self.skipped}, buf)
        write_bytes_atomic(self.state_file, buf.getvalue())

    def checkpoint(self, epoch: int) -> None:
        """Best model and resumable state, written by rank 0 only."""
        if self.rank == 0:
            self.save_best()
            self.save_state(epoch)

    # ---- progress and cancel ------------------------------------------------------------------

    def report(self, p: Progress) -> None:
        """Send ``p`` to the callback (rank 0); a callback returning False cancels."""
        if self.rank == 0 and self.callback is not None and self.callback(p) is False:
            raise Cancelled("training cancelled")

    def cancelled(self) -> bool:
        """Whether the cancel flag is set."""
        return bool(self.cancel is not None and self.cancel())

    def check_cancel(self) -> None:
        """Raise :class:`~unmf_core.errors.Cancelled` when the cancel flag is set."""
        if self.cancelled():
            raise Cancelled("training cancelled")

    # ---- the work -----------------------------------------------------------------------------

    def validate(self) -> tuple[float, NoteParams, float]:
        """Best validation onset-F, the note settings giving it, and onset-F at the starting threshold."""
        t0 = self.start_notes.threshold
        grid = sorted({*CALIBRATION_THRESHOLDS, t0}) if self.cfg.calibrate else [t0]
        v = torch.zeros(3, dtype=torch.float64)
        if self.rank == 0:
            fs = onset_f_by_threshold(self.model, self.val_examples, self.templates[0], self.cqt, str(self.device),
                                      self.templates, grid, self.start_notes)
            i = best_threshold(fs, grid, t0)
            v = torch.tensor([fs[i], grid[i], fs[grid.index(t0)]], dtype=torch.float64)
        if self.world > 1:
            v = v.to(self.device)
            torch.distributed.broadcast(v, 0)
        f, t, f0 = (float(x) for x in v.cpu())
        return f, replace(self.start_notes, threshold=t), f0

    def warmup(self) -> None:
        """Train the acceleration factors towards 1 for ``cfg.warmup_steps`` steps (see the module docstring)."""
        cfg = self.cfg
        opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        step = 0
        while step < cfg.warmup_steps:
            for M, _, _, k in self.loader:
                self.check_cancel()
                loss = warmup_loss(self.model, M.to(self.device), torch.stack([self.Ws[int(i)] for i in k]))
                if float(loss.detach()) < 1e-10:
                    return
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip_grad)
                opt.step()
                step += 1
                self.report(Progress("warmup", 0, step, cfg.warmup_steps, float(loss.detach()),
                                     message=f"warm-up {step}"))
                if step >= cfg.warmup_steps:
                    return

    def start(self) -> None:
        """Epoch 0: the optional warm-up, then the starting model's validation and checkpoint."""
        if self.cfg.warmup_steps and self.rank == 0:
            self.warmup()
        self.base_f, self.best_notes, f0 = self.validate()
        self.best_f = self.base_f
        self.best_state = copy.deepcopy(self.model.state_dict())
        self.history.append({"epoch": 0, "loss": float("nan"), "val_f": self.base_f,
                             "threshold": self.best_notes.threshold, "val_f_start_threshold": f0, "seconds": 0.0})
        self.checkpoint(0)
        calibrated = (f" at threshold {self.best_notes.threshold:g}; {f0:.3f} at its threshold "
                      f"{self.start_notes.threshold:g})")
        self.report(Progress("epoch", 0, 0, len(self.loader), val_f=self.base_f, best_f=self.best_f,
                             message=f"epoch 0: validation onset-F {self.base_f:.3f} (starting model"
                             + (calibrated if self.cfg.calibrate else ")")))

    def step(self, net: nn.Module, epoch: int, step: int, batch) -> float | None:
        """One Adam step on a batch; None when it was skipped (non-finite loss or gradient)."""
        cfg, device = self.cfg, self.device
        M, roll, ons, k = batch
        M, roll, ons = M.to(device), roll.to(device), ons.to(device)
        loss = batch_loss(net, M, torch.stack([self.Ws[int(i)] for i in k]), roll, ons, cfg,
                          self.best_notes.threshold)
        self.opt.zero_grad(set_to_none=True)
        ok = bool(torch.isfinite(loss.detach()))
        if ok:
            loss.backward()
            norm = nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip_grad)
            ok = bool(torch.isfinite(norm))
        if self.world > 1:
            flag = torch.tensor([1.0 if ok else 0.0], device=device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MIN)
            ok = bool(flag > 0)
        if not ok:
            self.skipped += 1
            self.bad_run += 1
            self.opt.zero_grad(set_to_none=True)
            self.report(Progress("skipped", epoch, step, len(self.loader),
                                 message=f"skipped a non-finite step ({self.skipped} so far)"))
            if self.bad_run >= 20:
                raise UnmfError("training diverged: 20 steps in a row gave non-finite losses or gradients "
                                "(try a lower --lr)")
            return None
        self.bad_run = 0
        self.opt.step()
        return float(loss.detach())

    def epoch(self, net: nn.Module, epoch: int) -> tuple[list[float], bool]:
        """One pass over the training crops: the step losses, and whether the time limit stopped it."""
        self.ds.set_epoch(epoch)
        if self.sampler is not None:
            self.sampler.set_epoch(epoch)
        losses: list[float] = []
        for step, batch in enumerate(self.loader, 1):
            self.check_cancel()
            loss = self.step(net, epoch, step, batch)
            if loss is None:
                continue
            losses.append(loss)
            self.report(Progress("step", epoch, step, len(self.loader), loss=loss, best_f=self.best_f))
            if self.cfg.max_minutes and time.perf_counter() - self.t_start > 60 * self.cfg.max_minutes:
                return losses, True
        return losses, False

    def end_epoch(self, epoch: int, losses: list[float], stale: int) -> int:
        """Validate after ``epoch``, keep the best model, write checkpoints, report; the stale-epoch count."""
        f, f_notes, _ = self.validate()
        if f > self.best_f:
            self.best_f, self.best_state, self.best_notes, stale = f, copy.deepcopy(self.model.state_dict()), \
                f_notes, 0
        else:
            stale += 1
        self.history.append({"epoch": epoch, "loss": float(np.mean(losses)) if losses else float("nan"),
                             "val_f": f, "threshold": f_notes.threshold,
                             "seconds": time.perf_counter() - self.t_start})
        self.result.epochs = epoch
        self.checkpoint(epoch)
        loss = self.history[-1]["loss"]
        self.report(Progress("epoch", epoch, len(self.loader), len(self.loader), loss, f, self.best_f,
                             f"epoch {epoch}: loss {loss:.4f}, validation onset-F {f:.3f} "
                             + (f"at threshold {f_notes.threshold:g} " if self.cfg.calibrate else "")
                             + f"(best {self.best_f:.3f})"))
        return stale

    def run(self) -> TrainResult:
        """Train until ``cfg.epochs``, early stopping, the time limit or a cancel; leave the best model in place."""
        result = self.result
        try:
            if self.start_epoch == 1:
                self.start()
            stale = _stale_epochs(self.history)
            net: nn.Module = self.model
            if self.world > 1:  # wrapping broadcasts rank 0's parameters to every process
                net = nn.parallel.DistributedDataParallel(self.model, find_unused_parameters=True)
            for epoch in range(self.start_epoch, self.cfg.epochs + 1):
                losses, timed_out = self.epoch(net, epoch)
                stale = self.end_epoch(epoch, losses, stale)
                if stale >= self.cfg.patience or timed_out:
                    break
        except Cancelled:
            result.cancelled = True
        result.best_f, result.base_f, result.history, result.skipped_steps = (self.best_f, self.base_f, self.history,
                                                                              self.skipped)
        result.notes = self.best_notes
        result.seconds = time.perf_counter() - self.t_start
        self.model.load_state_dict(self.best_state)
        self.model.eval()
        if self.rank == 0 and self.callback is not None:
            self.callback(Progress("done", result.epochs, val_f=self.best_f, best_f=self.best_f,
                                   message=("cancelled" if result.cancelled else "finished")
                                   + f": best validation onset-F {self.best_f:.3f} (starting model "
                                   f"{self.base_f:.3f}) -> {self.out}"))
        return result


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
        The starting model's note settings (default :class:`~unmf_core.transcription.notes.NoteParams`);
        validation uses them, and with ``cfg.calibrate`` its threshold is re-chosen every epoch.

    Returns
    -------
    TrainResult

    Raises
    ------
    UnmfError
        ``out`` is a protected file, or training diverged (many non-finite steps in a row).
    """
    trainer = Trainer(model, train_examples, val_examples, templates, cqt, out, cfg, templates_source, meta,
                      callback, cancel, protected, notes)
    if resume:
        trainer.resume()
    return trainer.run()


def _stale_epochs(history: list[dict]) -> int:
    best, stale = -1.0, 0
    for h in history:
        if h["val_f"] > best:
            best, stale = h["val_f"], 0
        else:
            stale += 1
    return stale
