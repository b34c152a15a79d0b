"""Screenshot of note editing for the README: the demo transcribed, notes selected and being dragged.

Run under a virtual display (Debian's xvfb)::

    xvfb-run -a python3 scripts/screenshot_editing.py

Writes docs/screenshot-editing.png. Recent files go to a temporary settings file, not to the user's.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEvent, QPointF, QSettings, Qt  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from scripts.screenshots import _save, _settle, _wait  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshot-editing.png"), help="PNG to write")
    args = p.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from unmf_core.transcription.edits import set_velocity
    from unmf_gui.main_window import MainWindow

    with tempfile.TemporaryDirectory() as tmp:
        w = MainWindow(settings=QSettings(str(Path(tmp) / "s.ini"), QSettings.IniFormat), device="cpu")
        w.resize(1600, 1000)
        w.show()
        w.open_demo()
        _wait(w.run_finished)
        w.activations.parent().setSizes([220, 620, 160])
        notes = w.vm.notes
        view, vb = w.activations, w.activations.getPlotItem().vb
        t0 = notes[0].onset
        shown = [n.pitch for n in notes if n.onset < t0 + 3]
        view.setRange(xRange=(t0 - 0.1, t0 + 3.0), yRange=(min(shown) - 21 - 2, max(shown) - 21 + 3), padding=0)
        _settle()
        w.editor.push(set_velocity([notes[-1]], 20))  # one edit made: the note settings lock
        layer = view.notes_layer
        picked = [n for n in layer.notes if 0.9 <= n.onset < 1.4]
        layer.select(picked)
        vp = view.viewport()

        def at(t, pitch):
            return view.mapFromScene(vb.mapViewToScene(QPointF(t, pitch - 21 + 0.5)))

        def send(kind, pos, button, buttons):
            app.sendEvent(vp, QMouseEvent(kind, QPointF(pos), QPointF(vp.mapToGlobal(pos)), button, buttons,
                                          Qt.NoModifier))

        n = picked[0]
        a, b = at((n.onset + n.offset) / 2, n.pitch), at((n.onset + n.offset) / 2 + 0.35, n.pitch + 2)
        send(QEvent.MouseButtonPress, a, Qt.LeftButton, Qt.LeftButton)
        for i in range(1, 6):  # a drag under way: the dashed outlines show where the notes go
            send(QEvent.MouseMove, a + (b - a) * (i / 5), Qt.NoButton, Qt.LeftButton)
        _settle(500)
        _save(w, Path(args.out))
        send(QEvent.MouseButtonRelease, b, Qt.LeftButton, Qt.NoButton)
        w.editor.ask = lambda text: True
        w.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
