"""Choose the note rule's constants (offsets, partial suppression, velocities) on training SoundFonts only.

``python scripts/tune_notes.py [--cache DIR] [--pieces N] [--seed S] [--validate QUALITY_CACHE]``

1. Renders ``N`` pieces made by :func:`benchmarks.quality.pieces` with a seed other than the
   benchmark's (default 4242) with the TRAINING SoundFonts only (FluidR3_GM and TimGM6mb, a GM
   piano program 0-7 drawn per piece), each dry and in a synthetic room
   (:func:`benchmarks.quality.room_ir`), into ``DIR`` (outside the repository).
2. Runs the default engine (unrolled, bundled model) once per file and stores H, the background and
   the note gate's gain (the model's, as the engine applies it).
3. Sweeps the note-rule constants on those activations (no new factorisation) and prints
   onset-F / offset-F per source × room, plus the velocity calibration (log-peak → MIDI velocity
   fit on the first half of the pieces, error on the other half).

With the note gate (2026-12-02), ``--sweep`` (all 64 renders, onset-F / offset-F):

- ``gate_lift`` 0.14 → 0.08: onset-F 0.804 → 0.810 (0.07: 0.811, the threshold itself, where a lifted note
  reaches it only by equality; 0.10: 0.807). Chosen first, with the former offset rule.
- ``offset_knee`` 26 dB/s (0.3 dB a frame) and ``offset_slope_delay`` 0.035 s: offset-F 0.499 (the former rule:
  any break, slope from the peak on) → 0.519; knee 17-43 dB/s and delay 0.035-0.06 s all lie within 0.002.
- A re-onset ratio of 2.3-2.6, a minimum gap between onsets of 0.14-0.18 s or a merge gap of 0.05 s each gave
  ≤ 0.001 more onset-F: left as they were.

``--validate`` then scores the chosen constants once on the unseen MuseScore renders of the quality
benchmark (only to report; nothing is chosen there).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TRAIN_SOURCES = {"FluidR3": "/usr/share/sounds/sf2/FluidR3_GM.sf2", "TimGM6mb": "/usr/share/sounds/sf2/TimGM6mb.sf2"}


def build(cache: Path, n: int, seed: int) -> list[dict]:
    from scipy.signal import fftconvolve

    from benchmarks.quality import SR, pieces, room_ir
    from unmf_core.frontend.audio import save_audio
    from unmf_core.training.render import render_midi
    from unmf_core.transcription.notes import write_midi

    root = cache / f"train-seed{seed}"
    (root / "midi").mkdir(parents=True, exist_ok=True)
    ps = pieces(seed, n)
    rng = np.random.default_rng(seed + 1)
    progs = [int(p) for p in rng.integers(0, 8, size=(len(TRAIN_SOURCES), n)).ravel()]
    items = []
    for s_i, (src, sf2) in enumerate(TRAIN_SOURCES.items()):
        rng = np.random.default_rng([seed, s_i])
        for p_i, (name, notes, _) in enumerate(ps):
            prog = progs[s_i * n + p_i]
            mid = root / "midi" / f"{src}-{name}.mid"
            if not mid.is_file():
                write_midi(notes, mid, program=prog)
            ir, _ = room_ir(rng)
            gain = float(rng.uniform(0.3, 0.9))
            dry, wet = root / f"{src}-{name}-dry.flac", root / f"{src}-{name}-room.flac"
            if not (dry.is_file() and wet.is_file()):
                y = render_midi(mid, SR, soundfont=sf2)
                y = (gain * y / (np.abs(y).max() or 1.0)).astype(np.float32)
                w = fftconvolve(y, ir)[: len(y) + SR]
                w = (gain * w / (np.abs(w).max() or 1.0)).astype(np.float32)
                save_audio(dry, y, SR)
                save_audio(wet, w, SR)
                print(f"rendered {src}/{name} program {prog}", file=sys.stderr, flush=True)
            for room, path in (("dry", dry), ("room", wet)):
                items.append({"source": src, "room": room, "piece": name, "p_i": p_i, "audio": str(path),
                              "midi": str(mid)})
    return items


def activations(items: list[dict], cache: Path, method: str = "unrolled") -> list[dict]:
    """Attach ``H``, ``bg``, ``fr`` to each item (cached as npz next to the audio)."""
    import torch

    from unmf_core.transcription.engine import Engine, Options

    torch.set_num_threads(1)
    engine = None
    for it in items:
        f = cache / "H" / method / (Path(it["audio"]).parent.name + "-" + Path(it["audio"]).stem + ".npz")
        f.parent.mkdir(parents=True, exist_ok=True)
        if not f.is_file():
            engine = engine or Engine(device="cpu")
            res = engine.transcribe(it["audio"], Options(method=method, iterations=100, track_divergence=False))
            gain = np.ones(0, np.float32) if res.gain is None else res.gain.astype(np.float32)
            np.savez(f, H=res.H.astype(np.float32), bg=res.background, fr=res.frame_rate, gain=gain)
            print(f"H {f.name}", file=sys.stderr, flush=True)
        z = np.load(f)
        gain = z["gain"] if "gain" in z.files and z["gain"].size else None  # the model's note gate, if any
        it.update(H=z["H"], bg=z["bg"], fr=float(z["fr"]), gain=gain)
    return items


def evaluate(items: list[dict], params, by=("source", "room")) -> dict:
    from benchmarks.quality import score
    from unmf_core.transcription.notes import extract_notes, read_midi

    cells: dict = {}
    for it in items:
        ref = it.setdefault("ref", read_midi(it["midi"]))
        est = extract_notes(it["H"], it["fr"], params, background=it["bg"], gain=it["gain"])
        s = score(ref, est)
        key = "/".join(it[b] for b in by)
        for k in (key, "all"):
            c = cells.setdefault(k, {"on": [], "off": [], "fp": 0, "oct": 0})
            c["on"].append(s["onset_f"])
            c["off"].append(s["offset_f"])
            c["fp"] += s["fp"]
            c["oct"] += s["fp_octave"]
    return {k: {"onset_f": float(np.mean(v["on"])), "offset_f": float(np.mean(v["off"])),
                "octave_share": v["oct"] / max(1, v["fp"]), "fp": v["fp"]} for k, v in cells.items()}


def show(tag: str, cells: dict) -> None:
    print(tag + "  " + "  ".join(f"{k}: on {v['onset_f']:.3f} off {v['offset_f']:.3f} oct {v['octave_share']:.2f}"
                                 f"/{v['fp']}" for k, v in sorted(cells.items())), flush=True)


def velocity_fit(items: list[dict], params) -> dict:
    """Match estimated to reference notes (onset criterion) and fit velocity = a + b·log(peak/scale)."""
    import mir_eval

    from unmf_core.transcription.notes import activation_scale, extract_notes

    rows = []
    for it in items:
        est = extract_notes(it["H"], it["fr"], params, background=it["bg"], gain=it["gain"])
        ref = it["ref"]
        if not est or not ref:
            continue
        ri = np.array([[n.onset, n.offset] for n in ref])
        rp = mir_eval.util.midi_to_hz(np.array([n.pitch for n in ref], float))
        ei = np.array([[n.onset, n.offset] for n in est])
        ep = mir_eval.util.midi_to_hz(np.array([n.pitch for n in est], float))
        scale = activation_scale(it["H"])
        for i, j in mir_eval.transcription.match_notes(ri, rp, ei, ep, offset_ratio=None):
            n = est[j]
            k = n.pitch - 21
            a, b = int(round(n.onset * it["fr"])), max(int(round(n.onset * it["fr"])) + 1,
                                                        int(round(n.offset * it["fr"])))
            peak = float(it["H"][k, a:b].max())
            rows.append((it["p_i"], ref[i].velocity, np.log(peak / scale), n.velocity, it["room"], k))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=os.environ.get("UNMF_TUNE_CACHE", "/tmp/unmf-tune-notes"))
    ap.add_argument("--pieces", type=int, default=16)
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--method", default="unrolled")
    ap.add_argument("--sweep", action="store_true", help="sweep the offset / partial constants")
    ap.add_argument("--validate", default=None, help="quality-benchmark cache: also score on its MuseScore renders")
    a = ap.parse_args(argv)
    from unmf_core.transcription.notes import NoteParams

    cache = Path(a.cache)
    items = activations(build(cache, a.pieces, a.seed), cache, a.method)
    old = NoteParams(decay_offsets=False)
    new = NoteParams()
    show("old ", evaluate(items, old))
    show("new ", evaluate(items, new))
    if a.sweep:
        grid = {}
        for knee in (-1.0, 0.0, 17.0, 26.0, 43.0, 69.0):
            for delay in (0.0, 0.035, 0.06):
                for sl in (80.0, 100.0, 120.0):
                    grid[knee, delay, sl] = c = evaluate(items, replace(new, offset_knee=knee, offset_slope_delay=delay,
                                                                        offset_slope=sl))
                    show(f"offset_knee={knee} offset_slope_delay={delay} offset_slope={sl} ", c)
        best = max(grid, key=lambda k: grid[k]["all"]["offset_f"])
        print(f"best on the training renders: offset_knee={best[0]} offset_slope_delay={best[1]} "
              f"offset_slope={best[2]} (offset-F {grid[best]['all']['offset_f']:.3f})")
        for lift in (0.07, 0.08, 0.1, 0.14):
            show(f"gate_lift={lift} ", evaluate(items, replace(new, gate_lift=lift)))
        for ratio in (0.1, 0.2, 0.3, 0.5, 0.7):
            show(f"partial_ratio={ratio} ", evaluate(items, replace(new, partial_ratio=ratio)))
    rows = np.array([r[:4] + (r[5],) for r in velocity_fit(items, new)], dtype=float)
    fit, held = rows[:, 0] < a.pieces // 2, rows[:, 0] >= a.pieces // 2
    for name, cols in (("constant", lambda r: np.ones((len(r), 1))),
                       ("log-peak", lambda r: np.c_[np.ones(len(r)), r[:, 2]]),
                       ("log-peak + key", lambda r: np.c_[np.ones(len(r)), r[:, 2], r[:, 4] / 87.0])):
        coef, *_ = np.linalg.lstsq(cols(rows[fit]), rows[fit, 1], rcond=None)
        pred = np.clip(np.round(cols(rows[held]) @ coef), 1, 127)
        print(json.dumps({"velocity_fit": name, "coef": [round(float(c), 2) for c in coef],
                          "n_fit": int(fit.sum()), "n_held": int(held.sum()),
                          "held_mae_fit": round(float(np.abs(pred - rows[held, 1]).mean()), 2),
                          "held_corr_fit": (round(float(np.corrcoef(pred, rows[held, 1])[0, 1]), 3)
                                            if np.ptp(pred) > 0 else None),
                          "held_mae_current": round(float(np.abs(rows[held, 3] - rows[held, 1]).mean()), 2),
                          "held_corr_current": round(float(np.corrcoef(rows[held, 3], rows[held, 1])[0, 1]), 3)}))
    if a.validate:
        from benchmarks.quality import UNSEEN, build_set, cache_dir

        val = [dict(it, p_i=0) for it in build_set(cache_dir(a.validate), progress=lambda m: None)
               if it["source"] == UNSEEN]
        val = activations(val, cache, a.method)
        show("VAL old ", evaluate(val, old))
        show("VAL new ", evaluate(val, new))
        v = np.array([(r[1], r[3]) for r in velocity_fit(val, new)], dtype=float)
        print(json.dumps({"validation_velocity": {"n": len(v), "mae": round(float(np.abs(v[:, 0] - v[:, 1]).mean()), 2),
                                                  "mae_constant_83.7": round(float(np.abs(v[:, 0] - 83.7).mean()), 2),
                                                  "corr": round(float(np.corrcoef(v[:, 0], v[:, 1])[0, 1]), 3)}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
