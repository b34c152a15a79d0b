"""``unmf_core.transcribe``: a recording (file or array) to a :class:`Transcription` in one call."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np

from .engine import Engine
from .options import Options
from .result import Transcription


def transcribe(audio: str | Path | np.ndarray, sr: int | None = None, *, method: str = "unrolled",
               model=None, templates=None, device: str = "auto", **options) -> Transcription:
    """Transcribe a piano recording.

    Parameters
    ----------
    audio : str, Path or np.ndarray
        An audio file (WAV, FLAC, OGG, MP3), or samples: ``(n,)`` mono,
        ``(n, channels)`` or ``(channels, n)``; float in [-1, 1] or integer PCM
        (scaled as a WAV reader scales it). Arrays are validated exactly like
        files: channels mixed, NaN/inf refused, resampled to the working rate.
        A silent recording gives no notes.
    sr : int, optional
        Sample rate of an array in Hz (required for arrays).
    method : {"unrolled", "mu"}
        The bundled unrolled model (default) or plain β-divergence MU.
    model : str, Path or None
        A checkpoint (default: the bundled model).
    templates : str, Path, Templates or None
        Templates (default: the model's, else the bundled set).
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda[:N]"``.
    **options
        Fields of :class:`~unmf_core.transcription.options.Options`:
        ``iterations``, ``layers``, ``beta``, ``notes`` (a NoteParams), ``seed``…

    Returns
    -------
    Transcription
        ``.notes`` (list of Note), ``.H`` ``(88, T)``, ``.params``…

    Raises
    ------
    AudioError
        Unreadable or invalid audio.
    OptionError
        An option out of range (e.g. more layers than the model has).
    TypeError
        An unknown option name.

    Examples
    --------
    >>> import numpy as np, unmf_core
    >>> len(unmf_core.transcribe(np.zeros(22050), sr=22050).notes)
    0
    """
    known = {f.name for f in fields(Options)} - {"method"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(unknown)} (use {', '.join(sorted(known))})")
    engine = Engine(templates=templates, model=model, device=device)
    return engine.transcribe(audio, Options(method=method, **options), sr=sr, allow_silence=True)
