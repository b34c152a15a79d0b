"""The ``unmf`` command line: transcribe, evaluate, build templates.

Exit codes: 0 success, 1 unexpected error, 2 bad arguments, 3 unreadable audio
or MIDI, 4 bad templates or model, 5 output not written, 6 device unavailable,
7 malformed dataset, 130 cancelled. Errors print one line on stderr
(``unmf: error: …``); an unexpected internal error also prints one line and
exits 1 (``UNMF_DEBUG=1`` shows its traceback instead).
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import sys
from pathlib import Path

from .. import __version__
from . import notation
from ..errors import Cancelled, OptionError, UnmfError
from .batch import add_batch_args as _batch_args

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
MIDI_SUFFIXES = (".mid", ".midi")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``unmf transcribe: error: …``, exit 2); its sub-parsers are of this class too."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def _number(kind, name: str, low: float | None = None, strict: bool = False):
    """An argparse ``type``: a finite ``kind`` (int or float), at least ``low`` (above it when ``strict``)."""
    bound = "" if low is None else f" {'above' if strict else 'at least'} {low:g}"
    article = "an" if kind is int else "a"
    what = f"{article} {'integer' if kind is int else 'finite number'}{bound}"

    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not math.isfinite(v) or (low is not None and (v <= low if strict else v < low)):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return v

    parse.__name__ = name  # argparse names the type in its message
    return parse


_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


def _device(text: str) -> str:
    if not _DEVICE.fullmatch(text.strip().lower()):
        raise argparse.ArgumentTypeError(f"{text!r}: use auto, cpu, cuda or cuda:N")
    return text.strip().lower()


def _add_engine_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--method", choices=["unrolled", "mu"], default="unrolled",
                   help="unrolled MU (default) or plain MU")
    g.add_argument("--iterations", type=_number(int, "iterations", 1), default=100,
                   help="plain MU iterations (default 100)")
    g.add_argument("--layers", type=_number(int, "layers", 1), default=None,
                   help="unrolled layers to run (default: all of the model's)")
    g.add_argument("--beta", type=_number(float, "beta"), default=1.0, help="β of plain MU (default 1 = KL)")
    g.add_argument("--templates", metavar="FILE_OR_FOLDER",
                   help="templates .npz or a folder of single-note recordings (default: bundled)")
    g.add_argument("--model", metavar="CKPT", help="unrolled model checkpoint (default: bundled)")
    g.add_argument("--device", type=_device, default="auto", help="auto (default), cpu, cuda or cuda:N")
    g.add_argument("--seed-cqt", action="store_true", help="use the seed's CQT setting (44.1 kHz, hop 128)")
    n = p.add_argument_group("notes")
    from ..transcription.notes import NoteParams

    d = NoteParams()
    n.add_argument("--threshold", type=_number(float, "threshold", 0, strict=True),
                   help=f"onset threshold, relative (default: the model's calibrated threshold if it has one, "
                   f"else {d.threshold})")
    n.add_argument("--offset-ratio", type=_number(float, "offset-ratio", 0, strict=True),
                   help=f"offset/onset threshold ratio (default {d.offset_ratio})")
    n.add_argument("--min-duration", type=_number(float, "min-duration", 0),
                   help=f"shortest note, s (default {d.min_duration})")
    n.add_argument("--merge-gap", type=_number(float, "merge-gap", 0),
                   help=f"close gaps shorter than this, s (default {d.merge_gap})")
    n.add_argument("--reonset-ratio", type=_number(float, "reonset-ratio", 1, strict=True),
                   help=f"rise that re-strikes a held key (default {d.reonset_ratio})")
    # transcription.options.NOTE_GATE_CHOICES written out: importing that module here would load torch for --help
    n.add_argument("--note-gate", choices=["on", "auto", "off"], default="on",
                   help="the model's note gate on the last layer: on (default: with any templates, --templates "
                   "or a calibration too), auto (with the model's own templates only), off")
    n.add_argument("--adapt-to-piece", choices=["on", "off"], default="on",
                   help="with calibrated templates (--templates): learn the keys the calibration only predicted "
                   "from the recording's own clean attacks where they clearly differ, then transcribe again "
                   "(default on; the bundled templates are never adapted)")


def _engine(args):
    from ..frontend.cqt import CQTParams
    from ..transcription.engine import Engine

    cqt = CQTParams.seed() if args.seed_cqt else None
    engine = Engine(templates=args.templates, model=args.model, cqt=cqt, device=args.device)
    n = engine.model.cfg.n_layers
    if args.method == "unrolled" and args.layers is not None and args.layers > n:
        raise OptionError(f"--layers {args.layers}: the model has {n} layers")
    return engine


def _options(args, engine):
    from dataclasses import replace

    from ..transcription.engine import Options

    opts = Options(method=args.method, iterations=args.iterations, layers=args.layers, beta=args.beta,
                   track_divergence=False, note_gate=args.note_gate, adapt_to_piece=args.adapt_to_piece == "on")
    given = {k: getattr(args, k) for k in ("threshold", "offset_ratio", "min_duration", "merge_gap", "reonset_ratio")
             if getattr(args, k) is not None}
    return replace(opts, notes=replace(engine.notes_for(opts), **given))


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="step", leave=False, disable=None, file=sys.stderr)


def _run_one(engine, path: Path, opts):
    n = opts.iterations if opts.method == "mu" else (opts.layers or engine.model.cfg.n_layers)
    with _progress(n, path.name) as bar:
        return engine.transcribe(path, opts, callback=lambda s: bar.update(1) if s.index else None)


def cmd_transcribe(args) -> int:
    from .batch import transcribe

    return transcribe(args)


def _report(exc: BaseException) -> None:
    print(f"unmf: error: {_one_line(exc)}", file=sys.stderr)


def _batch_status(failed: list[UnmfError], total: int) -> int:
    """Exit code of a batch: 0, or the first failure's code after a one-line summary."""
    if not failed:
        return 0
    if total > 1:
        print(f"unmf: {len(failed)} of {total} files failed (see above)", file=sys.stderr)
    return failed[0].exit_code


