"""From activations H to note events, and note events to and from MIDI.

:func:`extract_notes` thresholds H relative to its activation scale (the largest
total activation of any frame), with hysteresis, a minimum duration, merging of
short gaps and a re-onset when a held key's activation rises again; each note
then ends where its own activation decay breaks (:mod:`.notes_offsets`) and gets a
velocity from its peak (:func:`velocity`). MIDI goes through pretty_midi and is
written atomically.
"""
from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pretty_midi

from ..frontend.cqt import LOWEST_PITCH, N_KEYS
from ..errors import MidiError
from .notes_offsets import decay_offset, partial_notes


@dataclass(frozen=True, order=True)
class Note:
    """One note: MIDI pitch, onset and offset in seconds, velocity 1..127."""

    pitch: int
    onset: float
    offset: float
    velocity: int = 80


@dataclass
class NoteParams:
    """Note extraction settings (defaults fixed once on the project's own training data).

    Attributes
    ----------
    threshold : float
        A note starts where H exceeds ``threshold × scale``; ``scale`` is the
        largest total activation (sum over keys) of any frame.
    offset_ratio : float
        A note ends where H falls below ``threshold × offset_ratio × scale``.
    min_duration : float
        Shorter notes are dropped (seconds).
    merge_gap : float
        Gaps shorter than this between two segments of one key are closed (seconds).
    reonset_ratio : float
        Inside a held note, a rise of H by this factor above the last valley
        (and above the onset threshold) starts a new note.
    min_ioi : float
        Shortest time between two onsets of one key (seconds).
    background_ratio : float
        A note must also peak this many times above the key's background
        activation (what the recording's stationary background alone gives; see
        :func:`unmf_core.nmf.kernels.background_activation`), so steady noise gives no notes.
    min_peak : float
        An absolute floor: a note must also peak at this activation or more. The
        other thresholds are relative to the recording's own level, so on a
        (near-)silent recording they would pick notes out of its noise floor.
        With unit-norm templates and the CQT's scaling a sinusoid of amplitude
        ``a`` peaks at H ≈ 4a (C8) to 14a (A0, A4), so 1e-3 is a tone at about
        -72 to -83 dBFS; white noise at -90 dBFS or 16-bit dither peaks near
        2e-4, and the quietest notes of the project's recordings near 0.4.
    refine_onsets : bool
        Move each onset to the steepest rise of its activation: low keys' long CQT
        windows smear an attack over up to half a second, and the threshold
        crossing comes early.
    decay_offsets : bool
        True: a note ends where its own activation turns from the slow decay
        of a held key to the fast drop of the damper (or the room's decay): the
        break of a two-segment line fit to log H between the note's peak and the
        frame where H falls below ``offset_rel ×`` that peak (see
        :mod:`unmf_core.transcription.notes_offsets`), never after the key's next
        onset. False: where H falls below the hysteresis threshold
        (``threshold × offset_ratio × scale``), as before (that threshold still
        delimits the notes in both cases).
    offset_rel : float
        Decay offsets: the note's decay is followed down to this fraction of its peak.
    offset_slope : float
        Decay offsets: a note also ends where its activation first falls faster than
        this many dB per second (over 60 ms), if that comes before the fit's break
        (0: off). In a room the damper's drop turns into the room's decay, which the
        line fit alone follows too far.
    offset_knee : float
        Decay offsets: the fit's break counts only where the decay after it is steeper than before
        by more than this many dB per second (a negative value: any break, the former rule).
        A piano's note decays fast in its first second and slowly after it; without this the break
        often fell on that knee, long before the key was released.
    offset_slope_delay : float
        Decay offsets: the slope rule starts this many seconds after the note's peak (the attack's
        transient fades faster than ``offset_slope``).
    partial_ratio : float
        A note that starts (within ``merge_gap``) with a note an octave, a twelfth or two
        octaves below it and peaks below ``partial_ratio ×`` that note's peak is taken
        for its partial and dropped (0: off; see
        :func:`unmf_core.transcription.notes_offsets.partial_notes`).
    gate_lift : float
        With a note gate's gain: where the gain is above 1 it may raise H up to ``gate_lift × scale``
        and no further (never below H): a weak note is lifted over the default onset threshold, while a
        higher threshold still reads H. The threshold then keeps its meaning over its whole range (a gain of
        up to e³ would otherwise keep every clear note even at threshold 1). 0.08, just over the default
        threshold, was chosen on training-SoundFont renders (``scripts/tune_notes.py``; docs/benchmarks/gate.md).
    """

    threshold: float = 0.07
    offset_ratio: float = 0.5
    min_duration: float = 0.06
    merge_gap: float = 0.03
    reonset_ratio: float = 2.0
    min_ioi: float = 0.1
    background_ratio: float = 15.0
    refine_onsets: bool = True
    min_peak: float = 1e-3
    decay_offsets: bool = True
    offset_rel: float = 0.01
    offset_slope: float = 100.0
    offset_knee: float = 26.0
    offset_slope_delay: float = 0.035
    partial_ratio: float = 0.0
    gate_lift: float = 0.08

    def to_dict(self) -> dict:
        """Plain dict (JSON-ready)."""
        return asdict(self)


