"""Calibration benchmark: onset-F against the number of recorded calibration notes.

    python3 -m benchmarks.calibration [--cache /work/cache/cal] [--out docs/benchmarks/calibration.md]

For each source (a SoundFont's acoustic grand, GM program 0) it renders with
FluidSynth, once, into a cache folder outside the repository:

* ``pieces/``: random pieces (:func:`unmf_core.synthdata.random_piece`, fixed
  seed, ~22 s each) as WAV + reference MIDI;
* ``notes/``: the 88 keys one at a time, one WAV per key (``C4.wav`` …), like a
  user's folder of single-note recordings;
* ``scale.wav``: one recording of a slow chromatic scale C2..C6 (0.8 s a note);
* ``take.wav`` + ``take.mid``: a 30 s piece and its MIDI (calibration from a
  recording with MIDI).

Everything of one source is rendered in ONE FluidSynth call (loading a SoundFont
costs seconds) and cut at known times; the calibration material and the test
pieces come from different random seeds. Then every piece is transcribed with
the default unrolled engine and each candidate's templates, and the mean note
onset-F (mir_eval, 50 ms) is written as a Markdown table (and JSON beside it).

MuseScore_General is the *unseen* source (the bundled model and templates were
made from FluidR3_GM only); TimGM6mb is a second one.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SOURCES = {
    "MuseScore_General": "/usr/share/sounds/sf3/MuseScore_General.sf3",
    "TimGM6mb": "/usr/share/sounds/sf2/TimGM6mb.sf2",
}
SR = 22050
N_PIECES = 12
PIECE_SECONDS = 22.0
GAP = 3.0
SPACING = 2.5          # single notes: one every 2.5 s, held 1.5 s
SCALE = (36, 84)       # C2..C6 chromatic
SCALE_STEP = 0.8
SEED = 20261201
#: The calibration subsets: recorded keys as MIDI pitches.
SUBSETS = {
    "1 note (C4)": [60],
    "4 notes (C2 C4 C6 C8)": [36, 60, 84, 108],
    "8 notes (C1..C8)": [24, 36, 48, 60, 72, 84, 96, 108],
    "16 notes (C, F# of each octave)": sorted({p for o in range(1, 9) for p in (12 * o + 12, 12 * o + 18)
                                               if 21 <= p <= 108}),
}


def render_source(name: str, sf: str, cache: Path) -> Path:
    """Render one source's material into ``cache/name`` (skipped when already there)."""
    from unmf_core.audio import save_audio
    from unmf_core.cqt import key_names
    from unmf_core.notes import Note, write_midi
    from unmf_core.render import render_midi
    from unmf_core.synthdata import random_piece

    out = cache / name
    done = out / "done.json"
    if done.exists():
        return out
    for sub in ("pieces/audio", "pieces/midi", "notes"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    parts = []  # (label, start, end, notes relative to start)
    t = 0.5
    singles = [Note(21 + k, k * SPACING + 0.1, k * SPACING + 1.6, 80) for k in range(88)]
    parts.append(("notes", t, t + 88 * SPACING, singles))
    t += 88 * SPACING + GAP
    scale = [Note(p, i * SCALE_STEP + 0.2, i * SCALE_STEP + 0.2 + 0.7, int(rng.integers(60, 90)))
             for i, p in enumerate(range(SCALE[0], SCALE[1] + 1))]
    end = scale[-1].offset + 1.5
    parts.append(("scale", t, t + end, scale))
    t += end + GAP
    take = [n for n in random_piece(np.random.default_rng(SEED + 1), 28.0) if n.offset < 30.0]
    parts.append(("take", t, t + 31.0, take))
    t += 31.0 + GAP
    for i in range(N_PIECES):
        notes = [n for n in random_piece(rng, PIECE_SECONDS) if n.offset < PIECE_SECONDS + 4]
        end = max(n.offset for n in notes) + 1.0
        parts.append((f"piece-{i:02d}", t, t + end, notes))
        t += end + GAP
    allnotes = [Note(n.pitch, n.onset + s, n.offset + s, n.velocity) for _, s, _, ns in parts for n in ns]
    write_midi(allnotes, out / "all.mid", program=0)
    print(f"[{name}] rendering {t:.0f} s with FluidSynth …", file=sys.stderr, flush=True)
    y = render_midi(out / "all.mid", SR, soundfont=sf)
    for label, s, e, notes in parts:
        seg = y[int(s * SR):int(e * SR)]
        if label == "notes":
            for k, key in enumerate(key_names()):
                save_audio(out / "notes" / f"{key}.wav", seg[int(k * SPACING * SR):int((k + 1) * SPACING * SR)], SR)
            continue
        seg = 0.5 * seg / (float(np.abs(seg).max()) or 1.0)
        if label.startswith("piece"):
            save_audio(out / "pieces" / "audio" / f"{label}.wav", seg, SR)
            write_midi(notes, out / "pieces" / "midi" / f"{label}.mid", program=0)
        else:
            save_audio(out / f"{label}.wav", seg, SR)
            write_midi(notes, out / f"{label}.mid", program=0)
    done.write_text(json.dumps({"soundfont": sf, "seconds": t}))
    return out


def subset_folder(notes_dir: Path, pitches: list[int], dest: Path) -> Path:
    """A folder with links to the recordings of ``pitches`` only."""
    import librosa

    dest.mkdir(parents=True, exist_ok=True)
    for p in pitches:
        name = librosa.midi_to_note(p, unicode=False)
        link = dest / f"{name}.wav"
        if not link.exists():
            link.symlink_to((notes_dir / f"{name}.wav").resolve())
    return dest


def evaluate(templates, pieces: Path) -> float:
    """Mean onset-F of the default unrolled engine with ``templates`` on ``pieces``."""
    from unmf_core.metrics import note_scores
    from unmf_core.notes import read_midi
    from unmf_core.pipeline import Engine, Options

    engine = Engine(templates=templates, device="cpu")
    opts = Options(track_divergence=False)
    fs = []
    for wav in sorted((pieces / "audio").glob("*.wav")):
        res = engine.transcribe(wav, opts)
        fs.append(note_scores(read_midi(pieces / "midi" / f"{wav.stem}.mid"), res.notes)["onset_f"])
    return float(np.mean(fs))


def candidates(src: Path, work: Path):
    """(label, templates) of every calibration to compare, built from ``src``'s cached material."""
    from unmf_core.calibration import calibrate

    yield "bundled templates (no calibration)", None
    for label, pitches in SUBSETS.items():
        yield label, calibrate(subset_folder(src / "notes", pitches, work / f"sub{len(pitches)}")).templates
    yield "scale recording C2..C6 (one file)", calibrate(src / "scale.wav").templates
    yield "30 s recording + MIDI", calibrate(src / "take.wav", midi=src / "take.mid").templates
    yield "88 notes (all keys recorded)", calibrate(src / "notes").templates


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m benchmarks.calibration", description=__doc__.splitlines()[0])
    p.add_argument("--cache", type=Path, default=Path("/work/cache/cal"), help="render cache (outside the repo)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "calibration.md")
    p.add_argument("--sources", nargs="*", default=list(SOURCES), choices=list(SOURCES))
    p.add_argument("--render-only", action="store_true")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    results: dict = {}
    for name in args.sources:
        src = render_source(name, SOURCES[name], args.cache)
        if args.render_only:
            continue
        results[name] = {}
        for label, templates in candidates(src, args.cache / name / "work"):
            t0 = time.perf_counter()
            f = evaluate(templates, src / "pieces")
            results[name][label] = f
            print(f"[{name}] {label:<40} onset-F {f:.3f} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr,
                  flush=True)
    if args.render_only:
        return 0
    write_report(results, args.out)
    return 0


def write_report(results: dict, out: Path) -> None:
    from unmf_core.io import write_bytes_atomic

    labels = list(next(iter(results.values())))
    names = list(results)
    lines = ["# Calibration: onset-F against the number of recorded notes", "",
             f"Mean note onset-F (mir_eval, 50 ms) of the default unrolled engine on {N_PIECES} random pieces "
             f"(~{PIECE_SECONDS:.0f} s, GM program 0, dry) per SoundFont, with templates calibrated from that "
             "SoundFont's own notes. MuseScore_General is unseen by the bundled model and templates (made from "
             "FluidR3_GM only). Keys without a recording are predicted by adapting the bundled templates "
             "(`unmf_core.calibration`).", "",
             "| calibration | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for label in labels:
        lines.append(f"| {label} | " + " | ".join(f"{results[n][label]:.3f}" for n in names) + " |")
    lines += ["", "Regenerate (renders once into the cache, then evaluates with one thread):", "",
              "    python3 -m benchmarks.calibration --cache /work/cache/cal --out docs/benchmarks/calibration.md", ""]
    write_bytes_atomic(out, "\n".join(lines).encode(), overwrite=True)
    write_bytes_atomic(out.with_suffix(".json"), json.dumps(results, indent=2).encode(), overwrite=True)
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
