"""Live ▸ Start listening: a file-backed stream drawn while it runs; Stop keeps the take; no microphone."""
from __future__ import annotations

import numpy as np

from tests.conftest import synth_notes
from gui_helpers import make_window
from unmf_core.frontend.audio import Audio
from unmf_core.frontend.inputstream import FileStream

PIECE = [(60, 0.3, 0.9), (64, 0.5, 1.2), (67, 1.0, 1.6), (48, 1.4, 2.4), (72, 2.0, 2.6), (55, 2.5, 3.3)]


def test_no_microphone_disables_the_action_with_the_reason(qtbot, tmp_path):
    win = make_window(qtbot, tmp_path)
    win.live.set_status([], "no audio input: PortAudio is not available (test)")
    assert not win.live.action.isEnabled()
    assert "PortAudio" in win.live.action.toolTip()
    assert win.live.action in win.toolbar.actions()
    assert win.live.start() is None


def test_live_view_draws_notes_while_running_and_stop_keeps_the_take(qtbot, tmp_path):
    win = make_window(qtbot, tmp_path)
    audio = Audio(synth_notes(PIECE).astype(np.float32), 22050, "piece")
    win.live.stream_factory = lambda sr: FileStream(audio, sr=sr, realtime=False)
    win.live.set_status([], "")
    assert win.live.action.isEnabled()
    order = []
    w = win.live.start()
    w.notesChanged.connect(lambda n: order.append(("notes", n)))
    w.takeReady.connect(lambda *_: order.append(("take", None)))
    with qtbot.waitSignal(w.notesChanged, timeout=120000):
        pass
    assert w.roll_curve.getData()[0] is not None and len(w.roll_curve.getData()[0]) >= 2  # a note is drawn
    with qtbot.waitSignal(w.takeReady, timeout=120000):
        w.stop()
    w.wait()
    assert order[0][0] == "notes" and order[-1][0] == "take"
    result, _ = w.take
    # the take is the window's transcription now: loaded, one finished unrolled run, its notes shown
    assert win.vm.loaded is not None and win.vm.loaded.audio.path == "live take"
    run = win.vm.runs["unrolled"]
    assert run.finished and run.results[-1].notes == result.notes
    assert win.vm.loaded.M.shape[1] == result.H.shape[1]
    w.close()
