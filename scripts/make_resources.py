"""Make the bundled resources from sources the project can reproduce.

    python scripts/make_resources.py [--only demo|templates|model-templates]

* ``resources/demo/demo.mid``: a 16-bar piano piece written below (melody,
  chords, bass, repeated notes), and ``resources/demo/demo.flac``: it rendered
  with FluidSynth and Debian's FluidR3_GM SoundFont (Acoustic Grand Piano).
* ``resources/templates/default.npz``: the normalised mean of the templates of
  GM programs 0-7 (the piano family) of FluidR3_GM and TimGM6mb; each preset's
  88 keys A0..C8 are rendered one by one and analysed exactly like a user's
  folder of single-note recordings (``unmf templates``). Chosen on the held-out
  MuseScore General SoundFont (``scripts/choose_templates.py``,
  ``docs/benchmarks/templates-heldout.md``), which stays out of them.

* ``resources/models/default.pt`` (``model-templates``): the bundled model keeps
  its trained weights and gets ``default.npz`` as its templates, the ones the
  engine uses by default. The checkpoint records the swap: ``meta`` keeps the
  templates it was trained with (``trained_with_templates``) and says what
  replaced them (``templates_replaced``). The model was trained with FluidR3's
  Acoustic Grand alone (``scripts/train_default.sh``); retraining it for the new
  templates is the next step of issue 10.

* ``resources/cqt/*.npz`` (``filters``): the CQT filters of the default
  parameters, so that no run has to build them (librosa, and numba's
  compilation on the first run after an install); see
  ``unmf_core/frontend/filterbank.py``. Other parameters are built on first use
  and cached in the user's cache folder.

Needs Debian's ``fluidsynth``, ``fluid-soundfont-gm`` and ``timgm6mb-soundfont`` packages.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from unmf_core.frontend.audio import save_audio  # noqa: E402
from unmf_core.frontend.cqt import CQTParams  # noqa: E402
from unmf_core.transcription.notes import Note, write_midi  # noqa: E402
from unmf_core.training.render import render_midi  # noqa: E402
from unmf_core.training.synthdata import make_templates as preset_templates  # noqa: E402

SR = 22050
BEAT = 0.5  # seconds per beat (120 bpm)

# Chords per bar (MIDI pitches, left hand) and a melody (beat offset, length in beats, pitch).
PROGRESSION = [
    [48, 55, 64], [45, 52, 60], [41, 48, 57], [43, 50, 59],
    [48, 55, 64], [45, 52, 60], [50, 53, 57], [43, 50, 55],
]
MELODY = [
    (0, 1, 72), (1, 1, 74), (2, 1, 76), (3, 1, 72),
    (4, 1, 72), (5, 0.5, 71), (5.5, 0.5, 72), (6, 2, 76),
    (8, 1, 77), (9, 1, 76), (10, 1, 74), (11, 1, 72),
    (12, 1, 71), (13, 1, 74), (14, 2, 79),
    (16, 1, 76), (17, 1, 76), (18, 1, 76), (19, 1, 77),
    (20, 1.5, 79), (21.5, 0.5, 77), (22, 2, 76),
    (24, 1, 74), (25, 1, 72), (26, 1, 74), (27, 1, 77),
    (28, 1, 74), (29, 1, 71), (30, 2, 67),
]


def demo_score() -> list[Note]:
    """The demo piece: 8 bars of 4 beats, the melody doubled an octave up the second
    half, and an ending chord (about 17.5 s)."""
    notes = []
    for rep in range(1):
        base = rep * 32 * BEAT
        for bar, chord in enumerate(PROGRESSION):
            t = base + bar * 4 * BEAT
            notes.append(Note(chord[0] - 12, t, t + 4 * BEAT - 0.05, 70))
            for beat in (0, 2):
                for p in chord:
                    notes.append(Note(p, t + beat * BEAT, t + (beat + 1.8) * BEAT, 58))
        for off, length, pitch in MELODY:
            t0, t1 = base + off * BEAT, base + (off + length) * BEAT - 0.04
            notes.append(Note(pitch, t0, t1, 90))
            if off >= 16:
                notes.append(Note(pitch + 12, t0, t1, 60))
    end = 32 * BEAT
    for p in (36, 48, 55, 64, 72, 76):
        notes.append(Note(p, end, end + 1.5, 75))
    return sorted(notes, key=lambda n: (n.onset, n.pitch))


def make_demo(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    notes = demo_score()
    write_midi(notes, out_dir / "demo.mid")
    y = render_midi(out_dir / "demo.mid", SR)
    y = 0.5 * y / np.abs(y).max()
    save_audio(out_dir / "demo.flac", y, SR)
    print(f"demo: {len(notes)} notes, {len(y) / SR:.1f} s -> {out_dir}")


#: SoundFonts whose pianos make the default templates (never the held-out MuseScore General:
#: ``benchmarks/quality.py`` keeps it unseen).
TEMPLATE_SOUNDFONTS = {"FluidR3_GM": "/usr/share/sounds/sf2/FluidR3_GM.sf2",
                       "TimGM6mb": "/usr/share/sounds/sf2/TimGM6mb.sf2"}
#: GM programs of those SoundFonts averaged into the default templates (the piano family).
TEMPLATE_PROGRAMS = tuple(range(8))


def key_templates(soundfont: str | None = None, program: int = 0, params: CQTParams = CQTParams()):
    """Templates of one preset: its 88 keys rendered one by one and analysed like a user's folder."""
    return preset_templates(params, program, soundfont=soundfont)


