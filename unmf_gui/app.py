"""Application entry point: ``python main.py [FILE] [--method unrolled|mu] [--device auto|cpu|cuda]``."""
from __future__ import annotations

import argparse
import signal
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments of the app."""
    p = argparse.ArgumentParser(prog="unmf-gui", description="unmf desktop app: watch (unrolled) NMF transcribe a "
                                "piano recording layer by layer. Without FILE the bundled demo is opened.")
    p.add_argument("file", nargs="?", help="recording to open (WAV, FLAC, OGG, MP3, ...)")
    p.add_argument("--method", choices=["unrolled", "mu"], default="unrolled", help="method of the first run")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="compute device")
    p.add_argument("--reference", metavar="MIDI", help="reference MIDI to score against")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start the app; returns the exit code."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("unmf")
    app.setApplicationName("unmf")
    from unmf_gui.main_window import MainWindow

    win = MainWindow(method=args.method, device=args.device)
    win.reference_override = args.reference
    win.show()
    if args.file:
        win.open_file(args.file)
    else:
        win.open_demo()
    signal.signal(signal.SIGINT, lambda *_: win.close())
    timer = QTimer()
    timer.start(250)
    timer.timeout.connect(lambda: None)  # let Python see Ctrl+C
    return app.exec()
