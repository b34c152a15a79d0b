"""The CQT's filters: built once per parameter set, then read from a file.

Building the filter bank takes librosa (``librosa.filters.wavelet``), whose
import and first use cost about a second, and much longer on the first run
after an install, while numba compiles librosa's code. The filters depend only
on :class:`~unmf_core.frontend.cqt.CQTParams`, so they are built once and kept
in an ``.npz`` file named after the parameters:

1. the package ships the file of the default parameters (``resources/cqt/``,
   made by ``scripts/make_resources.py --only filters``);
2. any other parameter set is built on first use and written (atomically) to
   the user's cache folder, ``$UNMF_FILTER_CACHE`` or
   ``platformdirs.user_cache_dir("unmf")/filters``.

A file is only used after it is checked (keys, shapes, dtypes, finite values,
the parameters it was built for); a file that fails the check is rebuilt and
replaced, never trusted. ``np.load`` reads it without pickle.

The half-band low-pass of the octave decimation is computed with numpy; its
float32 taps are identical to ``scipy.signal.firwin(129, 0.5,
window=("kaiser", 8.0))`` (tested).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .params import CQTParams

log = logging.getLogger("unmf")

#: Version of the file layout and of the filter definition; part of every file name.
FORMAT = 1
#: Taps of the half-band decimation filter.
HALFBAND_TAPS = 129


def halfband(numtaps: int = HALFBAND_TAPS, beta: float = 8.0) -> np.ndarray:
    """Half-band low-pass FIR filter (cut-off at a quarter of the sample rate), Kaiser window.

    Parameters
    ----------
    numtaps : int
        Filter length (odd).
    beta : float
        Kaiser window shape.

    Returns
    -------
    np.ndarray
        float32 ``(numtaps,)``, normalised to unit gain at DC: the taps of
        ``scipy.signal.firwin(numtaps, 0.5, window=("kaiser", beta))``.
    """
    m = np.arange(numtaps) - 0.5 * (numtaps - 1)
    h = 0.5 * np.sinc(0.5 * m) * np.kaiser(numtaps, beta)
    return (h / np.sum(h)).astype(np.float32)


@dataclass(frozen=True)
class FilterBank:
    """What the torch CQT applies: one FFT-domain basis per octave, top octave first.

    Attributes
    ----------
    bases : tuple of np.ndarray
        complex64 ``(bins in the octave, n_fft // 2 + 1)`` per octave.
    n_ffts, hops : tuple of int
        FFT length and hop (samples at that octave's rate) per octave.
    decimate : tuple of bool
        Whether the signal is halved in rate after each octave.
    inv_sqrt_len : np.ndarray
        float32 ``(n_bins,)``: ``1 / sqrt(filter length)``, lowest bin first.
    halfband : np.ndarray
        float32 taps of the decimation filter (:func:`halfband`).
    """

    bases: tuple[np.ndarray, ...]
    n_ffts: tuple[int, ...]
    hops: tuple[int, ...]
    decimate: tuple[bool, ...]
    inv_sqrt_len: np.ndarray
    halfband: np.ndarray


def file_name(params: CQTParams) -> str:
    """The cache file name of a parameter set (every field enters it)."""
    text = json.dumps({"format": FORMAT, **params.to_dict()}, sort_keys=True)
    return f"cqt-filters-v{FORMAT}-{params.sr}-{params.hop}-{hashlib.sha256(text.encode()).hexdigest()[:16]}.npz"


def cache_dir() -> Path:
    """The user's filter cache folder (``$UNMF_FILTER_CACHE``, else the platform's cache folder)."""
    env = os.environ.get("UNMF_FILTER_CACHE")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("unmf", appauthor=False)) / "filters"


def bundled_dir() -> Path:
    """The folder of the filter files shipped with the package."""
    from ..resources import CQT_FILTERS

    return CQT_FILTERS


def filter_bank(params: CQTParams) -> FilterBank:
    """The filters of ``params``: from the package, else the user cache, else built (and cached).

    Parameters
    ----------
    params : CQTParams
        Transform parameters.

    Returns
    -------
    FilterBank

    Raises
    ------
    ValueError
        The parameters put the top filter above the Nyquist frequency.
    """
    name = file_name(params)
    for folder in (bundled_dir(), cache_dir()):
        bank = load(folder / name, params)
        if bank is not None:
            return bank
    bank = build(params)
    try:
        save(cache_dir() / name, bank, params)
    except OSError as exc:  # a read-only home: build again next time
        log.info("CQT filters not cached (%s)", exc)
    return bank


def build(params: CQTParams) -> FilterBank:
    """Build the filters with librosa (``librosa.filters.wavelet``, L1-normalised Hann wavelets).

    Raises
    ------
    ValueError
        The parameters put the top filter above the Nyquist frequency.
    """
    import librosa

    p = params
    freqs = p.frequencies()
    r = 2.0 ** (2.0 / p.bins_per_octave)
    alpha = np.full(p.n_bins, (r - 1.0) / (r + 1.0))
    lengths, cutoff = librosa.filters.wavelet_lengths(
        freqs=freqs, sr=p.sr, window="hann", filter_scale=p.filter_scale, alpha=alpha)
    if cutoff > p.sr / 2:
        raise ValueError(f"CQT top filter reaches {cutoff:.0f} Hz, above the Nyquist frequency "
                         f"{p.sr / 2:.0f} Hz: use a higher sample rate")
    n_octaves = int(np.ceil(p.n_bins / p.bins_per_octave))
    bases, n_ffts, hops, decimate = [], [], [], []
    my_sr, my_hop = float(p.sr), p.hop
    for i in range(n_octaves):
        hi = p.n_bins - i * p.bins_per_octave
        lo = max(0, hi - p.bins_per_octave)
        basis, blen = librosa.filters.wavelet(
            freqs=freqs[lo:hi], sr=my_sr, window="hann", filter_scale=p.filter_scale,
            pad_fft=True, norm=1, alpha=alpha[lo:hi])  # type: ignore[arg-type]  # one alpha per filter
        n_fft = basis.shape[1]
        basis = basis * (blen[:, None] / float(n_fft))
        fft_basis = np.fft.fft(basis, n=n_fft, axis=1)[:, : n_fft // 2 + 1]
        fft_basis *= np.sqrt(p.sr / my_sr)
        bases.append(fft_basis.astype(np.complex64))
        n_ffts.append(n_fft)
        hops.append(my_hop)
        even = my_hop % 2 == 0 and i < n_octaves - 1
        decimate.append(even)
        if even:
            my_hop //= 2
            my_sr /= 2.0
    return FilterBank(tuple(bases), tuple(n_ffts), tuple(hops), tuple(decimate),
                      (1.0 / np.sqrt(lengths)).astype(np.float32), halfband())


def save(path: Path, bank: FilterBank, params: CQTParams) -> None:
    """Write ``bank`` to ``path`` atomically (the folder is created).

    Raises
    ------
    OSError
        The file cannot be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"basis{i}": b for i, b in enumerate(bank.bases)}
    arrays.update(n_fft=np.asarray(bank.n_ffts, np.int64), hop=np.asarray(bank.hops, np.int64),
                  decimate=np.asarray(bank.decimate, np.bool_), inv_sqrt_len=bank.inv_sqrt_len,
                  halfband=bank.halfband, params=np.asarray(_params_text(params)))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]  # numpy stubs: allow_pickle in **kwds
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load(path: Path, params: CQTParams) -> FilterBank | None:
    """Read and check a filter file; None when it is missing or fails the check (then it is rebuilt)."""
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
            bank = _checked(dict(z.items()), params)
    except Exception as exc:  # a corrupt or foreign file of any kind: never trusted, rebuilt
        log.info("CQT filters %s unusable (%s): rebuilding them", path, exc)
        return None
    return bank


