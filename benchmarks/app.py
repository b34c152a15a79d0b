"""The app as a user feels it: the real main window, offscreen, in a fresh process per measurement.

``python -m benchmarks --only app`` writes ``app.md`` / ``app.json``:

* **speed**: a 30 s recording (the demo tiled) opened in a window whose engine is already built (the
  state of a window after its first file): seconds from the ``open_file`` call to the first paint of the
  piano roll showing the initial state, layer 1 and the last layer (issue 13: whole run ≤ 0.5 s, first
  layer ≤ 0.2 s), with the divergence view shown and hidden; median of ``reps`` opens;
* **memory**: peak RSS of a window that opens a 60-minute recording and runs it to the end
  (issue 13: ≤ 1.5 GB), with the phase at which each new peak was reached.

The child is ``python -m benchmarks.app speed|memory AUDIO``; it prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

#: Issue 13's bounds.
TARGET_FIRST_S = 0.2
TARGET_WHOLE_S = 0.5
TARGET_PEAK_MB = 1500.0


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


class _Window:
    """A real MainWindow with throw-away settings and no sound card."""

    def __init__(self):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication

        from unmf_gui.main_window import MainWindow
        from unmf_gui.playback import Player

        def no_stream():
            raise OSError("no sound card in the benchmark")

        self.app = QApplication.instance() or QApplication([])
        self.tmp = tempfile.TemporaryDirectory()
        settings = QSettings(str(Path(self.tmp.name) / "settings.ini"), QSettings.IniFormat)
        self.win = MainWindow(settings=settings, device="cpu", player=Player(stream_factory=no_stream))
        self.win.show()
        self.app.processEvents()

    def open_and_wait(self, path: str, timeout_s: float = 3600.0) -> bool:
        """Open ``path`` and run the event loop until the run finished (False: it failed or timed out)."""
        from PySide6.QtCore import QEventLoop, QTimer

        loop = QEventLoop()
        ok = [False]

        def done():
            ok[0] = True
            loop.quit()

        w = self.win
        conns = [(w.run_finished, done), (w.run_failed, lambda *_: loop.quit()),
                 (w.error_shown, lambda *_: loop.quit())]
        for sig, slot in conns:
            sig.connect(slot)
        QTimer.singleShot(int(timeout_s * 1000), loop.quit)
        w.open_file(path)
        loop.exec()
        for sig, slot in conns:
            sig.disconnect(slot)
        return ok[0]

    def close(self):
        self.win.close()
        self.app.processEvents()


class _PaintClock:
    """Times of the piano roll's paints after each newly shown step."""

    def __init__(self, win, t0_ref):
        from PySide6.QtCore import QEvent, QObject

        self.win, self.t0 = win, t0_ref
        self.painted: dict[int, float] = {}
        self._shown: int | None = None
        clock = self

        class Filter(QObject):
            def eventFilter(self, obj, event):  # noqa: N802 (Qt override)
                if event.type() == QEvent.Paint and clock._shown is not None and clock._shown not in clock.painted:
                    clock.painted[clock._shown] = time.perf_counter() - clock.t0[0]
                return False

        self.filter = Filter()
        win.activations.viewport().installEventFilter(self.filter)
        win.vm.layerChanged.connect(self._layer)

    def _layer(self, _pos):
        if self.win.vm.run is not None and self.win.vm.run.steps:
            self._shown = self.win.vm.current_step()


def speed(path: str, reps: int) -> dict:
    """Open-to-screen times of a recording in a window whose engine is built (see the module docstring)."""
    import numpy as np

    w = _Window()
    t0 = [0.0]
    clock = _PaintClock(w.win, t0)
    out: dict = {}
    assert w.open_and_wait(path), "the first run failed"  # builds the engine: what every later open reuses
    n_layers = w.win.vm.run.steps[-1]
    for shown in (True, False):
        w.win.divergence.setVisible(shown)
        rows = []
        for _ in range(reps):
            clock.painted.clear()
            clock._shown = None
            t0[0] = time.perf_counter()
            c0 = time.process_time()
            assert w.open_and_wait(path), "a run failed"
            end = time.perf_counter() - t0[0]
            cpu = time.process_time() - c0
            w.app.processEvents()
            w.app.processEvents()
            rows.append({"init": clock.painted.get(0), "layer1": clock.painted.get(1),
                         "last": clock.painted.get(n_layers), "finished": end, "cpu": cpu,
                         "kept": list(w.win.vm.run.steps),
                         "divergence_steps": int(np.isfinite(w.win.vm.run.divergences).sum())})
        key = "divergence_shown" if shown else "divergence_hidden"
        out[key] = {k: float(np.median([r[k] for r in rows if r[k] is not None] or [np.nan]))
                    for k in ("init", "layer1", "last", "finished", "cpu")}
        out[key]["runs"] = rows
    from unmf_core.frontend.audio import load_audio

    out["seconds"] = load_audio(path, 22050).duration
    out["layers"] = n_layers
    w.close()
    return out


