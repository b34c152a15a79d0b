"""``unmf train`` and ``unmf fine-tune``: the command-line side of :mod:`unmf_core.training.trainer`.

``unmf train --make-data DIR --out resources/models/default.pt`` is the whole
recipe of the bundled model: it renders random training and validation pieces
with FluidSynth (:mod:`unmf_core.training.synthdata`), extra template sets of a few GM
programs, and trains a fresh model. ``unmf fine-tune --data DIR --out NEW.pt``
adapts a model (the bundled one by default) to the user's own pairs.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

#: SoundFonts of the bundled model's training material (MuseScore_General stays out: the unseen validation source).
TRAIN_SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--val-data", metavar="DIR", help="validation pairs (whole files)")
    p.add_argument("--out", required=True, metavar="CKPT", help="checkpoint to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--resume", action="store_true", help="continue from <out>.resume.pt")
    p.add_argument("--epochs", type=int, help="maximum epochs")
    p.add_argument("--batch", type=int, default=8, help="crops per step (default 8)")
    p.add_argument("--crop", type=float, default=4.0, help="crop length in seconds (default 4)")
    p.add_argument("--crops-per-file", type=int, help="crops per file and epoch")
    p.add_argument("--lr", type=float, help="Adam learning rate")
    p.add_argument("--loss", choices=["onset", "threshold", "mse"], default="onset",
                   help="onset-aligned BCE (default), BCE on the whole roll, or the seed's MSE")
    p.add_argument("--layer-weights", choices=["final", "linear", "uniform"], default="linear")
    p.add_argument("--divergence-weight", type=float, default=1.0,
                   help="weight of the fit term D(M|WH)/D(M|W0H0) (default 1)")
    p.add_argument("--fit-layers", choices=["final", "all"], default="all",
                   help="fit term on every layer (default) or on the last layer only")
    p.add_argument("--warmup-steps", type=int, default=0, help="warm-up steps training the factors towards 1")
    p.add_argument("--patience", type=int, default=4, help="early stopping patience in epochs (default 4)")
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop after this many minutes (0: no limit)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (default: torch's choice)")
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument("--cache", metavar="DIR", help="CQT cache folder (default ~/.cache/unmf/cqt or $UNMF_CACHE)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--calibrate", action=argparse.BooleanOptionalAction, default=None,
                   help="pick the note onset threshold on the validation files every epoch and store it with the "
                   "model (default: on for fine-tune, off for train)")


def add_commands(sub) -> None:
    """Register ``train`` and ``fine-tune`` on the ``unmf`` sub-parsers."""
    t = sub.add_parser("train", help="train an unrolled model from scratch (the bundled model's recipe)")
    t.add_argument("--data", metavar="DIR", help="training pairs (audio/ + midi/, or side by side)")
    t.add_argument("--make-data", metavar="DIR", help="render random training/validation pieces into DIR/train "
                   "and DIR/val first (FluidSynth), and train on them")
    t.add_argument("--pieces", type=int, default=160, help="training pieces to render (default 160)")
    t.add_argument("--val-pieces", type=int, default=12, help="validation pieces to render (default 12)")
    t.add_argument("--templates", metavar="FILE_OR_FOLDER", help="templates (default: the bundled ones)")
    t.add_argument("--soundfonts", nargs="+", metavar="SF2", help="SoundFonts the pieces are rendered with, one "
                   "drawn per piece (default: Debian's FluidR3_GM and TimGM6mb; MuseScore_General stays unseen)")
    t.add_argument("--programs", type=int, nargs="+", default=[0, 0, 1, 1, 2, 3, 4, 5, 6, 7],
                   help="GM programs of the rendered pieces, one drawn per piece from this list (default: the "
                   "pianos 0-7, the acoustic grand and bright pianos twice as often)")
    t.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True,
                   help="render as real recordings sound: stretched tuning, rooms, colouring, noise (default on)")
    t.add_argument("--template-programs", type=int, nargs="*",
                   help="GM programs rendered as extra template sets with each SoundFont (default: --programs): a "
                   "rendered piece gets its own instrument's set part of the time")
    t.add_argument("--default-share", type=float, default=0.5,
                   help="chance that a training crop is factorised with the default templates (default 0.5); "
                   "of the rest, half get the piece's own instrument's set, half a random set")
    t.add_argument("--layers", type=int, default=10, help="unrolled layers (default 10)")
    t.add_argument("--hidden", type=int, default=16, help="CNN width h (default 16)")
    t.add_argument("--learn-step", action="store_true", help="each layer also learns a step size on the MU ratio")
    t.add_argument("--ah-context", type=int, nargs="*", default=[], metavar="OFFSET",
                   help="key offsets A_H also sees, e.g. --ah-context -24 -19 -12 12 19 24 (default: none)")
    t.add_argument("--w-every", type=int, default=5, help="update W every k-th layer; 0 keeps W fixed (default 5)")
    _common(t)
    t.set_defaults(func=cmd_train)

    f = sub.add_parser("fine-tune", help="adapt a model to your own (audio, MIDI) pairs")
    f.add_argument("--data", required=True, metavar="DIR", help="your pairs (audio/ + midi/, or side by side)")
    f.add_argument("--base", metavar="CKPT", help="model to start from (default: the bundled model)")
    f.add_argument("--templates", metavar="FILE_OR_FOLDER", help="templates (default: the base model's)")
    _common(f)
    f.set_defaults(func=cmd_fine_tune)


class _Bar:
    """tqdm progress bar per epoch, fed by training progress reports."""

    def __init__(self):
        self.bar = None

    def __call__(self, p) -> None:
        from tqdm import tqdm

        if p.kind == "step":
            if self.bar is None:
                self.bar = tqdm(total=p.steps, desc=f"epoch {p.epoch}", unit="step", leave=False,
                                file=sys.stderr, disable=None)
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{p.loss:.4f}")
            return
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if p.kind in ("epoch", "done", "skipped"):
            print(p.message, file=sys.stderr if p.kind == "skipped" else sys.stdout, flush=True)


def _config(args, epochs: int, crops: int, lr: float, calibrate: bool = False):
    from ..training.trainer import TrainConfig

    return TrainConfig(epochs=epochs if args.epochs is None else args.epochs, batch=args.batch, crop_seconds=args.crop,
                       crops_per_file=args.crops_per_file or crops, lr=args.lr or lr, loss=args.loss,
                       layer_weights=args.layer_weights, divergence_weight=args.divergence_weight,
                       fit_layers=args.fit_layers,
                       warmup_steps=args.warmup_steps, patience=args.patience,
                       seed=args.seed, threads=args.threads, device=args.device, max_minutes=args.max_minutes,
                       calibrate=calibrate if args.calibrate is None else args.calibrate,
                       default_share=getattr(args, "default_share", 0.0))


def _check_out(args, protected: tuple = ()) -> None:
    from ..errors import OutputError
    from ..io.atomic import check_writable

    out = Path(args.out)
    for p in protected:
        if p is not None and Path(p).exists() and out.exists() and out.resolve() == Path(p).resolve():
            raise OutputError(f"{out}: is the model you start from; write the new model to another file")
    check_writable(out, args.overwrite or args.resume)


def cmd_train(args) -> int:
    from ..frontend.cqt import CQTParams
    from ..training.datasets import CQTCache
    from ..training.finetune import _examples
    from ..errors import DataError
    from ..resources import default_templates
    from ..calibration import load_templates
    from ..training.trainer import train
    from ..nmf.unrolled import UnrolledConfig, UnrolledMU

    _check_out(args)
    cqt = CQTParams()
    val: Path | None
    if args.make_data:
        from ..training.render import find_soundfont
        from ..training.synthdata import make_dataset

        root = Path(args.make_data)
        fonts = tuple(args.soundfonts or [f for f in TRAIN_SOUNDFONTS if Path(f).is_file()] or [find_soundfont()])
        for name, n, seed in (("train", args.pieces, args.seed), ("val", args.val_pieces, args.seed + 1000)):
            if len(list((root / name / "audio").glob("*.wav"))) != n if (root / name / "audio").is_dir() else True:
                print(f"rendering {n} {name} pieces into {root / name}", flush=True)
                make_dataset(root / name, n, seed=seed, sr=cqt.sr, programs=tuple(args.programs), prefix=name,
                             soundfonts=fonts, augment=args.augment)
        data, val = root / "train", Path(args.val_data) if args.val_data else root / "val"
    else:
        if not args.data:
            raise DataError("give --data DIR (pairs to train on) or --make-data DIR")
        data, val = Path(args.data), Path(args.val_data) if args.val_data else None
    cache = CQTCache(args.cache, cqt)
    print("analysing training data…", flush=True)
    train_ex = _examples(data, cache)
    val_ex = _examples(val, cache) if val else train_ex
    base = load_templates(args.templates or default_templates(), cqt)
    sets = [base.W]
    meta_data: dict = {}
    if args.make_data:  # rendered pieces: pair each with its own instrument's templates (SoundFont, program)
        sets, meta_data = _own_template_sets(args, sets, cqt, data, val, train_ex, val_ex)
    model = UnrolledMU(UnrolledConfig(n_layers=args.layers, hidden=args.hidden, w_every=args.w_every,
                                       learn_step=args.learn_step, ah_context=tuple(args.ah_context)))
    meta = {"recipe": " ".join(["unmf", "train", *sys.argv[2:]]) if sys.argv[1:2] == ["train"] else "unmf train",
            "train_files": len(train_ex), "val_files": len(val_ex), "data": str(data), **meta_data}
    res = train(model, train_ex, val_ex, sets, cqt, args.out, _config(args, 12, 2, 3e-4), base.source, meta,
                resume=args.resume, callback=_Bar())
    print(f"{res.epochs} epochs in {res.seconds / 60:.1f} min; best validation onset-F {res.best_f:.3f} "
          f"(untrained = plain MU: {res.base_f:.3f}); skipped steps: {res.skipped_steps}")
    return 130 if res.cancelled else 0


def _own_template_sets(args, sets: list, cqt, data: Path, val: Path | None, train_ex: list, val_ex: list):
    """Template sets of every (SoundFont, program) of the rendered pieces; each example learns its own set's index.

    The pieces' SoundFonts, programs and augmentation come from the folders' ``manifest.json``; a piece
    the manifest does not list gets no set of its own. Returns the sets (the default first) and what the
    checkpoint records about the material.
    """
    from ..training.augment import DESCRIPTION
    from ..training.datasets import find_pairs
    from ..training.synthdata import make_templates, read_manifest

    manifest = {**read_manifest(data), **(read_manifest(val) if val else {})}
    programs = sorted(set(args.template_programs if args.template_programs is not None else args.programs))
    fonts = sorted({m["soundfont"] for m in manifest.values()})
    paths = {Path(f).name: f for f in (args.soundfonts or TRAIN_SOUNDFONTS)}
    index: dict[tuple[str, int], int] = {}
    for font in fonts:
        for prog in programs:
            print(f"rendering templates of {font} program {prog}", flush=True)
            index[(font, prog)] = len(sets)
            sets = sets + [make_templates(cqt, prog, soundfont=paths.get(font, font)).W]
    pairs = find_pairs(data) + (find_pairs(val) if val else [])
    for ex, (audio, _) in zip(train_ex + val_ex, pairs):
        m = manifest.get(audio.stem)
        ex.template = index.get((m["soundfont"], m["program"])) if m else None
    augmented = any(any(m["augmentation"].values()) for m in manifest.values())
    meta = {"soundfonts": fonts, "programs": list(args.programs), "template_programs": programs,
            "augmentation": DESCRIPTION if augmented else "none", "default_share": args.default_share}
    return sets, meta


def cmd_fine_tune(args) -> int:
    from ..training.finetune import fine_tune

    _check_out(args, (args.base,))
    cfg = _config(args, 10, 8, 3e-4, calibrate=True)
    bar = _Bar()

    def cb(p):
        if p.kind == "info":
            print(p.message, flush=True)
        else:
            bar(p)

    res = fine_tune(args.data, args.out, args.base, args.templates, args.val_data, cfg, args.cache, args.resume, cb)
    thr = f" (onset threshold {res.notes.threshold:g})" if res.notes is not None else ""
    print(f"{res.epochs} epochs in {res.seconds / 60:.1f} min; validation onset-F {res.base_f:.3f} -> "
          f"{res.best_f:.3f}{thr}; wrote {res.out}")
    return 130 if res.cancelled else 0