def _params_text(params: CQTParams) -> str:
    return json.dumps({"format": FORMAT, **params.to_dict()}, sort_keys=True)


def _checked(z: dict, params: CQTParams) -> FilterBank:
    if str(z["params"]) != _params_text(params):
        raise ValueError("built for other parameters")
    n_fft, hop, decimate = z["n_fft"], z["hop"], z["decimate"]
    n_oct = int(np.ceil(params.n_bins / params.bins_per_octave))
    if n_fft.shape != (n_oct,) or hop.shape != (n_oct,) or decimate.shape != (n_oct,) or decimate.dtype != np.bool_:
        raise ValueError("octave tables of the wrong shape")
    bases = []
    for i in range(n_oct):
        hi = params.n_bins - i * params.bins_per_octave
        rows = hi - max(0, hi - params.bins_per_octave)
        b = z[f"basis{i}"]
        if b.dtype != np.complex64 or b.shape != (rows, int(n_fft[i]) // 2 + 1) or not np.isfinite(b).all():
            raise ValueError(f"basis {i}: {b.dtype} {b.shape}")
        bases.append(b)
    if int(hop[0]) != params.hop:
        raise ValueError("hop")
    inv, hb = z["inv_sqrt_len"], z["halfband"]
    if inv.dtype != np.float32 or inv.shape != (params.n_bins,) or not (np.isfinite(inv).all() and (inv > 0).all()):
        raise ValueError("filter lengths")
    if hb.dtype != np.float32 or hb.shape != (HALFBAND_TAPS,) or not np.array_equal(hb, halfband()):
        raise ValueError("half-band filter")
    return FilterBank(tuple(bases), tuple(int(v) for v in n_fft), tuple(int(v) for v in hop),
                      tuple(bool(v) for v in decimate), inv, hb)
