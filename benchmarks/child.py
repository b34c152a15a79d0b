"""One measured run in a fresh process (peak RSS belongs to it alone); prints one JSON line.

``python -m benchmarks.child e2e AUDIO [--device cpu] [--chunk-seconds S]``: the
CLI's ``transcribe`` path (default options, MIDI written) with per-stage times;
start-up (imports, engine, CQT filters: once per process) is timed apart.
``python -m benchmarks.child first-layer AUDIO``: what the app does when a
file is opened: load, CQT, initialisation and the first layer, twice (the
first time also builds the CQT filters; the app builds them at start-up).
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

T_START = time.perf_counter()


def _peak_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss it does not carry the parent's peak over exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def e2e(args) -> dict:
    import numpy as np

    from unmf_core.frontend.cqt import compute_cqt
    from unmf_core.transcription.notes import write_midi
    from unmf_core.transcription.engine import Engine, Options

    t_import = time.perf_counter() - T_START
    t = time.perf_counter()
    engine = Engine(device=args.device)
    compute_cqt(np.zeros(engine.cqt.hop, np.float32), engine.cqt, engine.device)  # builds the CQT filters once
    t_engine = time.perf_counter() - t
    opts = Options(track_divergence=False)
    if args.chunk_seconds is not None:
        opts.chunk_seconds = args.chunk_seconds or None
    res = engine.transcribe(args.audio, opts)
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        write_midi(res.notes, Path(d) / "out.mid")
        t_midi = time.perf_counter() - t
    timings = dict(res.timings, midi=t_midi)
    timings["total"] += t_midi
    if engine.device.type == "cuda":
        import torch

        gpu_peak = torch.cuda.max_memory_allocated() / 2 ** 20
    else:
        gpu_peak = None
    return {"duration_s": res.duration, "timings": timings, "import_s": t_import, "engine_s": t_engine,
            "notes": len(res.notes), "peak_rss_mb": _peak_mb(), "gpu_peak_mb": gpu_peak,
            "device": str(engine.device), "model": engine.describe()["model"],
            "chunked": engine.chunk_frames(res.H[:1], opts) is not None}


def first_layer(args) -> dict:
    from unmf_core.transcription.engine import Engine, Options

    engine = Engine(device=args.device)
    opts = Options()
    out = {}
    for name in ("cold", "warm"):
        t = time.perf_counter()
        audio = engine.load(args.audio)
        M = engine.spectrogram(audio)
        steps = engine.steps(M, opts)
        next(steps)
        first = next(steps)
        first.H.cpu().numpy()
        out[f"{name}_s"] = time.perf_counter() - t
        steps.close()
    out.update(duration_s=audio.duration, model=engine.describe()["model"], peak_rss_mb=_peak_mb())
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.child")
    p.add_argument("mode", choices=["e2e", "first-layer"])
    p.add_argument("audio")
    p.add_argument("--device", default="cpu")
    p.add_argument("--chunk-seconds", type=float, default=None, help="0 disables chunking (default: the Engine's)")
    args = p.parse_args(argv)
    res = e2e(args) if args.mode == "e2e" else first_layer(args)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
