"""Transcribe many recordings: in this process, or in worker processes that each build the engine once.

:func:`find_audio` expands folders into their recordings, :func:`plan` names each recording's MIDI file,
and :func:`run_batch` is the work as a generator (one event per file started or finished; stop iterating, or
make ``cancel()`` return True, to stop). The command line (``unmf transcribe DIR -o OUT/ -j N``) and the app's
folder queue both drain it.

With ``workers > 1`` the files go, longest first, to ``workers`` threads of this process that share ONE
:class:`~unmf_core.transcription.engine.Engine` (built once, only read while files run) and ONE torch
thread each (``torch.set_num_threads(1)``: every thread runs its own operations inline, and torch releases
the GIL inside them). Against one process per file this saves a torch import and the engine per worker
(~1.5 s of CPU and ~250 MiB each; ``docs/benchmarks/peer.md``). With ``processes=True`` (the app: it never
runs a second torch model in one of its threads) they go to ``workers`` processes instead
(:func:`~unmf_core.transcription.processes.run_in_processes`; ``spawn``) that each build the engine once
and run one torch thread; that calling process never needs torch. Results are the same as ``workers=1``
either way: each file is one independent :meth:`Engine.transcribe
<unmf_core.transcription.engine.Engine.transcribe>` followed by one :func:`write_midi_file` (or the
``write`` given), the single place where a file's notes are written. The threads are
:func:`~unmf_core.transcription.threads.run_in_threads`.

This module imports neither torch nor numpy at import time."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..errors import AudioError, Cancelled, OptionError, OutputError, UnmfError

#: Recordings a folder is searched for (case-insensitive).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


def usable_cores() -> int:
    """Processors this process may run on (``os.sched_getaffinity``; ``os.cpu_count`` where that is missing)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


#: Memory a worker process takes at its peak (torch, the engine, a 30 s file: about 510 MiB measured), rounded up.
WORKER_MEMORY = 768 * 2 ** 20
#: oneDNN kernels a batch keeps (``ONEDNN_PRIMITIVE_CACHE_CAPACITY``, unless set): enough for one file's shapes.
PRIMITIVE_CACHE = 64


