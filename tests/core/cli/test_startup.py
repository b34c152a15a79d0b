"""The command line starts light: help, version and argument errors import neither torch nor librosa."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

_PROBE = """
import sys
from unmf_core.cli.commands import main
try:
    code = main({argv!r})
except SystemExit as exc:
    code = exc.code
print("EXIT=%s" % code)
print("HEAVY=" + ",".join(sorted(m for m in ("torch", "librosa", "scipy", "numba") if m in sys.modules)))
"""


def _run(argv: list[str], tmp_path: Path):
    proc = subprocess.run([sys.executable, "-c", _PROBE.format(argv=argv)], capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    lines = dict(line.split("=", 1) for line in proc.stdout.splitlines() if line.startswith(("EXIT=", "HEAVY=")))
    assert "HEAVY" in lines, proc.stdout + proc.stderr
    return lines["EXIT"], {m for m in lines["HEAVY"].split(",") if m}, proc


@pytest.mark.parametrize("argv, code", [
    (["--help"], "0"),
    (["--version"], "0"),
    (["transcribe", "--help"], "0"),
    (["evaluate", "--help"], "0"),
    (["templates", "--help"], "0"),
    (["listen", "--help"], "0"),
    (["transcribe"], "2"),                                   # missing arguments
    (["transcribe", "a.wav", "-o", "x.mid", "--layers", "0"], "2"),  # a bad value
    (["transcribe", "a.wav", "-o", "notes.txt"], "2"),       # output that is not MIDI, MusicXML or CSV
    (["transcribe", "a.wav", "-o", "x.mid", "--quantize", "1/7"], "2"),
    (["no-such-command"], "2"),
])
def test_help_and_argument_errors_do_not_import_the_engine(tmp_path, argv, code):
    exit_code, heavy, proc = _run(argv, tmp_path)
    assert exit_code == code, proc.stdout + proc.stderr
    assert heavy == set(), f"{argv} imported {heavy}"
    if code == "2":
        assert "Traceback" not in proc.stderr and "error" in proc.stderr


def test_the_console_exit_keeps_output_files_and_exit_codes(tmp_path):
    """``python -m unmf_core.cli`` leaves through :func:`quick_exit` once torch is loaded: what it printed and
    wrote is all there and the exit code is the command's (0 for a transcription, 3 for a bad recording)."""
    from unmf_core.resources import DEMO_AUDIO

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = tmp_path / "demo.mid"
    ok = subprocess.run([sys.executable, "-m", "unmf_core.cli", "transcribe", str(DEMO_AUDIO), "-o", str(out)],
                        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert out.is_file() and out.stat().st_size > 100 and "notes" in ok.stdout and str(out) in ok.stdout
    (tmp_path / "bad.wav").write_bytes(b"RIFF not really a wave file")
    bad = subprocess.run([sys.executable, "-m", "unmf_core.cli", "transcribe", str(tmp_path / "bad.wav"),
                          str(DEMO_AUDIO), "-o", str(tmp_path / "out")],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert bad.returncode == 3 and "bad.wav" in bad.stderr and "Traceback" not in bad.stderr
    assert (tmp_path / "out" / "demo.mid").is_file()  # the good file of the batch was written before the exit
