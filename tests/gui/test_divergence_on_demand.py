"""The per-step divergence is computed only while a divergence view is on screen (issue 13)."""
from __future__ import annotations

import math

import numpy as np

from gui_helpers import open_and_wait, write_recording


def test_a_hidden_divergence_view_costs_the_run_nothing_and_gets_its_curve_when_shown(qtbot, win, tmp_path):
    path = write_recording(tmp_path, "piece.wav")
    win.divergence.hide()
    assert not win.divergence_shown()
    open_and_wait(qtbot, win, path)
    run = win.vm.run
    assert run.finished and all(math.isnan(d) for d in run.divergences)  # nothing computed during the run
    win.divergence.show()  # the view draws the kept layers' divergence from their W and H
    curve = win.divergence.curves["unrolled"]
    assert list(curve.xData) == run.steps
    filled = np.array(run.divergences)
    assert np.isfinite(filled).all() and filled[-1] < filled[0]
    assert win.divergence_shown()
    open_and_wait(qtbot, win, path)  # shown: the run itself tracks it, step by step
    tracked = np.array(win.vm.run.divergences)
    np.testing.assert_allclose(filled, tracked, rtol=1e-5)
    assert list(win.divergence.curves["unrolled"].xData) == win.vm.run.div_steps


def test_the_compare_tab_shows_its_divergence_so_its_runs_track_it(qtbot, win, tmp_path):
    path = write_recording(tmp_path, "piece.wav")
    win.iterations_box.setValue(5)
    open_and_wait(qtbot, win, path)
    win.divergence.hide()
    with qtbot.waitSignal(win.run_finished, timeout=60000):
        win.compare()
    assert win.divergence_shown()
    for key in ("unrolled", "mu"):
        assert np.isfinite(win.vm.runs[key].divergences).all()