#: Velocity ≈ a + b·ln(peak / scale) + c·k/87 (k = key index 0..87), least squares on notes matched in
#: renders of the training SoundFonts' pianos (scripts/tune_notes.py: held-out mean absolute error
#: 13.8 velocity units against 15.3 for a constant and 20.7 for the former square-root map).
VELOCITY_FIT = (108.56, 21.73, 27.95)


def velocity(peak: float, scale: float, key: int) -> int:
    """MIDI velocity 1..127 of a note from its activation peak (log-amplitude map, :data:`VELOCITY_FIT`).

    Parameters
    ----------
    peak : float
        The note's largest activation.
    scale : float
        The recording's activation scale (:func:`activation_scale`).
    key : int
        Key index 0..87 (A0 = 0).
    """
    if peak <= 0 or scale <= 0:
        return 1
    a, b, c = VELOCITY_FIT
    return int(np.clip(round(a + b * np.log(peak / scale) + c * key / 87.0), 1, 127))


def activation_scale(H: np.ndarray) -> float:
    """The reference level of H: the largest total activation of any frame."""
    if H.size == 0:
        return 0.0
    return float(H.sum(axis=0, dtype=np.float64).max())


def _gated(h: np.ndarray, gain: np.ndarray, lift: float) -> np.ndarray:
    """``h × gain`` where the gain is at most 1; above 1, raised up to ``lift`` at most and never below h."""
    g = h * gain
    return np.where(gain > 1, np.maximum(h, np.minimum(g, lift)), g)


