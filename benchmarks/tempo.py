"""Tempo, beats and quantisation on rendered pieces at fixed tempi (issue 14).

``python -m benchmarks --only tempo [--tempo-cache DIR]`` writes ``tempo.md`` and ``tempo.json``.

Material: three textures written on a sixteenth-note grid in 4/4 at fixed tempi
60, 80, …, 180 bpm (one piece of about 20 s per texture and tempo, random
harmony from fixed seeds, a random lead-in of 0.2-0.9 s before the first beat):

* ``chorale`` — four-voice chords on every beat, some held two beats;
* ``melody`` — a bass note on every beat under a melody in quarters, eighths and sixteenths;
* ``ragtime`` — bass on beats 1 and 3, chords on 2 and 4, a syncopated sixteenth-note melody.

Each piece is rendered with FluidSynth, the three Debian GM SoundFonts in turn
(acoustic grand), and transcribed by ``unmf`` (bundled model, defaults). Beats are
tracked (a) on the transcribed notes, (b) on the audio's onset strength and (c) on the
reference notes (what the tracker gives with a perfect transcription). Scores: beat
F-measure (``mir_eval.beat.f_measure``, 70 ms window; the grid's added pickup beat at 0 s
and its beats after the music's last beat left out), the written tempo's error (median of
the grid, vs the piece's tempo), and the note onset-F (mir_eval, 50 ms) of the
transcription before and after quantisation to 1/16 on the grid tracked on the audio (the
default of ``unmf transcribe``) and on the one tracked on the notes.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

TEMPI = (60, 80, 100, 120, 140, 160, 180)
STYLES = ("chorale", "melody", "ragtime")
SOURCES = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2",
           "/usr/share/sounds/sf3/MuseScore_General.sf3")
DURATION = 20.0
SR = 22050
SEED = 20261202
SET_VERSION = 1
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_DEGREES = (0, 3, 4, 0, 5, 1, 4, 0)


def _triad(key: int, degree: int) -> list[int]:
    return [(key + _MAJOR[(degree + 2 * i) % 7]) % 12 for i in range(3)]


def _near(pc: int, target: float) -> int:
    return min((p for p in range(21, 109) if p % 12 == pc), key=lambda p: abs(p - target))


def piece(style: str, bpm: float, rng: np.random.Generator, duration: float = DURATION):
    """``(notes, beat times)`` of one piece on a sixteenth grid (see the module notes)."""
    from unmf_core.transcription.notes import Note

    beat = 60.0 / bpm
    t0 = float(rng.uniform(0.2, 0.9))
    n_beats = int((duration - t0) / beat) // 4 * 4
    key = int(rng.integers(0, 12))
    notes = []

    def add(p, a, length, vel):  # a, length in sixteenths from t0
        notes.append(Note(int(p), t0 + a * beat / 4, t0 + (a + 0.92 * length) * beat / 4,
                          int(np.clip(vel + rng.normal(0, 6), 25, 120))))

    cur = 72
    for bar in range(n_beats // 4):
        deg = _DEGREES[bar % len(_DEGREES)] if rng.random() < 0.7 else int(rng.integers(0, 7))
        pcs = _triad(key, deg)
        scale = [p for p in range(60, 90) if (p - key) % 12 in _MAJOR]
        s0 = bar * 16
        if style == "chorale":
            b = 0
            while b < 4:
                length = 2 if (b % 2 == 0 and rng.random() < 0.3) else 1
                for v, target in enumerate((74, 66, 57, 45)):
                    add(_near(pcs[(v + b) % 3] if v < 3 else pcs[0], target), s0 + 4 * b, 4 * length, 70 if v else 64)
                b += length
        elif style == "melody":
            for b in range(4):
                add(_near(pcs[0] if b % 2 == 0 else pcs[2], 43), s0 + 4 * b, 4, 78 if b == 0 else 68)
            u = 0
            while u < 16:
                length = int(rng.choice([1, 2, 2, 4]))
                length = min(length, 16 - u)
                if rng.random() < 0.9:
                    cur = int(rng.choice([p for p in scale if abs(p - cur) <= 4] or scale))
                    add(cur, s0 + u, length, 80 if u % 4 == 0 else 68)
                u += length
        else:  # ragtime
            for b in range(4):
                if b % 2 == 0:
                    root = _near(pcs[0] if b == 0 else pcs[2], 40)
                    add(root, s0 + 4 * b, 2, 82)
                    add(root - 12, s0 + 4 * b, 2, 74)
                else:
                    for pc in pcs:
                        add(_near(pc, 57), s0 + 4 * b, 2, 62)
            u = 0
            while u < 16:
                length = int(rng.choice([1, 1, 2, 2, 3]))
                length = min(length, 16 - u)
                if rng.random() < 0.85:
                    cur = int(rng.choice([p for p in scale if abs(p - cur) <= 5 and p % 12 in pcs] or scale))
                    add(cur, s0 + u, length, 84)
                u += length
    beats = t0 + beat * np.arange(n_beats)
    return sorted(notes, key=lambda n: (n.onset, n.pitch)), beats


def cache_dir(path: str | Path | None = None) -> Path:
    d = Path(path or os.environ.get("UNMF_TEMPO_CACHE") or Path(tempfile.gettempdir()) / "unmf-tempo")
    d = d / f"set-v{SET_VERSION}-seed{SEED}"
    d.mkdir(parents=True, exist_ok=True)
    return d


def build_set(cache: Path, progress=print) -> list[dict]:
    """Render (when missing) and list the pieces: dicts with ``style, bpm, audio, notes, beats``."""
    from unmf_core.frontend.audio import save_audio
    from unmf_core.training.render import render_midi
    from unmf_core.transcription.notes import write_midi

    items = []
    for i, (bpm, style) in enumerate((b, s) for b in TEMPI for s in STYLES):
        rng = np.random.default_rng([SEED, bpm, STYLES.index(style)])
        notes, beats = piece(style, bpm, rng)
        sf2 = SOURCES[i % len(SOURCES)]
        name = f"{bpm:03d}-{style}"
        mid, wav = cache / f"{name}.mid", cache / f"{name}.flac"
        if not wav.is_file():
            write_midi(notes, mid)
            y = render_midi(mid, SR, soundfont=sf2)
            save_audio(wav, (0.5 * y / (np.abs(y).max() or 1.0)).astype(np.float32), SR)
            progress(f"[tempo] rendered {name} with {Path(sf2).stem}")
        items.append({"style": style, "bpm": bpm, "source": Path(sf2).stem, "audio": str(wav), "notes": notes,
                      "beats": beats})
    return items


def _beat_scores(grid, beats: np.ndarray, bpm: float, duration: float) -> dict:
    import mir_eval

    period = 60.0 / bpm  # the grid runs on past the music (to the end of the audio); those beats are not scored
    est = grid.beats[1:][grid.beats[1:] <= min(duration, beats[-1] + period / 2)]
    return {"beat_f": float(mir_eval.beat.f_measure(beats, est, 0.07)),
            "tempo": grid.bpm, "tempo_err": abs(grid.bpm - bpm) / bpm}


def run(cache: str | Path | None = None, progress=print) -> dict:
    """Render, transcribe, track and score every piece; returns rows and per-tempo means."""
    import torch

    from unmf_core.frontend.audio import load_audio
    from unmf_core.notation.quantize import quantize
    from unmf_core.notation.tempo import SR as BEAT_SR, beat_grid
    from unmf_core.transcription.engine import Engine
    from unmf_core.transcription.metrics import note_scores

    torch.set_num_threads(1)
    items = build_set(cache_dir(cache), progress)
    engine = Engine()
    rows = []
    for it in items:
        t = time.perf_counter()
        res = engine.transcribe(it["audio"])
        dur = res.duration
        a = load_audio(it["audio"], BEAT_SR)
        t1 = time.perf_counter()
        g_notes = beat_grid(res.notes, dur)
        g_audio = beat_grid(res.notes, dur, audio=(a.samples, a.sr))
        t2 = time.perf_counter()
        g_ref = beat_grid(it["notes"], dur)
        row = {"style": it["style"], "bpm": it["bpm"], "source": it["source"], "n_ref": len(it["notes"]),
               "n_est": len(res.notes), "track_s": t2 - t1}
        for key, g in (("notes", g_notes), ("audio", g_audio), ("ref", g_ref)):
            row.update({f"{k}_{key}": v for k, v in _beat_scores(g, it["beats"], it["bpm"], dur).items()})
        row["onset_f"] = note_scores(it["notes"], res.notes)["onset_f"]
        row["onset_f_q16"] = note_scores(it["notes"], quantize(res.notes, g_audio, "1/16"))["onset_f"]
        row["onset_f_q16_notes"] = note_scores(it["notes"], quantize(res.notes, g_notes, "1/16"))["onset_f"]
        rows.append(row)
        progress(f"[tempo] {it['bpm']:3d} {it['style']:<8} beat-F notes {row['beat_f_notes']:.3f} "
                 f"audio {row['beat_f_audio']:.3f} ref {row['beat_f_ref']:.3f}  tempo {row['tempo_notes']:.1f} / "
                 f"{row['tempo_audio']:.1f}  onset-F {row['onset_f']:.3f} → {row['onset_f_q16']:.3f} "
                 f"({time.perf_counter() - t:.1f} s)")
    keys = [k for k in rows[0] if k not in ("style", "bpm", "source")]
    per_tempo = {str(b): {k: float(np.mean([r[k] for r in rows if r["bpm"] == b])) for k in keys} for b in TEMPI}
    per_tempo["all"] = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    for b in TEMPI:
        per_tempo[str(b)]["max_tempo_err_notes"] = float(max(r["tempo_err_notes"] for r in rows if r["bpm"] == b))
    per_tempo["all"]["max_tempo_err_notes"] = float(max(r["tempo_err_notes"] for r in rows))
    return {"rows": rows, "per_tempo": per_tempo, "set_version": SET_VERSION, "seed": SEED}


def markdown(res: dict) -> str:
    lines = ["# Tempo, beats and quantisation (issue 14)", "",
             "`python -m benchmarks --only tempo` — see `benchmarks/tempo.py` for the material (three textures on a "
             "1/16 grid in 4/4, rendered with FluidSynth and the three Debian GM SoundFonts in turn, one piece per "
             "texture and tempo) and the scores. Beat F: `mir_eval.beat.f_measure`, 70 ms. Tempo error: "
             "|written median tempo − true| / true. Onset-F: mir_eval notes, 50 ms, of unmf's transcription "
             "before and after quantisation to 1/16 on the grid tracked on the audio (the CLI's default; last column: "
             "on the grid tracked on the notes).", "",
             f"Machine: {res.get('machine', {}).get('cpu', '?')}; {res.get('when', '')}", "",
             "| tempo | beat-F notes | beat-F audio | beat-F ref notes | tempo err notes (mean / max) | "
             "tempo err audio | onset-F | onset-F 1/16 | Δ | Δ (notes grid) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for b, m in res["per_tempo"].items():
        lines.append(f"| {b} | {m['beat_f_notes']:.3f} | {m['beat_f_audio']:.3f} | {m['beat_f_ref']:.3f} | "
                     f"{100 * m['tempo_err_notes']:.1f} % / {100 * m['max_tempo_err_notes']:.1f} % | "
                     f"{100 * m['tempo_err_audio']:.1f} % | {m['onset_f']:.3f} | {m['onset_f_q16']:.3f} | "
                     f"{m['onset_f_q16'] - m['onset_f']:+.3f} | {m['onset_f_q16_notes'] - m['onset_f']:+.3f} |")
    lines += ["", "Per piece:", "", "| piece | SoundFont | beat-F notes / audio / ref | tempo notes / audio | "
              "onset-F → 1/16 (notes grid) |", "|---|---|---|---|---|"]
    for r in res["rows"]:
        lines.append(f"| {r['bpm']} {r['style']} | {r['source']} | {r['beat_f_notes']:.3f} / {r['beat_f_audio']:.3f}"
                     f" / {r['beat_f_ref']:.3f} | {r['tempo_notes']:.1f} / {r['tempo_audio']:.1f} | "
                     f"{r['onset_f']:.3f} → {r['onset_f_q16']:.3f} ({r['onset_f_q16_notes']:.3f}) |")
    return "\n".join(lines) + "\n"


def write(res: dict, folder: Path) -> list[Path]:
    from unmf_core.io.atomic import write_bytes_atomic

    folder.mkdir(parents=True, exist_ok=True)
    md, js = folder / "tempo.md", folder / "tempo.json"
    write_bytes_atomic(md, markdown(res).encode())
    write_bytes_atomic(js, json.dumps(res, indent=2, default=float).encode())
    return [md, js]
