"""Spectral templates W (one CQT column per piano key, A0..C8).

The :class:`Templates` type, its file format (:meth:`Templates.save`,
:func:`read_templates`), key names and the synthetic :func:`harmonic_templates`.
Templates of a real instrument are built from recordings by
:mod:`unmf_core.calibration` (a folder of single notes named after their keys,
``A0.wav`` … ``C8.wav``: per file, the CQT frame of highest energy; keys with
no recording predicted from the recorded ones), which also resolves "a file or
a folder" (:func:`unmf_core.calibration.load_templates`).

File format (``.npz``, loaded without pickle): ``W`` float32 ``(n_bins, 88)``
with unit-L2 columns, ``keys`` (88 names), ``cqt`` (JSON of the CQT parameters
of the frequency axis), ``source`` (a description), ``filled`` and ``meta`` (JSON: keys not recorded;
calibration provenance), ``version`` (1); a calibration also stores ``own`` (float32 ``(n_bins, 88)``).
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..frontend.cqt import N_KEYS, CQTParams, key_names
from ..errors import TemplateError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
FORMAT_VERSION = 1


@dataclass
class Templates:
    """A template matrix with its provenance.

    Attributes
    ----------
    W : np.ndarray
        float32 ``(n_bins, 88)``, unit-L2 columns.
    cqt : CQTParams
        The CQT whose frequency axis W lives on.
    source : str
        Where the templates came from.
    filled : list of str
        Keys that had no recording (predicted by :mod:`unmf_core.calibration`).
    meta : dict
        JSON-ready provenance saved with the file; a calibration
        (:mod:`unmf_core.calibration`) records ``method``, ``source``,
        ``recorded`` (key name → fit in [0, 1]) and ``skipped`` here.
    own : np.ndarray or None
        A calibration's recorded templates before mixing, float32 ``(n_bins, 88)``
        with unit-L2 columns at the recorded keys and zeros elsewhere: what
        :mod:`unmf_core.calibration.piece` calibrates again from (None: not a calibration).
    """

    W: np.ndarray
    cqt: CQTParams = field(default_factory=CQTParams)
    source: str = ""
    filled: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    own: np.ndarray | None = field(default=None, repr=False)

    def save(self, path: str | Path, overwrite: bool = True) -> None:
        """Write the templates as ``.npz`` (atomically)."""
        from ..io.atomic import write_bytes_atomic

        buf = io.BytesIO()
        arrays: dict[str, np.ndarray] = dict(
            W=self.W.astype(np.float32), keys=np.array(key_names()), cqt=np.array(json.dumps(self.cqt.to_dict())),
            source=np.array(self.source), filled=np.array(json.dumps(self.filled)),
            meta=np.array(json.dumps(self.meta)), version=np.array(FORMAT_VERSION))
        if self.own is not None:
            arrays["own"] = self.own.astype(np.float32)
        np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]  # numpy's stub: allow_pickle among the kwargs
        write_bytes_atomic(path, buf.getvalue(), overwrite)

    def compatible_with(self, params: CQTParams) -> bool:
        """Whether W's frequency axis matches ``params`` (rate and hop do not matter)."""
        a, b = self.cqt, params
        return (a.fmin, a.bins_per_octave, a.n_bins, a.filter_scale) == (b.fmin, b.bins_per_octave,
                                                                          b.n_bins, b.filter_scale)


def normalise_columns(W: np.ndarray) -> np.ndarray:
    """Scale every column to unit L2 norm (all-zero columns stay zero)."""
    n = np.linalg.norm(W, axis=0, keepdims=True)
    return (W / np.where(n > 0, n, 1.0)).astype(np.float32)


def key_index(name: str) -> int | None:
    """Index 0..87 of a key name like ``A#4``, ``Bb3`` or ``C8``; None if not a piano key."""
    import librosa

    try:
        midi = int(round(librosa.note_to_midi(name.replace("s", "#") if len(name) > 1 and name[1] == "s" else name)))
    except (librosa.ParameterError, ValueError, IndexError):
        return None
    k = midi - 21
    return k if 0 <= k < N_KEYS else None


