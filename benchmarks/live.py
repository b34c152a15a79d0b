"""Live transcription (``--only live``): latency, CPU share, agreement with file transcription, memory, drift.

Every replay runs in a fresh process (``python -m benchmarks.live SECONDS``, one
torch thread) that feeds the bundled demo, tiled to SECONDS, through
:class:`~unmf_core.frontend.inputstream.FileStream` (1024-sample blocks, the
microphone's code path) and :func:`unmf_core.streaming.session.listen`,
**unpaced**: the CPU share is CPU seconds / audio seconds, and the latency of
a note is what a paced run would see when it keeps up with real time:

    latency = (audio time at the end of the block that completed the update that first reported the note)
              + (seconds that update took) - (the note's onset in the take)

i.e. the audio still to arrive after the onset, the wait for the update and its
computation (the time an input block spends in PortAudio's buffer is not
included). Drift: the demo repeats every tile, so the onsets of tile k minus
k x tile length must equal tile 0's; the largest shift of the per-tile median is reported.

Writes ``live.md`` and ``live.json``.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from .common import ROOT, input_dir, tiled_demo


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(seconds: float, offline: bool) -> dict:
    """One replay of ``seconds`` of the tiled demo (run in its own process)."""
    import torch

    torch.set_num_threads(1)
    from unmf_core.frontend.inputstream import FileStream
    from unmf_core.streaming.session import listen
    from unmf_core.streaming.transcriber import LiveTranscriber
    from unmf_core.transcription.engine import DEMO_AUDIO, DEMO_MIDI, Engine
    from unmf_core.transcription.metrics import note_scores
    from unmf_core.transcription.notes import read_midi

    engine = Engine(device="cpu")
    path = tiled_demo(seconds)
    stream = FileStream(path, sr=engine.cqt.sr, realtime=False)
    ref1 = read_midi(DEMO_MIDI)
    tile = engine.load(DEMO_AUDIO).duration
    lt = LiveTranscriber(engine, keep=False)
    progress = input_dir() / f"live_progress_{seconds:g}s.json"  # partial figures while a long replay runs
    lat: list[float] = []
    rss: list[tuple[float, float]] = []
    c0, w0 = time.process_time(), time.perf_counter()
    next_mark = 0.0
    reports: list[tuple[int, float, float]] = []  # (pitch, onset, time of the report) of every onset reported
    for step in listen(lt, stream):
        for u in step.updates:
            reports.extend((n.pitch, n.onset, u.audio_time + u.compute_time) for n in u.onsets)
        if step.audio_time >= next_mark:
            rss.append((step.audio_time, _rss_mb()))
            next_mark += 60.0
            progress.write_text(json.dumps({"audio_s": step.audio_time, "cpu_s": time.process_time() - c0,
                                            "wall_s": time.perf_counter() - w0, "rss_mb": rss,
                                            "notes": len(lt.notes)}))
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    notes = lt.notes
    lat = kept_latencies(reports, notes)
    reps = int(np.ceil(seconds / tile))
    ref = [type(n)(n.pitch, n.onset + k * tile, n.offset + k * tile, n.velocity)
           for k in range(reps) for n in ref1 if n.onset + k * tile < seconds]
    out = {"seconds": seconds, "cpu_s": cpu, "wall_s": wall, "cpu_share": cpu / seconds, "n_notes": len(notes),
           "latency_ms": {"median": 1000 * float(np.median(lat)), "p95": 1000 * float(np.percentile(lat, 95)),
                          "max": 1000 * float(np.max(lat)), "n": len(lat)},
           "reported": len(reports), "retracted": len(reports) - len(lat),
           "rss_mb": rss, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "live_vs_ref": note_scores(ref, notes), "drift_ms": _drift(notes, tile, reps)}
    if offline:
        res = engine.transcribe(path)
        out["offline_vs_ref"] = note_scores(ref, res.notes)
        out["live_vs_offline"] = note_scores(res.notes, notes)
        out["offline_notes"] = len(res.notes)
    return out


def paced(seconds: float) -> dict:
    """A replay paced in real time (blocks delivered at the speed of sound, as a microphone does): the
    wall-clock latency of every note of the take, measured by :func:`~unmf_core.streaming.session.listen`."""
    import torch

    torch.set_num_threads(1)
    from unmf_core.frontend.inputstream import FileStream
    from unmf_core.streaming.session import listen
    from unmf_core.streaming.transcriber import LiveTranscriber
    from unmf_core.transcription.engine import Engine

    engine = Engine(device="cpu")
    lt = LiveTranscriber(engine, keep=False)
    reports = []
    c0, w0 = time.process_time(), time.perf_counter()
    for step in listen(lt, FileStream(tiled_demo(seconds), sr=engine.cqt.sr, realtime=True)):
        onsets = [n for u in step.updates for n in u.onsets]
        reports.extend((n.pitch, n.onset, n.onset + lat) for n, lat in zip(onsets, step.latencies))
    lat = kept_latencies(reports, lt.notes)
    return {"seconds": seconds, "wall_s": time.perf_counter() - w0, "cpu_share": (time.process_time() - c0) / seconds,
            "latency_ms": {"median": 1000 * float(np.median(lat)), "p95": 1000 * float(np.percentile(lat, 95)),
                           "max": 1000 * float(np.max(lat)), "n": len(lat)}}


def kept_latencies(reports: list[tuple[int, float, float]], notes) -> list[float]:
    """Latency of each note of the take: its first report (same pitch, onset within 0.1 s, the tracker's match)
    minus its onset in the take.

    A note's onset may move while its frames are revised (the take's onset is the better one); reports of
    notes withdrawn later match no note of the take and are left out (``retracted`` counts them).
    """
    out = []
    for n in notes:
        m = [t for p, on, t in reports if p == n.pitch and abs(on - n.onset) < 0.1]
        if m:
            out.append(m[0] - n.onset)
    return out


def recordings(cache: str | None, stride: int = 5) -> dict:
    """Live against file transcription on the quality benchmark's renders (every ``stride``-th file)."""
    import torch

    torch.set_num_threads(1)
    from unmf_core.frontend.inputstream import FileStream
    from unmf_core.streaming.session import listen
    from unmf_core.streaming.transcriber import LiveTranscriber
    from unmf_core.transcription.engine import Engine
    from unmf_core.transcription.metrics import note_scores
    from unmf_core.transcription.notes import read_midi

    from . import quality

    engine = Engine(device="cpu")
    rows = []
    for item in quality.build_set(quality.cache_dir(cache))[::stride]:
        ref, audio = read_midi(item["midi"]), engine.load(item["audio"])
        lt = LiveTranscriber(engine, keep=False)
        for _ in listen(lt, FileStream(audio, sr=engine.cqt.sr, realtime=False)):
            pass
        rows.append({"source": item["source"], "room": item["room"], "piece": item["piece"],
                     "live": note_scores(ref, lt.notes)["onset_f"],
                     "file": note_scores(ref, engine.transcribe(audio).notes)["onset_f"]})
    return {"rows": rows, "live": float(np.mean([r["live"] for r in rows])),
            "file": float(np.mean([r["file"] for r in rows]))}


