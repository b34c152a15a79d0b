"""Training a model whose A_H sees other keys (``unmf train --ah-context``)."""
from __future__ import annotations

import pytest
import torch

from tests.conftest import synth_notes
from unmf_core.cli import main
from unmf_core.frontend.audio import save_audio
from unmf_core.io.checkpoints import load_checkpoint
from unmf_core.nmf.chunking import initialize
from unmf_core.nmf.unrolled import UnrolledConfig, UnrolledMU
from unmf_core.transcription.notes import Note, write_midi

pytestmark = pytest.mark.usefixtures("one_thread")


def test_context_weights_get_gradients():
    torch.manual_seed(0)
    model = UnrolledMU(UnrolledConfig(n_layers=2, hidden=4, w_every=0, ah_context=(-12, 12)))
    with torch.no_grad():  # the zero-initialised last conv would stop every gradient before it
        for layer in model.layers:
            layer.Ah.conv3.weight.normal_(0, 0.1)
    W = torch.rand(288, 88)
    M = W[:, 30:50] @ torch.rand(20, 60) + 0.01
    W, H = initialize(M, W, n_iter=2)
    model(M, W, H)[1].square().mean().backward()
    for layer in model.layers:
        g = layer.Ah.conv1.weight.grad
        assert g.shape == (8, 3, 5) and torch.isfinite(g).all() and float(g[:, 1:].abs().sum()) > 0


def test_train_cli_writes_a_context_model(tmp_path, capsys):
    for i, notes in enumerate([[(60, 0.1, 0.8), (72, 0.1, 0.8), (48, 0.9, 1.6)], [(57, 0.2, 1.0), (69, 0.6, 1.5)]]):
        save_audio(tmp_path / f"p{i}.wav", synth_notes(notes, duration=2.0, seed=i), 22050)
        write_midi([Note(p, a, b) for p, a, b in notes], tmp_path / f"p{i}.mid")
    out = tmp_path / "ctx.pt"
    code = main(["train", "--data", str(tmp_path), "--out", str(out), "--cache", str(tmp_path / "cache"),
                 "--layers", "2", "--hidden", "4", "--w-every", "0", "--ah-context", "-24", "-12", "12",
                 "--template-programs", "--epochs", "1", "--batch", "2", "--crop", "1", "--crops-per-file", "1",
                 "--threads", "1", "--device", "cpu", "--no-calibrate"])
    assert code == 0
    ck = load_checkpoint(out)
    assert ck.model.cfg.ah_context == (-24, -12, 12) and ck.model.layers[0].Ah.conv1.weight.shape == (8, 4, 5)
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "bad.pt"),
                 "--ah-context", "0", "--epochs", "1", "--cache", str(tmp_path / "cache")]) != 0
    err = capsys.readouterr().err
    assert "ah_context [0]" in err and "Traceback" not in err