def peak_frame(C: np.ndarray) -> np.ndarray:
    """The column of C with the largest sum of raw magnitudes."""
    return C[:, int(np.argmax(C.sum(axis=0)))]


def harmonic_templates(params: CQTParams = CQTParams(), n_partials: int = 20, decay: float = 1.0,
                       inharmonicity: float = 0.0) -> Templates:
    """Synthetic templates: partials ``h·f0`` with amplitude ``h^-decay``.

    Each partial is a Gaussian bump of one third of a semitone on the CQT axis.
    Useful for tests and as a neutral fallback.
    """
    freqs = params.frequencies()
    logf = np.log2(freqs)
    width = 1.0 / (params.bins_per_octave)
    W = np.zeros((params.n_bins, N_KEYS), dtype=np.float64)
    for k in range(N_KEYS):
        f0 = 27.5 * 2 ** (k / 12)
        for h in range(1, n_partials + 1):
            fh = h * f0 * np.sqrt(1 + inharmonicity * h * h)
            if fh > freqs[-1] * 1.02:
                break
            W[:, k] += h ** -decay * np.exp(-0.5 * ((logf - np.log2(fh)) / width) ** 2)
    return Templates(normalise_columns(W), params, f"harmonic model ({n_partials} partials, decay {decay})")


def read_templates(path: str | Path, params: CQTParams | None = None) -> Templates:
    """Read a templates ``.npz`` file written by :meth:`Templates.save`.

    Parameters
    ----------
    path : str or Path
        The file. (A folder of recordings is built by
        :func:`unmf_core.calibration.load_templates`, which takes either.)
    params : CQTParams, optional
        The CQT the templates will be used with; a file on another frequency
        axis is refused.

    Raises
    ------
    TemplateError
        Missing, a folder, unreadable, malformed or incompatible.
    """
    path = Path(path)
    if path.is_dir():
        raise TemplateError(f"{path}: a folder, not a templates file")
    if not path.exists():
        raise TemplateError(f"{path}: no such templates file")
    try:
        with np.load(path, allow_pickle=False) as z:
            W = np.asarray(z["W"], dtype=np.float32)
            cqt = CQTParams.from_dict(json.loads(str(z["cqt"])))
            source = str(z["source"]) if "source" in z else ""
            filled = json.loads(str(z["filled"])) if "filled" in z else []
            meta = json.loads(str(z["meta"])) if "meta" in z else {}
            own = np.asarray(z["own"], dtype=np.float32) if "own" in z else None
    except (OSError, ValueError, KeyError, json.JSONDecodeError, EOFError) as exc:
        raise TemplateError(f"{path.name}: not a templates file ({str(exc)[:120]})") from None
    if W.ndim != 2 or W.shape != (cqt.n_bins, N_KEYS):
        raise TemplateError(f"{path.name}: W has shape {W.shape}, expected ({cqt.n_bins}, {N_KEYS})")
    if not np.all(np.isfinite(W)) or np.any(W < 0):
        raise TemplateError(f"{path.name}: W holds negative or non-finite values")
    if not isinstance(meta, dict):
        raise TemplateError(f"{path.name}: malformed metadata (not a JSON object)")
    if own is not None and (own.shape != W.shape or not np.all(np.isfinite(own)) or np.any(own < 0)):
        raise TemplateError(f"{path.name}: malformed recorded templates (shape {own.shape}, "
                            "negative or non-finite values)")
    t = Templates(W, cqt, source, filled, meta, own)
    if params is not None and not t.compatible_with(params):
        raise TemplateError(f"{path.name}: templates were made for another CQT frequency axis "
                            f"({cqt.n_bins} bins, {cqt.bins_per_octave}/octave from {cqt.fmin} Hz)")
    return t
