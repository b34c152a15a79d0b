"""Recent files, drag and drop, reference and model loading, playback without a sound card, the entry point."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent

from gui_helpers import make_window, open_and_wait, write_recording
from unmf_core.transcription.notes import Note, write_midi
from unmf_gui.app import parse_args
from unmf_gui.files import RECENT_KEY, find_reference
from unmf_gui.playback import Player


def test_recent_files_are_kept_across_runs_in_settings(qtbot, win, tmp_path):
    a = write_recording(tmp_path, "a.wav")
    open_and_wait(qtbot, win, a)
    win.close()
    again = make_window(qtbot, tmp_path)
    try:
        assert again.files.recent() == [str(a.resolve())]
        actions = again.files.recent_menu.actions()
        assert [act.text() for act in actions] == ["a.wav"]
        with qtbot.waitSignal(again.run_finished, timeout=30000):
            actions[0].trigger()
        assert again.vm.path == str(a.resolve())
    finally:
        again.close()
    assert QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat).value(RECENT_KEY)


def _drop(win, path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(20, 20), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    win.dropEvent(event)


def test_dropping_a_recording_opens_it_and_a_midi_becomes_the_reference(qtbot, win, tmp_path):
    path = write_recording(tmp_path, "dropped.wav")
    with qtbot.waitSignal(win.run_finished, timeout=30000):
        _drop(win, path)
    assert win.vm.path == str(path) and win.vm.reference is None
    ref = tmp_path / "elsewhere.mid"
    write_midi([Note(60, 0.2, 0.9)], ref)
    _drop(win, ref)
    assert [(n.pitch, round(n.onset, 2), round(n.offset, 2)) for n in win.vm.reference] == [(60, 0.2, 0.9)]
    assert win.vm.metrics is not None


def test_bad_reference_and_bad_checkpoint_show_errors(qtbot, win, tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi")
    with qtbot.waitSignal(win.error_shown, timeout=1000) as sig:
        assert not win.load_reference(bad)
    assert "bad.mid" in sig.args[0]
    path = write_recording(tmp_path)
    open_and_wait(qtbot, win, path)
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"garbage")
    with qtbot.waitSignal(win.error_shown, timeout=10000) as sig:
        win.files._spec(model=str(ckpt))
    assert "model.pt" in sig.args[0]
    with qtbot.waitSignal(win.run_finished, timeout=30000):
        win.files._spec(model=None)
    assert "device: cpu" in win.engine_label.text() and "layers" in win.engine_label.text()


def test_find_reference_uses_the_same_stem(tmp_path):
    audio = write_recording(tmp_path, "x.wav", reference=True)
    assert find_reference(audio) == audio.with_suffix(".mid")
    assert find_reference(tmp_path / "y.wav") is None


def test_without_a_sound_card_playback_is_reported_unavailable(qtbot, win, tmp_path):
    open_and_wait(qtbot, win, write_recording(tmp_path))
    assert not win.player.available
    win.toggle_play()
    assert "playback unavailable" in win.play_status.text() and not win.player.playing


class FakeStream:
    """Stands in for sounddevice.OutputStream: pulls audio through the callback on start."""

    instances: list = []

    def __init__(self, samplerate, channels, dtype, callback, finished_callback=None):
        self.callback, self.active, self.pulled = callback, False, []
        FakeStream.instances.append(self)

    def start(self):
        self.active = True
        out = np.zeros((1000, 1), dtype=np.float32)
        self.callback(out, 1000, None, None)
        self.pulled.append(out[:, 0].copy())

    def stop(self):
        self.active = False

    def close(self):
        pass


class Stop(Exception):
    pass


def test_player_plays_from_the_playhead_and_the_views_follow(qtbot, tmp_path):
    win = make_window(qtbot, tmp_path, player=Player(stream_factory=lambda: (FakeStream, Stop)))
    try:
        open_and_wait(qtbot, win, write_recording(tmp_path))
        win.vm.set_position(1.0)
        for source in ("recording", "transcription", "mix"):
            signal = win.playback_signal(source)
            assert len(signal) == len(win.vm.loaded.audio.samples) and np.abs(signal).max() > 0
        win.toggle_play()
        assert win.player.playing and win.play_button.text() == "Pause"
        stream = FakeStream.instances[-1]
        start = int(1.0 * win.vm.loaded.audio.sr)
        np.testing.assert_array_equal(stream.pulled[0], win.vm.loaded.audio.samples[start:start + 1000])
        with qtbot.waitSignal(win.vm.positionChanged, timeout=1000) as sig:
            pass
        assert sig.args[0] == pytest.approx(1.0 + 1000 / win.vm.loaded.audio.sr)
        assert win.activations.playhead.value() == pytest.approx(sig.args[0])
        win.toggle_play()
        assert not win.player.playing and win.play_button.text() == "Play"
    finally:
        win.close()


def test_click_to_seek_moves_the_playhead_in_every_time_view(qtbot, win, tmp_path):
    open_and_wait(qtbot, win, write_recording(tmp_path))
    win.activations.seekRequested.emit(1.25)
    assert win.vm.position == pytest.approx(1.25)
    for view in (win.spectrogram, win.activations, win.reconstruction, *win.compare_view.rolls.values()):
        assert view.playhead.value() == pytest.approx(1.25)


def test_entry_point_arguments():
    args = parse_args(["song.flac", "--method", "mu", "--device", "cpu"])
    assert (args.file, args.method, args.device) == ("song.flac", "mu", "cpu")
    assert parse_args([]).file is None
    with pytest.raises(SystemExit):
        parse_args(["--device", "tpu"])


def test_pyside_emit_refcount_bug_is_guarded():
    import sys

    from unmf_gui import qt_compat

    if sys.version_info < (3, 12) and qt_compat.emit_loses_true_references():
        assert qt_compat.GUARDED and min(sys.getrefcount(x) for x in (None, True, False)) > 2 ** 39
    else:
        assert not qt_compat.GUARDED
