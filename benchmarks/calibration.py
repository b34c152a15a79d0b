"""Calibration benchmark: onset-F against the number of recorded calibration notes.

    python3 -m benchmarks.calibration [--cache /work/cache/cal] [--out docs/benchmarks/calibration.md]

For each source (a SoundFont's acoustic grand, GM program 0 or the one in
:data:`PROGRAMS`) it renders with FluidSynth, once, into a cache folder outside
the repository:

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
made from FluidR3_GM and TimGM6mb); TimGM6mb is a second one; MuseScore_General-bright
(the same SoundFont's Bright Grand, program 1) a second unseen instrument.
MuseScore_General-room is the unseen source's material as a microphone in a room
would record it, the calibration notes and the pieces alike (:func:`room_source`).
FluidR3_GM-zones is FluidR3_GM with every key sounding a neighbour's sample
transposed (:data:`ZONE_SOURCES`), a validation source that changes sound from
one group of keys to the next as a sampled grand does.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from unmf_core.training.zones import write_zone_midi, zone_offsets

ROOT = Path(__file__).resolve().parent.parent
SOURCES = {
    "MuseScore_General": "/usr/share/sounds/sf3/MuseScore_General.sf3",
    "TimGM6mb": "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "FluidR3_GM": "/usr/share/sounds/sf2/FluidR3_GM.sf2",  # the bundled templates' own source: a reference only
    "MuseScore_General-bright": "/usr/share/sounds/sf3/MuseScore_General.sf3",
}
#: GM program of a source's piano where it is not 0: MuseScore_General's Bright Grand Piano plays the Grand
#: Piano's samples "sample-shifted" to other keys (the SoundFont's sample notes), a second unseen instrument.
PROGRAMS = {"MuseScore_General-bright": 1}
#: Sources recorded in a room: a dry source's material (notes, scale, take and pieces alike, as a user's microphone
#: would hear them) convolved with one synthetic room (:func:`benchmarks.quality.room_ir`, seed 7: RT60 1.05 s)
#: plus a noise floor at -60 dB (:func:`room_source`).
ROOM_SOURCES = {"MuseScore_General-room": "MuseScore_General"}
#: Zone-shifted sources: (the SoundFont of :data:`SOURCES` they play, the seed of their zones). Key k sounds the
#: SoundFont's key k + d(k) bent down by d(k) semitones (:mod:`unmf_core.training.zones`), d constant
#: over zones of 3-6 keys: neighbouring keys sound samples transposed by different amounts, so the spectrum changes
#: from zone to zone as a sampled grand's does between its samples (MuseScore_General's E3-G3 zone: a second partial
#: stronger than the fundamental), which a calibration from 8 notes cannot see. A training SoundFont's samples, but
#: an instrument neither the bundled model nor its templates have heard as such: a validation source.
ZONE_SOURCES = {"FluidR3_GM-zones": ("FluidR3_GM", 2)}
DEFAULT_SOURCES = ("MuseScore_General", "TimGM6mb", "MuseScore_General-room", "MuseScore_General-bright",
                   "FluidR3_GM-zones")
SR = 22050
N_PIECES = 12
PIECE_SECONDS = 22.0
GAP = 3.0
SPACING = 2.5          # single notes: one every 2.5 s, held 1.5 s
SCALE = (36, 84)       # C2..C6 chromatic
SCALE_STEP = 0.8
SEED = 20261201
#: Each calibration is scored with the note gate on (the default) and ``auto`` (the gate with the model's own
#: templates only, so off with calibrated ones; the default before 2026-12-03).
GATES = ("on", "auto")
#: The calibration subsets: recorded keys as MIDI pitches.
SUBSETS = {
    "1 note (C4)": [60],
    "4 notes (C2 C4 C6 C8)": [36, 60, 84, 108],
    "8 notes (C1..C8)": [24, 36, 48, 60, 72, 84, 96, 108],
    "16 notes (C, F# of each octave)": sorted({p for o in range(1, 9) for p in (12 * o + 12, 12 * o + 18)
                                               if 21 <= p <= 108}),
}


def render_source(name: str, sf: str, cache: Path, zones: np.ndarray | None = None) -> Path:
    """Render one source's material into ``cache/name`` (skipped when already there).

    With ``zones`` (:func:`~unmf_core.training.zones.zone_offsets`), every key sounds a transposed neighbour.
    """
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
    program = PROGRAMS.get(name, 0)
    if zones is None:
        write_midi(allnotes, out / "all.mid", program=program)
    else:
        write_zone_midi(allnotes, out / "all.mid", zones, program)
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
            write_midi(notes, out / "pieces" / "midi" / f"{label}.mid", program=program)
        else:
            save_audio(out / f"{label}.wav", seg, SR)
            write_midi(notes, out / f"{label}.mid", program=program)
    done.write_text(json.dumps({"soundfont": sf, "seconds": t}))
    return out


def room_source(name: str, dry: Path, cache: Path) -> Path:
    """``dry``'s material as recorded in a room (:data:`ROOM_SOURCES`) into ``cache/name`` (skipped when there)."""
    import shutil

    import soundfile as sf
    from scipy.signal import fftconvolve

    from benchmarks.quality import room_ir
    from unmf_core.frontend.audio import save_audio

    out = cache / name
    done = out / "done.json"
    if done.exists():
        return out
    rng = np.random.default_rng(7)
    ir, rt60 = room_ir(rng)
    wavs = ([f.relative_to(dry) for f in sorted((dry / "notes").glob("*.wav"))]
            + [f.relative_to(dry) for f in sorted((dry / "pieces" / "audio").glob("*.wav"))]
            + [Path("scale.wav"), Path("take.wav")])
    for rel in wavs:
        y, sr = sf.read(dry / rel, dtype="float32")
        w = fftconvolve(y, ir)[: len(y) + sr // 2]
        w = 0.5 * w / (float(np.abs(w).max()) or 1.0) + 1e-3 * rng.standard_normal(len(w))
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        save_audio(out / rel, w.astype(np.float32), sr)
    shutil.copytree(dry / "pieces" / "midi", out / "pieces" / "midi", dirs_exist_ok=True)
    for f in ("scale.mid", "take.mid"):
        shutil.copy(dry / f, out / f)
    done.write_text(json.dumps({"dry": str(dry), "rt60": rt60, "noise_db": -60}))
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


def evaluate(templates, pieces: Path, note_gate: str = "auto") -> float:
    """Mean onset-F of the default unrolled engine with ``templates`` on ``pieces`` (``Options.note_gate``)."""
    from unmf_core.transcription.metrics import note_scores
    from unmf_core.transcription.notes import read_midi
    from unmf_core.transcription.engine import Engine, Options

    engine = Engine(templates=templates, device="cpu")
    opts = Options(track_divergence=False, note_gate=note_gate)
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
    p.add_argument("--sources", nargs="*", default=list(DEFAULT_SOURCES),
                   choices=list(SOURCES) + list(ROOM_SOURCES) + list(ZONE_SOURCES))
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
        if name in ROOM_SOURCES:
            dry = ROOM_SOURCES[name]
            src = room_source(name, render_source(dry, SOURCES[dry], args.cache), args.cache)
        elif name in ZONE_SOURCES:
            played, seed = ZONE_SOURCES[name]
            src = render_source(name, SOURCES[played], args.cache, zone_offsets(seed))
        else:
            src = render_source(name, SOURCES[name], args.cache)
        if args.render_only:
            continue
        results[name] = {}
        for label, templates in candidates(src, args.cache / name / "work"):
            t0 = time.perf_counter()
            results[name][label] = f = {gate: evaluate(templates, src / "pieces", gate) for gate in GATES}
            print(f"[{name}] {label:<40} onset-F {f['on']:.3f}, note gate auto {f['auto']:.3f} "
                  f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    if args.render_only:
        return 0
    write_report(results, args.out)
    return 0


NOTES = """\
## Issue 12's acceptance on this benchmark (2026-12-03)

"88" is the 88-key calibration by the same code (mixed). Default = `--note-gate on`, `--adapt-to-piece on`, a
flat start for H, a note's attack spectrum averaged over 60 ms, octave ghosts counted when adapting (all since
2026-12-03, below), and the note gate fine-tuned on zone-shifted pianos calibrated from 8 notes, the mean of four
draws (last, 2026-12-03: "The gate fine-tuned on zone-shifted pianos" below, `gate.md`); "before" = the same with
the gate before its fine-tuning; `auto` = the gate with the model's own templates only.

M = MuseScore_General, the unseen source; "vs" = its 88-key calibration.

| target | default | before | `auto` | status |
|---|---|---|---|---|
| 8 notes within 0.02 of 88 (M) | 0.916 vs 0.928 (0.0116) | 0.906 vs 0.927 (0.0201) | 0.829 vs 0.872 | reached |
| one recording, slow scale C2..C6, within 0.02 of 88 | 0.918 vs 0.928 | 0.912 vs 0.927 | 0.848 | reached |
| two octaves C2-C4 / C3-C5 / C4-C6 (cut as below) | 0.912 / 0.910 / 0.902 | 0.909 / 0.908 / 0.886 | | C2, C3 |
| 30 s recording + MIDI, within 0.02 | 0.912 vs 0.928 (0.0153) | 0.907 vs 0.927 (0.0197) | 0.838 | reached |
| 8 notes ≥ 0.90 dry, unseen source (M) | 0.916 | 0.906 | 0.829 | reached |
| ../shared piano 2-4, 8 of its notes, ≥ 0.87 | 0.890 (not adapted 0.890) | 0.867 (0.872) | 0.875 | reached |

On 36 other pieces of the same two instruments (`random_piece`, seed 20261201 + 777, measured only) the 8-note
calibration is now 0.018 (MuseScore_General: 0.914 against 0.932) and 0.019 (MuseScore_General-bright: 0.913
against 0.932) short of 88 notes; with the gate before, 0.027 (0.904 against 0.931) and 0.021 (0.907 against
0.929). The two-octave scales here were cut from the C2..C6 recording from 0.2 s before their first note to 0.5 s
after their last (a throwaway script; the cut of the earlier rows, 0.912 / 0.910 / 0.882 with the gate before,
differed a little). C4-C6 (0.902 against 0.928) stays short: a scale above C4 leaves A2-G#4, where this piano
departs from the bundled templates, to extrapolation ("Scales of two octaves" below). The `../shared` row moves
with the draws of the gate (another mean of four draws scores 0.867 there: `gate.md`), so read it with that
spread; the renders, the quality benchmark and the 36 other pieces decided.

Beside Basic Pitch 0.4.0 (the learned transcriber, default settings, one ONNX thread; `benchmarks.quality`'s
runner) on the same 12 pieces: MuseScore_General 0.817, its room 0.788, MuseScore_General-bright 0.807, TimGM6mb
0.795 (measured 2026-12-03 for this note; the bundled templates alone score 0.907 / 0.864 / 0.895 / 0.936 here, 0.901 /
0.850 / 0.892 / 0.934 with the gate before its fine-tuning).

**Octave ghosts** (2026-12-03). Where the prediction misses a strong second partial (MuseScore_General's
E3-G3 zone), the first transcription finds the key and, at each of its strikes, a softer note an octave above it:
with 8 notes 25 of MuseScore_General's 44 false notes lie an octave above a played note (88 notes: 1 of 8). Such a
key is never struck alone, so adapting could not learn it. When adapting, a key struck with only the key an octave
above, that one at least 10 velocity units softer (`piece.OCTAVE_SOFTER`), now counts as struck alone, with the
same tests as before. The training SoundFonts hardly show these ghosts (8 notes: TimGM6mb 0 of 15 false notes,
FluidR3_GM 4 of 11), so the rule was chosen on zone-shifted variants of them too (TZ, FZ; throwaway scripts): every
key k played as key k + d bent down by d semitones (MIDI pitch bend, d from -6 to 6, constant over random zones of
3-6 keys), so that neighbouring keys sound samples transposed by different amounts, as a sampled piano's do; the
same 88 single notes and 12 pieces, leave-one-SoundFont-out bundled templates. FZ shows the ghosts (8 notes: 74 of
93 false notes an octave up; 0.860 against 0.927 with its 88 notes), TZ does not. A struck octave is also played
music, and the rule teaches a key its octave where it is one, so its cost was measured on 12 pieces of
octave-doubled bass lines under a melody and chords struck again with their octave (`random_piece` with those
segments, same SoundFonts and zones). FZ is now rendered by this benchmark too (`ZONE_SOURCES`: the same zones, the
benchmark's own pieces, the shipped bundled templates): the FluidR3_GM-zones column of the first table, where the
rule lifts 4 / 8 / 16 notes from 0.826 / 0.860 / 0.878 to 0.834 / 0.871 / 0.881 (88 notes 0.909, bundled 0.873).
The choice:

| adapting, octave pairs | T 8 / 4 | F 8 / 4 | TZ 8 / 4 | FZ 8 / 4 | mean | octave pieces |
|---|---|---|---|---|---:|---:|
| not counted (before) | 0.937 / 0.931 | 0.881 / 0.857 | 0.948 / 0.938 | 0.860 / 0.818 | 0.8963 | 0.8153 |
| counted, any velocity | 0.937 / 0.926 | 0.881 / 0.860 | 0.948 / 0.938 | 0.886 / 0.845 | 0.9025 | 0.8129 |
| upper note not louder | 0.937 / 0.931 | 0.881 / 0.860 | 0.948 / 0.938 | 0.886 / 0.845 | 0.9031 | 0.8135 |
| **upper note ≥ 10 softer** | 0.937 / 0.931 | 0.881 / 0.858 | 0.948 / 0.938 | 0.887 / 0.851 | **0.9038** | **0.8143** |
| upper note ≥ 20 softer | 0.937 / 0.931 | 0.881 / 0.859 | 0.948 / 0.938 | 0.869 / 0.834 | 0.8995 | 0.8136 |

"Octave pieces" is the mean over T, F, TZ and FZ with 8 notes; row by row: 0.850 / 0.781 / 0.859 / 0.771, 0.861 /
0.772 / 0.849 / 0.770, 0.859 / 0.772 / 0.851 / 0.772, 0.859 / 0.772 / 0.856 / 0.771, 0.849 / 0.775 / 0.859 / 0.771.

Measured after the choice: MuseScore_General 8 notes 0.903 → 0.906 (false notes 44 → 36, an octave up 25 → 17), 16
notes 0.907 → 0.908, two-octave scales C2-C4 / C3-C5 / C4-C6 0.908 / 0.909 / 0.886 → 0.912 / 0.910 / 0.882; 1 and 4
notes, the scale C2..C6 and the 30 s take unchanged; MuseScore_General-bright 8 notes 0.901 → 0.903 (scales 0.904 /
0.910 / 0.899 → 0.906 / 0.910 / 0.898); the room 0.854 both; on the 36 other pieces above 0.906 → 0.907
(MuseScore_General) and 0.913 → 0.915 (-bright); on the octave pieces MuseScore_General 0.782 → 0.778 (88 notes
0.830). `../shared` piano 2-4 with 8 of its notes: 0.867 both (the same keys learned). Dropping a soft note an
octave above a note struck with it from the transcription itself instead (no adapting of it): FZ 8 notes 0.893 (gap
20 velocity units), but real octaves go with it (octave pieces T 0.850 → 0.824, F 0.781 → 0.747), so it was not
kept. Nor were, with the rule: one attack enough for a key with a soft octave pair (the mean above 0.9038 → 0.9056,
octave pieces 0.8143 → 0.8032), or a key with one attack pooled with its neighbours' attacks, shifted (0.9066,
octave pieces 0.8093, M 8 notes 0.906 → 0.903). Tried the same day on T, F and M (8 and 4 notes) before the
zone-shifted sources existed, and not kept (all within the noise or lower on T and F): a learned attack projected
onto its neighbours' shifted templates (T 8 notes 0.937 → 0.933, F 0.881 → 0.874); the bins of an attack that the
quietest frame before it dominates filled from the template (a legato release under the new note takes away a shared
partial: `../shared` example 4's B3); dropping such attacks; a key's clean bins in chord attacks (`../shared` 0.867
→ 0.851); a learned key copied, shifted, to its one or two neighbours; one attack enough at a gain of 0.05 (T and F
mean 0.9016 → 0.9054 and M 0.907, but `../shared` 0.867 → 0.861).

**The gate fine-tuned on zone-shifted pianos** (2026-12-03, last; shipped as the mean of four draws; `gate.md`,
"Fine-tuned on zone-shifted pianos"). The rest of the 8-note loss is octave ghosts that the gate lets through, so
the shipped gate was fine-tuned on 150 pieces, each on a zone-shifted FluidR3_GM or TimGM6mb piano of its own, run
with templates calibrated from that piano's C1..C8 (`scripts/train_gate.py --finetune`). Every one of five draws
gained on the renders (mean of T, F and FluidR3_GM-zones, bundled / 8 / 88 notes, 0.902 → 0.903-0.908), and some
closed most of the gap (M, 8 against 88 notes: 0.906 / 0.927 shipped; 0.905 / 0.928, 0.908 / 0.929, 0.907 / 0.931,
0.914 / 0.931, 0.919 / 0.931). But `../shared` piano 2-4 scattered from draw to draw, mostly downwards (bundled
0.863 shipped; 0.872, 0.810, 0.852, 0.879, 0.836; 8 notes 0.867: 0.881, 0.836, 0.870, 0.882, 0.852; its 88 notes
0.895: 0.900, 0.897, 0.909, 0.896, 0.884), and the draws the renders favour lose there, so no single draw is
shipped. The mean of each weight over the script's draws with seeds 1-4 (`--soup`, decided on before it was
measured) is: it gains on every render source (T, F, FluidR3_GM-zones 0.9021 → 0.9066; M 0.901 / 0.906 / 0.927 →
0.907 / 0.916 / 0.928, the room 0.852 / 0.851 / 0.879 → 0.864 / 0.864 / 0.889), on the quality benchmark's 96 files
(0.837 → 0.843) and on the 36 other pieces (M 8 against 88 notes 0.904 / 0.931 → 0.914 / 0.932), and is level on
`../shared`'s bundled row (0.8627 → 0.8622; 8 notes 0.890, 88 notes 0.916). The first table and the acceptance table
above are measured with it.

**The attack spectrum over 60 ms** (2026-12-03). A note's spectrum in a recording (a take with its MIDI, a
recording of single notes, the attacks a run adapts from) was its loudest frame after the onset less the quietest
before; it is now the mean of the loudest frame and those after it over `material.ATTACK_SPAN` (0.06 s, 5 frames),
never past the next onset's margin. Chosen on T and F with their leave-one-SoundFont-out bundled templates
(throwaway scripts outside the repository; 1 frame = before):

| frames averaged | 30 s take T / F | scale C2..C6 T / F | 8 notes, adapted, T / F | 4 notes, adapted, T / F | mean |
|---|---|---|---|---|---:|
| 1 (before) | 0.934 / 0.872 | 0.936 / 0.883 | 0.931 / 0.875 | 0.928 / 0.849 | 0.9009 |
| 3 | 0.936 / 0.878 | 0.940 / 0.889 | 0.935 / 0.879 | 0.932 / 0.854 | 0.9052 |
| 4 | 0.935 / 0.878 | 0.939 / 0.891 | 0.934 / 0.879 | 0.932 / 0.853 | 0.9050 |
| **5** | 0.934 / 0.881 | 0.938 / 0.889 | 0.937 / 0.881 | 0.931 / 0.857 | **0.9061** |
| 6 | 0.932 / 0.878 | 0.938 / 0.888 | 0.937 / 0.881 | 0.931 / 0.856 | 0.9053 |

On the take alone 2, 7, 8 and 12 frames give T 0.934 / 0.933 / 0.932 / 0.929, F 0.876 / 0.873 / 0.871 / 0.870. With
5 frames the adapted runs of 1, 16 notes and the two-octave scales' keys (C2-C4, C4-C6) rise on both T and F as well
(T 0.923 → 0.930, 0.936 → 0.938, 0.931 → 0.936, 0.932 → 0.932; F 0.860 → 0.864, 0.882 → 0.889, 0.869 → 0.873, 0.874
→ 0.879). Measured after the choice: the 30 s take on M 0.900 → 0.907, on B 0.895 → 0.903, in the room 0.844 →
0.847; the scale on M 0.912 both; 8 notes adapted on M 0.901 → 0.903, B 0.905 → 0.901, room 0.856 → 0.854; 1 note
(C4) on M 0.902 → 0.897 (the table above). Checked on `../shared` (its real piano, never chosen on): 8 notes adapted
0.867 both (per piece 0.807 / 0.909 / 0.886 → 0.807 / 0.899 / 0.897); piano-dataset example 1 with its MIDI as the
take, scored on 2-4, 0.838 → 0.874; a scale C2..C6 made of its single notes (0.8 s of each, one after another, cut
30 ms before each note's rise) 0.903 both (cut at each file's first sample over 5 % of its peak, so that each note
follows ~0.2 s of the recording's room noise: 0.885 → 0.900). Single-note files keep their loudest frame
(`folder_notes`): averaged there too, T and F gain (8 notes 0.931 / 0.875 → 0.936 / 0.881, 88 notes 0.942 / 0.890 →
0.942 / 0.896; attacks as before) but M loses (8 notes 0.901 → 0.896) and `../shared` with its 88 single notes falls
from 0.895 to 0.890 (3 frames: 0.8875), at issue 10's floor of 0.89.

Also tried with the flat start and not kept (the attack as before unless said; 8 notes unless said):
- **Adapting from chords too** (a predicted key struck only with others takes its share of each chord's attack,
  split on the run's templates as a recording + MIDI splits it; the same tests): T 0.931 → 0.930, F 0.875 →
  0.872 (over 1 / 4 / 8 / 16 notes, the take's keys, C2-C4 and C4-C6 the mean of T and F 0.9011 → 0.9013); M 0.901
  → 0.903, B 0.906 → 0.912, room 0.856 → 0.859; but `../shared` 0.867 → 0.844 (example 2 0.807 → 0.721).
- **Updating the predicted keys' templates by KL multiplicative updates with the first run's H fixed**, then
  starting again: 5 updates T 0.884, F 0.834, M 0.875; 20 updates mixed half and half with the templates T 0.929,
  F 0.870, M 0.890. In chords a shared partial goes to the wrong key, as "Learning W by NMF" below found.
- **Adapting's thresholds again, with the 60 ms attack** (T and F, 8 and 4 notes, mean 0.9016 as shipped): gain
  0.05 / 0.15 0.9026 / 0.8977, agreement 0.85 0.9003, 1 / 3 attacks 0.9009 / 0.8948; they stay.
- **A learned key's share in its mix with the bundled template** (0.7, as for a recorded key; 60 ms attack): 0.5 /
  0.85 / 1.0 give a T and F mean (8 and 4 notes) of 0.8987 / 0.9016 / 0.9012 against 0.9016.
- **Adapting twice, with the 60 ms attack**: T and F (8 and 4 notes) 0.9016 → 0.9038, M 0.903 both, for a third
  factorisation of every adapted recording.
- **Keeping an adaptation only when the second run's divergence D(M | WH) is lower**: M 0.898 against 0.901; the
  learned keys raised the divergence in 5 of the 8 pieces where keys were learned.

**The start of H** (2026-12-03). Every run used to start H from seeded uniform noise (seed 0) before its 5
MU steps, and that noise mattered: over seeds 0-3 the figures above moved by up to ±0.004 (MuseScore_General 88
notes 0.916 / 0.924 / 0.920 / 0.922, bundled 0.895 / 0.897 / 0.902 / 0.901, 8 notes not adapted 0.892 / 0.893 /
0.894 / 0.894), and on the three 8 s pieces of `../shared` piano 2-4 (150 notes) by ±0.01 over seeds 0-5 (bundled
0.871 / 0.854 / 0.854 / 0.845 / 0.860 / 0.849, its 88 single notes 0.891 / 0.880 / 0.895 / 0.891 / 0.902 / 0.879,
8 notes 0.862 / 0.860 / 0.847 / 0.853 for seeds 0-3). Seed 0 was the lowest of four for MuseScore_General's 88
notes, so two points reached before (8 notes and 30 s + MIDI within 0.02 of 88) were reached partly by the draw.
A flat start (every key equally active in every frame; `Options.seed` None, the default now; an int gives the
random start) makes a run depend on its input only and scores at or above the mean over seeds on the sources
where choices are made (8 notes, T / F: 0.931 / 0.877 against seeds 0-3 0.931 / 0.876 on average; bundled
leave-one-out T 0.921 against 0.912 / 0.914 for seeds 0 / 1, F 0.829 against 0.831 / 0.824). It raised every row
of the quality benchmark (docs/benchmarks/quality.md: unseen MuseScore 0.863 / 0.775 → 0.866 / 0.777, all 96 files
0.834 → 0.837) and the 88-note calibrations more than the 8-note ones (MuseScore_General 88 notes 0.916 → 0.927,
8 notes 0.902 → 0.901): the 8-note calibration is as far from 88 notes as before the adapting, 0.026. With the
flat start adapting to each recording adds on the unseen sources (8 notes, adapted against not: MuseScore_General
0.901 / 0.896, MuseScore_General-bright 0.906 / 0.889, room 0.856 / 0.852) and is even on the training ones
(TimGM6mb 0.931 / 0.931, FluidR3_GM 0.875 / 0.877), so it stays on; on `../shared` it costs one onset (0.872 →
0.867). Its thresholds, swept again with the flat start on T and F (1-3 attacks, agreement 0.85 / 0.9, gain 0.05 /
0.1 / 0.15: T 0.926-0.934, F 0.873-0.878, every setting within the pieces' noise of not adapting), stay.

Also tried with the flat start and not kept (8 notes C1..C8; T and F where choices are made, the rest measured):
- **The mix weights again** (`adapt.PREDICTED_WEIGHT` / `RECORDED_WEIGHT`): 0.8 / 0.7 beats the shipped 0.65 / 0.7 at
  8 notes (T 0.931 → 0.935, F 0.877 → 0.883) but loses at 4 and 16 (T 0.927 → 0.924 and 0.937 → 0.936, F 0.831 →
  0.821 and 0.885 → 0.877); 0.5, 0.9 and 1.0, and recorded weights 0.85 and 1.0, do no better than 0.8 at 8
  notes. They stay.
- **Adapting twice** (a second pass learns from the notes of the adapted run): T 0.931 / F 0.873 against 0.931 /
  0.875 for once; MuseScore_General 0.905, -bright 0.907, room 0.856 (once: 0.901, 0.906, 0.856); one more
  factorisation for nothing on T and F.
- **5 MU steps from the start** stay (10 is within the noise): 2 / 10 give T 0.916 / 0.920 and F 0.825 / 0.832
  with the bundled (leave-one-out) templates, against 0.921 / 0.829.
- **The partial rule** (`NoteParams.partial_ratio` 0.2 / 0.3, with the gate): T 0.931 / 0.927, F 0.874 / 0.871
  against 0.931 / 0.877.
- **Averaging runs from four random starts** (H averaged, the gate's gains by geometric mean) costs four runs and
  is no better than the one flat start on the whole (flat: T 0.931, F 0.877, MuseScore_General 0.896, `../shared`
  0.867): T 0.933, F 0.877, MuseScore_General 0.892, `../shared` 0.859 (8 notes).
- **The note gate retrained on H from the flat start** (`scripts/train_gate.py` as it is, 16.4 minutes): the quality
  benchmark's 96 files 0.837 → 0.839 (unseen MuseScore 0.866 / 0.777 → 0.867 / 0.782); this benchmark's TimGM6mb
  bundled 0.934 → 0.936, 8 notes 0.933 → 0.932, 88 notes 0.943 → 0.937, MuseScore_General 8 notes 0.901 → 0.898,
  88 notes 0.927 → 0.928. But `../shared` piano 2-4 with its own single notes fell from 0.895 to 0.884, under
  issue 10's floor of 0.89 (8 notes 0.867 → 0.864; synth 1-4 with its own notes 0.789 → 0.778), so the gate
  trained on the random start's H stays.
- **A note whose share of its own fundamental in W·H is small** (a ghost an octave below chord notes, as in
  `../shared` example 3) is no rule either: on the renders such false notes keep a median share of 0.5-0.7, which
  5-10 % of true notes also have, and on `../shared` with the bundled templates a tenth of the true notes keep less
  than 0.43.

Why the 8-note and C4-C6 figures fall short on MuseScore_General, what adapting to each recording does, and the
figures on a second unseen instrument (MuseScore_General-bright): "What 8 notes cannot know" below. With the flat
start the true templates of keys 24-47 (A2-G#4) alone, the other keys as the 8 notes predict them (not adapted),
lift MuseScore_General from 0.896 to 0.916 (precision 0.937 → 0.977) and those of keys 0-23 to 0.907; keys 48-87
add nothing. Counting a struck octave pair as an attack of its lower key when learning from a recording added
0.003-0.004 on the unseen sources (MuseScore_General 0.905) and nothing on T and F, and would teach a key the
octave above it wherever a piece plays octaves, so it was not kept then; with the upper note much softer, chosen on
zone-shifted T and F and measured on octave pieces, it is now ("Octave ghosts" above). The scales were cut from the
C2..C6 recording as in the next table; with adapting and the flat start, MuseScore_General-bright scores 0.909 /
0.904 / 0.898 on them (its 88 notes: 0.926; 0.906 / 0.910 / 0.898 with octave ghosts learned).

**Scales of two octaves** (2026-12-03, before adapting to each recording): cut from the C2..C6 recording (0.8 s a
note), calibrated and scored as above; T and F with the leave-one-SoundFont-out bundled templates (their bundled
rows: 0.912 and 0.831).

| scale recording | MuseScore_General | TimGM6mb (T) | FluidR3_GM (F) |
|---|---:|---:|---:|
| C2-C4 | 0.912 | 0.929 | 0.859 |
| C3-C5 | 0.905 | 0.911 | 0.874 |
| C4-C6 | 0.882 | 0.921 | 0.868 |
| C2-C6 (the whole recording) | 0.914 | 0.928 | 0.882 |

On MuseScore_General a scale above C4 scores below the bundled templates (0.895): its loss lies in A2-G#4 (see
"Where the 8-note loss lies" below), which such a scale leaves to extrapolation. Against the bundled templates, the
C4-C6 calibration misses more notes below C4 (110 → 125 of the 12 pieces' notes) and adds false notes from C4 up
(12 → 22; false notes an octave above a played one, at any pitch: 7 → 11): the recorded keys, closer to this piano,
take over the upper partials of the bass notes whose templates are only extrapolated. How far the prediction
reaches beyond the recorded range (`adapt.REACH`, 6 keys) does not change that: 0.5 / 3 / 6 / 12 / 24 keys give
0.878 / 0.881 / 0.882 / 0.890 / 0.892 there, and on T and F (the three scales each) the mean is 0.889 / 0.894 /
0.894 / 0.894 / 0.892, so 6 stays. A calibration whose lowest recorded key is above C3 now says so and asks for
lower notes, and one from fewer than 25 keys says that more keys calibrate better, a slow scale from C2 or C3
best (`Calibration.advice`, in `unmf templates`' summary and the dialog).

**The note gate and calibrated templates.** With the gate only on the model's own templates (`auto`, the default
until 2026-12-03), every calibration from fewer than 88 notes scored *below* the bundled templates on every
source, the real piano of `../shared` included (8 notes 0.855 against the bundled 0.871): the gate adds 0.05-0.09
to the bundled templates, and calibrated templates lost it. With the gate on them too, the same calibrations gain
those 0.05-0.09 on every source here, and on `../shared` 8 notes give 0.869 (0.855 without the gate). The cost:
`../shared` with all 88 of its own notes scores 0.891 with the gate against 0.901 without, still over issue 10's
floor of 0.89. Until the gate was retrained on 2026-12-03 (block chords over a low bass in its material,
docs/benchmarks/gate.md) that figure was 0.887, under the floor, and `auto` stayed the default. Commands:

    unmf evaluate --audio-dir ../shared/data/seed/piano-dataset/audio \\
      --midi-dir ../shared/data/seed/piano-dataset/midi --stems example-2 example-3 example-4 \\
      --templates ../shared/data/seed/piano-single-notes [--note-gate auto]

A gate fine-tuned on H of simulated calibrations of the training SoundFonts (their presets' templates, 8 to 88
keys, mixed as `adapt` mixes; 2026-12-02, the gate before the retraining) did no better on the project's own data
(unseen MuseScore dry: 8 notes 0.890, 88 notes 0.910; in the room 0.842 / 0.868; the training SoundFonts'
calibrated validation 0.854 against the shipped gate's 0.864), so it was not kept.

Also tried on 2026-12-02 and not kept (throwaway scripts, the cached renders of this benchmark; the gate and
default before 2026-12-03):
- **A lower note threshold for calibrated templates.** On the training SoundFonts 0.04 beat the default 0.07 (8 notes
  TimGM6mb 0.842 → 0.867, FluidR3_GM 0.727 → 0.813; 88 notes TimGM6mb 0.874 → 0.905; MuseScore_General 8 notes
  0.807 → 0.825), with the gate on too (TimGM6mb 8 notes 0.915 → 0.924). But `../shared` piano 2-4 with its own
  single notes fell from 0.901 to 0.828 (precision 0.869 → 0.728), 8 notes from 0.855 to 0.773: the real
  recordings carry clutter the renders lack, and the renders do not show it even in a synthetic room
  (MuseScore_General-room, 88 notes: 0.808 → 0.828 at 0.04). The default stays 0.07.
- **Less trust in a predicted key the farther it is from a recorded one** (the mix weight × exp(-n/6), n the distance
  to the nearest recorded key): 8 notes TimGM6mb 0.842 → 0.852, MuseScore_General 0.807 → 0.820, but FluidR3_GM
  0.727 → 0.723 and `../shared` 0.855 → 0.840.

### Tried on 2026-12-03 and not kept

Same renders, engine and pieces as the table above, one thread, the gate before its retraining (the
shipped one until 2026-12-03); throwaway scripts outside the repository. T and
F: TimGM6mb and FluidR3_GM with leave-one-SoundFont-out bundled templates (the normalised mean of the *other*
SoundFont's programs 0-7, as in "How the mix was chosen"), where choices are made; M: MuseScore_General and R:
MuseScore_General-room with the shipped bundled templates, measured only. Onset-F, 8 notes C1..C8 unless said;
"auto" = `--note-gate auto` (no gate with calibrated templates; then the default), "on" = `--note-gate on`.
The re-measured baseline equals that gate's table to the third decimal.

| variant | T auto / on | F auto / on | M auto / on | R auto / on |
|---|---:|---:|---:|---:|
| **shipped** (`adapt.adapt`) | 0.852 / 0.916 | 0.718 / 0.864 | 0.807 / 0.890 | 0.759 / 0.856 |
| inharmonicity (a) | cosine 0.967 → 0.963 | | 0.888 → 0.889 | |
| interpolation in amplitude (p = 1) instead of log | 0.849 / 0.915 | 0.714 / 0.864 | 0.810 / 0.890 | 0.760 / 0.853 |
| interpolation in square root (p = 0.5) | 0.851 / 0.915 | 0.717 / 0.862 | 0.808 / 0.890 | 0.759 / 0.857 |
| weight × neighbours' likeness (b) | 0.846 / 0.915 | 0.718 / 0.859 | 0.802 / 0.892 | 0.754 / 0.853 |
| bundled part × gain per frequency (c), σ 6 bins | 0.850 / 0.918 | 0.711 / 0.864 | 0.808 / 0.891 | 0.750 / 0.846 |
| the same, σ 18 bins | — / 0.914 | — / 0.869 | — / 0.886 | — / 0.840 |
| partial rule on (`partial_ratio` 0.4), auto only | 0.849 | 0.714 | 0.810 | 0.765 |

(a) Each recorded note's inharmonicity B fitted (partials 1-16), log B interpolated over keys, spectra interpolated
at equal partial index; the mean cosine of the 80 predicted keys to the true ones (no transcription run).
(b) The prediction's weight × how alike the two neighbouring recorded keys are (cosine, harmonic-relative;
(c − 0.3)/0.5 clipped to 0..1). (c) The bundled part of the mix × a smooth gain per absolute frequency, fitted on
the recorded keys.

None moves both T and F; the prediction of unrecorded keys looks exhausted at this level. **Where the 8-note
loss lies:** with the true templates put in for one range of keys at a time (gate on), keys 24-47 (A2-G#4) recover
most of it (M 0.890 → 0.902, T 0.916 → 0.923); the bass (0-23), 48-63 or the treble (64-87) recover nothing
(M 0.890-0.891). That is where MuseScore_General changes samples between C1 and C4 (cosine of neighbouring
recorded C's, harmonic-relative: 0.53, 0.45, 0.82), which no interpolation from one note per octave can know.

**The gate with calibrated templates, by parts.** Its lift (where the gain is above 1, H raised up to 0.08 × the
scale) is what adds recall; its suppression (gain below 1) is what adds precision with predicted keys:

| gate with calibrated templates | T 8 / 88 | F 8 / 88 | M 8 / 88 | R 8 / 88 | `../shared` 8 / 88 |
|---|---:|---:|---:|---:|---:|
| off (the default, `auto`) | 0.852 / 0.867 | 0.718 / 0.730 | 0.807 / 0.862 | 0.759 / 0.808 | 0.855 / 0.901 |
| on | 0.916 / 0.926 | 0.864 / 0.872 | 0.890 / 0.912 | 0.856 / 0.878 | 0.857 / 0.887 |
| on, lift only (gain floored at 1) | 0.917 / 0.932 | 0.850 / 0.864 | 0.871 / 0.916 | 0.825 / 0.872 | 0.852 / 0.882 |
| on, suppression only (`gate_lift` 0) | 0.851 / 0.860 | | 0.823 / 0.856 | 0.786 / 0.814 | |

On `../shared` (piano-dataset 2-4, checked, not chosen on) neither part helps: the lift costs precision
(88 notes: 0.869 → 0.844), and the suppression removes chord notes that sit on a loud bass's partials (with its
own 88 notes and the gate on, example 2, a held bass under a triad struck again every 0.25-0.5 s, falls from
0.881 to 0.776, recall 0.922 → 0.703: the top notes of the chords are dropped; examples 3 and 4 gain or hold).
The retrained gate (block chords over a low bass in its material, docs/benchmarks/gate.md) keeps both parts:
with it example 2 scores 0.833 with the gate on its own 88 notes, and the three pieces 0.891.

**Keys struck again 0.25 s apart.** Reproduced on the project's own renders: 8 pieces of 12 s, a held bass
(MIDI 28-45) under a triad (62-86) struck at 0, 0.5, 0.75, 1.25, 1.5 (1.75) s of every 2 s bar, velocity
90-110, rendered with each SoundFont's piano. The misses are the strikes 0.25 s after the last one (TimGM6mb,
bundled templates, gate off: 31 of 144 chord notes at 0.75 s and 39 of 144 at 1.5 s missed); the re-onset rule
needs H to double above its valley, and 0.25 s after a strike the chord has not decayed enough. Lowering
`NoteParams.reonset_ratio` (bundled templates, gate on; chosen on T and F):

| reonset_ratio | T chords | F chords | T random | F random | M chords | `../shared` bundled / 88 / 8 notes |
|---|---:|---:|---:|---:|---:|---:|
| 2.0 (default) | 0.898 | 0.887 | 0.907 | 0.812 | 0.914 | 0.849 / 0.901 / 0.855 |
| 1.7 | 0.933 | 0.900 | | | 0.942 | |
| 1.5 | 0.951 | 0.912 | 0.904 | 0.815 | | 0.837 / 0.897 / 0.847 |
| 1.4 | 0.954 | 0.915 | 0.902 | 0.811 | 0.958 | |
| 1.3 | 0.963 | 0.919 | 0.900 | 0.810 | | |

1.5 leaves the benchmark's random pieces as they were and adds 0.025-0.05 on repeated chords (T, F; M gains too),
but on the one real piano it lowers every figure (more re-onsets inside sustained notes: precision falls), so the
default stays 2.0. The benchmark's pieces (`random_piece`'s default segments) have no keys struck again while they
sound; only the gate's training material has (`GATE_SEGMENTS`). A re-onset test that also asks the key's own CQT
bins to rise (what the gate reads) is the next thing to try. Tried on 2026-12-03 with the retrained gate: a rise of
1.5× over the valley counts as a re-strike when the key's fundamental and second-partial bins also rise by at least
0.1 (log magnitude) within 4 frames of the valley, 2.0 otherwise. Repeated chords T 0.897 → 0.937, F 0.905 → 0.916;
random pieces T 0.912 → 0.914, F 0.831 → 0.833; MuseScore_General 8 notes 0.892 → 0.895, 88 notes 0.916 → 0.919;
but `../shared` 8 notes 0.869 → 0.866 and 88 notes 0.891 → 0.887 (under issue 10's floor of 0.89; bundled 0.871
either way), so it was not kept. The same pieces convolved with the benchmark's room (RT60 1.05 s, noise at
-60 dB) show why: there 1.5 with that test lifts recall but costs precision (T 0.849 → 0.865, precision 0.942 →
0.917; MuseScore_General 0.806 → 0.811, 0.899 → 0.865), as on the real piano. In the room most false notes of
these pieces (T: 24 of 40 with the default) are a struck key found 50-100 ms late: the room's tail builds H up over
several frames and the gate's gain rises with it, so the steepest rise of H × gain, where an onset is placed,
comes late. Placing it on the steepest rise of H instead does not help (T room 0.849 → 0.846, F room 0.779 →
0.777; random pieces T 0.912 → 0.913, F 0.830 → 0.821).

### Tried later on 2026-12-03 and not kept

Same harness (T, F with leave-one-SoundFont-out bundled templates, where choices are made; M measured), the
retrained gate on, 8 notes C1..C8:

| variant | T | F | M | M, 88 notes |
|---|---:|---:|---:|---:|
| shipped | 0.928 | 0.877 | 0.892 | 0.916 |
| two templates per key (a) | 0.928 | 0.863 | 0.891 | 0.918 |
| the same, the unmixed prediction beside the bundled template | 0.930 | 0.871 | 0.883 | |
| every onset 6 / 12 ms earlier, bundled templates (b) | 0.911 / 0.910 | 0.832 / 0.831 | | |

(a) The calibrated and the bundled template of every key in one factorisation, H summed per key before the gate
and the note rule. (b) Unshifted: 0.912 / 0.830; detected onsets lie a median 6-8 ms after the MIDI's (~20 ms
below A1). The second template lets a key keep its bundled sound where the prediction is wrong, but gives the
factorisation more ways to explain a partial, and precision and recall move against each other. No 8-note figure
moves beyond the pieces' noise (about ±0.003) in a direction both T and F share, so the 8-note targets stay as
measured.

**Adapting to each piece.** Transcribe, learn a template for every unrecorded key from its single attacks in
that transcription (notes 60 ms apart from any other onset, as with a recording + MIDI: `material.group_attacks`),
keep a key with at least 2 such attacks whose mean cosine to their mean is at least 0.9 and whose likeness to its
bundled template is at least 0.7, calibrate again with those keys as recorded ones, transcribe again. Chosen on T
and F (at least 1 / 2 / 3 attacks, cosine 0.85: T 0.930 / 0.930 / 0.923, F 0.876 / 0.879 / 0.876; cosine 0.8 /
0.85 / 0.9: T equal, F 0.8785 / 0.8785 / 0.8795; dropping notes that start with a louder note an octave, a twelfth
or two octaves below before learning: T 0.928 instead of 0.930, F equal):

| adapting to each piece, 8 notes C1..C8 | T | F | M | R | `../shared` |
|---|---:|---:|---:|---:|---:|
| no (shipped) | 0.928 | 0.877 | 0.892 | 0.852 | 0.869 |
| yes (9 keys learned a piece on average on M, 0-6 on `../shared`) | 0.930 | 0.879 | **0.903** | 0.853 | 0.859 |
| yes, the result mixed half and half with the calibration's templates | 0.929 | 0.879 | 0.900 | 0.855 | |

It is what MuseScore_General's 8-note loss asked for: the keys of the E3-F3 zone are learned from the pieces. But
on the real piano of `../shared` (checked after the choice) it cost 0.010: example 3 0.909 → 0.889, example 4
0.899 → 0.889 (2 and 6 keys learned), example 2 unchanged (none); precision 0.872 → 0.853. On the bundled
templates instead of a calibration it gains on T and F (0.912 → 0.922, 0.830 → 0.856), leaves MuseScore_General
as it was (0.895; 0.886 with cosine 0.85) and costs `../shared` 0.014 (0.871 → 0.858, precision 0.864 → 0.843).
The templates a real piece's attacks give hurt where the renders' help, so it was not kept, not even as an
option.

**The app's guided prompt.** It asked for "C2, C3, C4, C5, C6, C7 — or any slow scale". Those six notes score
0.891 on MuseScore_General (no calibration: 0.895; T 0.925, F 0.876 against their bundled 0.912, 0.830), while a
slow scale from C2 scores 0.912-0.914 (table above). The prompt now asks for a slow chromatic scale of two octaves
or more from C2 or C3 (C2 to C6 best), and names single notes in any order as the alternative.

**Tuning.** The real piano of `../shared` is stretched, as pianos are (its single notes, measured only: about -7
cents in the lowest octave, within ±5 cents from A2 to A5, +9 around A5-G#6, +15 to +32 above A6); the
SoundFonts are equal-tempered, so a fitted tuning could not be chosen on the training material. A recorded key's
offset is carried to its neighbours by the interpolation as a peak between bins (36 bins per octave: 33 cents a
bin); nothing fits tuning explicitly.

Before this change (unmixed rows) every calibration from few notes scored *below* the bundled templates alone on
both SoundFonts (8 notes 0.781 vs 0.816 on MuseScore_General). The bundled templates became the mean of 16
instruments (GM programs 0-7 of FluidR3_GM and TimGM6mb, commit 8a6f5a8) just before this benchmark was first
written; its first version's "bundled" row (0.674 / 0.678) was measured with the older FluidR3-piano templates.

### What 8 notes cannot know, and adapting to each recording (2026-12-03)

All with the random start of H (seed 0) that preceded the flat one. Measured before adapting to each recording
(the gate on) on this benchmark's renders, calibrated from each
source's single notes (velocity 80, as the 8-note row); T and F with leave-one-SoundFont-out bundled templates,
M = MuseScore_General, R = its room, B = MuseScore_General-bright; throwaway scripts outside the repository.

**The errors.** On M's 12 pieces (927 notes) the 8-note calibration finds 788 notes, the 88-note one 799, and it
adds 56 false notes against 15. 36 of the 56 lie a harmonic above a played note that sounds at that time (an octave,
a twelfth, two octaves …; with 88 notes: 4), and 23 of those 36 are E4 or F4 over a struck E3 or F3 (19) or C#5 or
D5, a twelfth over F#3 or G3 (4). Misses rise less, 128 to 139, most in A1-G#2 (28 to 38).

**The cause: one zone of samples.** M's grand plays E3 to G3 from samples whose second partial is 1.2-1.7 times
their fundamental (G#3-A#3: 0.8); C3's ratio is 0.25, C4's 0.52. The prediction from C3 and C4 gives 0.41-0.45
there and the bundled templates 0.47-0.63, so the factorisation gives the strong second partial to the key an
octave up. With the true templates put in for these 7 keys only (E3-A#3; all other keys as calibrated from 8
notes) the 8-note calibration scores 0.912 (88 notes: 0.916), in the room 0.863 (0.852); put in for A2-D#3 or
for B3-G#4 instead, 0.892 both, no change. Calibrated from the keys C4-C6 (single notes: 0.886; the scale
recording: 0.882) the same 7 keys give 0.897. No prediction from one note an octave can see a zone like that; the
8-note and the C4-C6 shortfalls on M have this one cause.

**A second unseen instrument** (B, columns above: the same Steinway samples played from other keys). 8 notes
score 0.880 against 0.927 with 88 (0.047 short; adapted to each recording, below: 0.898, 0.029 short), the C2..C6
scale 0.909 (0.018 short), the 30 s take 0.893.
Scales of two octaves cut from its recording as above: C2-C4 0.910, C3-C5 0.897, C4-C6 0.890. On T and F, whose
sound changes smoothly from key to key, 8 notes come within 0.013 and 0.016 of 88 (0.928 / 0.941, 0.877 /
0.892). The 0.02 target for 8 notes holds there and fails on sampled grands with uneven zones, where only more
recorded keys help: two octaves of scale from C2 do on both unseen instruments.

**Adapting to each recording (shipped; `--adapt-to-piece`, Model ▸ Adapt my calibration to each recording,
on by default).** As "Adapting to each piece" above, but a key learned from the recording is kept only where its
attacks agree with their mean better than with the template that found them, by at least δ in mean cosine: only
keys the calibration clearly got wrong are replaced (`unmf_core.calibration.piece`; the run that every front end
sees starts from the adapted templates, `unmf_core.transcription.adaptation`). Chosen on T and F with their
leave-one-out bundled templates (throwaway scripts): the variants score alike there (8 notes, mean of T and F:
0.9049 / 0.9050 / 0.9048 / 0.9051 for no such test / δ 0.02 / 0.05 / 0.1), δ 0.1 with a quarter of the learned
keys (T: 2.3 a piece instead of 9.3), so δ = 0.1. Over the calibrations 1 / 4 / 8 / 16 notes, C2-C4, C4-C6 and the
take's 34 keys (single notes of each source; B = MuseScore_General-bright):

| mean over those 7 calibrations | T and F | M | R | B |
|---|---:|---:|---:|---:|
| no adapting (before) | 0.894 | 0.896 | 0.853 | 0.888 |
| adapting, δ 0.1 | 0.898 | 0.900 | 0.855 | 0.896 |

8 notes there: T 0.928 → 0.930, F 0.877 → 0.880, M 0.892 → 0.902, R 0.852 → 0.857, B 0.880 → 0.898; C4-C6 on M
0.886 → 0.892. The tables above are the shipped code (the bundled templates as they ship, with TimGM6mb in them):
8 notes 0.892 → 0.902 on M, 0.852 → 0.857 in the room, 0.880 → 0.898 on B, 0.927 → 0.928 on TimGM6mb; 4 notes
gain most (M 0.878 → 0.883, B 0.825 → 0.854, room 0.833 → 0.845), one note (C4) loses on TimGM6mb (0.931 →
0.925) and in the room (0.855 → 0.851). Keys struck with others are never learned from, so the scale and the take
(their keys recorded) barely change. On `../shared` (checked after the choice): 8 notes 0.869 → 0.862 (example 4
0.899 → 0.876: A2 at 5.00 s is found at 5.06 s, past the 50 ms window, and one false note is traded for another;
examples 2 and 3 unchanged), 16 notes 0.873 both, 88 notes and the bundled templates never adapted. That one
note is why `../shared`'s 0.87 is further away than before; every rendered instrument gains on the mean.

What it costs and where it does not apply: an adapted run factorises twice (`unmf evaluate` on `../shared`:
0.22 s a file instead of 0.11 s; M's 12 pieces twice over, 579 s of audio in one file, one thread: 10.97 s
instead of 5.97 s, 12 keys learned, peak memory 685 MB instead of 639 MB); only unrolled runs with a mixed
calibration on the bundled templates that left keys to prediction are adapted (a templates file or folder of
notes made by this version: older files lack the recorded templates it needs, `Templates.own`); plain MU, the
bundled or a model's own templates, and live transcription (`unmf listen`, the app's Live tab: it has no
second pass) are not. Results name the learned keys (`params["adapted_keys"]`).

**Also measured and not kept.** The mix weights were chosen before the gate ran with calibrated templates;
re-swept with it (T and F): a prediction weight of 0.8 instead of 0.65 lifts F's 8 notes (0.877 → 0.885), but over
4, 8 and 16 notes, the take's keys and the scales C2-C4 and C4-C6 the mean of T and F is 0.8967 / 0.8958 / 0.8941
for 0.65 / 0.8 / 0.9 (M 0.896 / 0.893 / 0.891): 0.65 and 0.7 stay. The partial rule with the gate on
(`partial_ratio` 0.2-0.4): equal or lower with bundled, 8 and 88 notes (8 notes at 0.4: T 0.922, F 0.868, M 0.893).
Adapting that also learns from a key's attacks found together with the key an octave above (the false note such
a zone causes, which keeps E3 from being struck "alone" after a C4-C6 calibration): T, F, M, R and B within
±0.006 of adapting as shipped on the 6 calibrations 4 / 8 / 16 notes, C2-C4, C4-C6 and the take's keys, M's
C4-C6 0.892 either way.

**A scale as people play it.** C2..C6 rendered on M at 0.3 to 0.8 s a note, detached or legato (held up to 1.2 s
at 0.8 s a note), upward, downward or in random order: 0.903-0.912 (the table's scale recording: 0.914), 44-48 of
the 49 keys kept; T and F at 0.3 s a note: 0.927 and 0.862 (their bundled 0.912 and 0.830).

## How keys are calibrated

Every template is moved to harmonic-relative coordinates (CQT bin offset from its key's fundamental, the whole
axis below the fundamental included). An unrecorded key's log-spectrum at each relative bin is interpolated
linearly in key number between the recorded keys (constant beyond the first and last); the bundled templates,
scaled by the interpolated log-ratio of recorded to bundled, fill the relative bins no recording covers
(`unmf_core.calibration.adapt.interpolate_templates`). Then every key's template is mixed with the bundled one
(unit-L2 columns): 0.7 of its own for a recorded key, 0.65 of the prediction for the others inside the recorded
range, decaying as exp(-d/6) with the distance d (keys) beyond it (`adapt.adapt`, `mix_weights`;
`calibrate(..., mix=False)` and `synthdata.make_templates` keep the templates unmixed). A single-notes recording is
cut at detected onsets; each note's spectrum is what it adds at its attack (the mean over 60 ms from the loudest
frame after the onset, minus the quietest frame before), its pitch the strongest key when that spectrum is
decomposed on the bundled templates of the keys with a spectral peak at their fundamental (notes too close to the
next, too quiet, with a second pitch (chord) or no clear pitch are skipped and listed). With MIDI, the attacks of
notes struck at least 60 ms apart from any other note give their keys' templates; keys only struck with others get
their share of the chord's attack, split by decomposing it on the templates predicted from the single attacks (in
the 30 s take of MuseScore_General 25 keys from single attacks and 10 more from chords). A learned template whose
cosine to the bundled template of its key is under 0.7 is not used (`material.MIN_LIKENESS`; skipped, listed, and
predicted like an unrecorded key): its attack was masked by other notes' (there F#2 at 0.50; A#3 at 0.69 too before
the 60 ms attack).

## How the mix was chosen

On TimGM6mb and FluidR3_GM only (12 pieces each, rendered like these; `--sources FluidR3_GM`), with the bundled
templates rebuilt WITHOUT the evaluated SoundFont (the normalised mean of the other SoundFont's programs 0-7), so
that neither source had its own instrument in the mix; MuseScore_General only measured. Criterion: the mean
onset-F of the two (8 notes C1..C8, and the 30 s take with MIDI). Throwaway scripts (not in the repository),
same engine, pieces and one thread. T = TimGM6mb, F = FluidR3_GM (leave-one-SoundFont-out bundled templates),
M = MuseScore_General (the shipped bundled templates):

| 8 notes C1..C8: prediction of the 80 other keys | T | F | M |
|---|---:|---:|---:|
| interpolation alone, unmixed (before; the shipped bundled templates as its fallback) | 0.828 | 0.708 | 0.781 |
| bundled templates for the 80, recorded 8 as they are | 0.821 | 0.641 | 0.812 |
| bundled × interpolated harmonic-relative log-ratio | 0.822 | 0.690 | 0.791 |
| eigen-templates: mean + PCs of training sets (8, M: 16), ridge fit to the 8, λ=1 | 0.827 | 0.644 | 0.806 |
| the same in log-spectra (λ=1) | 0.797 | 0.630 | 0.795 |
| mix 0.5 in log domain, recorded unmixed | 0.843 | 0.702 | 0.805 |
| mix 0.25 / 0.5 / 0.75, recorded unmixed | 0.833 / 0.843 / 0.848 | 0.688 / 0.712 / 0.719 | 0.813 / 0.810 / 0.798 |
| **mix 0.65, recorded 0.7, decay beyond the range (kept)** | **0.852** | **0.718** | **0.807** |
| kept + recorded keys whose fit to the others is < 0.6 dropped | 0.852 | 0.712 | 0.802 |
| kept, mixed with the ratio-scaled bundled templates instead | 0.837 | 0.706 | 0.785 |
| kept, mixed with bundled × one global relative log-ratio (clipped ±1) | 0.840 | 0.721 | 0.806 |
| kept, predictions blurred along frequency (σ 0.7 / 1.5 bins) | 0.846 / 0.840 | 0.721 / 0.711 | 0.808 / 0.802 |
| weight 0.5 + 0.5·exp(-d/3) rising near recorded keys, recorded unmixed | mean of T, F 0.780 | | 0.797 |
| kept, mixed with an NNLS-weighted mean of the training sets (halfway to uniform) | 0.846 | 0.718 | 0.808 |
| the same, NNLS weights alone | 0.838 | 0.721 | 0.807 |
| kept, but the mix weight chosen per calibration by leave-one-out on the recorded keys | 0.846 | 0.654 | 0.825 |

The last row scored highest on MuseScore_General but clearly lower on FluidR3_GM, so it was dropped (the rule:
choose on the training SoundFonts). Grid over (prediction, recorded) weights (0.5, 0.65) × (0.4, 0.55, 0.7): the
mean of T and F for 8 notes 0.772-0.782 and for the take 0.750-0.757, all within a few thousandths; (0.65, 0.7)
was best for 8 notes (that grid with recorded keys of fit < 0.6 dropped). Other subsets (8, 7, 3 notes),
unmixed → mixed: A0..A7 T 0.806 → 0.824, F 0.633 → 0.670,
M 0.787 → 0.809; F#1..F#7 0.812 → 0.815, 0.601 → 0.650, 0.777 → 0.822; E2 E4 E6 0.755 → 0.825, 0.597 → 0.640,
0.797 → 0.812. All 88 keys recorded, own weight 0.4 / 0.55 / 0.7 / 0.85 / 1: T 0.851 / 0.862 / 0.867 / 0.871 /
0.869, F 0.717 / 0.732 / 0.730 / 0.731 / 0.715, M 0.853 / 0.857 / 0.862 / 0.856 / 0.844.

| 30 s take + MIDI | T | F | M |
|---|---:|---:|---:|
| single attacks, unmixed (before) | mean of T, F 0.660 | | 0.751 |
| mixed 0.65 / recorded 1.0, decay beyond the range | mean 0.728 | | 0.791 |
| mixed 0.65 / 0.7, no decay beyond the range | mean 0.743 | | 0.818 |
| mixed 0.65 / 0.7 with decay (kept) | 0.831 | 0.674 | 0.816 |
| kept + keys only struck in chords, split by the prediction (kept) | 0.851 | 0.680 | 0.821 |
| single attacks mixed 0.65 / 0.7 with an NNLS-weighted mean of the sets (halfway) | 0.825 | 0.684 | 0.811 |

The take's learned templates are not all clean: against the true single-note templates (harmonic-relative cosine)
most keys of the 30 s takes reach 0.9-1.0, but a few fall far lower (MuseScore_General F#2 0.37; FluidR3_GM F#6
0.13, F#2 0.58), attacks masked by louder notes. Such a template is also unlike the bundled template of its key
(cosine 0.41, 0.09, 0.51), where clean ones rarely are. Dropping learned templates under a cosine to the bundled
template of its key (2026-12-03; the gate on, as shipped; T and F with the leave-one-SoundFont-out bundled
templates, chosen on their mean; M and R measured only):

| take: learned templates dropped under this cosine to the bundled template | T | F | M | R |
|---|---:|---:|---:|---:|
| none (before) | 0.929 | 0.854 | 0.887 | 0.834 |
| 0.6 | 0.929 | 0.859 | 0.897 | 0.834 |
| 0.7 | 0.929 | 0.864 | 0.898 | 0.838 |
| 0.75 | 0.928 | 0.864 | | |
| 0.8 | 0.927 | 0.875 | 0.906 | 0.854 |
| 0.85 | 0.925 | 0.872 | | |
| 0.9 | 0.929 | 0.865 | | |
| under 0.9 × the median cosine of the take's learned keys | 0.924 | 0.875 | | |
| 0.7 + the attack's peak searched until 30 ms before the next onset | **0.930** | **0.873** | **0.897** | **0.843** |
| the same, until 50 / 100 ms before it | 0.930 / 0.930 | 0.873 / 0.869 | 0.897 / 0.897 | |
| until 50 ms before it, no templates dropped | 0.932 | 0.864 | 0.884 | |

0.8 scored 0.004 more on the mean of T and F, but it would also drop clean notes of an instrument unlike the
bundled templates: of FluidR3_GM's true single-note templates of keys 36-96, 17 of 61 lie under 0.8 against its
leave-one-out bundled templates (2 under 0.7). The rule is there for broken attacks, not unusual pianos; 0.7 is
kept. One cause of broken attacks was the search for the attack's loudest frame, which ran up to the next onset:
the CQT's long windows let a low next note in before its onset (the app's test piece: C5's template peaked at G3,
struck 0.4 s later). It now stops 30 ms before the next onset (`material.NEXT_ONSET_MARGIN`; the single-notes
recording mode uses the same search).

## Dropped before (MuseScore_General, 8 notes C1..C8, the older FluidR3-piano bundled templates)

| prediction of unrecorded keys | onset-F |
|---|---:|
| bundled templates × interpolated harmonic-relative log-ratio (bins within 2 semitones below f0) | 0.715 |
| bundled templates × smooth gain per absolute frequency | 0.706 |
| both (gain, then relative log-ratio) | 0.746 |
| interpolation of recorded log-spectra, only 2 semitones below f0 kept | 0.755 |
| interpolation of recorded log-spectra, whole axis | 0.780 |
| interpolation + the bundled templates' smoothed pitch trend | 0.791 (TimGM6mb: 0.819 vs 0.828 without) |
| recording + MIDI: W learned by KL-NMF with H restricted to the piano roll (30 s take) | 0.696 |

Learning W by NMF on a polyphonic take gives partials shared by chord notes to the wrong key (cosine to the true
single-note templates 0.81-0.85 against 0.97 from attacks).

## Why templates from one recording do not simply replace the bundled ones

Mixing own and bundled templates is not additive key by key: on MuseScore_General, the SoundFont's own
templates in one octave and the bundled ones elsewhere score 0.777-0.825 (own in keys 65-75 only: 0.777, below
the bundled templates everywhere, 0.816), and the bundled templates in one octave among own ones 0.796-0.846.
A set of templates from one source is consistent in level and spread between partials; where sources meet, one
set takes over the other's notes. The mix keeps every key partly on the common (bundled) frame. The bundled
templates are averaged over 16 instruments, so their errors on any one piano are smooth; a prediction from one
note per octave errs where the SoundFont changes samples (MuseScore_General's zone borders: cosine between a
key and its pitch-shifted neighbour 0.6-0.8). With 8 notes the predicted keys' mean cosine to the true
templates is 0.889 on MuseScore_General against 0.967 on TimGM6mb.

## Other measurements (same code; 2026-12-03 with the retrained gate, the rest 2026-12-02)

* `../shared` piano-dataset examples 2-4 (evaluation only, nothing tuned on it): templates from 8 of
  `piano-single-notes` (C1 … C8) **0.862** adapted to each recording (the default since 2026-12-03, last; 0.869
  without, 0.855 with `--note-gate auto` and without, 0.843 with it and adapting); all 88 notes 0.891 (0.901 with
  `auto`); the bundled templates 0.871. Without the gate (2026-12-02): unmixed 8 notes 0.862, 88 notes 0.898,
  the bundled templates alone 0.767; on this real piano the bundled templates are far from its sound, and mixing
  them into an 8-note calibration cost 0.007 there (3 pieces). Commands:

      mkdir -p /tmp/seed8 && for n in C1 C2 C3 C4 C5 C6 C7 C8; do
        ln -sf /work/shared/data/seed/piano-single-notes/$n.wav /tmp/seed8/; done
      python3 -m unmf_core.cli templates /tmp/seed8 -o /tmp/seed8.npz
      python3 -m unmf_core.cli evaluate --audio-dir /work/shared/data/seed/piano-dataset/audio \\
        --midi-dir /work/shared/data/seed/piano-dataset/midi --stems example-2 example-3 example-4 \\
        --templates /tmp/seed8.npz --json /tmp/ev.json --overwrite

* These random pieces (wide range, velocities down to 25, dense passages) are hard for the engine whatever the
  templates: FluidR3_GM's own 88 templates score 0.715 on its pieces.
* Pitch detection in the one-recording mode (measured before the mix; that code is unchanged), on the C2..C6
  scale (49 notes): MuseScore_General 48 keys found,
  TimGM6mb 44, no wrong pitch on either (the rest skipped and listed, e.g. C#2 on TimGM6mb as "two pitches").
"""


def write_report(results: dict, out: Path) -> None:
    """Write the Markdown table (and the JSON beside it) of :func:`main`'s results."""
    from unmf_core.io.atomic import write_bytes_atomic

    labels = list(next(iter(results.values())))
    names = list(results)
    lines = ["# Calibration: onset-F against the number of recorded notes", "",
             (f"Mean note onset-F (mir_eval, 50 ms) of the default unrolled engine on {N_PIECES} random pieces "
              f"(~{PIECE_SECONDS:.0f} s, GM program 0 (MuseScore_General-bright: 1), dry, "
              "`unmf_core.training.synthdata.random_piece`, "
              f"seed {SEED}) per SoundFont, with templates calibrated from that SoundFont's own notes "
              "(velocity 80; the scale and the 30 s take at other velocities). MuseScore_General is unseen by "
              "the bundled model and templates (made from FluidR3_GM and TimGM6mb); TimGM6mb is a second source; "
              "MuseScore_General-room is MuseScore_General's material, notes and pieces alike, convolved with one "
              "synthetic room (RT60 1.05 s) plus noise at -60 dB, as a microphone in a room would record it; "
              "MuseScore_General-bright is the same SoundFont's Bright Grand Piano (GM program 1), its Grand "
              "Piano's samples \"sample-shifted\" to other keys, a second instrument the bundled model never heard; "
              "FluidR3_GM-zones is FluidR3_GM's Grand Piano with every key sounding the sample of a key up to 6 "
              "semitones away, transposed by MIDI pitch bend, the transposition constant over zones of 3-6 keys "
              "(seed 2): a piano whose sound changes from zone to zone, made from a training SoundFont, a "
              "validation source. "
              "Note settings: the defaults (the model's calibrated threshold holds only with its own templates)."),
             "",
             ("Two columns per source: the default (`--note-gate on`: the model's note gate with the "
              "calibrated templates too) and `--note-gate auto` (the gate only with the model's own templates, "
              "so calibrated rows read H alone; the default before 2026-12-03)."), "",
             "| calibration | " + " | ".join(f"{n} | {n}, note gate auto" for n in names) + " |",
             "|---|" + "---:|" * (2 * len(names))]

    def cell(v, gate: str) -> str:
        v = v if isinstance(v, dict) else {"auto": v}  # the JSON of runs before the gate column
        return f"{v[gate]:.3f}" if gate in v else "–"

    for label in labels:
        lines.append(f"| {label} | " + " | ".join(f"{cell(results[n][label], 'on')} | "
                                                   f"{cell(results[n][label], 'auto')}" for n in names) + " |")
    lines += ["", ("Regenerate (renders once into the cache, seconds of FluidSynth a source, then evaluates with "
                   "one thread, ~10 min: 5 sources, each calibration with the gate on, the default, and auto):"), "",
              "    python3 -m benchmarks.calibration --cache /work/cache/cal --out docs/benchmarks/calibration.md",
              "", NOTES]
    write_bytes_atomic(out, "\n".join(lines).encode(), overwrite=True)
    write_bytes_atomic(out.with_suffix(".json"), json.dumps(results, indent=2).encode(), overwrite=True)
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
