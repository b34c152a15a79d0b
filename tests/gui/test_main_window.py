"""The main window driven offscreen: layers, slider, notes, compare, export, errors, cancel, responsiveness."""
from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QElapsedTimer, Qt, QTimer

from gui_helpers import PIECE, make_window, open_and_wait, start_long_mu_run, write_recording
from unmf_core.transcription.display import activation_image
from unmf_core.transcription.metrics import note_scores
from unmf_core.transcription.notes import NoteParams, extract_notes, read_midi


@pytest.fixture
def win(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path)
    yield w
    w.close()
    assert not w.controller.threads()


@pytest.fixture
def recording(tmp_path):
    return write_recording(tmp_path, reference=True)


def test_every_layer_is_delivered_and_the_slider_steps_through_them(qtbot, win, recording):
    delivered = []
    win.controller.step.connect(lambda method, snap: delivered.append((method, snap.index)))
    open_and_wait(qtbot, win, recording)
    n = win.layers_box.value()
    assert delivered == [("unrolled", i) for i in range(n + 1)]
    run = win.vm.run
    assert run.steps == list(range(n + 1)) and run.finished
    assert win.vm.layer == n and win.layer_bar.slider.maximum() == n
    for k in (0, 3, n):
        win.layer_bar.slider.setValue(k)
        assert win.vm.layer == k
        np.testing.assert_array_equal(win.activations.image.image, activation_image(run.H[k]).codes)
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    qtbot.keyClick(win, Qt.Key_Left)
    assert win.vm.layer == n - 1
    qtbot.keyClick(win, Qt.Key_Right)
    assert win.vm.layer == n
    assert "layer" in win.layer_bar.label.text()


def test_play_through_animates_the_layers(qtbot, win, recording):
    open_and_wait(qtbot, win, recording)
    seen = []
    win.vm.layerChanged.connect(seen.append)
    win.layer_bar.timer.setInterval(30)
    win.layer_bar.play_button.setChecked(True)
    qtbot.waitUntil(lambda: not win.layer_bar.play_button.isChecked(), timeout=10000)
    assert seen[0] == 0 and seen[-1] == win.vm.n_layers() - 1 and seen == sorted(seen)


def test_threshold_re_extracts_notes_without_a_new_run(qtbot, win, recording):
    open_and_wait(qtbot, win, recording)
    runs = win.controller.runs_started
    before = list(win.vm.notes)
    assert before, "the test piece should give notes"
    with qtbot.waitSignal(win.vm.notesChanged, timeout=1000):
        win.notes_controls.threshold.setValue(0.6)
    final = win.vm.run.results[-1]  # the engine's own result for the last layer (background included)
    assert final.background is not None
    expected = extract_notes(final.H, win.vm.frame_rate, NoteParams(threshold=0.6), background=final.background,
                             gain=final.gain)
    assert win.vm.notes == expected == final.renotes(NoteParams(threshold=0.6)) and win.vm.notes != before
    win.notes_controls.min_duration.setValue(0.5)
    assert win.vm.notes == final.renotes(NoteParams(threshold=0.6, min_duration=0.5))
    assert win.controller.runs_started == runs and not win.controller.running


def test_reference_next_to_the_audio_is_found_and_scored_live(qtbot, win, recording):
    open_and_wait(qtbot, win, recording)
    assert win.vm.reference_path == str(recording.with_suffix(".mid"))
    assert len(win.vm.reference) == len(PIECE)
    good = win.vm.metrics["onset_f"]
    assert win.vm.metrics == note_scores(win.vm.reference, win.vm.notes)
    assert good > 0 and f"{good:.2f}" in win.metrics_label.text()
    win.notes_controls.threshold.setValue(0.95)
    assert win.vm.metrics["onset_f"] < good


def test_compare_view_shows_both_methods(qtbot, win, recording):
    win.iterations_box.setValue(30)
    open_and_wait(qtbot, win, recording)
    with qtbot.waitSignal(win.run_finished, timeout=30000):
        win.compare()
    vm, view = win.vm, win.compare_view
    assert win.tabs.currentWidget() is view
    assert vm.runs["unrolled"].steps[-1] == win.layers_box.value() and vm.runs["mu"].steps[-1] == 30
    assert vm.runs["unrolled"].finished and vm.runs["mu"].finished
    for method in ("unrolled", "mu"):
        assert "wall time" in view.labels[method].text() and "onset P/R/F" in view.labels[method].text()
        assert len(view.divergence.curves[method].xData) == vm.runs[method].steps[-1] + 1
        assert view.rolls[method].image.image is not None
    # same initialisation: step 0 is identical for both
    np.testing.assert_allclose(vm.runs["unrolled"].H[0], vm.runs["mu"].H[0], rtol=1e-6)
    view.slider.setValue(4)
    assert vm.compare_step == 4
    for method in ("unrolled", "mu"):
        np.testing.assert_array_equal(view.rolls[method].image.image, activation_image(vm.runs[method].H[4]).codes)
    assert view.rolls["mu"].getViewBox().state["linkedViews"][0] is not None


