"""Time the stages of a transcription of a 30 s recording on this machine (issue figures).

``python scripts/time_30s.py [--threads N]`` tiles the bundled demo to 30 s and
prints the median of 5 runs of: loading, the CQT, plain MU (10 and 100
iterations, W fixed), the unrolled forward (the bundled model's layers; also
with the divergence after every layer, as the app's divergence view asks, and
with A_H in bfloat16) and note extraction.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from unmf_core.frontend.cqt import compute_cqt  # noqa: E402
from unmf_core.transcription.notes import extract_notes  # noqa: E402
from unmf_core.transcription.engine import DEMO_AUDIO, Engine, Options  # noqa: E402


def median_time(fn, reps: int = 5) -> float:
    """Median wall time of ``fn()`` over ``reps`` runs (after one warm-up run)."""
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    y, sr = sf.read(str(DEMO_AUDIO), dtype="float32")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "demo30.flac"
        sf.write(str(path), np.tile(y, 2)[: 30 * sr], sr)
        engine = Engine(device="cpu")
        audio = engine.load(path)
        compute_cqt(audio.samples[:4096], engine.cqt)
        M = engine.spectrogram(audio)

        def run(opts):
            last = None
            for last in engine.steps(M, opts):
                pass
            return last

        def bf16(fn):
            engine.model.set_precision(torch.bfloat16)
            try:
                return fn()
            finally:
                engine.model.set_precision(torch.float32)

        last = run(Options())
        bg = engine.background(M, last.W, Options())
        rows = {
            "load (FLAC, resample)": median_time(lambda: engine.load(path)),
            "CQT": median_time(lambda: engine.spectrogram(audio)),
            "MU, 10 iterations": median_time(lambda: run(Options(method="mu", iterations=10))),
            "MU, 100 iterations": median_time(lambda: run(Options(method="mu", iterations=100))),
            f"unrolled, {engine.model.cfg.n_layers} layers": median_time(lambda: run(Options())),
            "  + divergence every layer": median_time(lambda: run(Options(track_divergence=True))),
            "  A_H in bfloat16": median_time(lambda: bf16(lambda: run(Options()))),
            "notes": median_time(lambda: extract_notes(last.H.numpy(), engine.cqt.frame_rate, background=bg)),
        }
    print(f"30 s file, {M.shape[1]} frames, torch threads {torch.get_num_threads()}, model: "
          f"{engine.describe()['model']}")
    for k, v in rows.items():
        print(f"  {k:28s} {v:7.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
