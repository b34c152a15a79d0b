"""Model ▸ Fine-tune on my files…: a tiny job runs to completion and to cancel; the new model is then used,
and compared with the base model in the compare view."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from gui_helpers import make_window, open_and_wait, write_recording
from unmf_core.io.checkpoints import load_checkpoint, save_checkpoint
from unmf_core.frontend.cqt import CQTParams
from unmf_core.transcription.notes import NoteParams, extract_notes
from unmf_core.transcription.engine import Engine
from unmf_core.transcription.templates import harmonic_templates
from unmf_core.training.trainer import TrainConfig
from unmf_core.nmf.unrolled import UnrolledConfig, UnrolledMU
from unmf_gui.finetune_dialog import open_dialog

TINY = TrainConfig(epochs=2, batch=1, crop_seconds=1.0, crops_per_file=2, threads=1, device="cpu", patience=5,
                   calibrate=True)


def model_menu(win):
    return next(a.menu() for a in win.menuBar().actions() if a.text() == "&Model")


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
    next(a for a in model_menu(win).actions() if a.text().startswith("&Fine-tune")).trigger()
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
    # the threshold calibrated on the pairs comes with the model and drives the window's note extraction
    calibrated = load_checkpoint(res.out).notes
    assert calibrated is not None and calibrated.threshold == pytest.approx(res.notes.threshold)
    assert win.notes_controls.threshold.value() == pytest.approx(calibrated.threshold)
    assert win.vm.note_params.threshold == pytest.approx(calibrated.threshold)


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


def test_compare_view_shows_base_vs_fine_tuned_then_mu_vs_unrolled_again(qtbot, setup):
    win, dlg, base, tmp_path = setup
    action = next(a for a in model_menu(win).actions() if a.text() == "Compare &base vs fine-tuned")
    assert not action.isEnabled() and not dlg.compare_button.isEnabled()  # nothing to compare yet
    with qtbot.waitSignal(dlg.jobFinished, timeout=60000) as sig:
        assert dlg.start()
    new = sig.args[0].out
    # 2 tiny epochs rarely beat the base on validation, so the best model written is often the base's weights:
    # nudge the new file's weights (as a real fine-tune would) so that the two columns must differ
    ck = load_checkpoint(new)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in ck.model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    # and give it its own calibrated threshold: each column must extract notes at its model's threshold
    save_checkpoint(new, ck.model, ck.cqt, ck.templates, ck.templates_source, ck.meta,
                    notes=NoteParams(threshold=0.3))
    assert action.isEnabled() and dlg.compare_button.isEnabled()
    assert not dlg.compare_models() and "Open a recording" in dlg.status.text()  # compared on the open file
    win.iterations_box.setValue(10)
    open_and_wait(qtbot, win, write_recording(tmp_path, "piece.wav", reference=True), timeout=60000)

    with qtbot.waitSignal(win.run_finished, timeout=60000):
        dlg.compare_button.click()
    vm, view, tabs = win.vm, win.compare_view, win.tabs
    assert tabs.currentWidget() is view and tabs.tabText(tabs.indexOf(view)) == "Compare base / fine-tuned"
    assert list(view.rolls) == ["base", "fine-tuned"] and set(vm.runs) >= {"base", "fine-tuned", "unrolled"}
    assert view.labels["base"].text().startswith("base: base.pt (threshold 0.07): layer 3 of 3")  # the last step
    view.slider.setValue(0)
    assert view.labels["fine-tuned"].text().startswith("fine-tuned: new.pt (threshold 0.3): layer 0 of 3")
    view.slider.setValue(3)
    assert view.labels["fine-tuned"].text().startswith("fine-tuned: new.pt (threshold 0.3): layer 3 of 3")
    titles = [view.rolls[k].getPlotItem().titleLabel.text for k in view.rolls]
    legend = [label.text for _, label in view.divergence.getPlotItem().legend.items]
    assert titles == legend == ["base: base.pt (threshold 0.07)", "fine-tuned: new.pt (threshold 0.3)"]
    for key, t in (("base", 0.07), ("fine-tuned", 0.3)):
        assert vm.note_params_for(key).threshold == t
        assert vm.notes_for(key, 3) == extract_notes(vm.runs[key].H[-1], vm.frame_rate, replace(vm.note_params,
                                                                                                 threshold=t))
    for key in ("base", "fine-tuned"):
        run = vm.runs[key]
        assert run.finished and run.steps == [0, 1, 2, 3]
        assert "wall time" in view.labels[key].text() and "onset P/R/F" in view.labels[key].text()
        assert list(view.divergence.curves[key].xData) == [0, 1, 2, 3]
        assert view.rolls[key].image.image is not None
    assert set(win.divergence.curves) == {"unrolled"}  # the transcription tab's plot keeps to its own runs
    # same initialisation, and each column is exactly what its checkpoint gives with the shared templates
    np.testing.assert_array_equal(vm.runs["base"].H[0], vm.runs["fine-tuned"].H[0])
    M, opts = torch.from_numpy(vm.loaded.M), replace(win.options("unrolled"), layers=None)
    base_engine = Engine(model=str(base), cqt=win.engine.cqt, device="cpu")
    tuned_engine = Engine(templates=base_engine.templates, model=new, cqt=win.engine.cqt, device="cpu")
    for key, engine in (("base", base_engine), ("fine-tuned", tuned_engine)):
        last = list(engine.steps(M, opts))[-1]
        np.testing.assert_allclose(vm.runs[key].H[-1], last.H.numpy(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(vm.runs["base"].H[-1], vm.runs["fine-tuned"].H[-1], rtol=1e-3)
    assert vm.runs["base"].divergences != vm.runs["fine-tuned"].divergences

    # the Model menu compares the last pair again; a normal compare goes back to MU vs unrolled MU
    with qtbot.waitSignal(win.run_finished, timeout=60000):
        action.trigger()
    assert vm.runs["fine-tuned"].finished and vm.comparison.keys == ("base", "fine-tuned")
    with qtbot.waitSignal(win.run_finished, timeout=60000):
        win.compare()
    assert tabs.tabText(tabs.indexOf(view)) == "Compare MU / unrolled MU" and set(vm.runs) == {"unrolled", "mu"}
    assert list(view.rolls) == ["unrolled", "mu"] and set(view.divergence.curves) == {"unrolled", "mu"}
    titles = [view.rolls[k].getPlotItem().titleLabel.text for k in view.rolls]
    legend = [label.text for _, label in view.divergence.getPlotItem().legend.items]
    assert titles == legend == ["unrolled MU (layer)", "MU (iteration)"]
    for key in ("unrolled", "mu"):
        assert "wall time" in view.labels[key].text() and vm.runs[key].finished
    np.testing.assert_allclose(vm.runs["unrolled"].H[0], vm.runs["mu"].H[0], rtol=1e-6)
    assert vm.runs["mu"].steps[-1] == 10
