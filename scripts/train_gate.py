"""Train the bundled model's note gate (:mod:`unmf_core.nmf.gate`) and write the model with it.

    python scripts/train_gate.py [--data DIR] [--model resources/models/default.pt] [--out OUT.pt]
    python scripts/train_gate.py --finetune [--seed S] [--data DIR] [--model …] [--out …]
    python scripts/train_gate.py --soup DRAW.pt [DRAW.pt …] --out OUT.pt

From scratch (the shipped gate):

1. Renders 360 pieces of ~20 s (``unmf_core.training.synthdata.random_piece`` with ``GATE_SEGMENTS``: keys
   also struck again while they sound, block chords over a low bass; seed 0) with FluidR3_GM or
   TimGM6mb, GM pianos 0-7, each altered as a real recording would be (stretched tuning, a room half of the
   time, colouring, noise: :mod:`unmf_core.training.augment`) into ``DIR/train`` (~5 min); MuseScore General
   never: it is the quality benchmark's unseen piano. Nothing from ``../shared`` is used.
2. Runs the model (its unrolled layers; the gate does not change H) on each piece from the seeded random start
   (seed 0) that runs had when the shipped gate was trained: with the model's own templates on 70 % of them, with
   the piece's own preset's templates (rendered into ``DIR/templates``) on 30 %, so that the gate also serves a
   user's calibrated templates (~5 min). (Trained on H from today's flat start instead, the gate lost on
   ``../shared``: ``docs/benchmarks/calibration.md``, "The start of H".)
3. Trains a gate from scratch (:func:`unmf_core.training.gate.train_gate`; 2000 Adam steps of 8 crops of
   384 frames, one-cycle learning rate peaking at 1e-3; ~15 min on one core).

``--finetune`` (an experiment, not shipped: ``docs/benchmarks/gate.md``, "Fine-tuned on zone-shifted pianos";
~16 min on one core):

1. Renders 150 pieces the same way into ``DIR/zones-SEED`` (seed 1), each on a zone-shifted piano of its own
   (:mod:`unmf_core.training.zones`: every key sounds a neighbour's sample, transposed, so the sound changes from
   zone to zone of keys as a sampled grand's does; tuning not stretched), and that piano's C1 … C8 one at a time
   into ``DIR/zones-SEED-notes`` (~4 min).
2. Calibrates each piece's templates from its 8 notes (:func:`unmf_core.calibration.calibrate`) and runs the
   engine as a user's run goes (default options: flat start, adapted to the piece) (~5 min).
3. Fine-tunes the model's gate on them (400 Adam steps of 8 crops at a constant 2e-4; ~6 min), so that it learns
   what H looks like where the templates miss the instrument.

``--soup`` writes the first model with the mean of each weight over the given models' gates
(:func:`unmf_core.training.gate.average_gates`): draws of ``--finetune`` with other seeds (own material, own
crops) scatter in their noise, and their mean keeps what they share. The models must differ in their gates only.

Either way the model is written with the new gate, its unrolled layers and templates unchanged; the checkpoint's
``meta["note_gate"]`` records this command, the material and the training.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROGRAMS = (0, 0, 1, 1, 2, 3, 4, 5, 6, 7)
OWN_SHARE = 0.3
#: The keys a fine-tuning piece's templates are calibrated from (MIDI pitches C1 … C8).
CALIBRATION_KEYS = tuple(range(24, 109, 12))


def log(t_start: float, what: str) -> None:
    print(f"{what} ({time.time() - t_start:.0f} s)", flush=True)


def gate_piece(engine, wav: Path, midi: Path, opts):
    """One training piece for the gate: the engine's run on ``wav`` with ``opts``, its CQT and the true notes."""
    from unmf_core.training.gate import make_piece
    from unmf_core.transcription.notes import read_midi

    res = engine.transcribe(wav, opts)
    M = engine.spectrogram(engine.load(wav))
    return make_piece(res.H, res.background, M, read_midi(midi), engine.cqt.frame_rate)


