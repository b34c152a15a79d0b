"""unmf core: piano transcription by NMF and unrolled NMF, with no Qt dependency.

The public API, in one call::

    import unmf_core
    result = unmf_core.transcribe("piece.flac")          # or an array: transcribe(samples, sr=44100)
    for note in result.notes:
        print(note.pitch, note.onset, note.offset)

:class:`Engine` keeps the model and templates loaded between recordings and
yields every step (:meth:`Engine.steps`). Subpackages: :mod:`.frontend` (audio
and CQT), :mod:`.nmf` (MU kernels, chunked runs, the unrolled network),
:mod:`.transcription` (engine, methods, notes, templates, metrics),
:mod:`.calibration` (templates from recordings of the user's instrument),
:mod:`.training`, :mod:`.io` (atomic writes, checkpoints), :mod:`.cli`.
Names are imported on first use, so ``import unmf_core`` is cheap.
"""
import os
from importlib import import_module

# Torch's OpenMP threads spin while they wait by default; on a busy machine
# (other programs on the same cores) that spinning makes every parallel
# section stall and the factorisation runs ~5-10x slower (see
# docs/benchmarks/README.md). Threads that sleep while waiting avoid it. This
# only takes effect when unmf_core is imported before torch (the CLI and the
# app do so); an explicit setting in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

#: public name → module that defines it
_EXPORTS = {
    "transcribe": "unmf_core.transcription.api",
    "Engine": "unmf_core.transcription.engine",
    "Options": "unmf_core.transcription.options",
    "Transcription": "unmf_core.transcription.result",
    "MU": "unmf_core.transcription.methods",
    "Unrolled": "unmf_core.transcription.methods",
    "Note": "unmf_core.transcription.notes",
    "NoteParams": "unmf_core.transcription.notes",
    "extract_notes": "unmf_core.transcription.notes",
    "read_midi": "unmf_core.transcription.notes",
    "write_midi": "unmf_core.transcription.notes",
    "Templates": "unmf_core.transcription.templates",
    "load_templates": "unmf_core.calibration",
    "note_scores": "unmf_core.transcription.metrics",
    "Audio": "unmf_core.frontend.audio",
    "load_audio": "unmf_core.frontend.audio",
    "CQTParams": "unmf_core.frontend.cqt",
    "errors": "unmf_core.errors",
    "UnmfError": "unmf_core.errors",
    "AudioError": "unmf_core.errors",
    "MidiError": "unmf_core.errors",
    "TemplateError": "unmf_core.errors",
    "CheckpointError": "unmf_core.errors",
    "OptionError": "unmf_core.errors",
    "OutputError": "unmf_core.errors",
    "DeviceError": "unmf_core.errors",
    "Cancelled": "unmf_core.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'unmf_core' has no attribute {name!r}")
    value = import_module(module) if name == "errors" else getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
