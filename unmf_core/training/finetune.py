"""Fine-tuning: adapt a model (the bundled one by default) to the user's own audio/MIDI pairs.

:func:`fine_tune` is what ``unmf fine-tune`` and the app's fine-tune dialog
run: it reads the pairs (through the CQT cache), holds some out for
validation, and trains with :class:`~unmf_core.training.trainer.Trainer`,
calibrating the onset threshold it stores with the new model.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import OutputError
from ..resources import DEFAULT_MODEL
from ..transcription.engine import Engine
from .config import Progress, TrainConfig, TrainResult
from .datasets import CQTCache, find_pairs, load_examples
from .trainer import train


def _examples(folder, cache):
    return load_examples(find_pairs(folder), cache)


def split_validation(examples: list, fraction: float = 0.25) -> tuple[list, list, str]:
    """Hold out the last ``fraction`` of the files for validation (all files validate when fewer than 4)."""
    if len(examples) < 4:
        return examples, examples, "validating on the training files (fewer than 4 pairs)"
    n = max(1, int(round(fraction * len(examples))))
    return examples[:-n], examples[-n:], f"holding out {n} of {len(examples)} pairs for validation"


def fine_tune(data: str | Path, out: str | Path, base: str | Path | None = None, templates=None,
              val_data: str | Path | None = None, cfg=None, cache: str | Path | None = None, resume: bool = False,
              callback=None, cancel=None) -> TrainResult:
    """Fine-tune a model on a folder of pairs (the API behind ``unmf fine-tune`` and the app's dialog).

    Parameters
    ----------
    data : str or Path
        Folder of (audio, MIDI) pairs.
    out : str or Path
        New checkpoint (never the base model nor the bundled default).
    base : str or Path, optional
        Starting checkpoint (default: the bundled model, else an untrained one).
    templates : str, Path or Templates, optional
        Templates (default: the base model's, else the bundled ones).
    val_data : str or Path, optional
        Validation pairs (default: held out from ``data``, see :func:`split_validation`).
    cfg : TrainConfig, optional
        Hyper-parameters (default: 10 epochs, lr 3e-4, 8 crops per file, calibrating the onset threshold).
    cache : str or Path, optional
        CQT cache folder.
    resume : bool
        Continue from ``<out>.resume.pt``.
    callback, cancel : callable, optional
        See :func:`unmf_core.training.trainer.train`.

    Returns
    -------
    TrainResult

    Raises
    ------
    OutputError
        ``out`` is the base model or the bundled default.
    DataError, AudioError, MidiError
        Bad training data.
    """
    out = Path(out)
    for p in (base, DEFAULT_MODEL):
        if p is not None and Path(p).exists() and out.resolve() == Path(p).resolve():
            raise OutputError(f"{out}: would overwrite {'the base model' if p == base else 'the bundled default model'}"
                              f"; write the fine-tuned model to a new file")
    engine = Engine(templates=templates, model=base, device="cpu")
    cqt = engine.cqt
    c = CQTCache(cache, cqt)
    ex = _examples(data, c)
    if val_data:
        train_ex, val_ex, note = ex, _examples(val_data, c), f"validating on {val_data}"
    else:
        train_ex, val_ex, note = split_validation(ex)
    ck = engine.checkpoint
    meta = {"fine_tuned_from": ck.path or ck.kind, "data": str(data), "validation": note,
            "base_meta": {k: v for k, v in ck.meta.items() if k != "history"}}
    cfg = cfg or TrainConfig(epochs=10, lr=3e-4, crops_per_file=8, patience=3, calibrate=True)
    if callback is not None:
        callback(Progress("info", message=f"{len(train_ex)} training pairs; {note}"))
    return train(engine.model, train_ex, val_ex, [engine.templates.W], cqt, out, cfg, engine.templates.source,
                 meta, resume=resume, callback=callback, cancel=cancel, protected=(base, DEFAULT_MODEL),
                 notes=ck.notes)
