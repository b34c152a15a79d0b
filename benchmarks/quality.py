"""Transcription quality per instrument source, dry and in a room (issue 10).

``python -m benchmarks --only quality [--basic-pitch-python PY] [--quality-cache DIR]``

The evaluation set is the project's own: 16 pieces of about 25 s (random material
in the style of :mod:`unmf_core.training.synthdata`, plus chorale-like and ragtime-like
textures written below from random harmony), rendered with FluidSynth and the
acoustic-piano presets (GM programs 0 and 1, alternating) of each of the three
Debian General MIDI SoundFonts, each dry and convolved with a synthetic room
impulse response (exponentially decaying noise after a direct sound, RT60 drawn
in 0.8-1.2 s). Everything is drawn from fixed seeds, so the set is the same on
every machine with those packages. MuseScore General is the **unseen** source:
the bundled templates and model come from FluidR3 (and the candidate templates
of ``scripts/choose_templates.py`` from FluidR3 and TimGM6mb) only.

The renders live in a cache outside the repository (``$UNMF_QUALITY_CACHE`` or
``<tmp>/unmf-quality``); missing files are rendered again. Basic Pitch 0.4.0
runs as a subprocess in its own Python (``--basic-pitch-python`` or
``$UNMF_BASIC_PITCH_PYTHON``); its MIDI output is cached by the SHA-256 of the
audio file. Without it, its column stays empty and the report says so.

Scores: mir_eval note onset-F and offset-F (:func:`unmf_core.transcription.metrics.note_scores`),
mean over the files of a cell; the octave share is the fraction of the unmatched
transcribed notes (false positives of the onset criterion) whose pitch is 12
semitones above or below a reference note sounding at their onset (from 50 ms
before its onset to its offset), pooled over the files of a cell.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


#: Instrument sources: name → SoundFont. The unseen one is never used for templates or training.
SOURCES = {
    "FluidR3": "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "TimGM6mb": "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "MuseScore": "/usr/share/sounds/sf3/MuseScore_General.sf3",
}
UNSEEN = "MuseScore"
ROOMS = ("dry", "room")
N_PIECES = 16
DURATION = 25.0
SR = 22050
SEED = 20261201
#: GM programs of the pieces (Acoustic Grand, Bright Acoustic), one per piece in turn.
PIECE_PROGRAMS = (0, 1)
#: Bumped whenever the material changes, so old caches are not mixed in.
SET_VERSION = 1

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
#: Diatonic triads as scale degrees (0-based) and a simple functional progression graph.
_NEXT = {0: (3, 4, 5, 1, 3), 1: (4, 6), 2: (5, 3), 3: (4, 0, 1, 6), 4: (0, 5, 0), 5: (1, 3, 4), 6: (0, 2)}


def cache_dir(path: str | Path | None = None) -> Path:
    """Folder of the renders and of Basic Pitch's outputs (outside the repository)."""
    d = Path(path or os.environ.get("UNMF_QUALITY_CACHE") or Path(tempfile.gettempdir()) / "unmf-quality")
    d.mkdir(parents=True, exist_ok=True)
    return d


# --------------------------------------------------------------------------- material

def _triad(key: int, degree: int) -> list[int]:
    """Pitch classes (relative to C) of the diatonic triad on ``degree`` of the major key ``key``."""
    return [(key + _MAJOR[(degree + 2 * i) % 7]) % 12 for i in range(3)]


def _progression(rng: np.random.Generator, n: int) -> list[int]:
    deg, out = 0, [0]
    for _ in range(n - 2):
        deg = int(rng.choice(_NEXT[deg]))
        out.append(deg)
    return out + [4 if out[-1] != 4 else 0] if n > 1 else out


def _nearest(pc: int, target: float, lo: int, hi: int) -> int:
    cands = [p for p in range(lo, hi + 1) if p % 12 == pc]
    return min(cands, key=lambda p: abs(p - target))


