"""One call from calibration material to 88 templates: :func:`calibrate` and its :class:`Calibration`.

Also where a templates argument is resolved (:func:`load_templates`: a
``.npz`` file, or a folder of single-note recordings built by
:func:`build_from_folder`), so that :mod:`unmf_core.transcription.templates`
knows nothing of calibration.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import AudioError, TemplateError
from ..frontend.audio import Audio, load_audio
from ..frontend.cqt import LOWEST_PITCH, N_KEYS, CQTParams, compute_cqt, key_names
from ..transcription.templates import Templates, harmonic_templates, read_templates
from .adapt import adapt, fit_quality
from .material import detect_notes, folder_notes, learn_from_midi

METHODS = ("notes-folder", "single-notes-recording", "recording+midi")


#: A calibration whose lowest recorded key is above this MIDI pitch (C3) gets :meth:`Calibration.advice`.
LOWEST_ADVISED = 48
#: So does one from fewer recorded keys than this (two octaves).
FEW_KEYS = 25


@dataclass
class Calibration:
    """The result of :func:`calibrate`.

    Attributes
    ----------
    templates : Templates
        All 88 keys; its ``meta`` records the method, the recorded keys and their fit.
    recorded : dict of int to float
        MIDI pitch → fit quality in [0, 1]: cosine similarity of the recorded
        template to its prediction from the other recorded keys (from the
        bundled template alone when it is the only one).
    skipped : list of str
        Why notes or segments were left out (``"1.20 s: two or more pitches (chord)"``).
    method : str
        ``"notes-folder"``, ``"single-notes-recording"`` or ``"recording+midi"``.
    """

    templates: Templates
    recorded: dict[int, float]
    skipped: list[str] = field(default_factory=list)
    method: str = "notes-folder"

    def summary(self) -> str:
        """One line per fact: recorded keys with their fit, then the skipped notes."""
        names = key_names()
        fits = [f"{names[p - LOWEST_PITCH]} {f:.2f}" for p, f in sorted(self.recorded.items())]
        lines = [f"{len(self.recorded)} keys recorded ({self.method}), fit to the others (1 = as predicted):"]
        lines += ["  " + ", ".join(fits[i:i + 12]) for i in range(0, len(fits), 12)]
        lines.append(f"{N_KEYS - len(self.recorded)} keys predicted from the recorded ones")
        lines += [f"skipped {s}" for s in self.skipped]
        advice = self.advice()
        if advice:
            lines.append(f"note: {advice}")
        return "\n".join(lines)

    def advice(self) -> str | None:
        """Hints for a calibration that the benchmark says can do better, or None.

        Measured in ``docs/benchmarks/calibration.md`` on the unseen test piano (onset-F; no
        calibration 0.901, all 88 keys 0.927): 1 to 16 recorded keys scored 0.891-0.908 (adapted to
        each recording), slow scales of two octaves or more from C2 or C3 0.910-0.912, and a scale C4-C6 0.882.
        """
        names = key_names()
        hints = []
        lowest = min(self.recorded, default=LOWEST_ADVISED)
        if lowest > LOWEST_ADVISED:
            hints.append(f"the keys below {names[lowest - LOWEST_PITCH]} are only extrapolated from the recorded "
                         f"ones; record some notes at {names[LOWEST_ADVISED - LOWEST_PITCH]} or lower too")
        if len(self.recorded) < FEW_KEYS:
            hints.append("more recorded keys calibrate better: a slow chromatic scale of two octaves or more from "
                         "C2 or C3 scored best")
        return "; ".join(hints) or None


def default_base(params: CQTParams) -> Templates:
    """The bundled templates (``resources/templates/default.npz``) on ``params``' axis."""
    from ..resources import DEFAULT_TEMPLATES

    if not DEFAULT_TEMPLATES.is_file():
        raise TemplateError(f"bundled templates {DEFAULT_TEMPLATES} are missing: reinstall unmf")
    return read_templates(DEFAULT_TEMPLATES, params)