def default_workers() -> int:
    """Worker processes by default: the usable cores, but no more than half the machine's memory holds."""
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return usable_cores()
    return max(1, min(usable_cores(), memory // 2 // WORKER_MEMORY))


@dataclass
class Recipe:
    """What every file gets, as plain values (picklable, no torch): how to build the engine and what to run.

    Attributes
    ----------
    templates, model : str or None
        Templates file or folder, model checkpoint (None: bundled).
    device : str
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    seed_cqt : bool
        The seed's CQT setting (44.1 kHz, hop 128).
    method, iterations, layers, beta, note_gate, adapt_to_piece
        As :class:`~unmf_core.transcription.options.Options`.
    notes : dict
        Note settings given explicitly (:class:`~unmf_core.transcription.notes.NoteParams` field → value);
        the others are the model's (:meth:`Engine.notes_for`).
    threads : int or None
        Torch threads of the process that runs the files (None: leave torch's choice).
    precision : str or None
        The CNNs' precision, ``auto``, ``float32`` or ``bfloat16``
        (:func:`~unmf_core.nmf.precision.inference_precision`; None: the engine's own choice).
    """

    templates: str | None = None
    model: str | None = None
    device: str = "auto"
    seed_cqt: bool = False
    method: str = "unrolled"
    iterations: int = 100
    layers: int | None = None
    beta: float = 1.0
    note_gate: str = "on"
    adapt_to_piece: bool = True
    notes: dict = field(default_factory=dict)
    threads: int | None = None
    precision: str | None = None


@dataclass(frozen=True)
class Job:
    """One recording and the MIDI file it becomes."""

    src: Path
    dst: Path


@dataclass
class Outcome:
    """What became of one :class:`Job`.

    ``status`` is ``"done"`` (``notes`` notes written to ``job.dst``), ``"failed"``
    (``error``: one line; ``exit_code`` as the CLI's) or ``"cancelled"``.
    ``duration`` is the recording's length, ``seconds`` the time spent on it, ``summary``
    what the writer said of the file (e.g. its tempo), if anything.
    """

    job: Job
    status: str
    notes: int = 0
    duration: float = 0.0
    seconds: float = 0.0
    error: str = ""
    exit_code: int = 0
    summary: str = ""


def find_audio(paths: Iterable[str | Path], recursive: bool = False) -> list[Path]:
    """The recordings to transcribe: files as given, folders expanded to their audio files (sorted).

    Parameters
    ----------
    paths : iterable of str or Path
        Files (kept whatever their suffix: a bad one fails on its own) and folders.
    recursive : bool
        Also look in sub-folders (default: only the folder's own files).

    Raises
    ------
    AudioError
        A folder holds no audio file, or a path does not exist.
    """
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files = p.rglob("*") if recursive else p.iterdir()
            audio = sorted(f for f in files if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES
                           and not f.name.startswith("."))
            if not audio:
                where = " or its sub-folders" if recursive else ""
                raise AudioError(f"{p}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in this folder{where}")
            found += audio
        elif p.exists():
            found.append(p)
        else:
            raise AudioError(f"{p}: no such file or folder")
    return found


def plan(inputs: list[Path], out: str | Path, roots: Iterable[str | Path] = (), suffix: str = ".mid") -> list[Job]:
    """Name every recording's output file in the folder ``out``: ``<stem><suffix>`` (``.mid`` by default).

    A recording found under one of ``roots`` (folders searched recursively) keeps
    its sub-folder: ``root/live/a.wav`` → ``out/live/a.mid``.

    Raises
    ------
    OptionError
        Two recordings would write the same file (``a.wav`` and ``a.flac``).
    """
    out = Path(out)
    roots = [Path(r) for r in roots]
    jobs: list[Job] = []
    seen: dict[Path, Path] = {}
    for src in inputs:
        sub = next((src.parent.relative_to(r) for r in roots if src.is_relative_to(r)), Path())
        dst = out / sub / f"{src.stem}{suffix}"
        if dst in seen:
            raise OptionError(f"{seen[dst].name} and {src.name} would both be written to {dst}; "
                              f"rename one or transcribe them separately")
        seen[dst] = src
        jobs.append(Job(src, dst))
    return jobs


def write_midi_file(result, job: Job, overwrite: bool) -> None:
    """Write a transcription's notes to ``job.dst`` (atomic): the one place a batch writes a file."""
    from .notes import write_midi

    write_midi(result.notes, job.dst, overwrite=overwrite)


class _Runner:
    """The engine of one process and the options built from a :class:`Recipe`; transcribes one job per call.

    :meth:`run` only reads the engine and the options, so several threads may call it at once (``-j N``).
    """

    def __init__(self, recipe: Recipe, cancel: Callable[[], bool] | None = None):
        from dataclasses import replace

        if recipe.threads:
            import torch

            torch.set_num_threads(recipe.threads)
        from ..frontend.cqt import CQTParams
        from .engine import Engine, Options

        # oneDNN keeps a compiled kernel per input shape (up to 1024 by default); every file brings new shapes
        # (its chunk length), ~1.7 MiB per file measured: a batch keeps the last 64, which a file reuses.
        os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(PRIMITIVE_CACHE))
        cqt = CQTParams.seed() if recipe.seed_cqt else None
        self.engine = Engine(templates=recipe.templates, model=recipe.model, cqt=cqt, device=recipe.device)
        if recipe.precision:
            from ..nmf.precision import inference_precision

            self.engine.model.set_precision(inference_precision(self.engine.device, recipe.precision))
        n = self.engine.model.cfg.n_layers
        if recipe.method == "unrolled" and recipe.layers is not None and recipe.layers > n:
            raise OptionError(f"--layers {recipe.layers}: the model has {n} layers")
        opts = Options(method=recipe.method, iterations=recipe.iterations, layers=recipe.layers, beta=recipe.beta,
                       note_gate=recipe.note_gate, adapt_to_piece=recipe.adapt_to_piece, track_divergence=False,
                       cancel=cancel)
        self.opts = replace(opts, notes=replace(self.engine.notes_for(opts), **recipe.notes))
        self.cancel = cancel or (lambda: False)

    def steps(self) -> int:
        """Steps one file runs (for a progress bar)."""
        o = self.opts
        return o.iterations if o.method == "mu" else (o.layers or self.engine.model.cfg.n_layers)

    def run(self, job: Job, overwrite: bool, write: Callable = write_midi_file,
            callback: Callable | None = None) -> Outcome:
        """Transcribe and write one file; a user error becomes a failed :class:`Outcome`, not an exception."""
        t0 = time.perf_counter()
        if self.cancel():
            return Outcome(job, "cancelled")
        try:
            res = self.engine.transcribe(job.src, self.opts, callback=callback)
            if self.cancel():
                return Outcome(job, "cancelled", seconds=time.perf_counter() - t0)
            summary = write(res, job, overwrite)
            done = Outcome(job, "done", len(res.notes), res.duration, time.perf_counter() - t0,
                           summary=summary or "")
            del res  # freed before the heap is trimmed
        except Cancelled:
            return Outcome(job, "cancelled", seconds=time.perf_counter() - t0)
        except UnmfError as exc:
            return Outcome(job, "failed", seconds=time.perf_counter() - t0, error=one_line(exc),
                           exit_code=exc.exit_code)
        except (MemoryError, RuntimeError, ValueError) as exc:  # e.g. torch out of memory on a huge file
            return Outcome(job, "failed", seconds=time.perf_counter() - t0,
                           error=f"{job.src.name}: {type(exc).__name__}: {one_line(exc)}", exit_code=1)
        finally:
            from .threads import release_free_memory

            release_free_memory()
        return done


def one_line(exc: BaseException) -> str:
    """An exception's message on one line."""
    return " ".join(str(exc).split()) or type(exc).__name__


def run_batch(jobs: list[Job], recipe: Recipe, workers: int = 1, *, overwrite: bool = False,
              cancel: Callable[[], bool] | None = None, write: Callable = write_midi_file,
              callback: Callable | None = None, processes: bool = False
              ) -> Iterator[tuple[str, int, Outcome | None]]:
    """Transcribe ``jobs``, yielding ``("start", i, None)`` and ``("done", i, outcome)`` per job.

    Parameters
    ----------
    jobs : list of Job
    recipe : Recipe
        Engine and options (built once per process).
    workers : int
        1: in this thread (``recipe.threads`` torch threads); more: that many threads of
        this process sharing one engine, one torch thread each (or worker processes,
        see ``processes``), at most one file per worker in flight.
    overwrite : bool
        Replace existing MIDI files (otherwise such a job fails with exit code 5).
    cancel : callable, optional
        Polled between steps; when True the run stops, removes nothing finished,
        writes nothing half-done, ends every worker and raises
        :class:`~unmf_core.errors.Cancelled`. Closing the generator does the same.
    write : callable
        ``write(result, job, overwrite)``, returning None or a one-line summary; picklable (it is
        sent to the workers), e.g. a module-level function or :class:`unmf_core.cli.notation.Writer`.
    callback : callable, optional
        ``callback(step)`` after each step of each file (in this process only).
    processes : bool
        Use worker processes, even for one worker or one file (the app does: it never
        runs a second torch model in one of its threads).

    Raises
    ------
    UnmfError
        The engine cannot be built (bad templates, model or option): nothing is transcribed.
    Cancelled
        ``cancel()`` returned True.
    """
    cancel = cancel or (lambda: False)
    if not jobs:
        return
    if not processes and (workers <= 1 or len(jobs) <= 1):
        yield from _run_here(jobs, recipe, overwrite, cancel, write, callback)
        return
    order = longest_first(jobs)  # several workers: the long files first, so that none is left running alone
    todo, n = [jobs[i] for i in order], min(workers, len(jobs))
    run = (_run_pool if processes else _run_threads)(todo, recipe, max(1, n), overwrite, cancel, write)
    for kind, i, outcome in run:
        yield kind, order[i], outcome


def longest_first(jobs: list[Job]) -> list[int]:
    """Indices of ``jobs`` by the length of their recordings, longest first (an unreadable file counts as 0 s).

    Workers finish together when the long files go first (the longest-processing-time rule): 16 files on
    2 threads, one of 52 s among ~29 s ones, ended ~0.2 s earlier than in the given order.
    """
    import soundfile as sf

    def seconds(i: int) -> float:
        try:
            info = sf.info(str(jobs[i].src))
            return info.frames / info.samplerate
        except Exception:  # noqa: BLE001 - the job itself reports what is wrong with the file
            return 0.0

    return sorted(range(len(jobs)), key=seconds, reverse=True)


def _run_here(jobs, recipe, overwrite, cancel, write, callback):
    runner = _Runner(recipe, cancel)
    for i, job in enumerate(jobs):
        if cancel():
            raise Cancelled("batch cancelled")
        yield "start", i, None
        outcome = runner.run(job, overwrite, write, callback)
        if outcome.status == "cancelled":
            raise Cancelled("batch cancelled")
        yield "done", i, outcome


def _run_threads(jobs, recipe, workers, overwrite, cancel, write):
    import threading
    from functools import partial

    from .threads import run_in_threads

    stop = threading.Event()
    runner = _Runner(Recipe(**{**recipe.__dict__, "threads": 1}), lambda: stop.is_set() or cancel())
    serve = partial(runner.run, overwrite=overwrite, write=write)
    for kind, i, outcome in run_in_threads(jobs, serve, workers, cancel, stop):
        if outcome is not None and outcome.status == "cancelled":
            raise Cancelled("batch cancelled")
        yield kind, i, outcome


def _run_pool(jobs, recipe, workers, overwrite, cancel, write):
    from contextlib import closing
    from functools import partial

    from .processes import run_in_processes

    factory = partial(_serve_jobs, Recipe(**{**recipe.__dict__, "threads": 1}), overwrite, write)
    with closing(run_in_processes(jobs, factory, workers, cancel, threads=1)) as events:
        for kind, i, outcome in events:
            if outcome is not None and outcome.status == "cancelled":
                raise Cancelled("batch cancelled")
            yield kind, i, outcome


def _serve_jobs(recipe: Recipe, overwrite: bool, write: Callable, stop: Callable[[], bool]) -> Callable:
    """Run once in each worker process: build the engine, return what transcribes one job."""
    runner = _Runner(recipe, stop)
    return lambda job: runner.run(job, overwrite, write)


def existing(jobs: list[Job]) -> list[Job]:
    """Jobs whose MIDI file already exists."""
    return [j for j in jobs if j.dst.exists()]


def check_targets(jobs: list[Job], overwrite: bool) -> None:
    """Refuse before any work when an output exists (unless ``overwrite``) or cannot be written.

    Raises
    ------
    OutputError
        Naming every file that already exists.
    """
    from ..io.atomic import check_writable

    if not overwrite:
        there = existing(jobs)
        if len(there) > 1:
            names = ", ".join(str(j.dst) for j in there[:5]) + (" …" if len(there) > 5 else "")
            raise OutputError(f"{len(there)} outputs already exist ({names}); use --overwrite to replace them")
    for j in jobs:
        check_writable(j.dst, overwrite)
