"""Speed against Basic Pitch as a user feels it: whole processes, paired, with peak memory.

``python -m benchmarks --only peer --basic-pitch-python /path/to/bp-venv/bin/python [--quality-cache DIR]``

Three jobs, each run as whole processes exactly as a user types them:

* ``batch``: the 16 pieces of the quality benchmark's rendered set (one rendering
  per piece, the SoundFont and room taking turns; ~455 s of audio) in one call
  of each program;
* ``single``: one 25 s excerpt of the first piece;
* ``startup``: ``unmf --help`` and the first run after installing against the second
  (:mod:`benchmarks.startup`; unmf only).

unmf runs as ``python -m unmf_core.cli transcribe`` (the checkout's own code)
with its defaults; when the CLI offers ``-j``/``--jobs`` it is passed the
number of cores. Basic Pitch 0.4.0 runs as its ``basic-pitch OUTDIR FILES…``
console script. After one warm-up of each, the two take turns (A B A B …) and
the ratio unmf / Basic Pitch is formed pair by pair; the median of the pairs is
reported, so machine noise that drifts over minutes falls on both. Peak memory:
the largest resident set of the process tree, sampled every 20 ms from
``/proc`` (the sum over all processes of the tree, so worker processes count),
and the kernel's own peak of the largest single process (``wait4``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from .common import ROOT

#: Seconds of the single-file job.
SINGLE_SECONDS = 25.0
FONTS = ("FluidR3", "MuseScore", "TimGM6mb")


def pieces(cache: Path) -> list[Path]:
    """One rendering per piece of the quality set (font and room taking turns), sorted by piece."""
    root = next(iter(sorted(cache.glob("set-v1-seed*"))), None)
    if root is None:
        raise FileNotFoundError(f"{cache}: no rendered set (run `python -m benchmarks --only quality` once)")
    names = sorted({p.name for p in (root / FONTS[0]).glob("*.flac")})
    stems = sorted({n.rsplit("-", 1)[0] for n in names})
    out = []
    for i, stem in enumerate(stems):
        room = "dry" if i % 2 == 0 else "room"
        out.append(root / FONTS[i % len(FONTS)] / f"{stem}-{room}.flac")
    missing = [p for p in out if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"missing renders: {', '.join(map(str, missing[:3]))}")
    return out


def excerpt(src: Path, seconds: float, folder: Path) -> Path:
    """The first ``seconds`` of ``src`` as a WAV file in ``folder``."""
    import soundfile as sf

    y, sr = sf.read(str(src), dtype="float32")
    path = folder / f"{src.stem}-{seconds:g}s.wav"
    sf.write(str(path), y[: int(seconds * sr)], sr)
    return path


def _tree_rss_kb(pid: int) -> int:
    """Resident set (kB) of ``pid`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ppid, pages = int(fields[1]), int(fields[21])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
        rss[int(d)] = pages * (os.sysconf("SC_PAGE_SIZE") // 1024)
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(children.get(p, []))
    return total


def timed(cmd: list[str], env: dict | None = None, cwd: Path | None = None) -> dict:
    """Run ``cmd`` to its end: wall, user and system seconds, peak memory (MiB); raises if it fails."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_kb(proc.pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    done.set()
    sampler.join()
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} … failed ({proc.returncode}): {err.strip()[-1500:]}")
    return {"wall_s": wall, "user_s": ru.ru_utime, "sys_s": ru.ru_stime,
            "peak_tree_mb": peak[0] / 1024.0, "peak_process_mb": ru.ru_maxrss / 1024.0}


def unmf_jobs_flag() -> list[str]:
    """``["-j", str(cores)]`` when this checkout's ``unmf transcribe`` offers -j/--jobs, else ``[]``."""
    out = subprocess.run([sys.executable, "-m", "unmf_core.cli", "transcribe", "--help"], cwd=ROOT,
                         capture_output=True, text=True).stdout
    if "--jobs" in out:
        return ["--jobs", str(os.cpu_count() or 1)]
    if " -j " in out or "-j N" in out or "-j JOBS" in out:
        return ["-j", str(os.cpu_count() or 1)]
    return []


def commands(files: list[Path], bp_script: str, work: Path, jobs: list[str]) -> dict:
    """The two programs on ``files``: functions that run one whole process each and return :func:`timed`."""
    def unmf():
        out = work / "unmf-out"
        shutil.rmtree(out, ignore_errors=True)
        target = out / "one.mid" if len(files) == 1 else out
        out.mkdir(parents=True)
        return timed([sys.executable, "-m", "unmf_core.cli", "transcribe", *map(str, files), "-o", str(target),
                      "--overwrite", *jobs], cwd=ROOT)

    def bp():
        out = work / "bp-out"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        return timed([bp_script, str(out), *map(str, files)])

    return {"unmf": unmf, "basic_pitch": bp}


def paired(fns: dict, pairs: int, progress=print) -> dict:
    """One warm-up of each, then ``pairs`` turns A B; per-run figures and the pair-by-pair ratios."""
    for name, fn in fns.items():
        progress(f"[peer] warm-up {name}")
        fn()
    runs: dict[str, list[dict]] = {k: [] for k in fns}
    for i in range(pairs):
        for name, fn in fns.items():
            runs[name].append(fn())
        progress(f"[peer] pair {i + 1}/{pairs}: " + ", ".join(f"{k} {v[-1]['wall_s']:.2f} s" for k, v in runs.items()))
    a, b = runs["unmf"], runs["basic_pitch"]
    ratios = {k: [x[k] / y[k] for x, y in zip(a, b)] for k in ("wall_s", "peak_tree_mb")}
    med = {name: {k: float(np.median([r[k] for r in rs])) for k in rs[0]} for name, rs in runs.items()}
    return {"runs": runs, "median": med, "wall_ratio_pairs": ratios["wall_s"],
            "wall_ratio": float(np.median(ratios["wall_s"])),
            "memory_ratio_pairs": ratios["peak_tree_mb"], "memory_ratio": float(np.median(ratios["peak_tree_mb"])),
            "memory_ratio_of_maxima": float(max(x["peak_tree_mb"] for x in a) / max(y["peak_tree_mb"] for y in b))}


def run(bp_python: str | None, cache: str | Path | None, pairs: int = 3, progress=print,
        jobs_to_run: tuple[str, ...] = ("batch", "single", "startup")) -> dict:
    """The jobs ``jobs_to_run`` (``"batch"``, ``"single"``, ``"startup"``); see the module docstring."""
    bad = set(jobs_to_run) - {"batch", "single", "startup"}
    if bad:
        raise ValueError(f"unknown peer job(s) {', '.join(sorted(bad))} (batch, single, startup)")
    from .quality import basic_pitch_python

    py = basic_pitch_python(bp_python)
    if py is None:
        raise RuntimeError("peer: give --basic-pitch-python PATH (a Python with basic-pitch 0.4.0)")
    bp_script = str(Path(py).with_name("basic-pitch"))
    cache = Path(cache or os.environ.get("UNMF_QUALITY_CACHE") or Path(tempfile.gettempdir()) / "unmf-quality")
    files = pieces(cache)
    import soundfile as sf

    audio_s = float(sum(sf.info(str(p)).duration for p in files))
    jobs = unmf_jobs_flag()
    res: dict = {"files": [str(p.relative_to(cache)) for p in files], "audio_s": audio_s, "unmf_extra_args": jobs,
                 "pairs": pairs, "cores": os.cpu_count(), "load_average_at_start": list(os.getloadavg())}
    with tempfile.TemporaryDirectory(prefix="unmf-peer-") as d:
        work = Path(d)
        single = excerpt(files[0], SINGLE_SECONDS, work)
        if "batch" in jobs_to_run:
            progress(f"[peer] batch: {len(files)} files, {audio_s:.0f} s of audio; unmf extra args {jobs}")
            res["batch"] = paired(commands(files, bp_script, work, jobs), pairs, progress)
        if "single" in jobs_to_run:
            progress(f"[peer] single: {SINGLE_SECONDS:g} s")
            res["single"] = paired(commands([single], bp_script, work, []), pairs, progress)
    if "startup" in jobs_to_run:
        from . import startup

        res["startup"] = startup.run(pairs, progress)
    res["load_average_at_end"] = list(os.getloadavg())
    return res


def write(res: dict, out: Path) -> list[Path]:
    """``peer.md`` and ``peer.json`` in ``out``."""
    import json

    from .common import machine

    out.mkdir(parents=True, exist_ok=True)
    res.setdefault("machine", machine())
    (out / "peer.json").write_text(json.dumps(res, indent=1))
    m = res["machine"]
    lines = [
        "# Speed against Basic Pitch (whole processes)", "",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}, GPU: {m['gpu'] or 'none'}; "
        f"load average at start {', '.join(f'{x:.1f}' for x in res['load_average_at_start'])}, "
        f"at end {', '.join(f'{x:.1f}' for x in res['load_average_at_end'])} (a shared machine: read the ratios, "
        "which are formed pair by pair, rather than the absolute times).", "",
        f"Command: `python -m benchmarks --only peer --basic-pitch-python PY --quality-cache DIR`. unmf: "
        f"`python -m unmf_core.cli transcribe FILES -o OUT {' '.join(res['unmf_extra_args'])}`; Basic Pitch 0.4.0: "
        "`basic-pitch OUT FILES`. One warm-up of each, then "
        f"{res['pairs']} pairs A B; medians; peak memory = largest resident set of the whole process tree "
        "(sampled every 20 ms).", "",
        "| job | audio | unmf wall | Basic Pitch wall | ratio (median of pairs) | unmf CPU (user+sys) "
        "| BP CPU | unmf peak MiB | BP peak MiB | memory ratio (median of pairs; of the largest peaks) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for job, label in (("batch", f"{len(res['files'])} files"), ("single", f"one {SINGLE_SECONDS:g} s file")):
        if job not in res:
            lines.append(f"| {label} | not run in this run (`--peer-jobs`) | | | | | | | | |")
            continue
        r = res[job]
        u, b = r["median"]["unmf"], r["median"]["basic_pitch"]
        audio = f"{res['audio_s']:.0f} s" if job == "batch" else f"{SINGLE_SECONDS:g} s"
        lines.append(
            f"| {label} | {audio} | {u['wall_s']:.2f} s | {b['wall_s']:.2f} s | **{r['wall_ratio']:.2f}×** "
            f"({', '.join(f'{x:.2f}' for x in r['wall_ratio_pairs'])}) | {u['user_s'] + u['sys_s']:.2f} s "
            f"| {b['user_s'] + b['sys_s']:.2f} s | {u['peak_tree_mb']:.0f} | {b['peak_tree_mb']:.0f} "
            f"| **{r['memory_ratio']:.2f}×** ({', '.join(f'{x:.2f}' for x in r.get('memory_ratio_pairs', []))}; "
            f"{r.get('memory_ratio_of_maxima', r['memory_ratio']):.2f}×) |")
    if "startup" in res:
        from . import startup

        lines += [""] + startup.lines(res["startup"])
    for job in ("batch", "single"):
        if job in res:
            peaks = {k: ", ".join(f"{r['peak_tree_mb']:.0f}" for r in v) for k, v in res[job]["runs"].items()}
            lines.append(f"\nPeaks per run, {job} (MiB): unmf {peaks['unmf']}; Basic Pitch {peaks['basic_pitch']}.")
    lines += ["", "Files (quality set, one rendering per piece): " + ", ".join(f"`{f}`" for f in res["files"]) + ".",
              "", "No GPU was available on this machine: no GPU figures." if not m["gpu"] else ""]
    (out / "peer.md").write_text("\n".join(lines) + "\n")
    return [out / "peer.md", out / "peer.json"]
