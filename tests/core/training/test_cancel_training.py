"""A fine-tune cancelled at any point leaves a loadable checkpoint (the last good one) and no partial file."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import synth_notes
from unmf_core.frontend.audio import save_audio
from unmf_core.io.checkpoints import load_checkpoint, save_checkpoint
from unmf_core.frontend.cqt import CQTParams
from unmf_core.training.datasets import CQTCache, find_pairs, load_examples
from unmf_core.transcription.notes import Note, write_midi
from unmf_core.transcription.templates import harmonic_templates
from unmf_core.training.trainer import TrainConfig, train
from unmf_core.nmf.unrolled import UnrolledConfig, UnrolledMU

CQT = CQTParams()
W = harmonic_templates(CQT).W
TINY = dict(n_layers=3, hidden=4, w_every=2)
FAST = dict(batch=2, crop_seconds=1.0, crops_per_file=2, threads=1, device="cpu")


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    d = tmp_path_factory.mktemp("pairs")
    for i, notes in enumerate([[(60, 0.1, 0.8), (67, 0.9, 1.6)], [(57, 0.2, 1.0), (45, 0.2, 2.0)]]):
        save_audio(d / f"p{i}.wav", synth_notes(notes, duration=2.0, seed=i), 22050)
        write_midi([Note(p, a, b) for p, a, b in notes], d / f"p{i}.mid")
    return load_examples(find_pairs(d), CQTCache(tmp_path_factory.mktemp("cache"), CQT))


pytestmark = pytest.mark.usefixtures("one_thread")


def _checks(examples, tmp_path) -> int:
    """How many times an uncancelled run polls its cancel flag."""
    calls = {"n": 0}

    def count():
        calls["n"] += 1
        return False

    train(UnrolledMU(UnrolledConfig(**TINY)), examples, examples, [W], CQT, tmp_path / "probe.pt",
          TrainConfig(epochs=3, patience=5, **FAST), cancel=count)
    return calls["n"]


def test_every_cancel_point_is_covered(examples, tmp_path):
    assert _checks(examples, tmp_path) == N_CHECKS


#: Cancel polls of the run below (test_every_cancel_point_is_covered keeps this honest).
N_CHECKS = 6


@pytest.mark.parametrize("stop_at", range(1, N_CHECKS + 1))
def test_cancel_at_any_point_keeps_a_loadable_checkpoint(examples, tmp_path, stop_at):
    out = tmp_path / "tuned.pt"
    base = UnrolledMU(UnrolledConfig(**TINY))
    save_checkpoint(out, base, CQT, W, "harmonic")  # the last good model, as a resumed fine-tune has
    calls = {"n": 0}

    def cancel():
        calls["n"] += 1
        return calls["n"] >= stop_at

    res = train(UnrolledMU(UnrolledConfig(**TINY)), examples, examples, [W], CQT, out,
                TrainConfig(epochs=3, patience=5, **FAST), cancel=cancel)
    ck = load_checkpoint(out)
    assert ck.model.cfg.n_layers == 3 and ck.templates.shape == (288, 88)
    assert all(torch.isfinite(p).all() for p in ck.model.parameters())
    assert not [p.name for p in tmp_path.iterdir() if ".part" in p.name]  # no half-written file
    assert res.cancelled and calls["n"] == stop_at  # it stopped at the first cancel it saw
    assert np.isfinite(res.best_f)
