"""Entry point: ``python -m benchmarks [--quick] [--only …] [--out DIR]``.

``--only quality`` (not part of the default run: it renders its own evaluation set and runs Basic Pitch)
writes ``quality.md`` and ``quality.json`` instead of ``results.*``; see :mod:`benchmarks.quality`.
``--only peer`` (not default either: it runs Basic Pitch) writes ``peer.md`` / ``peer.json``: whole-process
time and memory against Basic Pitch (:mod:`benchmarks.peer`; ``--reps`` = pairs, default 3).
``--only app`` writes ``app.md`` / ``app.json``: the real window offscreen, open-to-screen time of a 30 s
recording and peak RSS of a 60-minute one (:mod:`benchmarks.app`; ``--quick``: one open, one minute).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .common import DURATIONS, QUICK_DURATIONS, ROOT, machine

ALL = ("cqt", "mu", "unrolled", "convergence", "e2e", "memory")
#: Selectable with ``--only`` but not run by default.
EXTRA = ("quality", "tempo", "peer", "live", "app")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--quick", action="store_true", help="10 s inputs, one repetition, 50 MU iterations")
    p.add_argument("--only", default=",".join(ALL), help=f"comma-separated subset of {','.join(ALL)}")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks", help="output folder")
    p.add_argument("--reps", type=int, default=None, help="repetitions per timing (default 5, quick 1)")
    p.add_argument("--basic-pitch-python", default=None,
                   help="quality: a Python with basic-pitch 0.4.0 (default $UNMF_BASIC_PITCH_PYTHON; "
                        "without it Basic Pitch's column stays empty)")
    p.add_argument("--quality-cache", default=None,
                   help="quality: folder of the rendered set and Basic Pitch outputs "
                        "(default $UNMF_QUALITY_CACHE or <tmp>/unmf-quality)")
    p.add_argument("--quality-templates", default=None,
                   help="quality: run unmf and MU with these templates (.npz or folder) instead of the bundled "
                        "model's own; writes quality-templates.md/.json")
    p.add_argument("--tempo-cache", default=None,
                   help="tempo: folder of its rendered pieces (default $UNMF_TEMPO_CACHE or <tmp>/unmf-tempo)")
    p.add_argument("--peer-jobs", default="batch,single,startup",
                   help="peer: which jobs to run, of batch (16 files), single (one 25 s file) and startup "
                        "(unmf --help, first run after installing against the second)")
    args = p.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    bad = sorted(set(only) - set(ALL) - set(EXTRA))
    if bad:
        p.error(f"unknown benchmark(s) {', '.join(bad)} (choose from {', '.join(ALL + EXTRA)})")
    durations = QUICK_DURATIONS if args.quick else DURATIONS
    reps = args.reps or (1 if args.quick else 5)
    res: dict = {"machine": machine(), "quick": args.quick, "reps": reps}
    t0 = time.perf_counter()
    for name in only:
        t = time.perf_counter()
        print(f"[bench] {name} …", file=sys.stderr, flush=True)
        if name == "cqt":
            from . import cqt
            res[name] = cqt.run(durations, reps)
        elif name == "mu":
            from . import mu
            res[name] = mu.run(durations, min(reps, 3), n_iter=10 if args.quick else None)
        elif name == "unrolled":
            from . import unrolled
            res[name] = unrolled.run(durations, reps)
        elif name == "convergence":
            from . import convergence
            res[name] = convergence.run(max_iter=50 if args.quick else 500)
        elif name == "e2e":
            from . import e2e
            res[name] = e2e.run_e2e(durations, min(reps, 3))
        elif name == "memory":
            from . import e2e
            res[name] = e2e.run_memory(args.quick)
        elif name == "quality":
            from . import quality
            q = quality.run(args.basic_pitch_python, args.quality_cache, templates=args.quality_templates)
            q["machine"] = res["machine"]
            for path in quality.write(q, args.out, "quality-templates" if args.quality_templates else "quality"):
                print(path)
        elif name == "tempo":
            from . import tempo
            r = tempo.run(args.tempo_cache)
            r["machine"], r["when"] = res["machine"], time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            for path in tempo.write(r, args.out):
                print(path)
        elif name == "peer":
            from . import peer
            r = peer.run(args.basic_pitch_python, args.quality_cache, pairs=args.reps or 3,
                         progress=lambda m: print(m, file=sys.stderr, flush=True),
                         jobs_to_run=tuple(j.strip() for j in args.peer_jobs.split(",") if j.strip()))
            for path in peer.write(r, args.out):
                print(path)
        elif name == "app":
            from . import app
            r = app.run(args.quick, args.reps or 5)
            for path in app.write(r, args.out):
                print(path)
        elif name == "live":
            from . import live
            lv = live.run(args.quick, args.quality_cache)
            lv["machine"] = res["machine"]
            for path in live.write(lv, args.out):
                print(path)
        print(f"[bench] {name} done in {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
    res["total_s"] = time.perf_counter() - t0
    if not set(only) - set(EXTRA):
        return 0
    from .report import write

    for path in write(res, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
