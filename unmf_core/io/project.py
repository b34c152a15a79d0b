"""Project files: a recording, how it was transcribed and the hand-edited notes, in one JSON file.

A project names the audio file (absolute, and relative to the project so a
folder can be moved whole), the model / templates / device, the run's method
and length, the note settings, the edited notes (with the run and layer they
were made on), and what was on screen. :func:`save_project` writes it
atomically; :func:`load_project` validates every field and raises
:class:`ProjectError` with a message for the user on anything else.

Format (version 1)::

    {"format": "unmf-project", "version": 1,
     "audio": "/abs/piece.wav", "audio_relative": "piece.wav",
     "engine": {"model": null, "templates": null, "device": "auto"},
     "run": {"method": "unrolled", "iterations": 100, "layers": null},
     "note_params": {"threshold": 0.07, ...},
     "edits": null | {"key": "unrolled", "step": 10, "notes": [[pitch, onset, offset, velocity], ...]},
     "view": {"step": 10, "tab": "transcription", "x_range": [0.0, 12.5], "y_range": [20.0, 60.0]},
     "reference": null | "/abs/piece.mid",
     "beat_times": null | [0.5, 1.0, ...]}
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..errors import UnmfError
from ..transcription.notes import Note, NoteParams
from .atomic import atomic_path

FORMAT = "unmf-project"
VERSION = 1
#: File-name suffix of project files.
SUFFIX = ".unmf"
METHODS = ("unrolled", "mu")
TABS = ("transcription", "compare")
#: Largest project file read (bytes): a project is small; anything bigger is not one.
MAX_BYTES = 64 * 1024 * 1024


class ProjectError(UnmfError):
    """A project file cannot be read, is malformed, or names files that are missing."""

    exit_code = 3


@dataclass
class ProjectEdits:
    """Edited notes and where they were made: run ``key`` (``"unrolled"`` / ``"mu"``) at layer ``step``."""

    key: str
    step: int
    notes: list[Note]


@dataclass
class Project:
    """Everything needed to show a transcription again as it was saved."""

    audio: str
    model: str | None = None
    templates: str | None = None
    device: str = "auto"
    method: str = "unrolled"
    iterations: int = 100
    layers: int | None = None
    note_params: NoteParams = field(default_factory=NoteParams)
    edits: ProjectEdits | None = None
    step: int | None = None
    tab: str = "transcription"
    reference: str | None = None
    beat_times: list[float] | None = None
    x_range: list[float] | None = None
    y_range: list[float] | None = None

    def to_dict(self, folder: str | Path | None = None) -> dict:
        """The JSON object of this project (``audio_relative`` relative to ``folder`` when given)."""
        rel = None
        if folder is not None:
            try:
                rel = os.path.relpath(self.audio, folder)
            except ValueError:  # another drive (Windows)
                rel = None
        edits = None
        if self.edits is not None:
            edits = {"key": self.edits.key, "step": self.edits.step,
                     "notes": [[n.pitch, n.onset, n.offset, n.velocity] for n in self.edits.notes]}
        return {"format": FORMAT, "version": VERSION, "audio": str(self.audio), "audio_relative": rel,
                "engine": {"model": self.model, "templates": self.templates, "device": self.device},
                "run": {"method": self.method, "iterations": self.iterations, "layers": self.layers},
                "note_params": self.note_params.to_dict(), "edits": edits,
                "view": {"step": self.step, "tab": self.tab, "x_range": self.x_range, "y_range": self.y_range},
                "reference": self.reference,
                "beat_times": None if self.beat_times is None else [float(t) for t in self.beat_times]}


def save_project(project: Project, path: str | Path, overwrite: bool = False) -> None:
    """Write ``project`` as JSON to ``path``, atomically.

    Raises
    ------
    OutputError
        ``path`` exists (and ``overwrite`` is False) or cannot be written.
    """
    path = Path(path)
    text = json.dumps(project.to_dict(path.resolve().parent), indent=1)
    with atomic_path(path, overwrite) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")


# ---- reading and validation ----------------------------------------------------------------------
def _fail(path, what: str):
    raise ProjectError(f"{Path(path).name}: {what}")


def _get(obj: dict, key: str, kinds, path, where: str, optional: bool = False):
    value = obj.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        _fail(path, f"{where}{key} must be {_kind_name(kinds)}, not {value!r}")
    if not isinstance(value, kinds):
        _fail(path, f"{where}{key} must be {_kind_name(kinds)}" + ("" if key in obj else " (missing)"))
    return value


def _kind_name(kinds) -> str:
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    names = {str: "a text", int: "an integer", float: "a number", bool: "true or false", dict: "an object",
             list: "a list"}
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds))


def _number(value, path, where: str, low: float = -math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < low:
        _fail(path, f"{where} must be a finite number ≥ {low:g}, not {value!r}")
    return float(value)


def _note(row, path, i: int) -> Note:
    where = f"edits.notes[{i}]"
    if not isinstance(row, list) or len(row) != 4:
        _fail(path, f"{where} must be [pitch, onset, offset, velocity]")
    pitch, onset, offset, velocity = row
    if isinstance(pitch, bool) or not isinstance(pitch, int) or not 0 <= pitch <= 127:
        _fail(path, f"{where}: pitch must be an integer 0..127, not {pitch!r}")
    if isinstance(velocity, bool) or not isinstance(velocity, int) or not 1 <= velocity <= 127:
        _fail(path, f"{where}: velocity must be an integer 1..127, not {velocity!r}")
    on = _number(onset, path, f"{where}: onset", 0.0)
    off = _number(offset, path, f"{where}: offset", 0.0)
    if off <= on:
        _fail(path, f"{where}: offset {off:g} must come after onset {on:g}")
    return Note(pitch, on, off, velocity)


def _note_params(obj, path) -> NoteParams:
    if not isinstance(obj, dict):
        _fail(path, "note_params must be an object")
    known = {f.name: f for f in fields(NoteParams)}
    unknown = sorted(set(obj) - set(known))
    if unknown:
        _fail(path, f"note_params: unknown setting(s) {', '.join(unknown)}")
    values = {}
    for name, value in obj.items():
        if isinstance(getattr(NoteParams, name), bool):
            if not isinstance(value, bool):
                _fail(path, f"note_params.{name} must be true or false, not {value!r}")
            values[name] = value
        else:
            values[name] = _number(value, path, f"note_params.{name}", 0.0)
    return NoteParams(**values)


def _existing(path_text: str | None, folder: Path, relative: str | None = None) -> Path | None:
    """The file ``path_text`` names (absolute, or relative to the project's folder), else ``relative`` there."""
    for cand in (path_text, relative):
        if cand:
            p = Path(cand).expanduser()
            p = p if p.is_absolute() else folder / p
            if p.exists():
                return p
    return None


def parse_project(data, path: str | Path = "project", check_files: bool = True) -> Project:
    """Validate a project's JSON object (see the module's docstring) and make a :class:`Project`.

    With ``check_files`` the audio (and a model, templates or reference named)
    must exist; paths are made absolute against the project's folder.

    Raises
    ------
    ProjectError
        Anything malformed, an unknown format or version, or a missing file.
    """
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        _fail(path, "not an unmf project file")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        _fail(path, "has no valid format version")
    if version != VERSION:
        newer = " (made by a newer unmf: update unmf to open it)" if version > VERSION else ""
        _fail(path, f"project format version {version} is not supported; this unmf reads version {VERSION}{newer}")
    folder = Path(path).resolve().parent
    audio = _get(data, "audio", str, path, "")
    rel = _get(data, "audio_relative", str, path, "", optional=True)
    engine = _get(data, "engine", dict, path, "")
    run = _get(data, "run", dict, path, "")
    view = _get(data, "view", dict, path, "", optional=True) or {}
    method = _get(run, "method", str, path, "run.")
    if method not in METHODS:
        _fail(path, f"run.method must be one of {', '.join(METHODS)}, not {method!r}")
    iterations = _get(run, "iterations", int, path, "run.")
    layers = _get(run, "layers", int, path, "run.", optional=True)
    if iterations < 1 or (layers is not None and layers < 1):
        _fail(path, "run.iterations and run.layers must be at least 1")
    device = _get(engine, "device", str, path, "engine.")
    model = _get(engine, "model", str, path, "engine.", optional=True)
    templates = _get(engine, "templates", str, path, "engine.", optional=True)
    params = _note_params(data.get("note_params", {}), path)
    edits = None
    raw = data.get("edits")
    if raw is not None:
        if not isinstance(raw, dict):
            _fail(path, "edits must be an object")
        key = _get(raw, "key", str, path, "edits.")
        step = _get(raw, "step", int, path, "edits.")
        notes = _get(raw, "notes", list, path, "edits.")
        edits = ProjectEdits(key, step, [_note(row, path, i) for i, row in enumerate(notes)])
    step = _get(view, "step", int, path, "view.", optional=True)
    tab = _get(view, "tab", str, path, "view.", optional=True) or "transcription"
    if tab not in TABS:
        _fail(path, f"view.tab must be one of {', '.join(TABS)}, not {tab!r}")
    ranges = []
    for name in ("x_range", "y_range"):
        r = view.get(name)
        if r is not None:
            if not isinstance(r, list) or len(r) != 2:
                _fail(path, f"view.{name} must be [low, high]")
            r = [_number(v, path, f"view.{name}[]") for v in r]
            if r[1] <= r[0]:
                _fail(path, f"view.{name} must be [low, high] with low < high")
        ranges.append(r)
    reference = _get(data, "reference", str, path, "", optional=True)
    beats = data.get("beat_times")
    if beats is not None:
        if not isinstance(beats, list):
            _fail(path, "beat_times must be a list of times")
        beats = [_number(b, path, "beat_times[]", 0.0) for b in beats]
        if any(b <= a for a, b in zip(beats, beats[1:])):
            _fail(path, "beat_times must increase")
    if check_files:
        found = _existing(audio, folder, rel)
        if found is None:
            _fail(path, f"its recording {audio} is missing (moved or deleted?)")
        audio = str(found)
        for what, value in (("model", model), ("templates", templates)):
            if value is not None:
                p = _existing(value, folder)
                if p is None:
                    _fail(path, f"its {what} {value} is missing")
                if what == "model":
                    model = str(p)
                else:
                    templates = str(p)
        if reference is not None:  # a vanished reference only loses the scores
            p = _existing(reference, folder)
            reference = str(p) if p is not None else None
    return Project(audio, model, templates, device, method, iterations, layers, params, edits, step, tab,
                   reference, beats, *ranges)


def load_project(path: str | Path, check_files: bool = True) -> Project:
    """Read and validate a project file (see :func:`parse_project`).

    Raises
    ------
    ProjectError
        The file is missing, not JSON, malformed, of an unknown version, or names missing files.
    """
    path = Path(path)
    if not path.is_file():
        _fail(path, "no such project file")
    try:
        if path.stat().st_size > MAX_BYTES:
            _fail(path, "too large to be a project file")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(path, f"cannot be read ({exc.__class__.__name__})")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(path, f"not a project file (not valid JSON: {exc.msg}, line {exc.lineno})")
    return parse_project(data, path, check_files)
