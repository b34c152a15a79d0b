"""Shared benchmark helpers: inputs, interleaved timing, peak memory of a child process, machine description."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "seed"
#: Input lengths of the speed benchmarks (seconds); ``--quick`` uses the first only.
DURATIONS = (10, 60, 300)
QUICK_DURATIONS = (10,)


def input_dir() -> Path:
    """Folder for generated inputs (outside the repository; reused between runs)."""
    d = Path(os.environ.get("UNMF_BENCH_INPUTS", Path(tempfile.gettempdir()) / "unmf-bench-inputs"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def tiled_demo(seconds: float) -> Path:
    """The bundled demo recording tiled to ``seconds`` (a FLAC file, made once)."""
    import soundfile as sf

    from unmf_core.transcription.engine import DEMO_AUDIO

    path = input_dir() / f"demo_tiled_{seconds:g}s.flac"
    if not path.is_file():
        y, sr = sf.read(str(DEMO_AUDIO), dtype="float32")
        n = int(round(seconds * sr))
        tmp = path.with_suffix(".part.flac")
        sf.write(str(tmp), np.tile(y, -(-n // len(y)))[:n], sr)
        tmp.replace(path)
    return path


def tiled_samples(seconds: float, sr: int = 22050) -> np.ndarray:
    """Samples of :func:`tiled_demo` at ``sr``."""
    from unmf_core.frontend.audio import load_audio

    return load_audio(tiled_demo(seconds), sr).samples


def interleaved(fns: dict[str, Callable[[], object]], reps: int, warmup: int = 1) -> dict[str, float]:
    """Median seconds per call of each function, calls interleaved (a, b, a, b, …).

    Interleaving puts the same machine noise on every contender, so the
    ratio of medians is meaningful on a shared, noisy machine.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    return {k: float(np.median(v)) for k, v in times.items()}


def run_child(args: list[str], timeout: float = 1800) -> dict:
    """Run ``python -m benchmarks.child …`` in a fresh process; return its JSON and the process wall time.

    The child measures its own peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss``),
    so every figure belongs to that one run alone.
    """
    cmd = [sys.executable, "-m", "benchmarks.child", *args]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"child {' '.join(args)} failed ({proc.returncode}): {err.strip()[-2000:]}")
    res = json.loads(out.strip().splitlines()[-1])
    res["process_wall_s"] = wall
    return res


def machine() -> dict:
    """What the numbers were measured on."""
    import torch

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    except (ValueError, OSError):
        mem_gb = float("nan")
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "memory_gb": round(mem_gb, 1), "gpu": gpu, "python": platform.python_version(),
            "torch": torch.__version__, "platform": platform.platform(),
            "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
