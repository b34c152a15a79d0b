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
