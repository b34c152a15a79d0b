"""Calibration benchmark: onset-F against the number of recorded calibration notes.

    python3 -m benchmarks.calibration [--cache /work/cache/cal] [--out docs/benchmarks/calibration.md]

For each source (a SoundFont's acoustic grand, GM program 0) it renders with
FluidSynth, once, into a cache folder outside the repository:

* ``pieces/``: random pieces (:func:`unmf_core.training.synthdata.random_piece`, fixed
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
    "FluidR3_GM": "/usr/share/sounds/sf2/FluidR3_GM.sf2",  # the bundled templates' own source: a reference only
}
DEFAULT_SOURCES = ("MuseScore_General", "TimGM6mb")
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
    from unmf_core.frontend.audio import save_audio
    from unmf_core.frontend.cqt import key_names
    from unmf_core.transcription.notes import Note, write_midi
    from unmf_core.training.render import render_midi
    from unmf_core.training.synthdata import random_piece

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
    from unmf_core.transcription.metrics import note_scores
    from unmf_core.transcription.notes import read_midi
    from unmf_core.transcription.engine import Engine, Options

    engine = Engine(templates=templates, device="cpu")
    opts = Options(track_divergence=False)
    fs = []
    for wav in sorted((pieces / "audio").glob("*.wav")):
        res = engine.transcribe(wav, opts)
        fs.append(note_scores(read_midi(pieces / "midi" / f"{wav.stem}.mid"), res.notes)["onset_f"])
    return float(np.mean(fs))


def _shift_fill(cal):
    """Reference: unrecorded keys as the nearest recorded key's template shifted (unmf before calibration)."""
    from unmf_core.transcription.templates import Templates, normalise_columns

    W = cal.templates.W.copy()
    have = np.array(sorted(p - 21 for p in cal.recorded))
    bps = cal.templates.cqt.bins_per_semitone
    for k in range(W.shape[1]):
        src = int(have[np.argmin(np.abs(have - k))])
        d = (k - src) * bps
        col = np.zeros(W.shape[0], dtype=W.dtype)
        if d >= 0:
            col[d:] = W[: W.shape[0] - d, src]
        else:
            col[:d] = W[-d:, src]
        W[:, k] = col
    return Templates(normalise_columns(W), cal.templates.cqt, "nearest recorded key shifted")