def chorale(rng: np.random.Generator, duration: float = DURATION):
    """Four-voice chorale-like texture on a random diatonic progression (one chord per beat or two)."""
    from unmf_core.transcription.notes import Note

    key = int(rng.integers(0, 12))
    beat = 60.0 / rng.uniform(60, 84)
    n = int(duration / beat) + 1
    degs = _progression(rng, n)
    ranges = ((60, 79), (55, 72), (48, 67), (36, 60))  # soprano, alto, tenor, bass
    prev = [72.0, 65.0, 58.0, 48.0]
    notes, t = [], 0.2
    i = 0
    while i < len(degs) and t < duration:
        length = beat * (2 if rng.random() < 0.25 else 1)
        pcs = _triad(key, degs[i])
        voices = [pcs[0], pcs[int(rng.integers(3))], pcs[int(rng.integers(3))], pcs[0]]
        voices[1:3] = [pcs[1], pcs[2]] if rng.random() < 0.5 else [pcs[2], pcs[1]]
        for v, (pc, (lo, hi)) in enumerate(zip(voices, ranges)):
            p = _nearest(pc, prev[v], lo, hi)
            prev[v] = p
            vel = int(np.clip(rng.normal(72 if v == 0 else 60, 8), 30, 110))
            notes.append(Note(p, t, t + length * rng.uniform(0.88, 0.98), vel))
        t += length
        i += 1
    return notes


def ragtime(rng: np.random.Generator, duration: float = DURATION):
    """Ragtime-like texture: oom-pah left hand (bass octave, mid-range chord) under a syncopated melody."""
    from unmf_core.transcription.notes import Note

    key = int(rng.integers(0, 12))
    beat = 60.0 / rng.uniform(88, 116)
    bar = 2 * beat  # 2/4
    degs = _progression(rng, int(duration / bar) + 1)
    notes, t = [], 0.2
    for deg in degs:
        if t >= duration:
            break
        pcs = _triad(key, deg)
        root = _nearest(pcs[0], 38, 28, 50)
        alt = _nearest(pcs[2], 38, 28, 50)
        for b, bass in enumerate((root, alt)):
            u = t + b * beat
            vel = int(np.clip(rng.normal(78, 8), 40, 115))
            notes.append(Note(bass, u, u + 0.45 * beat, vel))
            if bass - 12 >= 21 and rng.random() < 0.7:
                notes.append(Note(bass - 12, u, u + 0.45 * beat, vel - 6))
            for pc in pcs:  # chord on the off-beat
                p = _nearest(pc, 57, 50, 66)
                notes.append(Note(p, u + beat / 2, u + 0.92 * beat, int(np.clip(rng.normal(58, 8), 30, 100))))
        # right hand: sixteenth grid, syncopated (ties across the beat), chord tones plus passing notes
        scale = [p for p in range(62, 91) if (p - key) % 12 in _MAJOR]
        chord_tones = [p for p in scale if p % 12 in pcs]
        u, step = t, beat / 4
        cur = int(rng.choice(chord_tones))
        while u < t + bar - 1e-6:
            length = step * int(rng.choice([1, 1, 2, 2, 3]))
            length = min(length, t + bar - u)
            if rng.random() < 0.85:
                pool = chord_tones if rng.random() < 0.65 else scale
                cands = [p for p in pool if abs(p - cur) <= 7] or chord_tones
                cur = int(rng.choice(cands))
                vel = int(np.clip(rng.normal(84, 9), 40, 120))
                notes.append(Note(cur, u, u + length * 0.9, vel))
                if rng.random() < 0.2 and cur - 12 >= 55:
                    notes.append(Note(cur - 12, u, u + length * 0.9, vel - 10))
            u += length
        t += bar
    return notes


