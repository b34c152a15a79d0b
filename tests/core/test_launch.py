"""The app launcher (``unmf-gui``, ``python3 main.py``): a Qt that cannot start is caught before it aborts."""
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from tests.conftest import synth_notes
from unmf_core.transcription.notes import read_midi
from unmf_gui import launch
from unmf_gui.launch import debian_package, qt_platform_problem

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("soname, package", [
    ("libxcb-cursor.so.0", "libxcb-cursor0"), ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
    ("libGL.so.1", "libgl1"), ("libEGL.so.1", "libegl1"), ("libxcb-render-util.so.0", "libxcb-render-util0"),
    ("libdbus-1.so.3", "libdbus-1-3"), ("libGLdispatch.so.0", "libglvnd0")])
def test_debian_package_of_a_library(soname, package):
    assert debian_package(soname) == package


def test_probe_passes_where_qt_can_start(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert qt_platform_problem() is None


def test_probe_explains_a_display_it_cannot_open(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setenv("DISPLAY", ":7319")  # no X server there
    problem = qt_platform_problem()
    assert problem is not None and ":7319" in problem


def test_probe_names_the_missing_libraries_and_their_packages(monkeypatch):
    """What a machine without libxcb-cursor0 sees (ldd's answer stubbed; the probe itself really fails here)."""
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setenv("DISPLAY", ":7319")
    monkeypatch.setattr(launch, "missing_libraries", lambda platform: ["libxcb-cursor.so.0", "libGL.so.1"])
    problem = qt_platform_problem()
    assert problem is not None and "libxcb-cursor.so.0" in problem
    assert "sudo apt-get install libgl1 libxcb-cursor0" in problem


def test_no_library_of_the_real_xcb_plugin_is_missing_here():
    assert launch.missing_libraries("xcb") == []


@pytest.fixture
def short_recording(tmp_path, monkeypatch):
    sf.write(tmp_path / "short.wav", synth_notes([(60, 0.2, 0.8), (67, 0.9, 1.5)]), 22050)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_qt_that_cannot_start_falls_back_to_the_command_line(short_recording, monkeypatch, capsys):
    """Without the probe Qt aborts the process (exit 134); with it the file is transcribed."""
    monkeypatch.setenv("QT_QPA_PLATFORM", "no-such-platform")
    assert launch.main(["short.wav"]) == 0
    out = capsys.readouterr().out
    assert "cannot start" in out and "'no-such-platform'" in out and "short.mid" in out
    assert {n.pitch for n in read_midi(short_recording / "short.mid")} >= {60, 67}


def test_without_a_display_the_launcher_transcribes_and_never_overwrites(short_recording, monkeypatch, capsys):
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    for expected in ("short.mid", "short-1.mid"):
        assert launch.main(["short.wav"]) == 0
        out = capsys.readouterr().out
        assert "no display" in out and expected in out
    assert (short_recording / "short.mid").read_bytes() == (short_recording / "short-1.mid").read_bytes()


def test_main_py_is_the_launcher():
    out = subprocess.run([sys.executable, str(ROOT / "main.py"), "--help"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and "unmf-gui" in out.stdout