def mean_templates(sets: list, source: str):
    """The normalised mean of several template sets (unit-L2 columns averaged, then normalised again)."""
    from unmf_core.transcription.templates import Templates, normalise_columns

    W = normalise_columns(np.mean([normalise_columns(t.W) for t in sets], axis=0))
    return Templates(W, sets[0].cqt, source)


def make_templates(out: Path, params: CQTParams = CQTParams(), soundfonts: dict = TEMPLATE_SOUNDFONTS,
                   programs: tuple = TEMPLATE_PROGRAMS) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    sets = [key_templates(sf2, p, params) for sf2 in soundfonts.values() for p in programs]
    if len(sets) == 1:
        t = sets[0]
        t.source = "FluidR3_GM Acoustic Grand Piano rendered by FluidSynth (scripts/make_resources.py)"
    else:
        t = mean_templates(sets, f"normalised mean of GM programs {', '.join(map(str, programs))} of "
                                 f"{' and '.join(soundfonts)} rendered by FluidSynth (scripts/make_resources.py)")
    t.save(out)
    print(f"templates -> {out}")


def put_templates_in_model(model: Path, templates: Path) -> None:
    """Give the bundled model ``templates`` (its weights unchanged) and record the swap in its metadata."""
    from unmf_core.io.checkpoints import load_checkpoint, save_checkpoint
    from unmf_core.transcription.templates import read_templates

    ck = load_checkpoint(model)
    t = read_templates(templates, ck.cqt or CQTParams())
    meta = dict(ck.meta)
    meta.setdefault("trained_with_templates", ck.templates_source)
    meta["templates_replaced"] = (f"scripts/make_resources.py --only model-templates: trained weights kept, "
                                  f"templates replaced by {templates.name} ({t.source})")
    save_checkpoint(model, ck.model, ck.cqt or CQTParams(), t.W, t.source, meta, overwrite=True, notes=ck.notes)
    print(f"templates of {templates.name} -> {model} (trained with: {meta['trained_with_templates']})")


def make_filters(out_dir: Path) -> None:
    """The CQT filter file of the default parameters (built with librosa); others are cached on first use."""
    from unmf_core.frontend import filterbank

    out_dir.mkdir(parents=True, exist_ok=True)
    for params in (CQTParams(),):
        path = out_dir / filterbank.file_name(params)
        filterbank.save(path, filterbank.build(params), params)
        print(f"CQT filters ({params.sr} Hz, hop {params.hop}) -> {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["demo", "templates", "model-templates", "filters"])
    args = ap.parse_args()
    res = ROOT / "resources"
    if args.only in (None, "filters"):
        make_filters(res / "cqt")
    if args.only in (None, "demo"):
        make_demo(res / "demo")
    if args.only in (None, "templates"):
        make_templates(res / "templates" / "default.npz")
    if args.only in (None, "templates", "model-templates"):
        put_templates_in_model(res / "models" / "default.pt", res / "templates" / "default.npz")


if __name__ == "__main__":
    main()