def pieces(seed: int = SEED, n: int = N_PIECES, duration: float = DURATION) -> list[tuple[str, list, int]]:
    """The evaluation pieces: ``(name, notes, program)``; 10 random, 3 chorale-like, 3 ragtime-like."""
    from unmf_core.training.synthdata import random_piece

    rng = np.random.default_rng(seed)
    kinds = ["random"] * (n - 6) + ["chorale"] * 3 + ["ragtime"] * 3
    out = []
    for i, kind in enumerate(kinds):
        if kind == "random":
            notes = random_piece(rng, duration)
        elif kind == "chorale":
            notes = chorale(rng, duration)
        else:
            notes = ragtime(rng, duration)
        notes = sorted((nt for nt in notes if nt.onset < duration and 21 <= nt.pitch <= 108),
                       key=lambda nt: (nt.onset, nt.pitch))
        out.append((f"{i:02d}-{kind}", notes, PIECE_PROGRAMS[i % len(PIECE_PROGRAMS)]))
    return out


def room_ir(rng: np.random.Generator, sr: int = SR, rt60: tuple[float, float] = (0.8, 1.2)) -> tuple[np.ndarray, float]:
    """A synthetic room impulse response: a direct sound, then exponentially decaying white noise.

    The tail starts after a 5-15 ms pre-delay, decays by 60 dB in ``rt60`` seconds and holds as much
    energy as the direct sound times 10^(DRR/10) with a direct-to-reverberant ratio drawn in -3..+3 dB.
    Returns the response (float32) and its RT60.
    """
    t60 = float(rng.uniform(*rt60))
    n = int(1.5 * t60 * sr)
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * np.exp(-6.9078 * t / t60)
    tail[: int(rng.uniform(0.005, 0.015) * sr)] = 0.0
    drr_db = rng.uniform(-3.0, 3.0)
    tail *= np.sqrt(10 ** (-drr_db / 10) / np.sum(tail ** 2))
    tail[0] = 1.0
    return tail.astype(np.float32), t60


def build_set(cache: Path, seed: int = SEED, progress=print) -> list[dict]:
    """Render (when missing) and list the evaluation files: dicts with ``source, room, piece, audio, midi``."""
    import soundfile as sf
    from scipy.signal import fftconvolve

    from unmf_core.frontend.audio import save_audio
    from unmf_core.transcription.notes import write_midi
    from unmf_core.training.render import render_midi

    root = cache / f"set-v{SET_VERSION}-seed{seed}"
    (root / "midi").mkdir(parents=True, exist_ok=True)
    items = []
    ps = pieces(seed)
    for name, notes, program in ps:
        mid = root / "midi" / f"{name}.mid"
        if not mid.is_file():
            write_midi(notes, mid, program=program)
    for s_i, (source, sf2) in enumerate(SOURCES.items()):
        d = root / source
        d.mkdir(exist_ok=True)
        rng = np.random.default_rng([seed, s_i])
        for name, notes, program in ps:
            ir, t60 = room_ir(rng)
            gain = float(rng.uniform(0.3, 0.9))
            dry, wet = d / f"{name}-dry.flac", d / f"{name}-room.flac"
            if not (dry.is_file() and wet.is_file()):
                y = render_midi(root / "midi" / f"{name}.mid", SR, soundfont=sf2)
                y = (gain * y / (np.abs(y).max() or 1.0)).astype(np.float32)
                w = fftconvolve(y, ir)[: len(y) + SR]
                w = (gain * w / (np.abs(w).max() or 1.0)).astype(np.float32)
                save_audio(dry, y, SR)
                save_audio(wet, w, SR)
                progress(f"[quality] rendered {source}/{name} (program {program}, RT60 {t60:.2f} s)")
            for room, path in (("dry", dry), ("room", wet)):
                items.append({"source": source, "room": room, "piece": name, "program": program,
                              "rt60": t60 if room == "room" else 0.0, "audio": str(path),
                              "midi": str(root / "midi" / f"{name}.mid"),
                              "duration": float(sf.info(str(path)).duration)})
    return items


