"""RunController: one worker thread at a time; a replaced request never runs; cancel of a waiting run."""
from __future__ import annotations

from gui_helpers import write_recording
from unmf_core.transcription.engine import Options
from unmf_gui.runs import RunRequest
from unmf_gui.workers import EngineSpec, RunController


def _long_mu(path) -> RunRequest:
    return RunRequest(str(path), [Options(method="mu", iterations=100000)], EngineSpec(device="cpu"))


def _short_mu(path) -> RunRequest:
    return RunRequest(str(path), [Options(method="mu", iterations=3)], EngineSpec(device="cpu"))


def test_a_new_run_waits_for_the_cancelled_thread_and_a_replaced_request_never_runs(qtbot, tmp_path):
    path = write_recording(tmp_path, "piece.wav", duration=3.0)
    ctl = RunController()
    steps: list[str] = []
    ctl.step.connect(lambda key, snap: steps.append(key))
    with qtbot.waitSignal(ctl.step, timeout=60000):
        ctl.start(_long_mu(path))
    ctl.start(_short_mu(path))  # replaced before it can start: never runs
    assert len(ctl.threads()) == 1, "the second run started beside the first"
    last = _short_mu(path)
    with qtbot.waitSignal(ctl.finished, timeout=60000):
        ctl.start(last)
        assert len(ctl.threads()) <= 1
    assert ctl.runs_started == 3 and not ctl.running
    qtbot.waitUntil(lambda: not ctl.threads(), timeout=5000)
    assert ctl.shutdown()


def test_cancelling_a_run_that_waits_for_its_turn_says_cancelled_at_once(qtbot, tmp_path):
    path = write_recording(tmp_path, "piece.wav", duration=3.0)
    ctl = RunController()
    with qtbot.waitSignal(ctl.step, timeout=60000):
        ctl.start(_long_mu(path))
    ctl.start(_short_mu(path))
    assert ctl.running and ctl.current_worker() is None  # waiting for the first thread to end
    with qtbot.waitSignal(ctl.cancelled, timeout=1000):
        ctl.cancel()
    assert not ctl.running
    qtbot.waitUntil(lambda: not ctl.threads(), timeout=10000)
    assert ctl.current_worker() is None and ctl.shutdown()


def test_run_events_carry_the_divergence_only_when_asked(tmp_path):
    """Qt-free: the app's runs ask for the divergence (its view plots it); a run that does not ask gets NaN."""
    import math

    from unmf_gui.runs import run_events

    path = write_recording(tmp_path, "piece.wav", duration=2.0)
    for track in (True, False):
        request = RunRequest(str(path), [Options(method="mu", iterations=3, track_divergence=track)],
                             EngineSpec(device="cpu"))
        divs = [args[1].divergence for kind, *args in run_events(request, lambda: False) if kind == "step"]
        assert len(divs) == 4  # the initialisation and three iterations
        if track:
            assert all(math.isfinite(d) for d in divs) and divs[-1] < divs[0]
        else:
            assert all(math.isnan(d) for d in divs)


def test_an_hour_keeps_only_its_last_layer_and_five_minutes_every_layer():
    """The memory budget of kept layers (H as float32 and two uint8 images each)."""
    from unmf_gui.runs import SNAPSHOT_BUDGET, is_kept, keep_every

    hour, five = 310078, 25840
    every = keep_every(10, hour)
    assert [i for i in range(11) if is_kept(i, 10, every)] == [10]
    every = keep_every(10, five)
    assert every == 1 and all(is_kept(i, 10, every) for i in range(11))
    every = keep_every(100, 5000)  # MU's 100 iterations of a minute: thinned, first and last kept
    kept = [i for i in range(101) if is_kept(i, 100, every)]
    assert kept[0] == 0 and kept[-1] == 100 and len(kept) * (88 * 4 + 376) * 5000 <= SNAPSHOT_BUDGET


def test_a_long_recordings_samples_are_kept_in_a_mapped_file_with_the_same_values(monkeypatch):
    import numpy as np

    import unmf_gui.runs as runs
    from unmf_core.frontend.audio import Audio

    monkeypatch.setattr(runs, "SPILL_SAMPLES", 1000)
    y = np.random.default_rng(0).standard_normal(5000).astype(np.float32)
    long = runs.Loaded(Audio(y, 22050, "x.wav"), np.ones((288, 20), np.float32), 86.0, 5000 / 22050)
    assert isinstance(long.audio.samples, np.memmap) and long.audio.samples.dtype == np.float32
    np.testing.assert_array_equal(long.audio.samples, y)
    assert long.audio.path == "x.wav" and long.audio.sr == 22050
    short = runs.Loaded(Audio(y[:999], 22050), np.ones((288, 20), np.float32), 86.0, 999 / 22050)
    assert short.audio.samples is not None and not isinstance(short.audio.samples, np.memmap)