def candidates(src: Path, work: Path):
    """(label, templates) of every calibration to compare, built from ``src``'s cached material."""
    from unmf_core.calibration import calibrate

    yield "bundled templates (no calibration)", None
    for label, pitches in SUBSETS.items():
        yield label, calibrate(subset_folder(src / "notes", pitches, work / f"sub{len(pitches)}")).templates
    sub8 = subset_folder(src / "notes", SUBSETS["8 notes (C1..C8)"], work / "sub8")
    yield "8 notes, unmixed (recorded and predicted templates alone)", calibrate(sub8, mix=False).templates
    yield "8 notes, old fill: nearest recorded key shifted", _shift_fill(calibrate(sub8, mix=False))
    yield "scale recording C2..C6 (one file)", calibrate(src / "scale.wav").templates
    yield "30 s recording + MIDI", calibrate(src / "take.wav", midi=src / "take.mid").templates
    yield "30 s recording + MIDI, unmixed", calibrate(src / "take.wav", midi=src / "take.mid", mix=False).templates
    yield "88 notes (all keys recorded)", calibrate(src / "notes").templates
    yield "88 notes, unmixed (the SoundFont's own templates)", calibrate(src / "notes", mix=False).templates


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m benchmarks.calibration", description=__doc__.splitlines()[0])
    p.add_argument("--cache", type=Path, default=Path("/work/cache/cal"), help="render cache (outside the repo)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "calibration.md")
    p.add_argument("--sources", nargs="*", default=list(DEFAULT_SOURCES), choices=list(SOURCES))
    p.add_argument("--render-only", action="store_true")
    p.add_argument("--report-only", action="store_true", help="rewrite the Markdown from the JSON beside it")
    args = p.parse_args(argv)
    if args.report_only:
        write_report(json.loads(args.out.with_suffix(".json").read_text()), args.out)
        return 0
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


NOTES = """\
## Issue 12's acceptance on this benchmark (2026-12-02)

| target | measured | status |
|---|---|---|
| 8 notes within 0.02 of 88, unseen | MuseScore_General 0.780 vs 0.844 (TimGM6mb 0.828 vs 0.869) | **not reached** |
| one recording, slow scale C2..C6, within 0.02 of 88 | 0.825 vs 0.844 (TimGM6mb 0.829 vs 0.869) | unseen source only |
| 30 s recording + MIDI within 0.02 of 88 | 0.751 vs 0.844 (TimGM6mb 0.796 vs 0.869) | **not reached** |
| 8 notes ≥ 0.90 dry, unseen source | 0.780 (88 notes: 0.844) | **not reached** |
| ../shared piano 2-4, 8 of piano-single-notes, ≥ 0.87 | 0.862 (88: 0.898) | **not reached** |

With 8 notes the prediction beats the old fill, the nearest recorded key shifted (0.780 vs 0.770; 0.828 vs
0.816). Every calibration beats the bundled templates except one note (C4) on TimGM6mb (0.626 vs 0.678). More
notes are not always better: C2 and C8 fit their neighbours badly on MuseScore_General (C8's fit 0.22), so
C2 C4 C6 C8 (0.745) scores below C4 alone (0.777).

## How keys without a recording are predicted

Every template is moved to harmonic-relative coordinates (CQT bin offset from its key's fundamental, the whole
axis below the fundamental included). An unrecorded key's log-spectrum at each relative bin is interpolated
linearly in key number between the recorded keys (constant beyond the first and last); the bundled templates,
scaled by the interpolated log-ratio of recorded to bundled, fill the relative bins no recording covers
(`unmf_core.calibration.adapt.adapt`). Recorded keys keep their own template. A single-notes recording is cut at
detected onsets; each note's spectrum is what it adds at its attack (loudest frame after the onset minus the
quietest before), its pitch the strongest key when that spectrum is decomposed on the bundled templates of
the keys with a spectral peak at their fundamental (notes too close to the next, too quiet, with a second pitch
(chord) or no clear pitch are skipped and listed). With MIDI, the attacks of notes struck at least 60 ms apart
from any other note give their keys' templates.

## Alternatives measured and dropped (MuseScore_General, same pieces, 8 notes C1..C8)

Measured with throwaway scripts during development (not regenerated by this benchmark), same engine and pieces:

| prediction of unrecorded keys | onset-F |
|---|---:|
| bundled templates × interpolated harmonic-relative log-ratio (bins within 2 semitones below f0) | 0.715 |
| bundled templates × smooth gain per absolute frequency | 0.706 |
| both (gain, then relative log-ratio) | 0.746 |
| interpolation of recorded log-spectra, only 2 semitones below f0 kept | 0.755 |
| interpolation of recorded log-spectra, whole axis (kept) | 0.780 |
| kept + the bundled templates' smoothed pitch trend | 0.791 (TimGM6mb: 0.819 vs 0.828 without) |
| recording + MIDI: W learned by KL-NMF with H restricted to the piano roll (30 s take) | 0.696 (attacks: see table) |

Blending the kept prediction toward the bundled templates with the distance d (keys) to the nearest recorded key,
weight exp(-d/λ), tried on TimGM6mb only: λ = 6 gave 0.796 (8 notes) and 0.587 (1 note), λ = 24 gave 0.832 and
0.632, against 0.828 and 0.626 without: dropped.

The bundled templates' key-to-key detail belongs to FluidR3's piano; scaling them toward a few recorded notes
keeps that detail and scored lowest. Learning W by NMF on a polyphonic take gives partials shared by chord
notes to the wrong key (cosine to the true single-note templates 0.81-0.85 against 0.97 from attacks).

## Other measurements (same code, 2026-12-02)

* Reference, the bundled templates on their own source: FluidR3_GM pieces rendered the same way score 0.722 with
  the bundled templates (`python3 -m benchmarks.calibration --sources FluidR3_GM`, its first row). These random
  pieces (wide range, velocities down to 25, dense passages) are hard for the engine whatever the templates:
  even 88 recorded notes give 0.844 on MuseScore_General, below the issue's 0.90 bar.
* `../shared` piano-dataset examples 2-4 (evaluation only, nothing tuned on it), templates from 8 of
  `piano-single-notes` (C1 … C8): onset-F **0.862** (all 88 notes: 0.898). Commands:

      mkdir -p /tmp/seed8 && for n in C1 C2 C3 C4 C5 C6 C7 C8; do
        ln -sf /work/shared/data/seed/piano-single-notes/$n.wav /tmp/seed8/; done
      python3 -m unmf_core.cli templates /tmp/seed8 -o /tmp/seed8.npz
      python3 -m unmf_core.cli evaluate --audio-dir /work/shared/data/seed/piano-dataset/audio \\
        --midi-dir /work/shared/data/seed/piano-dataset/midi --stems example-2 example-3 example-4 \\
        --templates /tmp/seed8.npz

* Pitch detection in the one-recording mode, on the C2..C6 scale (49 notes): MuseScore_General 48 keys found,
  TimGM6mb 44, no wrong pitch on either (the rest skipped and listed, e.g. C#2 on TimGM6mb as "two pitches").

## Why 8 notes stay below 88 on these SoundFonts

Both SoundFonts are multi-sampled: one sample serves 2-4 neighbouring keys, and adjacent samples differ
(cosine between a key and its pitch-shifted lower neighbour drops to 0.6-0.8 at MuseScore_General's zone
borders). No prediction from one note per octave can know the samples in between; recordings that cover
more keys (the scale, the take with MIDI) close part of the gap.
"""


def write_report(results: dict, out: Path) -> None:
    """Write the Markdown table (and the JSON beside it) of :func:`main`'s results."""
    from unmf_core.io.atomic import write_bytes_atomic

    labels = list(next(iter(results.values())))
    names = list(results)
    lines = ["# Calibration: onset-F against the number of recorded notes", "",
             (f"Mean note onset-F (mir_eval, 50 ms) of the default unrolled engine on {N_PIECES} random pieces "
              f"(~{PIECE_SECONDS:.0f} s, GM program 0, dry, `unmf_core.training.synthdata.random_piece`, "
              f"seed {SEED}) per SoundFont, with templates calibrated from that SoundFont's own notes "
              "(velocity 80; the scale and the 30 s take at other velocities). MuseScore_General is unseen by "
              "the bundled model and templates (made from FluidR3_GM only); TimGM6mb is a second source. "
              "Note settings: the defaults (the model's calibrated threshold holds only with its own templates)."),
             "",
             "| calibration | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for label in labels:
        lines.append(f"| {label} | " + " | ".join(f"{results[n][label]:.3f}" for n in names) + " |")
    lines += ["", ("Regenerate (renders once into the cache, ~10 min of FluidSynth, then evaluates with one "
                   "thread, ~15 min):"), "",
              "    python3 -m benchmarks.calibration --cache /work/cache/cal --out docs/benchmarks/calibration.md",
              "", NOTES]
    write_bytes_atomic(out, "\n".join(lines).encode(), overwrite=True)
    write_bytes_atomic(out.with_suffix(".json"), json.dumps(results, indent=2).encode(), overwrite=True)
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
