"""The Trainer's parts on their own: epoch 0, one epoch, checkpoints, resume, cancel; fine_tune lives in training."""
from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import synth_notes
from unmf_core.errors import Cancelled
from unmf_core.frontend.audio import save_audio
from unmf_core.frontend.cqt import CQTParams
from unmf_core.io.checkpoints import load_checkpoint
from unmf_core.nmf.unrolled import UnrolledConfig, UnrolledMU
from unmf_core.training.config import TrainConfig
from unmf_core.training.datasets import CQTCache, find_pairs, load_examples
from unmf_core.training.trainer import Trainer
from unmf_core.transcription.notes import Note, write_midi
from unmf_core.transcription.templates import harmonic_templates

CQT = CQTParams()
W = harmonic_templates(CQT).W
FAST = TrainConfig(epochs=2, batch=2, crop_seconds=1.0, crops_per_file=2, threads=1, device="cpu")

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    d = tmp_path_factory.mktemp("pairs")
    for i, notes in enumerate([[(60, 0.1, 0.8), (67, 0.9, 1.6)], [(57, 0.2, 1.0), (62, 0.6, 1.5)]]):
        save_audio(d / f"p{i}.wav", synth_notes(notes, duration=1.8, seed=i), 22050)
        write_midi([Note(p, a, b) for p, a, b in notes], d / f"p{i}.mid")
    return load_examples(find_pairs(d), CQTCache(tmp_path_factory.mktemp("cache"), CQT))


def _trainer(examples, out, **kw):
    model = UnrolledMU(UnrolledConfig(n_layers=2, hidden=4, w_every=2))
    return Trainer(model, examples, examples, [W], CQT, out, FAST, **kw)


def test_start_epoch_and_checkpoints(examples, tmp_path):
    out = tmp_path / "m.pt"
    t = _trainer(examples, out)
    assert t.resume() is False  # nothing to resume yet
    t.start()
    assert out.is_file() and t.state_file.is_file() and [h["epoch"] for h in t.history] == [0]
    losses, timed_out = t.epoch(t.model, 1)
    assert losses and all(np.isfinite(losses)) and not timed_out
    stale = t.end_epoch(1, losses, 0)
    assert [h["epoch"] for h in t.history] == [0, 1] and stale in (0, 1)
    assert load_checkpoint(out).meta["history"][-1]["epoch"] == 1
    again = _trainer(examples, out)
    assert again.resume() is True and again.start_epoch == 2 and len(again.history) == 2


def test_cancel_between_steps(examples, tmp_path):
    t = _trainer(examples, tmp_path / "c.pt", cancel=lambda: True)
    with pytest.raises(Cancelled):
        t.check_cancel()
    res = t.run()
    assert res.cancelled and res.epochs == 0


def test_fine_tune_is_in_training_not_in_the_cli():
    import unmf_core.cli.train as cli_train
    from unmf_core.training.finetune import fine_tune

    assert fine_tune.__module__ == "unmf_core.training.finetune"
    assert "fine_tune" not in vars(cli_train)
