"""``unmf transcribe``: files and folders, one line per file, a summary, ``-j N`` files at once.

The work is :func:`unmf_core.transcription.batch.run_batch` (with ``-j N``: N threads sharing
one engine, one torch thread each); this module only turns the arguments into a
:class:`~unmf_core.transcription.batch.Recipe` and jobs, and prints. Nothing here imports torch
(``--help`` and argument errors stay fast); the engine does when it is built.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..errors import OptionError, OutputError
from . import notation

NOTE_FIELDS = ("threshold", "offset_ratio", "min_duration", "merge_gap", "reonset_ratio")
#: Torch threads of an in-process run (``-j 1`` or one file). One 25 s file on a shared 2-core machine: 1 thread
#: took 7.4 s CPU and 29 s wall (median of 6), 2 threads 16.5 s CPU and 68 s wall (OpenMP threads spinning
#: while the other core is busy); on a loaded machine two threads only cost more.
SINGLE_THREADS = 1


def add_batch_args(p: argparse.ArgumentParser, jobs_type) -> None:
    """``-j`` and ``--recursive`` of ``unmf transcribe``."""
    from ..transcription.batch import default_workers

    p.add_argument("-j", "--jobs", type=jobs_type, default=None, metavar="N",
                   help=f"files transcribed at once, each in its own thread (one engine, one core each) "
                   f"(default: the usable cores, as far as half the memory allows: here {default_workers()})")
    p.add_argument("--precision", choices=("auto", "float32", "bfloat16"), default=None,
                   help="precision of the model's acceleration networks (default: auto = bfloat16 on a CPU "
                   "with native bfloat16 (AVX-512 BF16 / AMX), float32 elsewhere; or $UNMF_PRECISION)")
    p.add_argument("-r", "--recursive", action="store_true",
                   help="also transcribe the audio files in sub-folders of a folder given (default: only the "
                   "folder's own .wav/.flac/.ogg files); outputs keep the sub-folders")


def recipe_of(args):
    """The :class:`Recipe` of parsed ``transcribe``/``evaluate`` arguments."""
    from ..transcription.batch import Recipe

    return Recipe(templates=args.templates, model=args.model, device=args.device, seed_cqt=args.seed_cqt,
                  method=args.method, iterations=args.iterations, layers=args.layers, beta=args.beta,
                  note_gate=args.note_gate, adapt_to_piece=args.adapt_to_piece == "on",
                  notes={k: getattr(args, k) for k in NOTE_FIELDS if getattr(args, k) is not None},
                  threads=SINGLE_THREADS, precision=getattr(args, "precision", None))


def jobs_of(args):
    """The jobs of ``unmf transcribe``: one file to one output file, or files and folders into an output folder."""
    from ..transcription.batch import Job, find_audio, plan
    from . import notation

    given = [Path(a) for a in args.audio]
    out = Path(args.output)
    single = len(given) == 1 and not given[0].is_dir()
    fmt = notation.output_format(args, out, single)  # a bad -o is an argument error before any file is read
    inputs = find_audio(given, args.recursive)
    if single and out.suffix and not out.is_dir():
        return [Job(inputs[0], out)]
    if out.suffix.lower() in notation.SUFFIXES and not out.is_dir():
        raise OptionError(f"-o {out}: several files need an output folder, not a {out.suffix} file")
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: several inputs need an output folder")
    jobs = plan(inputs, out, roots=[g for g in given if g.is_dir()] if args.recursive else [],
                suffix=notation.suffix(fmt))
    for j in jobs:
        j.dst.parent.mkdir(parents=True, exist_ok=True)
    return jobs


def transcribe(args) -> int:
    """Run ``unmf transcribe``; returns the exit code (0, or the first failure's)."""
    from ..transcription.batch import check_targets, default_workers, run_batch

    jobs = jobs_of(args)
    check_targets(jobs, args.overwrite)
    default = 1 if args.device.startswith("cuda") else default_workers()  # one GPU: one process uses it best
    workers = min(args.jobs or default, len(jobs))
    recipe = recipe_of(args)
    writer = notation.Writer.of(args, notation.output_format(args, Path(args.output), len(jobs) == 1 and
                                                             not Path(args.audio[0]).is_dir()))
    t0 = time.perf_counter()
    outcomes = {}
    width = len(str(len(jobs)))
    bar = _Bar(recipe) if workers == 1 else None
    try:
        for kind, i, outcome in run_batch(jobs, recipe, workers, overwrite=args.overwrite, write=writer,
                                          callback=bar.step if bar else None):
            if kind == "start":
                if bar:
                    bar.start(jobs[i].src.name)
                continue
            if bar:
                bar.close()
            assert outcome is not None  # a "done" event
            outcomes[i] = outcome
            tag = f"[{len(outcomes):>{width}}/{len(jobs)}] " if len(jobs) > 1 else ""
            if outcome.status == "done":
                print(f"{tag}{outcome.job.src.name}: {outcome.notes} notes, {outcome.duration:.1f} s of audio in "
                      f"{outcome.seconds:.2f} s" + (f" ({outcome.summary})" if outcome.summary else "")
                      + f" -> {outcome.job.dst}", flush=True)
            else:
                print(f"unmf: error: {tag}{outcome.error}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        if bar:
            bar.close()
        _summary(jobs, outcomes, time.perf_counter() - t0, workers, cancelled=True)
        raise
    if bar:
        bar.close()
    return _summary(jobs, outcomes, time.perf_counter() - t0, workers)


def _summary(jobs, outcomes: dict, wall: float, workers: int, cancelled: bool = False) -> int:
    done = [o for o in outcomes.values() if o.status == "done"]
    failed = [outcomes[i] for i in sorted(outcomes) if outcomes[i].status == "failed"]
    if len(jobs) > 1 or cancelled:
        audio = sum(o.duration for o in done)
        left = len(jobs) - len(outcomes)
        print(f"{len(done)} of {len(jobs)} files transcribed, {len(failed)} failed"
              + (f", {left} not done (cancelled)" if cancelled else "")
              + f"; {audio:.1f} s of audio in {wall:.1f} s wall time ("
              + ("1 thread)" if workers == 1 else f"{workers} threads)"), flush=True)
    if failed and len(jobs) > 1:
        names = ", ".join(o.job.src.name for o in failed)
        print(f"unmf: {len(failed)} of {len(jobs)} files failed (see above): {names}", file=sys.stderr)
    return failed[0].exit_code if failed else 0


class _Bar:
    """A tqdm bar over the steps of the file in progress (``-j 1`` only; hidden when stderr is not a terminal)."""

    def __init__(self, recipe):
        self.total = recipe.iterations if recipe.method == "mu" else recipe.layers
        self.bar = None

    def start(self, name: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=self.total, desc=name, unit="step", leave=False, disable=None, file=sys.stderr)

    def step(self, s) -> None:
        if self.bar is not None and s.index:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
