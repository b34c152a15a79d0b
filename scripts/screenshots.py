"""Screenshots of the app for the README: the demo transcribed, and the MU / unrolled MU comparison.

Run under a virtual display (Debian's xvfb)::

    xvfb-run -a python3 scripts/screenshots.py

Writes docs/screenshot-main.png and docs/screenshot-compare.png. Recent files
go to a temporary settings file, not to the user's.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QBuffer, QByteArray, QEventLoop, QIODevice, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from unmf_core.io.atomic import write_bytes_atomic  # noqa: E402


def _wait(signal, timeout_s: float = 300.0) -> None:
    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()


def _settle(ms: int = 300) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def _save(widget, path: Path) -> None:
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.WriteOnly)
    widget.grab().save(buf, "PNG")
    buf.close()
    write_bytes_atomic(path, bytes(data.data()))
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "docs"), help="folder for the PNGs (default: docs/)")
    p.add_argument("--size", default="1600x1000", help="window size WxH")
    p.add_argument("--mu-iterations", type=int, default=100, help="MU iterations in the comparison")
    args = p.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from unmf_gui.main_window import MainWindow

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.IniFormat)
        win = MainWindow(settings=settings, device="cpu")
        w, h = (int(v) for v in args.size.split("x"))
        win.resize(w, h)
        win.show()
        win.iterations_box.setValue(args.mu_iterations)
        win.open_demo()
        _wait(win.run_finished)
        win.vm.set_position(6.0)
        _settle()
        _save(win, out / "screenshot-main.png")
        win.compare()
        _wait(win.run_finished)
        win.vm.set_compare_step(5)
        _settle()
        _save(win, out / "screenshot-compare.png")
        win.close()
    app.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