def calibrate(source, *, midi=None, base: Templates | None = None, cqt: CQTParams | None = None,
              device: str = "cpu", progress=None, mix: bool = True) -> Calibration:
    """Templates for all 88 keys from a few recorded notes of the user's instrument.

    Parameters
    ----------
    source : str, Path or Audio
        A folder of single-note recordings named after their keys (≥ 1), or
        ONE recording (path or :class:`~unmf_core.frontend.audio.Audio`) of single notes
        played one after another in any order, or — with ``midi`` — a
        recording of the MIDI file's notes.
    midi : str or Path, optional
        The MIDI of ``source`` (a recording from a MIDI piano or score-aligned).
    base : Templates, optional
        Templates to adapt (default: the bundled ones).
    cqt : CQTParams, optional
        CQT to analyse with (default: ``base``'s, else :class:`CQTParams`).
    device : str
        Torch device of the CQT.
    progress : callable, optional
        ``progress(done, total)`` after each file of a folder.
    mix : bool
        Mix every key's recorded or predicted template with ``base``'s
        (:func:`~unmf_core.calibration.adapt.adapt`, the default: it
        transcribes better); False keeps the recorded templates as they are.

    Returns
    -------
    Calibration

    Raises
    ------
    TemplateError
        Nothing usable: no note files, only silence, noise or chords, a MIDI
        with no notes in the recording.
    AudioError, MidiError
        The recording or the MIDI cannot be read.
    """
    params = cqt or (base.cqt if base is not None else CQTParams())
    if abs(params.fmin - 27.5) > 1e-6 or params.bins_per_octave % 12:
        raise TemplateError("calibration needs a CQT whose lowest bin is A0 (27.5 Hz), with whole bins per semitone")
    base = base if base is not None else default_base(params)
    if not base.compatible_with(params):
        raise TemplateError("base templates and CQT parameters disagree on the frequency axis")
    B = base.W.astype(np.float64)
    label = (source.path or "a recording") if isinstance(source, Audio) else str(source)
    name = Path(label).name
    if not isinstance(source, Audio) and Path(source).is_dir():
        if midi is not None:
            raise TemplateError(f"{source}: a MIDI file goes with one recording, not a folder")
        method = "notes-folder"
        cols, skipped = folder_notes(Path(source), params, device, progress)
    else:
        method, cols, skipped = _recording_material(source, midi, params, B, device, name)
        if midi is not None:
            label = f"{label} with {midi}"
    bps = params.bins_per_semitone
    W = adapt(B, cols, bps, mix=mix)
    fits = fit_quality(B, cols, bps)
    names = key_names()
    recorded = {k + LOWEST_PITCH: round(f, 4) for k, f in sorted(fits.items())}
    meta = {"method": method, "source": label, "base": base.source, "mixed": mix,
            "recorded": {names[p - LOWEST_PITCH]: f for p, f in recorded.items()}, "skipped": skipped}
    filled = [names[k] for k in range(N_KEYS) if k not in cols]
    how = f"mixed with the base ({base.source})" if mix else f"base: {base.source}"
    own = np.zeros_like(B, dtype=np.float32)
    for k, col in cols.items():
        own[:, k] = col / (np.linalg.norm(col) or 1.0)
    t = Templates(W, params, f"calibrated ({method}) from {label}; other keys predicted ({how})",
                  filled, meta, own)
    return Calibration(t, recorded, skipped, method)


def _recording_material(source, midi, params: CQTParams, B: np.ndarray, device: str,
                        name: str) -> tuple[str, dict[int, np.ndarray], list[str]]:
    """(method, key → learned spectrum, skipped) of ONE recording, with its MIDI or without.

    Raises
    ------
    TemplateError
        Silence, or nothing learned (the reasons of the first skipped notes in the message).
    """
    from ..frontend.audio import check_signal, resample

    audio = source if isinstance(source, Audio) else load_audio(source, params.sr, check=False)
    try:
        check_signal(audio.samples, name)
    except AudioError as exc:
        raise TemplateError(f"{exc}: no notes to calibrate from") from None
    if audio.sr != params.sr:
        audio = Audio(resample(audio.samples, audio.sr, params.sr), params.sr, audio.path)
    C = compute_cqt(audio.samples, params, device).cpu().numpy().astype(np.float64)
    if midi is not None:
        from ..transcription.notes import read_midi

        method = "recording+midi"
        cols, skipped = learn_from_midi(C, read_midi(midi), params, base=B)
    else:
        method = "single-notes-recording"
        cols, skipped = detect_notes(C, B, params)
    if not cols:
        why = "; ".join(skipped[:4]) + (" …" if len(skipped) > 4 else "")
        if midi is not None:
            raise TemplateError(f"{name}: no note of {Path(midi).name} could be learned; is it this "
                                f"recording's MIDI, aligned with it? ({why})")
        raise TemplateError(f"{name}: no clear single notes found"
                            + (f" ({why})" if why else " (silence or no note onsets)"))
    return method, cols, skipped


def build_from_folder(folder: str | Path, params: CQTParams = CQTParams(), device: str = "cpu",
                      progress=None, mix: bool = True) -> Templates:
    """Build templates from single-note recordings named after their keys.

    The same as :func:`calibrate` on a folder: keys with no recording are
    predicted from the recorded ones, on the bundled templates (a harmonic
    model where those are missing).

    Parameters
    ----------
    folder : str or Path
        Folder of ``<key>.wav|.flac|.ogg`` files (``A0`` … ``C8``, ``#`` or ``b``).
    params : CQTParams
        CQT to use.
    device : str
        Torch device for the CQT.
    progress : callable, optional
        ``progress(done, total)`` after each file.
    mix : bool
        As in :func:`calibrate` (False: one instrument's own templates, e.g. to train on).

    Returns
    -------
    Templates

    Raises
    ------
    TemplateError
        The folder is missing or holds no usable recording.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise TemplateError(f"{folder}: not a folder of single-note recordings")
    try:
        base = default_base(params)
    except TemplateError:
        base = harmonic_templates(params)
    return calibrate(folder, base=base, cqt=params, device=device, progress=progress, mix=mix).templates


def load_templates(path: str | Path, params: CQTParams | None = None, device: str = "cpu") -> Templates:
    """Templates from a ``.npz`` file or built from a folder of single-note recordings.

    Parameters
    ----------
    path : str or Path
        A file written by :meth:`Templates.save` (read by
        :func:`~unmf_core.transcription.templates.read_templates`), or a folder
        for :func:`build_from_folder`.
    params : CQTParams, optional
        The CQT the templates will be used with; a file on another frequency
        axis is refused. Folders are analysed with these parameters.
    device : str
        Torch device for building from a folder.

    Raises
    ------
    TemplateError
        Missing, unreadable, malformed or incompatible; a folder with no usable recording.
    """
    path = Path(path)
    if path.is_dir():
        return build_from_folder(path, params or CQTParams(), device)
    if not path.exists():
        raise TemplateError(f"{path}: no such templates file or folder")
    return read_templates(path, params)
