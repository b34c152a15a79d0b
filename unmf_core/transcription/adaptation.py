"""The first pass of a run whose calibrated templates are adapted to the recording.

:meth:`Engine.plain_steps <unmf_core.transcription.engine.Engine.plain_steps>`
starts where :func:`adapted_start` says: with a calibration that left keys
to prediction (:func:`unmf_core.calibration.piece.adaptable`) and
``Options.adapt_to_piece``, the run goes through once unseen, its notes give
the keys learned from the recording (:func:`unmf_core.calibration.piece.adapt_to_piece`),
and the run that every front end sees (the CLI, the app's layer views, batch
runs, a fine-tuning's validation) starts again from the adapted templates.
:func:`learned_keys` tells :meth:`Engine.finish` which keys a run's W learned.
"""
from __future__ import annotations

import weakref
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..calibration.piece import adaptable, adapt_to_piece
from ..frontend.blocks import check_cancel
from ..frontend.cqt import CQTParams, key_names
from .options import Options
from .templates import Templates

if TYPE_CHECKING:
    from .engine import Engine

#: id of an adapted template tensor → (a weak reference to it, the names of the keys learned for it).
_LEARNED: dict[int, tuple[weakref.ref, list[str]]] = {}


@lru_cache(maxsize=4)
def _base(cqt: CQTParams) -> Templates:
    from ..calibration.core import default_base

    return default_base(cqt)


def adapted_start(engine: "Engine", M: torch.Tensor, W: torch.Tensor, H: torch.Tensor,
                  opts: Options) -> tuple[torch.Tensor, torch.Tensor]:
    """The start (W, H) of a run: :meth:`Engine.initial`'s, or the same from templates adapted to M.

    Unrolled runs with ``opts.adapt_to_piece`` and adaptable templates go once
    from (W, a copy of H) to their notes first; when keys are learned from
    them, the run starts again from the adapted templates. Honours ``opts.cancel``.
    """
    t = engine.templates
    if not opts.adapt_to_piece or opts.method != "unrolled" or t.own is None:
        return W, H
    base = _base(engine.cqt)
    if not adaptable(t, base):
        return W, H
    last = None
    for last in engine.method(opts).run(M, W, H.clone(), engine.chunk_frames(M, opts), False, opts.cancel):
        check_cancel(opts.cancel)
    assert last is not None  # a run yields at least one step
    notes = engine.finish(M, last, opts).notes
    W2, learned = adapt_to_piece(t, base, M.detach().cpu().numpy(), notes, engine.cqt.frame_rate)
    if not learned:
        return W, H
    W, H = engine.initial(M, opts, torch.from_numpy(np.ascontiguousarray(W2, dtype=np.float32)).to(W.device))
    names = key_names()
    _LEARNED[id(W)] = (weakref.ref(W, _forget(id(W))), [names[k] for k in learned])
    return W, H


def _forget(key: int):
    """The weak reference's callback: drop the entry of a tensor that is gone."""
    def forget(_ref: weakref.ref) -> None:
        _LEARNED.pop(key, None)
    return forget


def learned_keys(W: torch.Tensor) -> list[str]:
    """The keys learned from the recording for a run's templates W (empty: W was not adapted)."""
    entry = _LEARNED.get(id(W))
    return list(entry[1]) if entry is not None and entry[0]() is W else []