def _segments(active: np.ndarray) -> list[tuple[int, int]]:
    """Runs of True as (start, end) frame pairs, end exclusive."""
    if not active.any():
        return []
    d = np.diff(np.concatenate([[0], active.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def _split_reonsets(h: np.ndarray, start: int, end: int, on: float, ratio: float, min_ioi: int,
                    lookback: int) -> list[int]:
    """Onset frames inside one segment: its start and every re-strike.

    A re-strike is a rise by ``ratio`` above the last valley that also exceeds
    the level ``lookback`` frames before the valley (so a brief dropout that
    resumes the same decay is not a new note).
    """
    onsets = [start]
    falling = False
    valley, valley_t = np.inf, start
    for t in range(start + 1, end):
        if not falling:
            falling = h[t] < h[t - 1]
            if falling:
                valley, valley_t = h[t], t
            continue
        if h[t] <= valley:
            valley, valley_t = h[t], t
        elif (h[t] >= on and h[t] >= ratio * valley and h[t] > h[max(start, valley_t - lookback)]
              and valley_t + 1 - onsets[-1] >= min_ioi):
            onsets.append(valley_t + 1)
            falling = False
    return onsets


def _steepest_rise(h: np.ndarray, a: int, b: int, max_frames: int) -> int:
    """Frame of the steepest rise of ``h`` between ``a`` and its first peak (before ``b``)."""
    stop = min(b, a + max_frames)
    p = a
    while p + 1 < stop and h[p + 1] >= h[p]:
        p += 1
    if p == a:
        return a
    lo = max(0, a - 1)
    d = np.diff(h[lo:p + 1])
    return lo + 1 + int(np.argmax(d))


def extract_notes(H: np.ndarray, frame_rate: float, params: NoteParams = NoteParams(),
                  scale: float | None = None, background: np.ndarray | None = None,
                  gain: np.ndarray | None = None) -> list[Note]:
    """Note events from activations.

    Parameters
    ----------
    H : np.ndarray
        ``(88, T)`` non-negative activations, row k = MIDI pitch ``21 + k``.
    frame_rate : float
        Frames per second of H.
    params : NoteParams
        Extraction settings.
    scale : float, optional
        Reference level; :func:`activation_scale` of H when None.
    background : np.ndarray, optional
        ``(88,)`` background activation per key (see ``NoteParams.background_ratio``).
    gain : np.ndarray, optional
        ``(88, T)`` positive factors (a model's note gate, :mod:`unmf_core.nmf.gate`): where notes
        start is decided on ``H × gain``; where they end, and their velocity, on H itself.

    Returns
    -------
    list of Note
        Sorted by onset, then pitch.
    """
    H = np.asarray(H)
    if H.dtype != np.float64 and not H.flags.c_contiguous:
        H = np.asarray(H, dtype=np.float64)
    # a C-ordered float32 H stays as it is (an hour is 109 MB, 218 MB as float64): its column sums in
    # float64 add the same values in the same order, and each row is taken as float64 below
    scale = activation_scale(H) if scale is None else float(scale)
    if scale <= 0 or not np.isfinite(scale):
        return []
    on = params.threshold * scale
    off = on * params.offset_ratio
    gap = int(round(params.merge_gap * frame_rate))
    min_len = max(1, int(round(params.min_duration * frame_rate)))
    min_ioi = max(1, int(round(params.min_ioi * frame_rate)))
    notes: list[Note] = []
    found: list[tuple[int, int, float]] = []  # (key, onset frame, peak) of each note, for the partial rule
    rise = max(1, int(round(0.5 * frame_rate)))
    peak_frames = max(1, int(round(0.3 * frame_rate)))
    slope_frames = max(1, int(round(0.06 * frame_rate)))
    knee = params.offset_knee / frame_rate if params.offset_knee >= 0 else None
    slope_delay = int(round(params.offset_slope_delay * frame_rate))
    floor = max(on, params.min_peak)
    if gain is not None and np.shape(gain) != H.shape:
        raise ValueError(f"gain has shape {np.shape(gain)}, H {H.shape}")
    lift = params.gate_lift * scale
    keys = np.flatnonzero(H.max(axis=1, initial=0.0) >= floor) if gain is None else range(H.shape[0])
    for k in map(int, keys):  # without a gain, no other key reaches its onset level
        h = np.asarray(H[k], dtype=np.float64)
        g = h if gain is None else _gated(h, gain[k], lift)  # where notes start; h: where they end, how loud
        if gain is not None and g.max(initial=0.0) < floor:
            continue
        on_k = floor
        if background is not None:
            on_k = max(on_k, params.background_ratio * float(background[k]))
        segs = [(s, e) for s, e in _segments(g > off) if g[s:e].max() >= on_k]
        merged: list[list[int]] = []
        for s, e in segs:
            if merged and s - merged[-1][1] <= gap:
                merged[-1][1] = e
            else:
                merged.append([s, e])
        spans: list[tuple[int, int]] = []
        for s, e in merged:
            starts = _split_reonsets(g, s, e, on_k, params.reonset_ratio, min_ioi, gap + 1) + [e]
            for a, b in zip(starts[:-1], starts[1:]):
                if params.refine_onsets:
                    a = _steepest_rise(g, a, b, rise)
                if b - a < min_len or g[a:b].max() < on_k:
                    continue
                spans.append((a, b))
        for i, (a, b) in enumerate(spans):
            if params.decay_offsets:
                limit = spans[i + 1][0] if i + 1 < len(spans) else H.shape[1]
                b = max(a + min_len, decay_offset(h, a, limit, params.offset_rel, peak_frames=peak_frames,
                                                        slope=params.offset_slope / frame_rate,
                                                        slope_frames=slope_frames, knee=knee,
                                                        slope_delay=slope_delay))
            peak = float(h[a:b].max())
            notes.append(Note(LOWEST_PITCH + k, a / frame_rate, b / frame_rate, velocity(peak, scale, k)))
            found.append((k, a, peak))
    if params.partial_ratio > 0 and notes:
        k_, a_, p_ = (np.array(v) for v in zip(*found))
        drop = partial_notes(k_, a_, p_, params.partial_ratio, gap + 1)
        notes = [n for n, d in zip(notes, drop) if not d]
    notes.sort(key=lambda n: (n.onset, n.pitch))
    return notes


def to_pretty_midi(notes: list[Note], program: int = 0) -> pretty_midi.PrettyMIDI:
    """A one-track PrettyMIDI object holding ``notes`` (General MIDI ``program``)."""
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=program, name="unmf")
    inst.notes = [pretty_midi.Note(velocity=int(n.velocity), pitch=int(n.pitch), start=float(n.onset),
                                   end=float(n.offset)) for n in notes]
    pm.instruments.append(inst)
    return pm


def midi_program(path: str | Path) -> int | None:
    """GM program of the first non-drum instrument of a MIDI file (None if it has none or cannot be read)."""
    import pretty_midi

    try:
        pm = pretty_midi.PrettyMIDI(str(path))
    except Exception:  # noqa: BLE001 - any unreadable file simply has no known program
        return None
    return next((int(i.program) for i in pm.instruments if not i.is_drum), None)


def write_midi(notes: list[Note], path: str | Path, overwrite: bool = True, program: int = 0) -> None:
    """Write notes as a standard MIDI file, atomically."""
    from ..io.atomic import write_bytes_atomic

    buf = io.BytesIO()
    to_pretty_midi(notes, program).write(buf)
    write_bytes_atomic(path, buf.getvalue(), overwrite)


def write_csv(notes: list[Note], path: str | Path, overwrite: bool = True) -> None:
    """Write notes as CSV (onset, offset, pitch, note name, velocity), atomically."""
    from ..io.atomic import write_bytes_atomic

    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["onset_s", "offset_s", "pitch", "name", "velocity"])
    for n in notes:
        w.writerow([f"{n.onset:.4f}", f"{n.offset:.4f}", n.pitch, pretty_midi.note_number_to_name(n.pitch), n.velocity])
    write_bytes_atomic(path, out.getvalue().encode(), overwrite)


def read_midi(path: str | Path) -> list[Note]:
    """Notes of every non-drum track of a MIDI file (any pitch), sorted by onset.

    Raises
    ------
    MidiError
        The file is missing or not a readable MIDI file.
    """
    path = Path(path)
    if not path.is_file():
        raise MidiError(f"{path}: no such MIDI file")
    try:
        pm = pretty_midi.PrettyMIDI(str(path))
    except Exception as exc:  # mido/pretty_midi raise many types on corrupt files
        raise MidiError(f"{path.name}: not a readable MIDI file ({str(exc)[:120]})") from None
    notes = [Note(int(n.pitch), float(n.start), float(n.end), int(n.velocity))
             for inst in pm.instruments if not inst.is_drum for n in inst.notes if n.end > n.start]
    notes.sort(key=lambda n: (n.onset, n.pitch))
    return notes


def piano_roll(notes: list[Note], n_frames: int, frame_rate: float) -> np.ndarray:
    """Boolean ``(88, n_frames)`` roll on the frame grid; pitches outside A0..C8 are left out."""
    roll = np.zeros((N_KEYS, n_frames), dtype=bool)
    for n in notes:
        k = n.pitch - LOWEST_PITCH
        if 0 <= k < N_KEYS:
            a = int(round(n.onset * frame_rate))
            b = max(a + 1, int(round(n.offset * frame_rate)))
            roll[k, max(0, a):min(n_frames, b)] = True
    return roll