def _pairs(audio_dir: Path, midi_dir: Path, stems: list[str] | None):
    from ..errors import DataError

    if not audio_dir.is_dir():
        raise DataError(f"{audio_dir}: no such folder")
    if not midi_dir.is_dir():
        raise DataError(f"{midi_dir}: no such folder")
    pairs = []
    for a in sorted(audio_dir.iterdir()):
        if a.suffix.lower() not in AUDIO_SUFFIXES or (stems and a.stem not in stems):
            continue
        m = next((midi_dir / f"{a.stem}{s}" for s in (".mid", ".midi") if (midi_dir / f"{a.stem}{s}").exists()), None)
        if m is None:
            raise DataError(f"{a.name}: no reference {a.stem}.mid in {midi_dir}")
        pairs.append((a, m))
    if not pairs:
        raise DataError(f"{audio_dir}: no audio files to evaluate")
    return pairs


def cmd_evaluate(args) -> int:
    import numpy as np

    import soundfile as sf

    from ..frontend.audio import rate_mismatch
    from ..io.atomic import check_writable, write_bytes_atomic
    from ..transcription.metrics import all_scores
    from ..transcription.notes import read_midi

    pairs = _pairs(Path(args.audio_dir), Path(args.midi_dir), args.stems)
    check_writable(args.json, args.overwrite)
    engine = _engine(args)
    opts = _options(args, engine)
    rows, warnings = [], []
    keys = ["onset_f", "onset_precision", "onset_recall", "offset_f", "frame_f"]
    print(f"{'file':<24}" + "".join(f"{k:>16}" for k in keys) + f"{'time_s':>10}")
    failed: list[UnmfError] = []
    for a, m in pairs:
        try:
            res = _run_one(engine, a, opts)
            ref = read_midi(m)
        except (Cancelled, OptionError):
            raise
        except UnmfError as exc:
            _report(exc)
            failed.append(exc)
            continue
        warning = rate_mismatch(a.name, res.duration, max((n.offset for n in ref), default=0.0),
                                sf.info(str(a)).samplerate)
        if warning:
            warnings.append(warning)
            print(f"unmf: warning: {warning}", file=sys.stderr)
        s = all_scores(ref, res.notes, res.H.shape[1], res.frame_rate)
        rows.append({"file": a.name, "n_ref": len(ref), "n_est": len(res.notes), **s, "seconds": res.timings["total"]})
        print(f"{a.name:<24}" + "".join(f"{s[k]:>16.3f}" for k in keys) + f"{res.timings['total']:>10.2f}")
    if not rows:
        return _batch_status(failed, len(pairs))
    means = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k not in ("file",)}
    print(f"{'mean':<24}" + "".join(f"{means[k]:>16.3f}" for k in keys) + f"{means['seconds']:>10.2f}")
    report = {"params": engine.params(opts), "files": rows, "mean": means, "warnings": warnings,
              "failed": [_one_line(e) for e in failed]}
    write_bytes_atomic(args.json, json.dumps(report, indent=2).encode(), overwrite=True)
    print(f"wrote {args.json}" + (f" ({len(rows)} of {len(pairs)} files)" if failed else ""))
    return _batch_status(failed, len(pairs))


