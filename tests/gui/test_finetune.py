"""Model ▸ Fine-tune on my files…: a tiny job runs to completion and to cancel; the new model is then used."""
from __future__ import annotations

import pytest
import torch

from gui_helpers import make_window, open_and_wait, write_recording
from unmf_core.checkpoints import load_checkpoint, save_checkpoint
from unmf_core.cqt import CQTParams
from unmf_core.templates import harmonic_templates
from unmf_core.training import TrainConfig
from unmf_core.unrolled import UnrolledConfig, UnrolledMU
from unmf_gui.finetune_dialog import open_dialog

TINY = TrainConfig(epochs=2, batch=1, crop_seconds=1.0, crops_per_file=2, threads=1, device="cpu", patience=5)


@pytest.fixture
def setup(qtbot, tmp_path):
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    base = tmp_path / "base.pt"
    save_checkpoint(base, UnrolledMU(UnrolledConfig(n_layers=3, hidden=4, w_every=2)), CQTParams(),
                    harmonic_templates().W, "harmonic")
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    write_recording(pairs, "a.wav", reference=True)
    win = make_window(qtbot, tmp_path)
    model_menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&Model")
    next(a for a in model_menu.actions() if a.text().startswith("&Fine-tune")).trigger()
    dlg = win.finetune_dialog
    assert dlg.isVisible() and not dlg.isModal() and open_dialog(win) is dlg
    dlg.cfg = TINY
    dlg.data_edit.setText(str(pairs))
    dlg.base_edit.setText(str(base))
    dlg.out_edit.setText(str(tmp_path / "new.pt"))
    yield win, dlg, base, tmp_path
    dlg.close()
    win.close()
    torch.set_num_threads(n)


def test_fine_tune_job_completes_and_the_new_model_transcribes(qtbot, setup):
    win, dlg, base, tmp_path = setup
    before = base.read_bytes()
    with qtbot.waitSignal(dlg.jobFinished, timeout=60000) as sig:
        assert dlg.start()
        assert dlg.running and not dlg.start_button.isEnabled()  # the window stays usable meanwhile
        assert win.isEnabled()
    res = sig.args[0]
    assert not res.cancelled and res.epochs == 2
    assert len(dlg._losses) == 4 and [e for e, _ in dlg._val] == [0, 1, 2]
    assert dlg.use_button.isEnabled() and base.read_bytes() == before
    assert load_checkpoint(res.out).meta["fine_tuned_from"] == str(base)
    dlg.use_button.click()
    assert win.spec.model == str(tmp_path / "new.pt")
    open_and_wait(qtbot, win, write_recording(tmp_path, "piece.wav"), timeout=60000)
    assert win.engine.checkpoint.path == str(tmp_path / "new.pt")
    assert win.engine.model.cfg.n_layers == 3


def test_fine_tune_job_can_be_cancelled(qtbot, setup):
    win, dlg, _, tmp_path = setup
    dlg.cfg = TrainConfig(epochs=50, batch=1, crop_seconds=1.0, crops_per_file=4, threads=1, device="cpu",
                          patience=100)
    with qtbot.waitSignal(dlg.jobFinished, timeout=60000) as sig:
        dlg.start()
        qtbot.waitUntil(lambda: len(dlg._losses) >= 1, timeout=30000)
        dlg.cancel_button.click()
    res = sig.args[0]
    assert res.cancelled and res.epochs < 50 and not dlg.running
    assert load_checkpoint(tmp_path / "new.pt").model.cfg.n_layers == 3  # the last written model is valid


def test_the_new_model_never_overwrites_the_base(qtbot, setup):
    _, dlg, base, _ = setup
    dlg.out_edit.setText(str(base))
    with qtbot.waitSignal(dlg.jobFailed, timeout=5000):
        assert not dlg.start()
