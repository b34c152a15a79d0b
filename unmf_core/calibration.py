"""Calibrate the templates to the user's instrument from a few recorded notes.

Three kinds of calibration material give templates for some keys:

* a folder of single-note recordings named after their keys (any number ≥ 1);
* ONE recording of single notes played one after another in any order: onsets
  are detected on the CQT, each note's pitch is found by decomposing its
  spectrum on the bundled templates, and notes that overlap, sound as chords or
  have no clear pitch are skipped and listed;
* a recording with its MIDI: W is learned by β-divergence NMF (the project's MU
  kernel, :mod:`unmf_core.nmf`) with H restricted to the MIDI piano roll.

Keys without a recording are then predicted from the recorded ones on the
bundled templates' frame (:func:`adapt`): in harmonic-relative coordinates (CQT
bin offset from each key's fundamental) the recorded log-spectra are
interpolated across keys (linearly in key number, constant beyond the recorded
range); the bundled templates, corrected by the interpolated log-ratio of
recorded to bundled, fill what no recording covers. Scaling the bundled
templates alone (per relative bin or per absolute frequency) was measured and
scored lower on instruments they were not made from (see
``docs/benchmarks/calibration.md``).

:func:`calibrate` does all of it in one call and returns a :class:`Calibration`
whose templates record which keys were recorded, how well each fits and how.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .audio import Audio, load_audio
from .cqt import LOWEST_PITCH, N_KEYS, CQTParams, compute_cqt, key_names
from .errors import AudioError, TemplateError
from .templates import AUDIO_SUFFIXES, Templates, key_index, load_templates, normalise_columns, peak_frame

METHODS = ("notes-folder", "single-notes-recording", "recording+midi")
#: Log-ratios are clipped to ± this (a factor of e^4 ≈ 55).
MAX_LOG_RATIO = 4.0
#: Added before taking logarithms of unit-L2 templates.
TINY = 1e-7
#: Relative floor of a template below which its log-ratio is not trusted.
FLOOR = 1e-2
#: Shortest usable single note in a recording (seconds before the next onset).
MIN_NOTE_SECONDS = 0.15
#: Another key with this share of the main key's activation makes a note unclear.
SECOND_PITCH_RATIO = 0.35


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
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# The adaptation model


def _smooth(W: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(W, sigma, axis=0, mode="constant")


def _relative(W: np.ndarray, bps: int, pad: int) -> np.ndarray:
    """``(n_bins + pad, 88)``: column k shifted so that its fundamental sits at row ``pad`` (NaN outside)."""
    n_bins = W.shape[0]
    R = np.full((n_bins + pad, W.shape[1]), np.nan)
    for k in range(W.shape[1]):
        f0 = k * bps
        lo = max(0, f0 - pad)
        R[lo - f0 + pad: n_bins - f0 + pad, k] = W[lo:, k]
    return R


def _absolute(R: np.ndarray, n_bins: int, bps: int, pad: int) -> np.ndarray:
    W = np.zeros((n_bins, R.shape[1]))
    for k in range(R.shape[1]):
        f0 = k * bps
        lo = max(0, f0 - pad)
        W[lo:, k] = R[lo - f0 + pad: n_bins - f0 + pad, k]
    return W


def log_ratios(base: np.ndarray, recorded: dict[int, np.ndarray], bps: int = 3, pad: int = 6) -> np.ndarray:
    """Harmonic-relative log-ratios of recorded templates to the bundled ones.

    Parameters
    ----------
    base : np.ndarray
        ``(n_bins, 88)`` bundled templates (unit-L2 columns).
    recorded : dict of int to np.ndarray
        Key index (0..87) → recorded template ``(n_bins,)``.
    bps : int
        CQT bins per semitone.
    pad : int
        Relative bins kept below each fundamental.

    Returns
    -------
    np.ndarray
        ``(n_bins + pad, 88)``: row ``pad + j`` is bin offset j from the key's
        fundamental; NaN where the key has no recording, where the bin is off
        the CQT axis, or where the bundled template has no energy (below
        :data:`FLOOR` of its peak).
    """
    n_bins = base.shape[0]
    Wr = np.zeros_like(base, dtype=np.float64)
    for k, col in recorded.items():
        Wr[:, k] = col / (np.linalg.norm(col) or 1.0)
    Sb, Sr = _smooth(base.astype(np.float64)), _smooth(Wr)
    eps = FLOOR * Sb.max(axis=0, keepdims=True)
    L = np.clip(np.log((Sr + eps) / (Sb + eps)), -MAX_LOG_RATIO, MAX_LOG_RATIO)
    L[Sb < eps] = np.nan
    mask = np.zeros(base.shape[1], dtype=bool)
    mask[list(recorded)] = True
    L[:, ~mask] = np.nan
    return _relative(L, bps, pad)


def interpolate_keys(R: np.ndarray, fill: float = 0.0) -> np.ndarray:
    """Fill every key's column of a relative array from the keys that have values.

    Row by row, linear interpolation in key number between the keys with a
    (finite) value there, constant beyond the first and last; ``fill`` in rows
    where no key has one.
    """
    out = np.full_like(R, fill)
    keys = np.arange(R.shape[1])
    for j in range(R.shape[0]):
        ok = np.isfinite(R[j])
        if ok.any():
            out[j] = np.interp(keys, keys[ok], R[j, ok])
    return out


def adapt(base: np.ndarray, recorded: dict[int, np.ndarray], bps: int = 3) -> np.ndarray:
    """88 templates: the recorded ones, the others interpolated from them on the bundled ones' frame.

    Every template is moved to harmonic-relative coordinates (bin offset from
    its key's fundamental). An unrecorded key's log-spectrum at each relative
    bin is interpolated linearly in key number between the recorded keys
    (constant beyond the first and last recorded key). Relative bins that no
    recording covers (off the CQT axis for every recorded key) take the
    bundled template corrected by the interpolated log-ratio of recorded to
    bundled templates (:func:`log_ratios`), so even one high note gives a full
    template for a low key.

    Parameters
    ----------
    base : np.ndarray
        ``(n_bins, 88)`` bundled templates.
    recorded : dict of int to np.ndarray
        Key index (0..87) → recorded template ``(n_bins,)``; at least one.
    bps : int
        CQT bins per semitone (the offset of one key's fundamental to the next).

    Returns
    -------
    np.ndarray
        float32 ``(n_bins, 88)`` with unit-L2 columns; recorded keys keep
        their own template.

    Notes
    -----
    Measured alternatives (``docs/benchmarks/calibration.md``): scaling the
    bundled templates by the interpolated log-ratio alone, or by a smooth gain
    per absolute frequency, scored clearly lower on SoundFonts the bundled
    templates were not made from (their key-to-key detail belongs to another
    instrument); adding the bundled templates' smoothed pitch trend to the
    interpolation helped on one SoundFont and hurt on the other.
    """
    if not recorded:
        raise TemplateError("no recorded notes to calibrate from")
    n_bins = base.shape[0]
    pad = n_bins  # the whole axis below the fundamental too: its low-level content is part of the timbre
    Wr = np.full((n_bins, base.shape[1]), np.nan)
    for k, col in recorded.items():
        Wr[:, k] = col / (np.linalg.norm(col) or 1.0)
    rel = _relative(Wr, bps, pad)
    L = interpolate_keys(np.log(rel + TINY), fill=np.nan)
    ratio = interpolate_keys(log_ratios(base, recorded, bps, pad))
    fallback = np.log(_relative(base.astype(np.float64), bps, pad) + TINY) + ratio
    L = np.where(np.isfinite(L), L, fallback)
    W = _absolute(np.exp(L), n_bins, bps, pad)
    W[W <= 2 * TINY] = 0.0
    for k, col in recorded.items():
        W[:, k] = col
    return normalise_columns(W)


def fit_quality(base: np.ndarray, recorded: dict[int, np.ndarray], bps: int = 3) -> dict[int, float]:
    """Cosine similarity of each recorded template to its prediction from the other recorded keys."""
    out = {}
    for k, col in recorded.items():
        others = {i: c for i, c in recorded.items() if i != k}
        pred = adapt(base, others, bps)[:, k] if others else base[:, k]
        out[k] = float(np.dot(pred, col) / ((np.linalg.norm(pred) * np.linalg.norm(col)) or 1.0))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Reading the material


def _folder_notes(folder: Path, params: CQTParams, device: str,
                  progress=None) -> tuple[dict[int, np.ndarray], list[str]]:
    files = {}
    for f in sorted(folder.iterdir()):
        if f.suffix.lower() in AUDIO_SUFFIXES:
            k = key_index(f.stem)
            if k is not None:
                files[k] = f
    if not files:
        raise TemplateError(f"{folder}: no recordings named after piano keys (like A4.wav or C#5.wav)")
    cols, skipped = {}, []
    for i, (k, f) in enumerate(sorted(files.items())):
        if progress is not None and i:
            progress(i, len(files))
        try:
            audio = load_audio(f, params.sr)
        except AudioError as exc:
            skipped.append(f"{f.name}: {str(exc).split(': ', 1)[-1]}")
            continue
        C = compute_cqt(audio.samples, params, device).cpu().numpy()
        cols[k] = peak_frame(C).astype(np.float64)
    if progress is not None:
        progress(len(files), len(files))
    if not cols:
        raise TemplateError(f"{folder}: no usable recording ({'; '.join(skipped)[:300]})")
    return cols, skipped


def _decompose(v: np.ndarray, W: np.ndarray, n_iter: int = 150) -> np.ndarray:
    """Non-negative activations h ≥ 0 with ``v ≈ W h`` (KL, the project's MU kernel)."""
    import torch

    from .nmf import update_H

    Mt = torch.from_numpy(v.astype(np.float32))[:, None]
    Wt = torch.from_numpy(W.astype(np.float32))
    H = torch.full((W.shape[1], 1), float(v.sum()) / W.shape[1] + 1e-9)
    for _ in range(n_iter):
        H = update_H(Mt, Wt, H, beta=1.0)
    return H[:, 0].numpy().astype(np.float64)


#: Intervals from a note (semitones) where its own partials make ghost activations: above, its
#: partials as other keys' fundamentals; below, keys whose partials it matches (octaves).
_PARTIAL_INTERVALS = (-24, -12, 12, 19, 24, 28, 31, 34, 36)


def detect_notes(C: np.ndarray, base: np.ndarray, params: CQTParams) -> tuple[dict[int, np.ndarray], list[str]]:
    """Single notes in a CQT of notes played one after another.

    Parameters
    ----------
    C : np.ndarray
        ``(n_bins, T)`` magnitude CQT of the recording.
    base : np.ndarray
        ``(n_bins, 88)`` templates used to name each note's pitch.
    params : CQTParams
        The CQT's parameters.

    Returns
    -------
    notes : dict of int to np.ndarray
        Key index → template (the mean over the key's clear notes).
    skipped : list of str
        ``"<time> s: <reason>"`` for each onset not used.
    """
    import librosa

    fr = params.frame_rate
    logC = librosa.amplitude_to_db(C, ref=float(C.max()) or 1.0, top_db=80.0)
    env = librosa.onset.onset_strength(S=logC, sr=params.sr, hop_length=params.hop)
    onsets = librosa.onset.onset_detect(onset_envelope=env, sr=params.sr, hop_length=params.hop, units="frames",
                                        wait=int(0.1 * fr))
    energy = C.sum(axis=0)
    loud = float(energy.max()) if energy.size else 0.0
    found: dict[int, list[np.ndarray]] = {}
    skipped = []
    names = key_names()
    bounds = list(onsets) + [C.shape[1]]
    last_peak = 0
    for i, o in enumerate(onsets):
        t = f"{o / fr:.2f} s"
        nxt = bounds[i + 1]
        if (nxt - o) / fr < MIN_NOTE_SECONDS:
            skipped.append(f"{t}: the next note follows within {MIN_NOTE_SECONDS:.2f} s (overlapping notes)")
            continue
        # the detected onset frame can lag the attack: compare the peak with the quietest frame shortly before
        lo = max(last_peak, o - int(0.2 * fr))
        pre_f = lo + int(np.argmin(energy[lo:o + 1]))
        win = np.arange(pre_f, min(nxt, o + int(0.4 * fr)))
        peak = int(win[np.argmax(energy[win])])
        last_peak = peak
        v = np.clip(C[:, peak] - C[:, pre_f], 0.0, None)
        if v.sum() < 0.02 * loud:
            skipped.append(f"{t}: too quiet")
            continue
        if v.sum() < 0.3 * C[:, peak].sum():
            skipped.append(f"{t}: hardly louder than what sounded before (overlapping notes or noise)")
            continue
        h = _decompose(v, base)
        m = int(np.argmax(h))
        rivals = [k for k in np.flatnonzero(h > SECOND_PITCH_RATIO * h[m])
                  if k != m and abs(k - m) > 1 and (k - m) not in _PARTIAL_INTERVALS]
        if len(rivals) >= 3:
            skipped.append(f"{t}: no clear pitch (noise?)")
            continue
        if rivals:
            skipped.append(f"{t}: two or more pitches ({names[m]} and {', '.join(names[k] for k in rivals)}: chord)")
            continue
        found.setdefault(m, []).append(v / (np.linalg.norm(v) or 1.0))
    return {k: np.mean(vs, axis=0) for k, vs in found.items()}, skipped


def learn_from_midi(C: np.ndarray, notes, base: np.ndarray, params: CQTParams, n_iter: int = 100,
                    min_seconds: float = 0.3) -> tuple[dict[int, np.ndarray], list[str]]:
    """Templates of the keys a MIDI file plays, learned by NMF with H restricted to its piano roll.

    Parameters
    ----------
    C : np.ndarray
        ``(n_bins, T)`` magnitude CQT of the recording.
    notes : list of Note
        The MIDI notes (aligned with the recording).
    base : np.ndarray
        ``(n_bins, 88)`` initial templates.
    params : CQTParams
        The CQT's parameters.
    n_iter : int
        MU iterations (W and H alternately, KL divergence).
    min_seconds : float
        Keys that sound for less than this in total are not learned.

    Returns
    -------
    notes : dict of int to np.ndarray
        Key index → learned template.
    skipped : list of str
        Keys left out, with the reason.
    """
    import torch

    from .nmf import update_H, update_W

    fr, T = params.frame_rate, C.shape[1]
    mask = np.zeros((N_KEYS, T), dtype=np.float32)
    dur = np.zeros(N_KEYS)
    skipped = []
    for n in notes:
        k = n.pitch - LOWEST_PITCH
        if not 0 <= k < N_KEYS:
            continue
        a, b = int(np.floor(n.onset * fr)) - 2, int(np.ceil((n.offset + 0.1) * fr))
        if a >= T:
            continue
        mask[k, max(0, a):min(T, b)] = 1.0
        dur[k] += n.offset - n.onset
    if not mask.any():
        raise TemplateError("the MIDI file has no notes inside the recording")
    M = torch.from_numpy(C.astype(np.float32))
    W = torch.from_numpy(base.astype(np.float32)).clone()
    H = torch.from_numpy(mask) * float(C.mean() / max(base.mean(), 1e-9) / max(mask.sum(0).mean(), 1.0) + 1e-6)
    for _ in range(n_iter):
        H = update_H(M, W, H, beta=1.0)
        W = update_W(M, W, H, beta=1.0)
        W = W / W.norm(dim=0, keepdim=True).clamp_min(1e-12)
    names = key_names()
    cols = {}
    for k in np.flatnonzero(dur > 0):
        if dur[k] < min_seconds:
            skipped.append(f"{names[k]}: plays only {dur[k]:.2f} s in the MIDI (at least {min_seconds:.1f} s needed)")
            continue
        cols[int(k)] = W[:, k].numpy().astype(np.float64)
    return cols, skipped


# ---------------------------------------------------------------------------------------------------------------


def default_base(params: CQTParams) -> Templates:
    """The bundled templates (``resources/templates/default.npz``) on ``params``' axis."""
    from .pipeline import DEFAULT_TEMPLATES

    if not DEFAULT_TEMPLATES.is_file():
        raise TemplateError(f"bundled templates {DEFAULT_TEMPLATES} are missing: reinstall unmf")
    return load_templates(DEFAULT_TEMPLATES, params)


def calibrate(source, *, midi=None, base: Templates | None = None, cqt: CQTParams | None = None,
              device: str = "cpu", progress=None) -> Calibration:
    """Templates for all 88 keys from a few recorded notes of the user's instrument.

    Parameters
    ----------
    source : str, Path or Audio
        A folder of single-note recordings named after their keys (≥ 1), or
        ONE recording (path or :class:`~unmf_core.audio.Audio`) of single notes
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
    base = base if base is not None else default_base(params)
    if not base.compatible_with(params):
        raise TemplateError("base templates and CQT parameters disagree on the frequency axis")
    B = base.W.astype(np.float64)
    label = source.path or "a recording" if isinstance(source, Audio) else str(source)
    if not isinstance(source, Audio) and Path(source).is_dir():
        if midi is not None:
            raise TemplateError(f"{source}: a MIDI file goes with one recording, not a folder")
        method = "notes-folder"
        cols, skipped = _folder_notes(Path(source), params, device, progress)
    else:
        from .audio import check_signal, resample

        audio = source if isinstance(source, Audio) else load_audio(source, params.sr, check=False)
        try:
            check_signal(audio.samples, Path(label).name)
        except AudioError as exc:
            raise TemplateError(f"{exc}: no notes to calibrate from") from None
        if audio.sr != params.sr:
            audio = Audio(resample(audio.samples, audio.sr, params.sr), params.sr, audio.path)
        C = compute_cqt(audio.samples, params, device).cpu().numpy().astype(np.float64)
        if midi is not None:
            from .notes import read_midi

            method = "recording+midi"
            cols, skipped = learn_from_midi(C, read_midi(midi), B, params)
            label = f"{label} with {midi}"
        else:
            method = "single-notes-recording"
            cols, skipped = detect_notes(C, B, params)
        if not cols:
            why = "; ".join(skipped[:4]) + (" …" if len(skipped) > 4 else "")
            raise TemplateError(f"{Path(label).name}: no clear single notes found"
                                + (f" ({why})" if why else " (silence or no note onsets)"))
    bps = params.bins_per_semitone
    W = adapt(B, cols, bps)
    fits = fit_quality(B, cols, bps)
    names = key_names()
    recorded = {k + LOWEST_PITCH: round(f, 4) for k, f in sorted(fits.items())}
    meta = {"method": method, "source": label, "base": base.source,
            "recorded": {names[p - LOWEST_PITCH]: f for p, f in recorded.items()}, "skipped": skipped}
    filled = [names[k] for k in range(N_KEYS) if k not in cols]
    t = Templates(W, params, f"calibrated ({method}) from {label}; other keys adapted from {base.source}",
                  filled, meta)
    return Calibration(t, recorded, skipped, method)