# --------------------------------------------------------------------------- scoring

def octave_false_positives(ref: list, est: list, onset_tolerance: float = 0.05) -> tuple[int, int]:
    """``(false positives, those 12 semitones from a reference note sounding at their onset)``."""
    import mir_eval

    if not est:
        return 0, 0
    ei = np.array([[n.onset, n.offset] for n in est])
    ep = mir_eval.util.midi_to_hz(np.array([n.pitch for n in est], float))
    if ref:
        ri = np.array([[n.onset, n.offset] for n in ref])
        rp = mir_eval.util.midi_to_hz(np.array([n.pitch for n in ref], float))
        matched = {j for _, j in mir_eval.transcription.match_notes(ri, rp, ei, ep, onset_tolerance=onset_tolerance,
                                                                     offset_ratio=None)}
    else:
        matched = set()
    fp = [n for j, n in enumerate(est) if j not in matched]
    octave = sum(any(abs(n.pitch - r.pitch) == 12 and r.onset - onset_tolerance <= n.onset <= r.offset for r in ref)
                 for n in fp)
    return len(fp), int(octave)


def score(ref: list, est: list) -> dict:
    from unmf_core.transcription.metrics import note_scores

    s = note_scores(ref, est)
    fp, octv = octave_false_positives(ref, est)
    return {"onset_f": s["onset_f"], "offset_f": s["offset_f"], "onset_p": s["onset_precision"],
            "onset_r": s["onset_recall"], "n_est": len(est), "n_ref": len(ref), "fp": fp, "fp_octave": octv}


def summarise(rows: list[dict]) -> dict:
    """Mean F over files; pooled octave share; seconds per audio second."""
    fp = sum(r["fp"] for r in rows)
    dur = sum(r["duration"] for r in rows)
    sec = [r["seconds"] for r in rows if r.get("seconds") is not None]
    return {"files": len(rows), "onset_f": float(np.mean([r["onset_f"] for r in rows])),
            "offset_f": float(np.mean([r["offset_f"] for r in rows])),
            "onset_p": float(np.mean([r["onset_p"] for r in rows])),
            "onset_r": float(np.mean([r["onset_r"] for r in rows])),
            "fp": fp, "fp_octave": sum(r["fp_octave"] for r in rows),
            "octave_share": (sum(r["fp_octave"] for r in rows) / fp) if fp else 0.0,
            "s_per_audio_s": (sum(sec) / dur) if len(sec) == len(rows) and dur else None}


def run_methods(items: list[dict], engine, methods: dict[str, str], iterations: int = 100,
                progress=print) -> dict[str, list[dict]]:
    """Transcribe every item with ``engine`` by each method and score it.

    ``methods`` maps a result key to ``"unrolled"`` or ``"mu"``. The methods take turns file by file,
    so a change of machine load falls on all of them alike.
    """
    from unmf_core.transcription.notes import read_midi
    from unmf_core.transcription.engine import Options

    rows: dict[str, list[dict]] = {k: [] for k in methods}
    for n, it in enumerate(items):
        ref = read_midi(it["midi"])
        for key, method in methods.items():
            res = engine.transcribe(it["audio"], Options(method=method, iterations=iterations,
                                                         track_divergence=False))
            rows[key].append({**{k2: it[k2] for k2 in ("source", "room", "piece", "duration")},
                              **score(ref, res.notes), "seconds": res.timings["total"]})
        if progress and (n + 1) % 16 == 0:
            progress(f"[quality] {'+'.join(methods)}: {n + 1}/{len(items)}")
    return rows


def run_unmf(items: list[dict], engine, method: str, iterations: int = 100, progress=print) -> list[dict]:
    """:func:`run_methods` with one method."""
    return run_methods(items, engine, {method: method}, iterations, progress)[method]


# --------------------------------------------------------------------------- Basic Pitch