def cmd_templates(args) -> int:
    from ..calibration import calibrate, load_templates
    from ..frontend.cqt import CQTParams
    from ..io.atomic import check_writable

    check_writable(args.output, args.overwrite)
    params = CQTParams.seed() if args.seed_cqt else CQTParams()
    base = None
    if args.base:
        base = load_templates(args.base, params)
    cal = calibrate(args.source, midi=args.midi, base=base, cqt=params, device=args.device)
    cal.templates.save(args.output, overwrite=args.overwrite)
    print(cal.summary())
    print(f"wrote {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``unmf`` (sub-commands register here)."""
    p = _Parser(prog="unmf", description="Piano transcription by NMF and unrolled NMF.")
    p.add_argument("--version", action="version", version=f"unmf {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("transcribe", help="transcribe recordings to MIDI, MusicXML or CSV")
    t.add_argument("audio", nargs="+", help="audio files (WAV, FLAC, OGG) and folders of them")
    t.add_argument("-o", "--output", required=True,
                   help="a .mid/.musicxml/.csv for one file; a folder for several files or folders")
    t.add_argument("--overwrite", action="store_true", help="replace existing output files")
    _batch_args(t, _number(int, "jobs", 1))
    _add_engine_args(t)
    notation.add_arguments(t)
    t.set_defaults(func=cmd_transcribe)

    e = sub.add_parser("evaluate", help="transcribe and score against reference MIDI files")
    e.add_argument("--audio-dir", required=True)
    e.add_argument("--midi-dir", required=True)
    e.add_argument("--stems", nargs="*", help="only these file stems (e.g. example-2 example-3)")
    e.add_argument("--json", default="evaluation.json", help="where to write the results (default evaluation.json)")
    e.add_argument("--overwrite", action="store_true", help="replace an existing JSON file")
    _add_engine_args(e)
    e.set_defaults(func=cmd_evaluate)

    m = sub.add_parser("templates", help="calibrate templates to an instrument from a few of its notes",
                       description="Templates for all 88 keys from (a) a folder of single-note recordings named "
                       "after their keys (any number, e.g. C1.wav … C8.wav), (b) ONE recording of single notes "
                       "played one after another (pitches detected), or (c) a recording with --midi. Keys "
                       "without a recording are predicted from the recorded ones.")
    m.add_argument("source", help="folder of single notes, or one recording")
    m.add_argument("--midi", help="the MIDI file of the recording (learn W with H fixed by its piano roll)")
    m.add_argument("-o", "--output", required=True, help="the .npz file to write")
    m.add_argument("--overwrite", action="store_true")
    m.add_argument("--base", metavar="NPZ", help="templates to start from (default: bundled)")
    m.add_argument("--device", default="cpu")
    m.add_argument("--seed-cqt", action="store_true", help="the seed's CQT setting (44.1 kHz, hop 128)")
    m.set_defaults(func=cmd_templates)

    for hook in _EXTRA_COMMANDS:
        hook(sub)
    return p


#: Functions ``f(subparsers)`` that add further sub-commands (training, benchmarks).
_EXTRA_COMMANDS: list = []

from .train import add_commands as _train_commands  # noqa: E402

_EXTRA_COMMANDS.append(_train_commands)
from .listen import add_command as _listen_command  # noqa: E402

_EXTRA_COMMANDS.append(_listen_command)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``unmf`` console script; returns the exit code."""
    _warnings_to_stderr()
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UnmfError as exc:
        _report(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        print("unmf: cancelled", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not a user error: still one line unless UNMF_DEBUG is set
        if os.environ.get("UNMF_DEBUG"):
            raise
        print(f"unmf: error: unexpected {type(exc).__name__}: {_one_line(exc)} "
              f"(set UNMF_DEBUG=1 to see the traceback)", file=sys.stderr)
        return 1


def console() -> None:
    """The ``unmf`` console script (and ``python -m unmf_core.cli``): :func:`main`, then :func:`quick_exit`."""
    quick_exit(main())


def quick_exit(code: int) -> None:
    """End the process with ``code`` without tearing the interpreter down once torch is loaded.

    A normal exit after a run frees every module and torch's own static state one by one: 0.27 s
    of a 4.5 s 16-file batch here (``import torch`` then exit: 1.18 s; with this exit: 0.90 s).
    What a normal exit does for the program still happens first: the ``atexit`` handlers
    (logging, multiprocessing's children, temporary files) and flushing stdout and stderr; every
    file the commands write is closed before they return (atomic writes). With another
    non-daemon thread still running, or torch never imported, it is a normal ``sys.exit``.
    """
    import threading

    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if "torch" not in sys.modules or others:
        sys.exit(code)
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing more can reach it
            pass
    os._exit(code)


class _WarningLine(logging.Handler):
    """Prints the ``unmf`` logger's warnings (e.g. out-of-memory fallbacks) as ``unmf: warning: …``."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"unmf: warning: {' '.join(record.getMessage().split())}", file=sys.stderr)


def _warnings_to_stderr() -> None:
    logger = logging.getLogger("unmf")
    if not any(isinstance(h, _WarningLine) for h in logger.handlers):
        handler = _WarningLine(logging.WARNING)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line (error output is one line per error)."""
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