def memory(path: str) -> dict:
    """Peak RSS of a window that opens ``path`` and runs it to the end, with the phase of each new peak."""
    marks: list[tuple[str, float, float]] = []
    phase = ["start"]
    stop = threading.Event()
    samples: list[tuple[float, str, float]] = []
    t0 = time.perf_counter()

    def sampler():
        while not stop.wait(0.05):
            samples.append((time.perf_counter() - t0, phase[0], _rss_mb()))

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    w = _Window()
    marks.append(("window", time.perf_counter() - t0, _peak_mb()))
    vm = w.win.vm
    vm.fileChanged.connect(lambda: phase.__setitem__(0, "loaded"))
    vm.layerChanged.connect(lambda _p: phase.__setitem__(0, f"step {vm.current_step()}"))
    ok = w.open_and_wait(path)
    marks.append(("finished", time.perf_counter() - t0, _peak_mb()))
    w.app.processEvents()
    kept = list(vm.run.steps) if vm.run else []
    notes = len(vm.final_notes()) if vm.run else 0
    stop.set()
    th.join()
    by_phase: dict[str, float] = {}
    for _t, ph, mb in samples:
        by_phase[ph] = max(by_phase.get(ph, 0.0), mb)
    w.close()
    trace = [(round(t, 1), ph, round(mb)) for t, ph, mb in samples[::20]]  # one a second
    return {"ok": ok, "peak_rss_mb": _peak_mb(), "marks": marks, "kept_steps": kept, "notes": notes,
            "max_rss_by_phase_mb": by_phase, "wall_s": time.perf_counter() - t0, "trace": trace}


def run(quick: bool = False, reps: int = 5) -> dict:
    """Both measurements, each in a fresh process (see the module docstring)."""
    from .common import ROOT, input_dir, machine, tiled_demo
    import subprocess

    def child(*args, timeout=3600):
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
        out = subprocess.run([sys.executable, "-m", "benchmarks.app", *args], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"benchmarks.app {' '.join(args)} failed: {out.stderr[-2000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    res: dict = {"machine": machine()}
    res["speed"] = child("speed", str(tiled_demo(30)), "--reps", str(1 if quick else reps))
    seconds = 60 if quick else 3600
    res["memory"] = child("memory", str(hour_file(seconds, input_dir())))
    res["memory"]["seconds"] = seconds
    res["load_average_at_end"] = list(os.getloadavg())
    return res


def hour_file(seconds: float, folder: Path) -> Path:
    """A ``seconds``-long 22.05 kHz 16-bit WAV of the demo tiled (written once, block by block)."""
    import soundfile as sf

    from unmf_core.frontend.audio import load_audio
    from unmf_core.transcription.engine import DEMO_AUDIO

    path = folder / f"demo_tiled_{seconds:g}s.wav"
    if path.is_file():
        return path
    y = load_audio(DEMO_AUDIO, 22050).samples
    n = int(round(seconds * 22050))
    tmp = path.with_suffix(".part.wav")
    with sf.SoundFile(tmp, "w", 22050, 1, "PCM_16") as f:
        done = 0
        while done < n:
            block = y[: n - done]
            f.write(block)
            done += len(block)
    tmp.replace(path)
    return path


def _seconds(x: float) -> str:
    """A median time for the table; "—" when no open painted that step (NaN)."""
    return "—" if math.isnan(x) else f"{x:.3f} s"


def write(res: dict, out: Path) -> list[Path]:
    """``app.json`` and ``app.md`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    jpath, mpath = out / "app.json", out / "app.md"
    jpath.write_text(json.dumps(res, indent=2))
    s, m = res["speed"], res["memory"]
    lines = ["# The app: open-to-screen time and peak memory", "",
             f"Machine: {res['machine']['cpu']}, {res['machine']['cores']} cores; load average at start "
             f"{res['machine']['load_average_at_start']}, at end {res['load_average_at_end']}.", "",
             f"## {s['seconds']:.0f} s recording, {s['layers']} layers (engine already built)", "",
             "Seconds from `open_file` to the first paint of the piano roll showing each step (median of "
             f"{len(s['divergence_shown']['runs'])} opens); CPU: the process's CPU seconds over the open (both "
             "threads).", "",
             "| divergence view | initial state | layer 1 | last layer | run finished | CPU |",
             "|---|---|---|---|---|---|"]
    for key in ("divergence_shown", "divergence_hidden"):
        r = s[key]
        lines.append(f"| {key.split('_')[1]} | {_seconds(r['init'])} | {_seconds(r['layer1'])} | "
                     f"{_seconds(r['last'])} | {_seconds(r['finished'])} | {_seconds(r['cpu'])} |")
    lines += ["", "—: no open painted that step (the initial state: the first paint after opening already shows "
              "layer 1 or later; the initial state stays kept and can be chosen on the layer bar).",
              "", f"Targets (issue 13): first layer ≤ {TARGET_FIRST_S} s, whole run ≤ {TARGET_WHOLE_S} s.", "",
              f"## {m['seconds'] / 60:.0f}-minute recording", "",
              f"Peak RSS **{m['peak_rss_mb']:.0f} MB** (target ≤ {TARGET_PEAK_MB:.0f} MB); kept layers "
              f"{m['kept_steps']}; {m['notes']} notes; {m['wall_s']:.0f} s.", "",
              "| phase | largest RSS sampled |", "|---|---|"]
    lines += [f"| {k} | {v:.0f} MB |" for k, v in m["max_rss_by_phase_mb"].items()]
    mpath.write_text("\n".join(lines) + "\n")
    return [jpath, mpath]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.app")
    p.add_argument("mode", choices=["speed", "memory"])
    p.add_argument("audio")
    p.add_argument("--reps", type=int, default=5)
    args = p.parse_args(argv)
    res = speed(args.audio, args.reps) if args.mode == "speed" else memory(args.audio)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
