"""`python main.py` on a machine without a display transcribes on the command line instead."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from unmf_core.transcription.notes import read_midi

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow  # ~25 s: two processes transcribe the demo; tests/core/test_launch.py checks the same in-process
def test_without_a_display_main_transcribes_the_demo_and_never_overwrites(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    for expected in ("demo.mid", "demo-1.mid"):
        out = subprocess.run([sys.executable, str(ROOT / "main.py")], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        assert "no display" in out.stdout and expected in out.stdout
        assert len(read_midi(tmp_path / expected)) > 20
    assert (tmp_path / "demo.mid").read_bytes() == (tmp_path / "demo-1.mid").read_bytes()
