"""Start-up as a user meets it: ``unmf --help``, and the first run after installing against the second.

Part of ``python -m benchmarks --only peer`` (job ``startup``; it needs no Basic Pitch):

* ``help``: wall time of the ``unmf --help`` console script (``python -m unmf_core.cli --help`` where the
  script is not on PATH), median of :data:`HELP_RUNS` runs (issue 13: ≤ 0.5 s);
* ``first run``: ``unmf transcribe`` of the bundled demo in a state like a fresh install — numba's cache
  (``NUMBA_CACHE_DIR``) and the CQT filter cache (``UNMF_FILTER_CACHE``) pointed at empty folders, so
  nothing that a previous run compiled or built can be reused — then the same command again with those
  folders kept: the second run. Pairs of (first, second), each pair with new empty folders; the
  ratio first / second is formed pair by pair and its median reported (issue 13: ≤ 1.5).
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from .common import ROOT
from .peer import timed

#: Runs of ``unmf --help`` whose median is reported.
HELP_RUNS = 5


def _unmf() -> list[str]:
    script = shutil.which("unmf")
    return [script] if script else [sys.executable, "-m", "unmf_core.cli"]


def run(pairs: int = 3, progress=print) -> dict:
    """The help timings and ``pairs`` (first, second) run pairs; see the module docstring."""
    from unmf_core.resources import DEMO_AUDIO

    helps = [timed([*_unmf(), "--help"], cwd=ROOT)["wall_s"] for _ in range(HELP_RUNS)]
    progress(f"[startup] unmf --help: median {np.median(helps):.2f} s")
    firsts, seconds = [], []
    for i in range(pairs):
        with tempfile.TemporaryDirectory(prefix="unmf-startup-") as d:
            env = dict(os.environ, NUMBA_CACHE_DIR=str(Path(d) / "numba"), UNMF_FILTER_CACHE=str(Path(d) / "cqt"))
            cmd = [*_unmf(), "transcribe", str(DEMO_AUDIO), "-o", str(Path(d) / "demo.mid"), "--overwrite"]
            firsts.append(timed(cmd, env=env, cwd=ROOT))
            seconds.append(timed(cmd, env=env, cwd=ROOT))
        progress(f"[startup] pair {i + 1}/{pairs}: first {firsts[-1]['wall_s']:.2f} s, "
                 f"second {seconds[-1]['wall_s']:.2f} s")
    ratios = [a["wall_s"] / b["wall_s"] for a, b in zip(firsts, seconds)]
    return {"command": " ".join(Path(c).name if i == 0 else c for i, c in enumerate(_unmf())),
            "help_s": helps, "help_median_s": float(np.median(helps)),
            "first_s": [r["wall_s"] for r in firsts], "second_s": [r["wall_s"] for r in seconds],
            "first_over_second": ratios, "first_over_second_median": float(np.median(ratios))}


def lines(res: dict) -> list[str]:
    """The Markdown section of :func:`run`'s result."""
    return [
        "## Start-up", "",
        f"`{res['command']} --help`: median **{res['help_median_s']:.2f} s** of {len(res['help_s'])} runs "
        f"({', '.join(f'{x:.2f}' for x in res['help_s'])}; issue 13: ≤ 0.5 s).", "",
        "First run of `unmf transcribe` on the bundled demo with empty numba and CQT-filter caches (as after "
        "installing) against the second run with what the first left: first / second = "
        f"**{res['first_over_second_median']:.2f}×** (median of pairs "
        f"{', '.join(f'{x:.2f}' for x in res['first_over_second'])}; first "
        f"{', '.join(f'{x:.2f}' for x in res['first_s'])} s, second {', '.join(f'{x:.2f}' for x in res['second_s'])}"
        " s; issue 13: ≤ 1.5×).", ""]