def scratch_material(args, engine, fonts, t_start):
    """The from-scratch gate's pieces: model's own templates on 70 %, the preset's on 30 %, random start."""
    from unmf_core.calibration import load_templates
    from unmf_core.training.synthdata import GATE_SEGMENTS, make_dataset, make_templates, read_manifest
    from unmf_core.transcription.engine import Options
    from unmf_core.transcription.templates import Templates

    data = Path(args.data) / "train"
    if not (data / "manifest.json").is_file() or len(read_manifest(data)) != args.pieces:
        print(f"rendering {args.pieces} pieces into {data}", flush=True)
        make_dataset(data, args.pieces, seed=args.seed, programs=PROGRAMS, prefix="gate", soundfonts=fonts,
                     augment=True, segments=GATE_SEGMENTS)
    default = engine.templates
    own: dict[tuple[str, int], Templates] = {}
    rng = np.random.default_rng(5)
    pieces = []
    for i, (name, m) in enumerate(sorted(read_manifest(data).items())):
        engine.set_templates(default)
        if rng.random() < OWN_SHARE:
            key = (m["soundfont"], int(m["program"]))
            if key not in own:
                path = Path(args.data) / "templates" / f"{Path(key[0]).stem}-{key[1]}.npz"
                if not path.is_file():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    font = next(f for f in fonts if Path(f).name == key[0])
                    make_templates(engine.cqt, key[1], soundfont=font).save(path)
                own[key] = load_templates(path, engine.cqt)
            engine.set_templates(own[key])
        pieces.append(gate_piece(engine, data / "audio" / f"{name}.wav", data / "midi" / f"{name}.mid",
                                 Options(method="unrolled", track_divergence=False, seed=0)))
        if (i + 1) % 40 == 0:
            log(t_start, f"H and CQT: {i + 1} pieces")
    return pieces


def zone_material(args, engine, fonts, t_start):
    """The fine-tuning pieces: zone-shifted pianos, each run with templates calibrated from its C1 … C8."""
    from unmf_core.calibration import calibrate
    from unmf_core.training.synthdata import GATE_SEGMENTS, make_dataset, read_manifest, render_keys
    from unmf_core.training.zones import zone_offsets
    from unmf_core.transcription.engine import Options

    data = Path(args.data) / f"zones-{args.seed}"
    if not (data / "manifest.json").is_file() or len(read_manifest(data)) != args.pieces:
        print(f"rendering {args.pieces} zone-shifted pieces into {data}", flush=True)
        make_dataset(data, args.pieces, seed=args.seed, programs=PROGRAMS, prefix="zone", soundfonts=fonts,
                     augment=True, segments=GATE_SEGMENTS, zones=True)
    pieces = []
    for i, (name, m) in enumerate(sorted(read_manifest(data).items())):
        notes = Path(args.data) / f"zones-{args.seed}-notes" / name
        if not (notes / "C8.wav").is_file():
            font = next(f for f in fonts if Path(f).name == m["soundfont"])
            render_keys(notes, CALIBRATION_KEYS, engine.cqt.sr, int(m["program"]), font, zone_offsets(m["zones"]))
        engine.set_templates(calibrate(notes, cqt=engine.cqt).templates)
        pieces.append(gate_piece(engine, data / "audio" / f"{name}.wav", data / "midi" / f"{name}.mid",
                                 Options(track_divergence=False)))
        if (i + 1) % 25 == 0:
            log(t_start, f"calibrated runs: {i + 1} pieces")
    return pieces


