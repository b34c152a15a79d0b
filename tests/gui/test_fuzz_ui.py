"""A random sequence of UI actions on the real window: no exception, no stall, no thread left.

Actions: open (good, corrupt or missing files), run, cancel, layer slider,
threshold, minimum duration, compare, base-vs-fine-tuned compare, tab and
method switches, exports (also to a missing folder), reference loading, play,
and closing the window (a new one takes its place). Exceptions raised inside
Qt slots fail the test (pytest-qt captures them). 200 steps run in the suite;
``python3 -m pytest -m slow tests/gui/test_fuzz_ui.py`` runs longer sequences
with more seeds.
"""
from __future__ import annotations

import random
import time

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from gui_helpers import make_window, write_recording
from unmf_core.io.checkpoints import save_checkpoint
from unmf_core.frontend.cqt import CQTParams
from unmf_core.transcription.notes import Note, write_midi
from unmf_core.transcription.templates import harmonic_templates
from unmf_core.nmf.unrolled import UnrolledConfig, UnrolledMU

#: Longest any single action may keep the UI thread busy (seconds; generous for a loaded CI machine).
MAX_ACTION_S = 5.0


class Fuzzer:
    """Holds the window and the files; each method is one action."""

    def __init__(self, qtbot, tmp_path, rng):
        self.qtbot, self.tmp, self.rng = qtbot, tmp_path, rng
        self.good = [write_recording(tmp_path, "a.wav", duration=1.5),
                     write_recording(tmp_path, "b ü.wav", notes=[(48, 0.1, 0.8), (76, 0.4, 1.2)], duration=1.5)]
        write_midi([Note(60, 0.2, 0.9)], tmp_path / "ref.mid")
        (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
        (tmp_path / "corrupt.mid").write_bytes(b"MThd junk")
        (tmp_path / "out").mkdir()
        self.tuned = tmp_path / "tuned.pt"
        save_checkpoint(self.tuned, UnrolledMU(UnrolledConfig(n_layers=3, hidden=4, w_every=2)), CQTParams(),
                        harmonic_templates().W, "harmonic")
        self.windows = 0
        self.win = self._new_window()
        self.errors = 0

    def _new_window(self):
        sub = self.tmp / f"w{self.windows}"
        sub.mkdir()
        self.windows += 1
        w = make_window(self.qtbot, sub)
        w.iterations_box.setValue(self.rng.choice([3, 10, 40]))
        w.error_shown.connect(self._count_error)
        return w

    def _count_error(self, _message):
        self.errors += 1

    # ---- actions ----------------------------------------------------------------------------
    def open_good(self):
        self.win.open_file(self.rng.choice(self.good))

    def open_bad(self):
        self.win.open_file(self.tmp / self.rng.choice(["corrupt.wav", "missing.wav"]))

    def run(self):
        self.win.run()

    def cancel(self):
        self.win.cancel()

    def slider(self):
        s = self.win.layer_bar.slider
        s.setValue(self.rng.randint(s.minimum(), max(s.minimum(), s.maximum())))

    def threshold(self):
        self.win.notes_controls.threshold.setValue(self.rng.uniform(0.001, 1.0))

    def min_duration(self):
        self.win.notes_controls.min_duration.setValue(self.rng.uniform(0.0, 0.5))

    def compare(self):
        self.win.compare()

    def model_compare(self):
        self.win.files.model_compare.start(self.rng.choice([None, str(self.tuned)]), str(self.tuned))

    def tab(self):
        tabs = self.win.tabs
        tabs.setCurrentIndex(self.rng.randrange(tabs.count()))

    def method(self):
        box = self.win.method_box
        box.setCurrentIndex(self.rng.randrange(box.count()))

    def export(self):
        kind = self.rng.choice(["midi", "csv", "png"])
        folder = self.tmp / self.rng.choice(["out", "missing-folder"])
        getattr(self.win.files, f"export_{kind}")(folder / f"x.{ {'midi': 'mid'}.get(kind, kind)}")

    def reference(self):
        self.win.load_reference(self.tmp / self.rng.choice(["ref.mid", "corrupt.mid"]))

    def play(self):
        self.win.toggle_play()

    def close(self):
        self.win.close()
        assert not self.win.controller.threads(), "a worker thread outlived the window"
        self.win = self._new_window()

    ACTIONS = {"open_good": 6, "open_bad": 2, "run": 4, "cancel": 3, "slider": 4, "threshold": 3,
               "min_duration": 1, "compare": 2, "model_compare": 1, "tab": 2, "method": 2, "export": 3,
               "reference": 1, "play": 1, "close": 1}

    def step(self):
        name = self.rng.choices(list(self.ACTIONS), weights=list(self.ACTIONS.values()))[0]
        t0 = time.perf_counter()
        getattr(self, name)()
        elapsed = time.perf_counter() - t0
        assert elapsed < MAX_ACTION_S, f"{name} blocked the UI thread for {elapsed:.1f} s"
        if self.rng.random() < 0.2:
            for w in QApplication.topLevelWidgets():
                if isinstance(w, QMessageBox) and w.isVisible():
                    w.close()
        self.qtbot.wait(self.rng.choice([0, 1, 5, 20]))
        return name

    def finish(self):
        """The window must still work: a final run finishes, then closing joins every thread."""
        self.win.notes_controls.threshold.setValue(0.1)
        with self.qtbot.waitSignal(self.win.run_finished, timeout=60000):
            self.win.open_file(self.good[0])
        assert self.win.vm.run.finished and self.win.vm.path == str(self.good[0])
        self.win.close()
        assert not self.win.controller.threads() and not self.win.controller.running


def _fuzz(qtbot, tmp_path, seed, n_steps):
    fz = Fuzzer(qtbot, tmp_path, random.Random(seed))
    done = [fz.step() for _ in range(n_steps)]
    fz.finish()
    return fz, done


def test_random_ui_actions(qtbot, tmp_path):
    fz, done = _fuzz(qtbot, tmp_path, seed=0, n_steps=200)
    assert len(done) == 200 and len(set(done)) >= 10  # the sequence really mixes the actions
    assert fz.errors > 0  # bad files and missing folders were met and reported


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1, 6))
def test_random_ui_actions_long(qtbot, tmp_path, seed):
    _fuzz(qtbot, tmp_path, seed=seed, n_steps=1000)
