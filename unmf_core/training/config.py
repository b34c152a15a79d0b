"""What a training run is given and what it reports: :class:`TrainConfig`, :class:`Progress`, :class:`TrainResult`."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..transcription.notes import NoteParams


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
        ``"onset"`` (default), ``"threshold"`` or ``"mse"`` (the seed's); see :mod:`unmf_core.training.losses`.
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
        by the :class:`~unmf_core.transcription.engine.Engine` for unrolled runs); otherwise
        validate at the starting note settings only.
    default_share : float
        Chance that a training crop is factorised with the first template set (the
        default templates the model ships with); see :class:`~unmf_core.training.datasets.PairDataset`.
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
    default_share: float = 0.0

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
    """Outcome of :meth:`Trainer.run <unmf_core.training.trainer.Trainer.run>`."""

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