def write_soup(paths: list[str], out: str) -> None:
    """Write the first model of ``paths`` with the mean of all their gates; the rest of each must be the same."""
    import torch

    from unmf_core.errors import CheckpointError
    from unmf_core.io.checkpoints import load_checkpoint, save_checkpoint
    from unmf_core.training.gate import average_gates

    try:
        cks = [load_checkpoint(p) for p in paths]
    except CheckpointError as exc:
        sys.exit(str(exc))
    first = cks[0]
    if any(ck.model.gate is None for ck in cks):
        sys.exit("every model to average needs a note gate")
    rest = {k: v for k, v in first.model.state_dict().items() if not k.startswith("gate.")}
    for path, ck in zip(paths[1:], cks[1:]):
        other = ck.model.state_dict()
        if (any(not torch.equal(v, other[k]) for k, v in rest.items())
                or not np.array_equal(ck.templates, first.templates)):
            sys.exit(f"{path} differs from {paths[0]} in more than its gate")
    first.model.gate.load_state_dict(average_gates([ck.model.gate for ck in cks]).state_dict())
    meta = dict(first.meta)
    meta["note_gate"] = {**meta["note_gate"], "finetune": {
        "command": "python scripts/train_gate.py " + " ".join(sys.argv[1:]),
        "soup": "the mean of each weight over the draws' gates (unmf_core.training.gate.average_gates)",
        "draws": [ck.meta["note_gate"].get("finetune", {"from_scratch": ck.meta["note_gate"].get("command")})
                  for ck in cks]}}
    save_checkpoint(out, first.model, first.cqt, first.templates, first.templates_source, meta, overwrite=True,
                    notes=first.notes)
    print(json.dumps(meta["note_gate"]["finetune"], indent=1))
    print(f"model with the averaged gate of {len(cks)} -> {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/tmp/unmf-gate-data", help="where the pieces are rendered (kept: a rerun "
                                                                  "reuses them)")
    ap.add_argument("--model", default=str(ROOT / "resources/models/default.pt"), help="the model to add a gate to")
    ap.add_argument("--out", help="default: the shipped model from scratch; DATA/finetuned.pt with --finetune")
    ap.add_argument("--finetune", action="store_true", help="fine-tune the model's gate on zone-shifted pianos "
                                                            "calibrated from 8 notes (the module docstring)")
    ap.add_argument("--pieces", type=int, help="default: 360 from scratch, 150 to fine-tune")
    ap.add_argument("--steps", type=int, help="default: 2000 from scratch, 400 to fine-tune")
    ap.add_argument("--lr", type=float, help="default: a one-cycle peak of 1e-3 from scratch, 2e-4 to fine-tune")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, help="default: 0 from scratch, 1 to fine-tune")
    ap.add_argument("--soup", nargs="+", metavar="MODEL", help="instead of training: write the model whose gate "
                                                                "averages these models' gates (draws of --finetune)")
    args = ap.parse_args()
    if args.soup:
        write_soup(args.soup, args.out or str(Path(args.data) / "soup.pt"))
        return
    defaults = (150, 400, 2e-4, 1) if args.finetune else (360, 2000, 1e-3, 0)
    for name, value in zip(("pieces", "steps", "lr", "seed"), defaults):
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.out is None:
        args.out = str(Path(args.data) / "finetuned.pt") if args.finetune else str(ROOT / "resources/models/default.pt")

    import torch

    from unmf_core.cli.train import TRAIN_SOUNDFONTS
    from unmf_core.io.checkpoints import load_checkpoint, save_checkpoint
    from unmf_core.nmf.unrolled import UnrolledMU
    from unmf_core.training.gate import train_gate
    from unmf_core.transcription.engine import Engine

    torch.set_num_threads(args.threads)
    t_start = time.time()
    fonts = tuple(f for f in TRAIN_SOUNDFONTS if Path(f).is_file())
    ck = load_checkpoint(args.model)
    if args.finetune and ck.model.gate is None:
        sys.exit(f"{args.model} has no note gate to fine-tune")
    engine = Engine(model=ck, device="cpu")
    pieces = (zone_material if args.finetune else scratch_material)(args, engine, fonts, t_start)
    t_train = time.time()
    gate = train_gate(pieces, steps=args.steps, lr=args.lr, seed=args.seed,
                      init=ck.model.gate if args.finetune else None,
                      progress=lambda s, loss: log(t_train, f"step {s}: loss {loss:.4f}"))
    model = UnrolledMU(replace(ck.model.cfg, note_gate=16))
    state = {k: v for k, v in ck.model.state_dict().items() if not k.startswith("gate.")}
    state.update({f"gate.{k}": v for k, v in gate.state_dict().items()})
    model.load_state_dict(state)
    meta = dict(ck.meta)
    training = {
        "command": "python scripts/train_gate.py " + " ".join(sys.argv[1:]),
        "pieces": args.pieces, "steps": args.steps, "lr": args.lr,
        "loss": "unmf_core.training.gate (negative 0.5, body 1)", "seed": args.seed,
        "soundfonts": [Path(f).name for f in fonts], "programs": list(PROGRAMS),
        "held_out": "MuseScore_General (the quality benchmark's unseen piano)",
        "minutes": round((time.time() - t_start) / 60, 1)}
    if args.finetune:
        training.update({"material": "zone-shifted pianos (unmf_core.training.zones), templates calibrated from "
                                     "C1..C8 of each, default engine options",
                         "augmentation": "room (half), EQ colouring (half), pink noise (30 %): "
                                         "unmf_core.training.augment; tuning not stretched"})
        meta["note_gate"] = {**meta.get("note_gate", {}), "finetune": training}
    else:
        training.update({"own_template_share": OWN_SHARE,
                         "augmentation": "stretched tuning, room (half), EQ colouring (half), pink noise (30 %): "
                                         "unmf_core.training.augment"})
        meta["note_gate"] = training
    save_checkpoint(args.out, model, ck.cqt or engine.cqt, ck.templates, ck.templates_source, meta,
                    overwrite=True, notes=ck.notes)
    print(json.dumps(meta["note_gate"], indent=1))
    print(f"model with note gate -> {args.out}")


if __name__ == "__main__":
    main()