_BP_RUNNER = r'''
import json, sys, time
from basic_pitch.inference import predict
from basic_pitch import ICASSP_2022_MODEL_PATH
jobs = json.load(sys.stdin)
import onnxruntime as ort
_Session = ort.InferenceSession
def _one_thread(*args, **kwargs):  # one thread, like unmf's torch (onnxruntime defaults to all cores)
    opts = kwargs.pop("sess_options", None) or ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    return _Session(*args, sess_options=opts, **kwargs)
ort.InferenceSession = _one_thread
t = time.perf_counter()
from basic_pitch.inference import Model
model = Model(ICASSP_2022_MODEL_PATH)
load = time.perf_counter() - t
t = time.perf_counter()
predict(jobs[0][0], model)  # warm-up: the first call initialises the ONNX session and JIT caches
print(json.dumps({"load_s": load, "warmup_s": time.perf_counter() - t, "model": str(ICASSP_2022_MODEL_PATH),
                  "onnx_threads": 1}), flush=True)
for audio, out in jobs:
    t = time.perf_counter()
    _, midi, _ = predict(audio, model)
    dt = time.perf_counter() - t
    midi.write(out)
    print(json.dumps({"audio": audio, "seconds": dt}), flush=True)
'''


def _sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def basic_pitch_python(path: str | None = None) -> str | None:
    """The Python that has Basic Pitch 0.4.0: ``path``, ``$UNMF_BASIC_PITCH_PYTHON``, or None."""
    p = path or os.environ.get("UNMF_BASIC_PITCH_PYTHON")
    return p if p and Path(p).is_file() else None


