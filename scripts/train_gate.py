"""Train the bundled model's note gate (:mod:`unmf_core.nmf.gate`) and write the model with it.

    python scripts/train_gate.py [--data DIR] [--model resources/models/default.pt] [--out OUT.pt]

1. Renders 360 pieces of ~20 s (``unmf_core.training.synthdata.random_piece`` with ``GATE_SEGMENTS``: keys
   also struck again while they sound, block chords over a low bass; seed 0) with FluidR3_GM or
   TimGM6mb, GM pianos 0-7, each altered as a real recording would be (stretched tuning, a room half of the
   time, colouring, noise: :mod:`unmf_core.training.augment`) into ``DIR/train`` (~5 min); MuseScore General
   never: it is the quality benchmark's unseen piano. Nothing from ``../shared`` is used.
2. Runs the model (its unrolled layers; the gate does not change H) on each piece: with the model's own
   templates on 70 % of them, with the piece's own preset's templates (rendered into ``DIR/templates``) on
   30 %, so that the gate also serves a user's calibrated templates (~5 min).
3. Trains a gate from scratch (:func:`unmf_core.training.gate.train_gate`; 2000 Adam steps of 8 crops of
   384 frames, one-cycle learning rate peaking at 1e-3; ~15 min on one core).
4. Writes the model with the gate (``note_gate`` = 16 channels), its unrolled layers and templates
   unchanged; the checkpoint's ``meta["note_gate"]`` records this command, the material and the training.

Measured on a 2-core CPU, one thread: 14.3 minutes with the pieces already rendered (rendering takes ~2.5 more).
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/tmp/unmf-gate-data", help="where the pieces are rendered (kept: a rerun "
                                                                  "reuses them)")
    ap.add_argument("--model", default=str(ROOT / "resources/models/default.pt"), help="the model to add a gate to")
    ap.add_argument("--out", default=str(ROOT / "resources/models/default.pt"))
    ap.add_argument("--pieces", type=int, default=360)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch

    from unmf_core.calibration import load_templates
    from unmf_core.cli.train import TRAIN_SOUNDFONTS
    from unmf_core.io.checkpoints import load_checkpoint, save_checkpoint
    from unmf_core.nmf.unrolled import UnrolledMU
    from unmf_core.training.gate import make_piece, train_gate
    from unmf_core.training.synthdata import GATE_SEGMENTS, make_dataset, make_templates, read_manifest
    from unmf_core.transcription.engine import Engine, Options
    from unmf_core.transcription.notes import read_midi
    from unmf_core.transcription.templates import Templates

    torch.set_num_threads(args.threads)
    t_start = time.time()
    data = Path(args.data) / "train"
    fonts = tuple(f for f in TRAIN_SOUNDFONTS if Path(f).is_file())
    if not (data / "manifest.json").is_file() or len(read_manifest(data)) != args.pieces:
        print(f"rendering {args.pieces} pieces into {data}", flush=True)
        make_dataset(data, args.pieces, seed=args.seed, programs=PROGRAMS, prefix="gate", soundfonts=fonts,
                     augment=True, segments=GATE_SEGMENTS)
    manifest = read_manifest(data)
    ck = load_checkpoint(args.model)
    engine = Engine(model=ck, device="cpu")
    default = engine.templates
    own: dict[tuple[str, int], Templates] = {}
    rng = np.random.default_rng(5)
    pieces = []
    for i, (name, m) in enumerate(sorted(manifest.items())):
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
        wav = data / "audio" / f"{name}.wav"
        res = engine.transcribe(wav, Options(method="unrolled", track_divergence=False))
        M = engine.spectrogram(engine.load(wav))
        pieces.append(make_piece(res.H, res.background, M, read_midi(data / "midi" / f"{name}.mid"),
                                 engine.cqt.frame_rate))
        if (i + 1) % 40 == 0:
            print(f"H and CQT: {i + 1}/{len(manifest)} pieces ({time.time() - t_start:.0f} s)", flush=True)
    t_train = time.time()
    gate = train_gate(pieces, steps=args.steps, seed=args.seed,
                      progress=lambda s, loss: print(f"step {s}: loss {loss:.4f} ({time.time() - t_train:.0f} s)",
                                                     flush=True))
    model = UnrolledMU(replace(ck.model.cfg, note_gate=16))
    state = {k: v for k, v in ck.model.state_dict().items() if not k.startswith("gate.")}
    state.update({f"gate.{k}": v for k, v in gate.state_dict().items()})
    model.load_state_dict(state)
    meta = dict(ck.meta)
    meta["note_gate"] = {
        "command": "python scripts/train_gate.py " + " ".join(sys.argv[1:]),
        "pieces": args.pieces, "steps": args.steps, "loss": "unmf_core.training.gate (negative 0.5, body 1)",
        "seed": args.seed, "own_template_share": OWN_SHARE,
        "soundfonts": [Path(f).name for f in fonts], "programs": list(PROGRAMS),
        "augmentation": "stretched tuning, room (half), EQ colouring (half), pink noise (30 %): "
                        "unmf_core.training.augment",
        "held_out": "MuseScore_General (the quality benchmark's unseen piano)",
        "minutes": round((time.time() - t_start) / 60, 1)}
    save_checkpoint(args.out, model, ck.cqt or engine.cqt, ck.templates, ck.templates_source, meta,
                    overwrite=True, notes=ck.notes)
    print(json.dumps(meta["note_gate"], indent=1))
    print(f"model with note gate -> {args.out}")


if __name__ == "__main__":
    main()
