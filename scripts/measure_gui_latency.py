"""Time the app's worker on a recording: first layer on screen and whole run, as seen by the main window.

Usage (offscreen or under xvfb-run)::

    QT_QPA_PLATFORM=offscreen python3 scripts/measure_gui_latency.py [FILE] [--seconds 30] [--method unrolled|mu]

Without FILE the bundled demo is tiled to ``--seconds`` seconds. Times are wall
clock from the moment the file is opened in the window: "first layer" is when
the views first show a layer after the initialisation (step 1), "done" when the
run's finished signal arrives. After the runs, the layer slider is stepped
over every stored layer and the time each step takes to redraw is printed
(``--no-slider`` skips it).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from unmf_core.frontend.audio import load_audio, save_audio  # noqa: E402
from unmf_core.transcription.engine import DEMO_AUDIO  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file", nargs="?", help="recording (default: the demo tiled to --seconds)")
    p.add_argument("--seconds", type=float, default=30.0, help="length of the tiled demo (default 30)")
    p.add_argument("--method", choices=["unrolled", "mu"], default="unrolled")
    p.add_argument("--iterations", type=int, default=100, help="MU iterations (default 100)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeat", type=int, default=3, help="runs to time (default 3)")
    p.add_argument("--no-slider", dest="slider", action="store_false", help="skip timing the layer slider")
    args = p.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])  # must exist before any widget
    from unmf_gui.main_window import MainWindow

    with tempfile.TemporaryDirectory() as tmp:
        path = args.file
        if path is None:
            demo = load_audio(DEMO_AUDIO)
            n = int(args.seconds * demo.sr)
            path = str(Path(tmp) / "demo-tiled.wav")
            save_audio(path, np.resize(demo.samples, n), demo.sr)
        win = MainWindow(settings=QSettings(str(Path(tmp) / "s.ini"), QSettings.IniFormat), method=args.method,
                         device=args.device)
        win.show()
        win.iterations_box.setValue(args.iterations)
        for i in range(args.repeat):
            marks = {}
            t0 = time.perf_counter()

            def on_update(_method, marks=marks, t0=t0):
                run = win.vm.run
                if run and run.steps and run.steps[-1] >= 1:
                    marks.setdefault("first", time.perf_counter() - t0)

            def on_loaded(_loaded, marks=marks, t0=t0):
                marks.setdefault("loaded", time.perf_counter() - t0)

            win.vm.runUpdated.connect(on_update)
            win.controller.loaded.connect(on_loaded)
            loop = QEventLoop()
            win.run_finished.connect(loop.quit)
            win.open_file(path)
            loop.exec()
            total = time.perf_counter() - t0
            for signal, slot in ((win.run_finished, loop.quit), (win.vm.runUpdated, on_update),
                                 (win.controller.loaded, on_loaded)):
                signal.disconnect(slot)
            run = win.vm.run
            print(f"run {i + 1}: {win.vm.duration:.1f} s audio, {args.method}, {run.total} steps: loaded+CQT "
                  f"{marks.get('loaded', float('nan')):.2f} s, "
                  f"first layer shown {marks.get('first', float('nan')):.2f} s, "
                  f"whole run {total:.2f} s (factorisation alone {run.wall_time:.2f} s)")
        if args.slider:
            times = []
            for k in list(range(win.vm.n_layers()))[::-1] + list(range(win.vm.n_layers())):
                t = time.perf_counter()
                win.layer_bar.slider.setValue(k)
                app.processEvents()
                times.append(time.perf_counter() - t)
            print(f"layer slider: {len(times)} steps, median {1000 * np.median(times):.1f} ms, "
                  f"max {1000 * max(times):.1f} ms per step")
        win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
