"""Benchmarks 5 and 6: end-to-end transcription time and peak memory, each run in a fresh process.

Every run is ``python -m benchmarks.child`` (the CLI's transcribe path with
default settings: load, CQT, 10 layers, notes, MIDI), so its peak RSS is its
own. Per second of audio counts the in-process pipeline (``timings.total``);
interpreter start-up, imports and model loading are reported apart, since
they do not grow with the recording. On a machine with a CUDA GPU the same
runs are repeated on it.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from .common import run_child, tiled_demo


def _runs(seconds, reps, extra=(), env=None):
    path = str(tiled_demo(seconds))
    old = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        return [run_child(["e2e", path, *extra]) for _ in range(reps)]
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _summary(seconds, runs, **extra) -> dict:
    tot = [r["timings"]["total"] for r in runs]
    best = runs[int(np.argsort(tot)[len(tot) // 2])]
    return {"seconds": seconds, "s_per_audio_s": float(np.median(tot)) / seconds,
            "pipeline_s": float(np.median(tot)), "stages_s": best["timings"],
            "startup_s": float(np.median([r["import_s"] + r["engine_s"] for r in runs])),
            "process_wall_s": float(np.median([r["process_wall_s"] for r in runs])),
            "peak_rss_mb": float(max(r["peak_rss_mb"] for r in runs)), "gpu_peak_mb": best["gpu_peak_mb"],
            "device": best["device"], "model": best["model"], "chunked": best["chunked"], "runs": len(runs),
            **extra}


def run_e2e(durations, reps: int) -> dict:
    """Time per second of audio on CPU (and CUDA when present) for each duration."""
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = [_summary(s, _runs(s, reps, ["--device", d]), wait_policy=os.environ.get("OMP_WAIT_POLICY"))
            for d in devices for s in durations]
    # The same runs with OpenMP's default spin-waiting (what torch does unless told otherwise).
    s = durations[min(1, len(durations) - 1)]
    rows.append(_summary(s, _runs(s, reps, ["--device", "cpu"], {"OMP_WAIT_POLICY": "ACTIVE"}),
                         wait_policy="ACTIVE"))
    first = run_child(["first-layer", str(tiled_demo(30))])
    return {"rows": rows, "first_layer_30s": first}


def run_memory(quick: bool) -> dict:
    """Peak RSS against length, chunked (the default) and unchunked."""
    lengths = (60,) if quick else (60, 300, 600)
    rows = []
    for s in lengths:
        rows.append(_summary(s, _runs(s, 1, ["--device", "cpu"])))
    unchunked = (60,) if quick else (60, 300)
    for s in unchunked:
        rows.append(_summary(s, _runs(s, 1, ["--device", "cpu", "--chunk-seconds", "0"])))
    return {"rows": rows}