def run_basic_pitch(items: list[dict], python: str, cache: Path, progress=print) -> tuple[list[dict], dict]:
    """Basic Pitch on every item (once per distinct audio content; cached), scored like the others."""
    from unmf_core.transcription.notes import Note, read_midi

    out_dir = cache / "basic-pitch-0.4.0"
    out_dir.mkdir(exist_ok=True)
    keys = {it["audio"]: _sha256(it["audio"]) for it in items}
    todo = [(a, str(out_dir / f"{h}.mid")) for a, h in keys.items() if not (out_dir / f"{h}.json").is_file()]
    info: dict = {"python": python, "cached": len(keys) - len(todo), "ran": len(todo)}
    if todo:
        version = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('basic-pitch'))"],
                                 capture_output=True, text=True)
        if version.returncode != 0 or version.stdout.strip() != "0.4.0":
            raise RuntimeError(f"{python}: no basic-pitch 0.4.0 ({(version.stdout + version.stderr).strip()[-300:]})")
        env = {**os.environ, "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
        proc = subprocess.Popen([python, "-c", _BP_RUNNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)
        out, err = proc.communicate(json.dumps(todo))
        if proc.returncode != 0:
            raise RuntimeError(f"Basic Pitch failed ({proc.returncode}): {err.strip()[-1500:]}")
        lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
        info.update(lines[0])
        for rec in lines[1:]:
            h = keys[rec["audio"]]
            (out_dir / f"{h}.json").write_text(json.dumps({"seconds": rec["seconds"], "audio": rec["audio"]}))
        progress(f"[quality] Basic Pitch ran on {len(todo)} files")
    rows = []
    for it in items:
        h = keys[it["audio"]]
        est = [Note(n.pitch, n.onset, n.offset, n.velocity) for n in read_midi(out_dir / f"{h}.mid")]
        sec = json.loads((out_dir / f"{h}.json").read_text())["seconds"]
        rows.append({**{k: it[k] for k in ("source", "room", "piece", "duration")},
                     **score(read_midi(it["midi"]), est), "seconds": sec})
    return rows, info


# --------------------------------------------------------------------------- benchmark entry

def cells(rows: list[dict]) -> dict:
    """``{"source/room": summary}`` plus ``"all"``, ``"seen"`` and the unseen source over both rooms."""
    out = {}
    for s in SOURCES:
        for r in ROOMS:
            sel = [x for x in rows if x["source"] == s and x["room"] == r]
            if sel:
                out[f"{s}/{r}"] = summarise(sel)
    unseen = [x for x in rows if x["source"] == UNSEEN]
    if unseen:
        out[f"{UNSEEN}/both"] = summarise(unseen)
    if rows:
        out["all"] = summarise(rows)
    return out


def run(bp_python: str | None = None, cache: str | Path | None = None, progress=None,
        templates: str | Path | None = None) -> dict:
    """The whole quality benchmark from one run: unmf unrolled, MU 100 iterations and Basic Pitch.

    ``templates``: run unmf and MU with these templates instead of the engine's default (the bundled
    model's own).
    """
    import torch

    from unmf_core.transcription.engine import Engine, Options

    progress = progress or (lambda m: print(m, file=sys.stderr, flush=True))
    torch.set_num_threads(1)
    cache = cache_dir(cache)
    items = build_set(cache, progress=progress)
    engine = Engine(templates=templates, device="cpu")
    res: dict = {"cache": str(cache), "set": {"pieces": N_PIECES, "seconds_each": DURATION, "seed": SEED,
                                              "programs": list(PIECE_PROGRAMS), "sources": SOURCES,
                                              "unseen": UNSEEN, "files": len(items),
                                              "audio_s": sum(i["duration"] for i in items)},
                 "engine": engine.describe(), "notes": engine.notes_for(Options()).to_dict(), "methods": {}}
    t = time.perf_counter()
    engine.transcribe(items[0]["audio"])  # warm-up (CQT filters, first call)
    res["warmup_s"] = time.perf_counter() - t
    for key, rows in run_methods(items, engine, {"unmf": "unrolled", "mu100": "mu"}, progress=progress).items():
        res["methods"][key] = {"rows": rows, "cells": cells(rows)}
    py = basic_pitch_python(bp_python)
    if py is None:
        res["methods"]["basic_pitch"] = {"skipped": "Basic Pitch not run: give --basic-pitch-python PATH or set "
                                                    "UNMF_BASIC_PITCH_PYTHON to a Python with basic-pitch 0.4.0"}
    else:
        rows, info = run_basic_pitch(items, py, cache, progress)
        res["methods"]["basic_pitch"] = {"rows": rows, "cells": cells(rows), "info": info}
    return res


LABELS = {"unmf": "unmf unrolled (bundled)", "mu100": "plain MU, 100 it.", "basic_pitch": "Basic Pitch 0.4.0"}


def _f(v, fmt="{:.3f}"):
    return "" if v is None else fmt.format(v)


def markdown(res: dict) -> str:
    """``quality.md``: one table per metric, rows = source × room, columns = methods."""
    m = res.get("machine", {})
    meth = res["methods"]
    keys = [k for k in ("unmf", "mu100", "basic_pitch") if k in meth]
    s = res["set"]
    out = ["# Transcription quality per instrument source (issue 10)", "",
           f"Written by `python -m benchmarks --only quality` on {m.get('date', '?')} "
           f"({m.get('cpu', '?')}, torch threads 1). {s['pieces']} pieces of ~{s['seconds_each']:g} s "
           f"(10 random, 3 chorale-like, 3 ragtime-like; seed {s['seed']}), GM programs {s['programs']}, rendered "
           f"with each SoundFont by FluidSynth, dry and in a synthetic room (RT60 0.8-1.2 s); {s['files']} files, "
           f"{s['audio_s'] / 60:.1f} min of audio. **{s['unseen']} is the unseen source**: no template and no "
           f"training material comes from it. Model: `{res['engine']['model']}` ({res['engine']['layers']} layers), "
           f"templates: {res['engine']['templates']}.", ""]
    if res.get("notes"):
        nt = res["notes"]
        rule = (f"each note ends at its own decay's break into a faster decay (offset_rel {nt['offset_rel']:g}, "
                f"offset_knee {nt.get('offset_knee', -1):g} dB/s, offset_slope {nt['offset_slope']:g} dB/s after "
                f"{nt.get('offset_slope_delay', 0):g} s)" if nt.get("decay_offsets") else
                "notes end at the recording-wide hysteresis threshold")
        out += [f"Note settings (unmf and MU): threshold {nt['threshold']:g}; {rule}; partial rule "
                + (f"ratio {nt['partial_ratio']:g}" if nt.get("partial_ratio") else "off")
                + (f"; the note gate lifts notes up to {nt['gate_lift']:g} × scale" if "gate_lift" in nt else "")
                + " (`NoteParams`, chosen on training-SoundFont renders by `scripts/tune_notes.py`).", ""]
    bp = meth.get("basic_pitch", {})
    if "skipped" in bp:
        out += [f"*{bp['skipped']}.*", ""]
    cell_names = [c for c in meth[keys[0]]["cells"]]
    for metric, title in (("onset_f", "Note onset-F (mir_eval, 50 ms)"),
                          ("offset_f", "Note offset-F (mir_eval defaults: onset 50 ms, offset 20 % or 50 ms)"),
                          ("octave_share", "Share of false positives ±12 semitones from a sounding reference note")):
        out += [f"## {title}", "", "| source / room | " + " | ".join(LABELS[k] for k in keys) + " |",
                "|---|" + "---:|" * len(keys)]
        for c in cell_names:
            vals = []
            for k in keys:
                cc = meth[k].get("cells", {}).get(c)
                if cc is None:
                    vals.append("")
                elif metric == "octave_share":
                    vals.append(f"{cc['octave_share']:.2f} ({cc['fp_octave']}/{cc['fp']})")
                else:
                    vals.append(_f(cc[metric]))
            label = c.replace("/", " / ") + (" (unseen)" if c.startswith(s["unseen"]) else "")
            out.append(f"| {label} | " + " | ".join(vals) + " |")
        out.append("")
    out += ["## Speed (CPU, one torch thread; seconds per second of audio, whole set)", "",
            "| " + " | ".join(LABELS[k] for k in keys) + " |", "|" + "---:|" * len(keys),
            "| " + " | ".join(_f(meth[k].get("cells", {}).get("all", {}).get("s_per_audio_s"), "{:.4f}")
                              for k in keys) + " |", ""]
    out += ["unmf and MU: `Engine.transcribe` total (load, CQT, factorisation, notes), one process, after one "
            "warm-up file, the two taking turns file by file. Basic Pitch: `basic_pitch.inference.predict` per "
            "file (onnxruntime limited to one thread, ONNX model loaded once and one warm-up call, "
            + (f"{bp['info']['load_s'] + bp['info']['warmup_s']:.1f} s, not counted"
               if bp.get("info", {}).get("load_s") is not None else "load not counted")
            + "); its outputs are cached by audio hash, so a re-run reports the "
            "time of the run that made them.", ""]
    la = m.get("load_average_at_start")
    if la:
        out += [f"Load average at the start: {la[0]:.1f} on {m.get('cores', '?')} cores (a shared machine): the "
                f"times are pessimistic in absolute terms; the ratios between the columns hold only roughly, "
                f"as the load changed during the run.", ""]
    return "\n".join(out)


def write(res: dict, folder: Path, name: str = "quality") -> list[Path]:
    """``NAME.json`` (every file's scores) and ``NAME.md``."""
    from unmf_core.io.atomic import write_bytes_atomic

    folder.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(folder / f"{name}.json", json.dumps(res, indent=1).encode(), overwrite=True)
    write_bytes_atomic(folder / f"{name}.md", markdown(res).encode(), overwrite=True)
    return [folder / f"{name}.json", folder / f"{name}.md"]