def _drift(notes, tile: float, reps: int) -> dict:
    """Per tile, the median onset (relative to its tile) of the notes also found in tile 0, minus tile 0's."""
    first = [n for n in notes if n.onset < tile]
    shifts = []
    for k in range(1, reps):
        d = []
        for n in notes:
            if k * tile <= n.onset < (k + 1) * tile:
                rel = n.onset - k * tile
                m = min((abs(rel - f.onset), rel - f.onset) for f in first if f.pitch == n.pitch) \
                    if any(f.pitch == n.pitch for f in first) else None
                if m is not None and m[0] < 0.05:
                    d.append(m[1])
        if d:
            shifts.append(1000 * float(np.median(d)))
    return {"tiles": reps, "max_abs_median_shift": max((abs(s) for s in shifts), default=0.0),
            "last_tile_shift": shifts[-1] if shifts else 0.0}


def _run_child(seconds: float, offline: bool, cache: str | None = None) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "benchmarks.live", str(seconds)] + (["--offline"] if offline else [])
    if cache is not None:
        cmd = [sys.executable, "-m", "benchmarks.live", "recordings", cache]
    elif not offline and seconds < 0:
        cmd = [sys.executable, "-m", "benchmarks.live", "paced", str(-seconds)]
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=7200)
    if p.returncode:
        raise RuntimeError(f"live benchmark child failed: {p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def run(quick: bool = False, cache: str | None = None) -> dict:
    """The 5-minute replay (with the file transcription of the same audio), the 30-minute one, and
    live against file transcription on the quality benchmark's renders (``cache``: its folder)."""
    short, long_ = (60.0, 120.0) if quick else (300.0, 1800.0)
    return {"replay": _run_child(short, True), "paced": _run_child(-60.0, False),
            "long": _run_child(long_, False), "recordings": _run_child(0.0, False, cache or str(_default_cache()))}


def _default_cache():
    from . import quality

    return quality.cache_dir(None)


def _long_lines(lg: dict) -> list[str]:
    return [
        f"## {lg['seconds'] / 60:g}-minute replay (unpaced, keep=False)", "",
        "| | value |", "|---|---|",
        f"| CPU share | {100 * lg['cpu_share']:.1f} % of one core ({lg['cpu_s']:.0f} CPU s) |",
        f"| peak RSS | {lg['peak_rss_mb']:.0f} MB (includes the decoded file, "
        f"{lg['seconds'] * 22050 * 4 / 2**20:.0f} MB) |",
        "| RSS every minute of audio (MB) | " + ", ".join(f"{m:.0f}" for _, m in lg["rss_mb"]) + " |",
        f"| drift: largest per-tile median onset shift vs the first tile | "
        f"{lg['drift_ms']['max_abs_median_shift']:.1f} ms over {lg['drift_ms']['tiles']} tiles "
        f"(last tile {lg['drift_ms']['last_tile_shift']:.1f} ms) |",
        f"| onset-F vs the demo's MIDI | {lg['live_vs_ref']['onset_f']:.3f} |", ""]


def _partial_lines(lg: dict) -> list[str]:
    """A long replay that was stopped before its end: the figures of its progress file."""
    return [
        f"## Long replay, stopped after {lg['audio_s'] / 60:.1f} minutes of audio (unpaced, keep=False)", "",
        "| | value |", "|---|---|",
        f"| CPU share so far | {100 * lg['cpu_s'] / max(lg['audio_s'], 1e-9):.1f} % of one core |",
        "| RSS every minute of audio (MB) | " + ", ".join(f"{m:.0f}" for _, m in lg["rss_mb"]) + " |",
        f"| notes | {lg['notes']} |", ""]


def write(res: dict, out: Path) -> list[Path]:
    """``live.md`` and ``live.json`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    r, lg = res["replay"], res["long"]
    f = lambda d: f"{d['onset_f']:.3f}"  # noqa: E731
    lines = [
        "# Live transcription", "",
        "`python -m benchmarks --only live` (unpaced replays of the bundled demo tiled to the length given, through",
        "the file-backed input stream and `unmf_core.streaming.session.listen`, one torch thread, each in a fresh",
        "process; latency as defined in `benchmarks/live.py`: audio still to come after the onset + wait for the",
        "update + its computation). Machine: " + res.get("machine", {}).get("cpu", "?"), "",
        f"## {r['seconds'] / 60:g}-minute replay", "",
        "| | value |", "|---|---|",
        f"| CPU share (CPU s / audio s, one thread) | {100 * r['cpu_share']:.1f} % of one core |",
        f"| latency median / 95th pct / max | {r['latency_ms']['median']:.0f} / {r['latency_ms']['p95']:.0f} / "
        f"{r['latency_ms']['max']:.0f} ms ({r['latency_ms']['n']} notes) |",
        f"| onset-F vs the demo's MIDI: live / file transcription | {f(r['live_vs_ref'])} / {f(r['offline_vs_ref'])} |",
        f"| onset-F of live against file transcription (agreement) | {f(r['live_vs_offline'])} |",
        f"| notes: live / file | {r['n_notes']} / {r['offline_notes']} |",
        f"| onsets reported / withdrawn later (revised frames) | {r.get('reported', '?')} / "
        f"{r.get('retracted', '?')} |",
        f"| peak RSS | {r['peak_rss_mb']:.0f} MB |", "",
    ]
    if "paced" in res:
        pc = res["paced"]
        lines += [f"## {pc['seconds']:g}-second replay paced in real time (blocks at the speed of sound)", "",
                  "| | value |", "|---|---|",
                  f"| wall-clock latency median / 95th pct / max | {pc['latency_ms']['median']:.0f} / "
                  f"{pc['latency_ms']['p95']:.0f} / {pc['latency_ms']['max']:.0f} ms ({pc['latency_ms']['n']} notes) |",
                  f"| wall time for {pc['seconds']:g} s of audio | {pc['wall_s']:.1f} s |",
                  f"| CPU share | {100 * pc['cpu_share']:.1f} % of one core |", ""]
    lines += _long_lines(lg) if "cpu_share" in lg else _partial_lines(lg)
    if "recordings" in res:
        rc = res["recordings"]
        lines += [f"## Recordings: live against file transcription ({len(rc['rows'])} renders of the quality "
                  "benchmark, every 5th file: dry and room, the three SoundFonts)", "",
                  "| source | room | piece | live onset-F | file onset-F | live − file |", "|---|---|---|---|---|---|"]
        lines += [f"| {r['source']} | {r['room']} | {r['piece']} | {r['live']:.3f} | {r['file']:.3f} | "
                  f"{r['live'] - r['file']:+.3f} |" for r in rc["rows"]]
        d = rc["live"] - rc["file"]
        lines += [f"| **mean** | | | **{rc['live']:.3f}** | **{rc['file']:.3f}** | **{d:+.3f}** |", ""]
    md, js = out / "live.md", out / "live.json"
    md.write_text("\n".join(lines))
    js.write_text(json.dumps(res, indent=2))
    return [md, js]


if __name__ == "__main__":
    if sys.argv[1] == "recordings":
        print(json.dumps(recordings(sys.argv[2])))
        sys.exit(0)
    if sys.argv[1] == "paced":
        print(json.dumps(paced(float(sys.argv[2]))))
        sys.exit(0)
    result = json.dumps(child(float(sys.argv[1]), "--offline" in sys.argv))
    (input_dir() / f"live_result_{float(sys.argv[1]):g}s.json").write_text(result)
    print(result)
