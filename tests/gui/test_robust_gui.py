"""The app with bad inputs and faults: a dialog every time, and the window stays usable.

Bad recordings, a full disk during an export, an unexpected exception in the
worker and an out-of-memory fallback, each driven through the real window.
"""
from __future__ import annotations

import errno
import os

import numpy as np
import pytest
import soundfile as sf
import torch

from gui_helpers import make_window, open_and_wait, start_long_mu_run, write_recording
from unmf_core.transcription.engine import Engine


@pytest.fixture
def win(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path)
    w.iterations_box.setValue(10)
    yield w
    w.close()
    assert not w.controller.threads()


def _wav(path, y, subtype="FLOAT"):
    sf.write(str(path), y, 22050, subtype=subtype)
    return path


def _tone(seconds=1.0):
    t = np.arange(int(22050 * seconds)) / 22050
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


#: name → (builder(path), words the dialog must show)
BAD = {
    "empty.wav": (lambda p: p.write_bytes(b""), "empty"),
    "text file.wav": (lambda p: p.write_text("not audio\n" * 50), "not a readable audio file"),
    "truncated.wav": (lambda p: p.write_bytes(_wav(p, _tone()).read_bytes()[:30]), "not a readable audio file"),
    "one sample.wav": (lambda p: _wav(p, _tone()[100:101]), "too short"),
    "silence.wav": (lambda p: _wav(p, np.zeros(22050 * 10, np.float32), "PCM_16"), "silent"),
    "nan ü.wav": (lambda p: _wav(p, np.where(np.arange(22050) == 50, np.nan, _tone()).astype(np.float32)),
                  "non-finite"),
    "missing.wav": (lambda p: None, "no such file"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_recording_shows_a_dialog_and_the_window_keeps_working(qtbot, win, tmp_path, name):
    good = write_recording(tmp_path)
    open_and_wait(qtbot, win, good)
    notes = list(win.vm.notes)
    make, words = BAD[name]
    bad = tmp_path / name
    make(bad)
    with qtbot.waitSignal(win.error_shown, timeout=20000) as sig:
        win.open_file(bad)
    assert name in sig.args[0] and words in sig.args[0]
    assert win._error_box is not None and win._error_box.isVisible()
    assert win.vm.path == str(good) and win.vm.notes == notes  # the open file is untouched
    assert not win.controller.running
    win._error_box.close()
    with qtbot.waitSignal(win.run_finished, timeout=30000):
        win.run()
    assert win.vm.run.finished


@pytest.mark.parametrize("kind", ["midi", "csv", "png"])
def test_export_on_a_full_disk_keeps_the_old_file(qtbot, win, tmp_path, monkeypatch, kind):
    open_and_wait(qtbot, win, write_recording(tmp_path))
    target = tmp_path / f"out.{'mid' if kind == 'midi' else kind}"
    target.write_bytes(b"OLD")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with qtbot.waitSignal(win.error_shown, timeout=2000) as sig:
        assert not getattr(win.files, f"export_{kind}")(target)
    monkeypatch.undo()
    assert target.name in sig.args[0] and "disk full" in sig.args[0]
    assert target.read_bytes() == b"OLD"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []
    assert getattr(win.files, f"export_{kind}")(target)  # and it works once there is room
    assert target.read_bytes() != b"OLD"


def test_unexpected_worker_exception_becomes_a_dialog(qtbot, win, tmp_path, monkeypatch):
    def broken(self, M, opts):
        yield from ()
        raise ZeroDivisionError("injected bug")

    monkeypatch.setattr(Engine, "plain_steps", broken)
    with qtbot.waitSignal(win.run_failed, timeout=20000) as sig:
        win.open_file(write_recording(tmp_path))
    assert "ZeroDivisionError" in sig.args[0] and "injected bug" in sig.args[0]
    qtbot.waitUntil(lambda: not win.controller.threads(), timeout=5000)
    assert not win.progress.isVisible() and not win.cancel_button.isVisible()
    monkeypatch.undo()
    open_and_wait(qtbot, win, write_recording(tmp_path, "again.wav"))


def test_out_of_memory_in_the_worker_falls_back_and_finishes(qtbot, win, tmp_path, monkeypatch):
    """An OOM on the (pretend) GPU: the run goes on in smaller chunks, then on the CPU, and finishes."""
    real_init, real_steps = Engine.__init__, Engine.plain_steps

    def init(self, *a, **k):
        real_init(self, *a, **k)
        self.device = torch.device("cuda")  # a label only: every tensor stays on the CPU

    def steps(self, M, opts):
        if self.device.type != "cpu":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1 GiB")
        yield from real_steps(self, M, opts)

    monkeypatch.setattr(Engine, "__init__", init)
    monkeypatch.setattr(Engine, "plain_steps", steps)
    monkeypatch.setattr(Engine, "plain_spectrogram",
                        lambda self, a, cancel=None: real_spectrogram(self, a))
    real_to = torch.Tensor.to

    def to(self, *args, **kwargs):  # the worker moves M to the engine's device: a no-op for the label
        target = args[0] if args else kwargs.get("device")
        if isinstance(target, (str, torch.device)) and str(target).startswith("cuda"):
            return self
        return real_to(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "to", to)
    win.set_engine_spec(win.spec)
    open_and_wait(qtbot, win, write_recording(tmp_path, duration=5.0))
    assert win.vm.run.finished
    assert win.engine.device.type == "cpu"
    assert any("continuing on the CPU" in n for n in win.engine.notices)


def real_spectrogram(engine, audio):
    from unmf_core.frontend.cqt import compute_cqt

    return compute_cqt(audio.samples, engine.cqt, "cpu")


def test_opening_a_new_file_during_a_long_run_cancels_it_cleanly(qtbot, win, tmp_path):
    long = write_recording(tmp_path, "long.wav", duration=6.0)
    start_long_mu_run(qtbot, win, long)
    first = win.controller.current_worker()
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"junk")
    with qtbot.waitSignal(win.error_shown, timeout=20000):
        win.open_file(bad)
    assert first.cancel_requested
    qtbot.waitUntil(lambda: not win.controller.threads(), timeout=5000)


def test_close_right_after_opening_leaves_no_thread(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path)
    w.open_file(write_recording(tmp_path, duration=3.0))
    w.close()
    assert not w.controller.threads() and not w.controller.running