def test_export_midi_reloads_to_the_same_notes(qtbot, win, recording, tmp_path):
    open_and_wait(qtbot, win, recording)
    out = tmp_path / "out" / "notes.mid"
    out.parent.mkdir()
    assert win.files.export_midi(out)
    back = read_midi(out)
    notes = win.vm.notes
    assert [n.pitch for n in back] == [n.pitch for n in notes]
    np.testing.assert_allclose([n.onset for n in back], [n.onset for n in notes], atol=3e-3)
    np.testing.assert_allclose([n.offset for n in back], [n.offset for n in notes], atol=3e-3)
    assert win.files.export_csv(tmp_path / "out" / "notes.csv")
    assert len((tmp_path / "out" / "notes.csv").read_text().splitlines()) == len(notes) + 1
    assert win.files.export_png(tmp_path / "out" / "view.png")
    assert (tmp_path / "out" / "view.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_export_to_a_missing_folder_shows_an_error(qtbot, win, recording, tmp_path):
    open_and_wait(qtbot, win, recording)
    with qtbot.waitSignal(win.error_shown, timeout=1000) as sig:
        assert not win.files.export_midi(tmp_path / "nope" / "x.mid")
    assert "no such folder" in sig.args[0]


def test_corrupt_file_shows_an_error_and_the_window_keeps_working(qtbot, win, recording, tmp_path):
    open_and_wait(qtbot, win, recording)
    notes = list(win.vm.notes)
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    with qtbot.waitSignal(win.error_shown, timeout=10000) as sig:
        win.open_file(bad)
    assert "broken.wav" in sig.args[0] and "not a readable audio file" in sig.args[0]
    assert win.vm.path == str(recording) and win.vm.notes == notes
    other = write_recording(tmp_path, "other.wav", notes=[(48, 0.1, 1.0), (76, 0.5, 1.5)])
    open_and_wait(qtbot, win, other)
    assert win.vm.path == str(other) and win.vm.run.finished


@pytest.mark.slow  # a wall-clock bound: in the slow set, not the fast suite
def test_cancel_stops_a_long_run_within_a_second(qtbot, win, tmp_path):
    path = write_recording(tmp_path, "long.wav", duration=8.0)
    start_long_mu_run(qtbot, win, path)
    assert win.controller.running
    worker = win.controller.current_worker()
    t0 = time.perf_counter()
    with qtbot.waitSignal(win.run_cancelled, timeout=1000):
        qtbot.keyClick(win, Qt.Key_Escape)
    elapsed = time.perf_counter() - t0
    assert elapsed < 1.0
    assert worker.cancel_requested and not win.controller.running
    assert win.vm.run.div_steps[-1] < 100000
    qtbot.waitUntil(lambda: not win.controller.threads(), timeout=1000)


def test_new_file_cancels_the_old_run(qtbot, win, tmp_path, recording):
    long = write_recording(tmp_path, "long.wav", duration=6.0)
    win.method_box.setCurrentIndex(1)
    win.iterations_box.setValue(100000)
    with qtbot.waitSignal(win.vm.runUpdated, timeout=30000):
        win.open_file(long)
    old = win.controller.current_worker()
    win.iterations_box.setValue(20)
    open_and_wait(qtbot, win, recording)
    assert old.cancel_requested and win.vm.path == str(recording) and win.vm.run.steps[-1] == 20
    qtbot.waitUntil(lambda: len(win.controller.threads()) == 0, timeout=2000)


@pytest.mark.slow  # a wall-clock bound (200 ms heartbeat): in the slow set, not the fast suite
def test_ui_thread_stays_responsive_during_a_run(qtbot, win, tmp_path):
    path = write_recording(tmp_path, "resp.wav", duration=4.0)
    gaps, clock = [], QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def beat():
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(beat)
    timer.start()
    win.iterations_box.setValue(60)
    win.tabs.setCurrentWidget(win.compare_view)
    with qtbot.waitSignal(win.run_finished, timeout=30000):
        win.open_file(path)
    assert set(win.vm.runs) == {"unrolled", "mu"}
    timer.stop()
    assert len(gaps) > 10
    assert max(gaps) < 200, f"UI thread stalled for {max(gaps)} ms"


def test_closing_during_a_run_joins_the_worker(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path)
    w.method_box.setCurrentIndex(1)
    w.iterations_box.setValue(100000)
    with qtbot.waitSignal(w.vm.runUpdated, timeout=30000):
        w.open_file(write_recording(tmp_path, duration=4.0))
    threads = w.controller.threads()
    assert threads and threads[0].isRunning()
    w.close()
    assert not w.controller.threads() and not w.controller.running


def test_window_started_with_mu_shows_the_mu_iterations(qtbot, tmp_path, recording):
    w = make_window(qtbot, tmp_path, method="mu")
    try:
        w.iterations_box.setValue(12)
        open_and_wait(qtbot, w, recording)
        assert w.vm.method == "mu" and w.vm.run.steps == list(range(13))
        assert "iteration 12 / 12" in w.layer_bar.label.text()
        with qtbot.waitSignal(w.run_finished, timeout=30000):
            w.method_box.setCurrentIndex(0)
        assert w.vm.method == "unrolled" and set(w.vm.runs) == {"unrolled", "mu"}
    finally:
        w.close()


def test_the_first_file_spectrogram_is_drawn_at_its_own_levels(qtbot, win, recording):
    """The first recording's M is drawn at its DbImage's code levels (pyqtgraph once applied levels set before
    any image over them: dB levels on uint8 codes, an all-yellow spectrogram)."""
    open_and_wait(qtbot, win, recording)
    view, M_db = win.spectrogram, win.vm.M_db
    assert tuple(float(x) for x in view.image.levels) == pytest.approx(M_db.levels(*view.levels))
    assert view.image.image.min() < view.image.levels[1]  # not every pixel at or above the top level
