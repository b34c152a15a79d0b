"""The calibration material read into one spectrum per recorded key.

* a folder of single-note recordings named after their keys (:func:`folder_notes`);
* one recording of single notes played one after another (:func:`detect_notes`):
  onsets on the CQT, each note's pitch by decomposing its spectrum on the
  bundled templates; overlapping notes, chords and notes with no clear pitch
  are skipped and listed;
* a recording with its MIDI (:func:`learn_from_midi`): the spectrum each note
  adds at its attack.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import AudioError, TemplateError
from ..frontend.audio import load_audio
from ..frontend.cqt import LOWEST_PITCH, N_KEYS, CQTParams, compute_cqt, key_names
from ..transcription.templates import AUDIO_SUFFIXES, key_index, peak_frame
from .adapt import adapt, cosine

#: Shortest usable single note in a recording (seconds before the next onset).
MIN_NOTE_SECONDS = 0.15
#: A note's fundamental is a spectral peak of at least this fraction of its strongest partial (-50 dB:
#: low piano notes have weak fundamentals, but a key an octave below the note has none at all).
FUNDAMENTAL_FLOOR = 0.003
#: Another key with this share of the main key's activation makes a note unclear.
SECOND_PITCH_RATIO = 0.35
#: A template learned from a recording with its MIDI whose cosine to the base template of its key is below this is
#: not used (its attack was masked by other notes; the key is predicted instead). Chosen on the TimGM6mb and
#: FluidR3_GM 30 s takes with leave-one-SoundFont-out base templates (docs/benchmarks/calibration.md).
MIN_LIKENESS = 0.7
#: A note's attack is looked for until this long before the next onset (seconds): the CQT's long low-frequency
#: windows let the next note in earlier. Chosen with MIN_LIKENESS on the same takes.
NEXT_ONSET_MARGIN = 0.03
#: A note's spectrum at its attack is the mean over this long from its loudest frame (seconds; 5 frames of the
#: default CQT), not that frame alone. Chosen on the TimGM6mb and FluidR3_GM takes, scale recordings and adapted
#: runs (1 to 6 frames; docs/benchmarks/calibration.md, "The attack spectrum over 60 ms").
ATTACK_SPAN = 0.06


def folder_notes(folder: Path, params: CQTParams, device: str,
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

    from ..nmf.kernels import update_H

    Mt = torch.from_numpy(v.astype(np.float32))[:, None]
    Wt = torch.from_numpy(W.astype(np.float32))
    H = torch.full((W.shape[1], 1), float(v.sum()) / W.shape[1] + 1e-9)
    for _ in range(n_iter):
        H = update_H(Mt, Wt, H, beta=1.0)
    return H[:, 0].numpy().astype(np.float64)


#: Intervals from a note (semitones) where its own partials make ghost activations: above, its
#: partials as other keys' fundamentals; below, keys whose partials it matches (octaves).
_PARTIAL_INTERVALS = (-24, -12, 12, 19, 24, 28, 31, 34, 36)


def _has_fundamental(v: np.ndarray, k: int, bps: int) -> bool:
    """Whether spectrum v has a spectral peak at key k's fundamental.

    At least :data:`FUNDAMENTAL_FLOOR` of v's maximum and twice the mean level
    one to two semitones either side (an attack's broadband click is no peak).
    """
    c = bps * k
    here = v[max(0, c - 1):c + 2].max()
    side = np.concatenate([v[max(0, c - 2 * bps):max(0, c - bps)], v[c + bps + 1:c + 2 * bps + 1]])
    return bool(here >= FUNDAMENTAL_FLOOR * v.max() and (side.size == 0 or here >= 2.0 * side.mean()))


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

    fr, bps = params.frame_rate, params.bins_per_semitone
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
        # the detected onset frame can lag the attack: _attack compares with the quietest frame shortly before
        v, peak = _attack(C, energy, o, last_peak, nxt, fr)
        last_peak = peak
        if v.sum() < 0.02 * loud:
            skipped.append(f"{t}: too quiet")
            continue
        if v.sum() < 0.3 * C[:, peak].sum():
            skipped.append(f"{t}: hardly louder than what sounded before (overlapping notes or noise)")
            continue
        # a key whose fundamental is absent cannot be the note (an octave below shares all its partials)
        cand = np.array([k for k in range(N_KEYS) if _has_fundamental(v, k, bps)], dtype=int)
        h = np.zeros(N_KEYS)
        if cand.size:
            h[cand] = _decompose(v, base[:, cand])
        if not h.any():
            skipped.append(f"{t}: no clear pitch (noise?)")
            continue
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


def _attack(C: np.ndarray, energy: np.ndarray, onset: int, earliest: int, latest: int,
            fr: float) -> tuple[np.ndarray, int]:
    """The spectrum a note adds at its attack: its loudest frames after ``onset`` minus the quietest before.

    ``earliest`` and ``latest`` bound the frames searched (the previous note's
    peak, the next onset; the peak is looked for until :data:`NEXT_ONSET_MARGIN`
    before it). The spectrum is the mean over :data:`ATTACK_SPAN` from the
    loudest frame (within the same bound), less the quietest frame before the
    onset. Whatever already sounded (a previous note's decay, other held
    notes) cancels out; what only the new note adds remains.

    Returns
    -------
    spectrum : np.ndarray
        ``(n_bins,)``, non-negative.
    peak : int
        The loudest frame.
    """
    lo = max(earliest, onset - int(0.2 * fr), 0)
    pre = lo + int(np.argmin(energy[lo:onset + 1]))
    stop = max(onset + 1, latest - int(round(NEXT_ONSET_MARGIN * fr)))
    win = np.arange(pre, max(pre + 1, min(stop, onset + int(0.4 * fr), C.shape[1])))
    peak = int(win[np.argmax(energy[win])])
    end = max(peak + 1, min(stop, peak + max(1, int(round(ATTACK_SPAN * fr))), C.shape[1]))
    return np.clip(C[:, peak:end].mean(axis=1) - C[:, pre], 0.0, None), peak


def learn_from_midi(C: np.ndarray, notes, params: CQTParams, apart: float = 0.06,
                    base: np.ndarray | None = None) -> tuple[dict[int, np.ndarray], list[str]]:
    """Templates of the keys a MIDI file plays, from the attacks of its notes in the recording.

    Every note whose onset is at least ``apart`` seconds from any other note's
    onset gives the spectrum it adds at its attack (:func:`_attack`: the held
    notes around it cancel out); a key's template is the mean over its notes.
    With ``base``, keys only ever struck together with others (chords) are
    learned too: the attack of each group of onsets within ``apart`` is
    decomposed on the templates predicted from the single attacks
    (:func:`~unmf_core.calibration.adapt.adapt` on ``base``) and each key
    takes its share of it (the spectrum times its part of the model). With
    ``base``, a learned template whose cosine to the base template of its key
    is under :data:`MIN_LIKENESS` is not used (listed in ``skipped``; the key
    is then predicted like any unrecorded one): such an attack was masked by
    other notes or the MIDI note is not the one played.

    Parameters
    ----------
    C : np.ndarray
        ``(n_bins, T)`` magnitude CQT of the recording.
    notes : list of Note
        The MIDI notes (aligned with the recording).
    params : CQTParams
        The CQT's parameters.
    apart : float
        Onsets closer than this to another onset are not used alone (seconds).
    base : np.ndarray, optional
        ``(n_bins, 88)`` bundled templates; without them, chords are not used.

    Returns
    -------
    notes : dict of int to np.ndarray
        Key index → learned template.
    skipped : list of str
        Keys the MIDI plays that got no template, with the reason.

    Notes
    -----
    Learning W by NMF with H restricted to the MIDI piano roll was measured
    first and gave worse templates (cosine 0.81-0.85 to the 88 single notes of
    the same instrument against 0.97 from the attacks, ``benchmarks/calibration.py``
    material): in chords, partials shared by several keys go to the wrong one.
    """
    if C.ndim != 2 or apart <= 0:
        raise TemplateError("learn_from_midi needs a (n_bins, frames) CQT and apart > 0")
    fr = params.frame_rate
    attacks = note_attacks(C, notes, apart, fr)
    if not attacks:
        raise TemplateError("the MIDI file has no notes inside the recording")
    clean = {k: np.mean(vs, axis=0) for k, vs in single_attacks(attacks).items()}
    split: dict[int, np.ndarray] = {}
    unlike: dict[int, float] = {}
    if base is not None:
        clean, unlike = _split_unlike(clean, base)
        if clean:
            split, unlike_split = _split_unlike(_chord_shares(attacks, clean, base, params.bins_per_semitone), base)
            unlike.update(unlike_split)
    names = key_names()
    played = {k for keys, _ in attacks for k in keys}
    skipped = [f"{names[k]}: its attack does not sound like that key (cosine {unlike[k]:.2f} to its base template, "
               f"under {MIN_LIKENESS})" if k in unlike else
               f"{names[k]}: no onset apart from other notes' (within {1000 * apart:.0f} ms) to learn from"
               for k in sorted(played - set(clean) - set(split))]
    return {**clean, **split}, skipped


def onset_groups(notes: list, apart: float) -> list[list]:
    """``notes`` (sorted by onset) in groups whose successive onsets lie less than ``apart`` seconds apart."""
    groups: list[list] = [[notes[0]]]
    for n in notes[1:]:
        if n.onset - groups[-1][-1].onset < apart:
            groups[-1].append(n)
        else:
            groups.append([n])
    return groups


def group_attacks(C: np.ndarray, groups: list[list], apart: float,
                   fr: float) -> list[tuple[list[int], np.ndarray]]:
    """(keys struck, spectrum added at the attack) of each onset group (:func:`_attack`).

    Each attack is searched between the previous group's last onset and the next group's first one.
    """
    T = C.shape[1]
    energy = C.sum(axis=0)
    onsets = np.array([n.onset for g in groups for n in g])
    attacks = []
    for g in groups:
        before = onsets[onsets < g[0].onset - apart]
        after = onsets[onsets > g[-1].onset + apart]
        v, _ = _attack(C, energy, round(g[0].onset * fr), int(before[-1] * fr) + 1 if len(before) else 0,
                       int(after[0] * fr) if len(after) else T, fr)
        attacks.append((sorted({n.pitch - LOWEST_PITCH for n in g}), v))
    return attacks


def note_groups(notes, n_frames: int, apart: float, fr: float) -> list[list]:
    """:func:`onset_groups` of the piano-key notes that start inside ``n_frames`` frames (2 before the end)."""
    inside = sorted((n for n in notes
                     if LOWEST_PITCH <= n.pitch < LOWEST_PITCH + N_KEYS and n.onset * fr < n_frames - 2),
                    key=lambda n: n.onset)
    return onset_groups(inside, apart) if inside else []


def note_attacks(C: np.ndarray, notes, apart: float, fr: float) -> list[tuple[list[int], np.ndarray]]:
    """:func:`group_attacks` of :func:`note_groups` (the notes that start inside C); [] if none."""
    return group_attacks(C, note_groups(notes, C.shape[1], apart, fr), apart, fr)


def single_attacks(attacks: list[tuple[list[int], np.ndarray]]) -> dict[int, list[np.ndarray]]:
    """Key → the unit-norm spectra of its attacks struck alone (one key in the group, something added)."""
    found: dict[int, list[np.ndarray]] = {}
    for keys, v in attacks:
        if len(keys) == 1 and v.sum() > 0:
            found.setdefault(keys[0], []).append(v / np.linalg.norm(v))
    return found


def _chord_shares(attacks: list[tuple[list[int], np.ndarray]], clean: dict[int, np.ndarray], base: np.ndarray,
                  bps: int) -> dict[int, np.ndarray]:
    """Templates of keys only struck with others: their shares of the chords' attacks.

    Each chord's attack is decomposed on the templates predicted from the ``clean`` single attacks
    (:func:`~unmf_core.calibration.adapt.adapt` on ``base``); a key takes the spectrum times its part of
    the model, averaged over its chords.
    """
    pred = adapt(base, clean, bps).astype(np.float64)
    chords: dict[int, list[np.ndarray]] = {}
    for keys, v in attacks:
        if len(keys) > 1 and v.sum() > 0 and any(k not in clean for k in keys):
            part = pred[:, keys] * _decompose(v, pred[:, keys])[None, :]
            share = v[:, None] * part / (part.sum(axis=1, keepdims=True) + 1e-12)
            for j, k in enumerate(keys):
                if k not in clean and share[:, j].any():
                    chords.setdefault(k, []).append(share[:, j] / np.linalg.norm(share[:, j]))
    return {k: np.mean(vs, axis=0) for k, vs in chords.items()}


def _split_unlike(cols: dict[int, np.ndarray],
                  base: np.ndarray) -> tuple[dict[int, np.ndarray], dict[int, float]]:
    """``cols`` split by likeness: the templates kept, and key → cosine of those under :data:`MIN_LIKENESS`.

    Likeness is the cosine of a template to ``base``'s column of its key.
    """
    likes = {k: cosine(v, base[:, k]) for k, v in cols.items()}
    return ({k: v for k, v in cols.items() if likes[k] >= MIN_LIKENESS},
            {k: c for k, c in likes.items() if c < MIN_LIKENESS})
