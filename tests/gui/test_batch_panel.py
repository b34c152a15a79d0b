"""File ▸ Open folder…: the folder queue (:mod:`unmf_gui.batch_panel`) on 2 good recordings and a corrupt one."""
from __future__ import annotations

import multiprocessing

import pytest

from gui_helpers import write_recording


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "pieces"
    d.mkdir()
    write_recording(d, "a.wav")
    write_recording(d, "b.wav", notes=[(50, 0.1, 0.8), (57, 0.5, 1.2)])
    (d / "c.wav").write_text("not audio")
    return d


def _parts(folder):
    return [p.name for p in folder.rglob("*") if ".part" in p.name]


def test_folder_queue_statuses_cancel_and_open(qtbot, win, folder):
    win.method_box.setCurrentIndex(1)  # plain MU
    win.iterations_box.setValue(20)
    win.files.open_folder_dialog(str(folder))
    panel = win.files.batch_panel
    assert panel.isVisible() and panel.status == ["waiting"] * 3
    out = folder / "unmf-midi"
    assert [j.dst for j in panel.jobs] == [out / "a.mid", out / "b.mid", out / "c.mid"]

    with qtbot.waitSignal(panel.batchEnded, timeout=180000) as ended:
        assert panel.start(workers=2)
        assert panel.running and panel.cancel_button.isEnabled()
    assert ended.args == ["finished"], panel.status
    qtbot.waitUntil(lambda: not panel.running, timeout=60000)
    a, b, c = panel.status
    assert a.startswith("done: ") and b.startswith("done: ") and int(a.split()[1]) > 0
    assert c.startswith("failed: ") and "c.wav" in c  # the corrupt file is reported, the others finished
    assert sorted(p.name for p in out.iterdir()) == ["a.mid", "b.mid"]
    assert panel.table.item(2, 1).text() == c and "2 done, 1 failed of 3" in panel.summary.text()
    assert not panel.open_row(2)  # a failed file has nothing to show
    with qtbot.waitSignal(win.run_finished, timeout=180000):
        assert panel.open_row(0)  # a finished one opens in the main window
    assert str(win.vm.path).endswith("a.wav")

    # outputs exist: asked; "skip" keeps them and runs only the failed file
    asked = []
    panel.ask_overwrite = lambda there: asked.append([j.dst.name for j in there]) or "skip"
    with qtbot.waitSignal(panel.batchEnded, timeout=180000):
        panel.start(workers=1)
    qtbot.waitUntil(lambda: not panel.running, timeout=60000)
    assert asked == [["a.mid", "b.mid"]]
    assert panel.status[:2] == ["skipped (exists)"] * 2 and panel.status[2].startswith("failed: ")

    # overwrite, with a run that would last: cancel stops it, nothing half-written, old files intact
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    win.iterations_box.setValue(100000)
    panel.ask_overwrite = lambda there: "overwrite"
    with qtbot.waitSignal(panel.batchEnded, timeout=180000) as ended:
        assert panel.start(workers=2)
        panel.cancel()
    assert ended.args == ["cancelled"], panel.status
    qtbot.waitUntil(lambda: not panel.running, timeout=60000)
    assert set(panel.status) == {"cancelled"}
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before and _parts(folder) == []
    assert multiprocessing.active_children() == []


def test_a_folder_without_recordings_is_refused_in_a_dialog(qtbot, win, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: shown.append(a[2]))
    (tmp_path / "empty").mkdir()
    win.files.open_folder_dialog(str(tmp_path / "empty"))
    assert shown and "no audio files" in shown[0]
    assert win.files.batch_panel.jobs == []


def test_the_folder_queue_runs_with_the_windows_model_options(win, folder):
    """The Model menu's note gate and adapting options (and plain MU's β) reach every file of the queue; the
    note gate option was dropped there before 2026-12-03."""
    win.files.open_folder_dialog(str(folder))
    win.files.note_gate_action.setChecked(False)
    win.files.adapt_action.setChecked(False)
    r = win.files.batch_panel.recipe()
    assert (r.note_gate, r.adapt_to_piece, r.beta) == ("auto", False, win.options(win.method).beta)
    win.files.note_gate_action.setChecked(True)
    win.files.adapt_action.setChecked(True)
    assert (win.files.batch_panel.recipe().note_gate, win.files.batch_panel.recipe().adapt_to_piece) == ("on", True)
