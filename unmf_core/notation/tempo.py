"""Beats, tempo and bars of a transcription: a :class:`BeatGrid` from note onsets or audio.

The tempo is estimated on an onset-strength envelope — from the audio
(:func:`librosa.onset.onset_strength`) or built from the transcribed notes
(:func:`notes_envelope`) — and the beats are placed by librosa's dynamic-programming
beat tracker (:func:`librosa.beat.beat_track`) at that tempo. Beat trackers often
lock to half or double the written tempo; :func:`estimate_tempo` chooses the
metrical level among the envelope's autocorrelation peaks at ½, 1 and 2 times
librosa's estimate with a log-normal tempo prior (see its notes).

The grid always starts at 0 s (a pickup beat of up to 1.5 beat periods before
the first tracked beat) and runs one beat past the end, so every note lies on it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import OptionError

#: Envelope rate of the beat tracker: librosa's defaults (22050 Hz, hop 512 → 43 frames/s).
SR = 22050
HOP = 512
FPS = SR / HOP
#: Tempo range searched (bpm).
MIN_BPM = 40.0
MAX_BPM = 240.0
#: Centre and width (octaves) of the log-normal tempo prior.
PRIOR_BPM = 105.0
PRIOR_OCTAVES = 1.0


@dataclass(frozen=True)
class BeatGrid:
    """Beat times of a piece and its metre.

    Attributes
    ----------
    beats : np.ndarray
        ``(n,)`` increasing beat times in seconds; ``beats[0] == 0``.
    beats_per_bar : int
        Beats of a bar (the time signature is ``beats_per_bar/4``).
    downbeat : int
        Index of the first full bar's downbeat, ``0 <= downbeat < beats_per_bar``;
        the beats before it form a pickup bar.
    """

    beats: np.ndarray
    beats_per_bar: int = 4
    downbeat: int = 0

    def __post_init__(self):
        b = np.asarray(self.beats, dtype=np.float64)
        if b.ndim != 1 or len(b) < 2 or not np.all(np.isfinite(b)) or np.any(np.diff(b) <= 0) or b[0] != 0:
            raise OptionError("a beat grid needs at least two increasing, finite beat times starting at 0")
        if self.beats_per_bar < 1 or not 0 <= self.downbeat < self.beats_per_bar:
            raise OptionError(f"bad metre: {self.beats_per_bar} beats per bar, downbeat {self.downbeat}")
        object.__setattr__(self, "beats", b)

    @property
    def bpm(self) -> float:
        """Median tempo in beats per minute (the pickup beat left out)."""
        d = np.diff(self.beats[1:]) if len(self.beats) > 2 else np.diff(self.beats)
        return float(60.0 / np.median(d))

    @property
    def time_signature(self) -> str:
        """``"4/4"``, ``"3/4"``…"""
        return f"{self.beats_per_bar}/4"

    def to_beats(self, seconds) -> np.ndarray:
        """Positions in beats (fractional) of times in seconds; linear past the last beat."""
        t = np.asarray(seconds, dtype=np.float64)
        b = self.beats
        idx = np.arange(len(b), dtype=np.float64)
        out = np.interp(t, b, idx)
        last = 60.0 / self.bpm if len(b) < 3 else b[-1] - b[-2]
        return np.where(t > b[-1], idx[-1] + (t - b[-1]) / last, out)

    def to_seconds(self, beats) -> np.ndarray:
        """Times in seconds of positions in beats (inverse of :meth:`to_beats`)."""
        q = np.asarray(beats, dtype=np.float64)
        b = self.beats
        idx = np.arange(len(b), dtype=np.float64)
        last = b[-1] - b[-2]
        return np.where(q > idx[-1], b[-1] + (q - idx[-1]) * last, np.interp(q, idx, b))


def fixed_grid(bpm: float, duration: float, beats_per_bar: int = 4) -> BeatGrid:
    """A constant-tempo grid from 0 s, covering ``duration`` seconds (``--tempo BPM``)."""
    if not np.isfinite(bpm) or not MIN_BPM / 2 <= bpm <= 2 * MAX_BPM:
        raise OptionError(f"tempo {bpm:g} bpm: use {MIN_BPM / 2:g}-{2 * MAX_BPM:g}")
    period = 60.0 / bpm
    n = int(np.ceil(max(duration, 0.0) / period)) + 2
    return BeatGrid(np.arange(n) * period, beats_per_bar, 0)


def notes_envelope(notes, duration: float) -> np.ndarray:
    """An onset-strength envelope ``(T,)`` at :data:`FPS` built from notes.

    Each onset adds the note's loudness (velocity / 127), bass notes up to twice
    as much (they mark the beat in most textures); the impulses are smoothed over ±1 frame.
    Note lengths are left out: weighting by them made chords that change every
    second beat outweigh the beat itself.
    """
    n_frames = int(np.ceil(max(duration, max((n.offset for n in notes), default=0.0)) * FPS)) + 2
    env = np.zeros(n_frames)
    for n in notes:
        f = int(round(n.onset * FPS))
        if 0 <= f < n_frames:
            register = 1.0 + min(1.0, max(0.0, (60 - n.pitch) / 24.0))
            env[f] += (n.velocity / 127.0) * register
    return np.convolve(env, [0.25, 0.5, 0.25], mode="same")


def audio_envelope(samples: np.ndarray, sr: int) -> np.ndarray:
    """librosa's onset strength ``(T,)`` of a mono signal, at :data:`FPS`."""
    import librosa

    y = np.asarray(samples, dtype=np.float32)
    if sr != SR:
        y = librosa.resample(y, orig_sr=sr, target_sr=SR)
    return librosa.onset.onset_strength(y=y, sr=SR, hop_length=HOP)


def _acf_salience(env: np.ndarray, bpm: float) -> float:
    """Normalised autocorrelation of the envelope at a lag of one beat of ``bpm`` (interpolated)."""
    x = env - env.mean()
    denom = float(np.dot(x, x))
    if denom <= 0:
        return 0.0
    lag = 60.0 / bpm * FPS
    lo = int(np.floor(lag))
    if lo + 1 >= len(x):
        return 0.0
    # the peak within ±4 % of the lag (a beat tracker's tempo estimate is a few percent coarse)
    lags = range(max(1, int(lag * 0.96)), min(len(x) - 1, int(np.ceil(lag * 1.04))) + 1)
    return max(float(np.dot(x[:-k], x[k:])) / denom for k in lags)


def event_prior(notes) -> float | None:
    """A tempo prior (bpm) from the notes' inter-onset intervals: the left hand's, else two events per beat.

    Onsets closer than 50 ms form one event (a chord). With at least 8 events
    whose lowest note lies below middle C (the left hand, which keeps the beat
    in most piano textures), one beat per median interval between them; else
    two events per beat at the median interval of all events; None with fewer
    than 8 events.
    """
    if len(notes) < 2:
        return None
    order = sorted(notes, key=lambda n: n.onset)
    on = np.array([n.onset for n in order])
    starts = np.concatenate([[True], np.diff(on) > 0.05])
    ids = np.cumsum(starts) - 1
    times = on[starts]
    if len(times) < 8:
        return None
    lowest = np.full(len(times), 128)
    np.minimum.at(lowest, ids, [n.pitch for n in order])
    left = times[lowest < 60]
    if len(left) >= 8:
        return float(np.clip(60.0 / np.median(np.diff(left)), MIN_BPM, MAX_BPM))
    return float(np.clip(60.0 / (2 * np.median(np.diff(times))), MIN_BPM, MAX_BPM))


def estimate_tempo(env: np.ndarray, prior_bpm: float = PRIOR_BPM) -> float:
    """Tempo (bpm) of an onset envelope, with the metrical level chosen against half/double errors.

    librosa's estimate (:func:`librosa.feature.tempo`) and its halves and doubles
    within :data:`MIN_BPM`-:data:`MAX_BPM` are scored by the envelope's
    autocorrelation at one beat's lag times a log-normal prior centred on
    ``prior_bpm`` (one octave wide; :func:`event_prior` for notes); the best one is returned.

    Notes
    -----
    A slower level's lag is also a multiple of the faster one's, so its
    autocorrelation is never much lower on a regular piece; the prior settles the
    tie. This cannot be right on every piece (a march is notated in 2/4 or 4/4 at
    the same sound); ``docs/benchmarks/tempo.md`` reports what it gives per tempo.
    """
    import librosa

    if env.size < 4 or not np.any(env > 0):
        return 120.0
    est = float(librosa.feature.tempo(onset_envelope=env, sr=SR, hop_length=HOP, max_tempo=MAX_BPM)[0])
    cands = [est * f for f in (0.5, 1.0, 2.0, 2.0 / 3.0, 1.5) if MIN_BPM <= est * f <= MAX_BPM] or [est]
    prior = [np.exp(-0.5 * (np.log2(c / prior_bpm) / PRIOR_OCTAVES) ** 2) for c in cands]
    score = [max(_acf_salience(env, c), 0.0) * p for c, p in zip(cands, prior)]
    return float(cands[int(np.argmax(score))])


def track_beats(env: np.ndarray, bpm: float | None = None, prior_bpm: float = PRIOR_BPM) -> np.ndarray:
    """Beat times (s) of an onset envelope at ``bpm`` (:func:`estimate_tempo` when None) by librosa's tracker."""
    import librosa

    if bpm is None:
        bpm = estimate_tempo(env, prior_bpm)
    _, frames = librosa.beat.beat_track(onset_envelope=env, sr=SR, hop_length=HOP, bpm=bpm, trim=False,
                                        units="frames")
    return librosa.frames_to_time(frames, sr=SR, hop_length=HOP)


def snap_beats(beats: np.ndarray, onsets: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Move each beat to the weighted mean of the onsets within an eighth of a beat of it.

    The tracker's beats sit on envelope frames (23 ms) and drift by a few
    frames where the tempo it was given is slightly off; notes on the grid start
    exactly on the beat. Beats without an onset that close are placed between
    their snapped neighbours (evenly), or at the snapped beats' median period
    before the first and after the last.

    Parameters
    ----------
    beats : np.ndarray
        ``(n,)`` tracked beat times (s), increasing.
    onsets : np.ndarray
        ``(m,)`` onset times (s).
    weights : np.ndarray, optional
        ``(m,)`` weights of the onsets (default 1).
    """
    b = np.asarray(beats, dtype=np.float64).copy()
    on = np.asarray(onsets, dtype=np.float64)
    if len(b) < 2 or on.size == 0:
        return b
    w = np.ones_like(on) if weights is None else np.asarray(weights, dtype=np.float64)
    periods = np.diff(b)
    half_width = np.concatenate([[periods[0]], np.minimum(periods[:-1], periods[1:]), [periods[-1]]]) / 8
    snapped = np.zeros(len(b), dtype=bool)
    for i in range(len(b)):
        near = np.abs(on - b[i]) <= half_width[i]
        if near.any():
            b[i] = float(np.average(on[near], weights=w[near]))
            snapped[i] = True
    idx = np.flatnonzero(snapped)
    if len(idx) >= 2:  # beats without an onset: between their snapped neighbours, or on at the edges' tempo
        rest = np.flatnonzero(~snapped)
        b[rest] = np.interp(rest, idx, b[idx])
        period = float(np.median(np.diff(b[idx]) / np.diff(idx)))
        early, late = rest[rest < idx[0]], rest[rest > idx[-1]]
        b[early] = b[idx[0]] - (idx[0] - early) * period
        b[late] = b[idx[-1]] + (late - idx[-1]) * period
    b = b[b >= 0]
    return b[np.concatenate([[True], np.diff(b) > 0])]


def grid_from_beats(beats: np.ndarray, duration: float, env: np.ndarray | None = None,
                    beats_per_bar: int = 4, smooth: bool = True) -> BeatGrid:
    """A :class:`BeatGrid` from tracked beat times: a pickup beat from 0 s, extended to ``duration``.

    With ``smooth``, beat times are smoothed by a running linear fit over 9 beats
    (the tracker's times are whole envelope frames). The downbeat is the phase
    (beat index modulo ``beats_per_bar``) whose beats carry the most onset
    strength in ``env`` (the first beat when None).
    """
    b = np.unique(np.asarray(beats, dtype=np.float64))
    b = b[(b >= 0.05) & np.isfinite(b)]  # a beat at the very start is the tracker's edge, not the music's
    if len(b) < 2:
        return fixed_grid(120.0, duration, beats_per_bar)
    if smooth and len(b) >= 5:  # the tracker's beats sit on envelope frames (23 ms): a running linear fit over 9 beats
        from scipy.signal import savgol_filter

        b = savgol_filter(b, min(9, len(b) - (1 - len(b) % 2)), 1)
    period = float(np.median(np.diff(b)))
    while b[0] >= 1.5 * period:
        b = np.concatenate([[b[0] - period], b])
    b = np.concatenate([[0.0], b[1:]]) if b[0] < 0.05 else np.concatenate([[0.0], b])
    tail = float(np.median(np.diff(b[-5:]))) if len(b) > 2 else period
    if b[-1] < duration + tail:
        b = np.concatenate([b, b[-1] + tail * np.arange(1, int(np.ceil((duration + tail - b[-1]) / tail)) + 1)])
    downbeat = 0
    if env is not None and beats_per_bar > 1:
        frames = np.clip(np.round(b * FPS).astype(int), 0, len(env) - 1)
        strength = env[frames]
        strength[0] = 0.0  # the pickup beat at 0 s is not a tracked beat
        downbeat = int(np.argmax([strength[p::beats_per_bar].sum() for p in range(beats_per_bar)]))
    return BeatGrid(b, beats_per_bar, downbeat)


def beat_grid(notes, duration: float, tempo: str | float = "auto", audio: tuple[np.ndarray, int] | None = None,
              beats_per_bar: int = 4) -> BeatGrid:
    """The beat grid of a transcription (one call: envelope, tempo, beats, pickup, downbeat).

    Parameters
    ----------
    notes : list of Note
        The transcribed notes.
    duration : float
        Length of the recording (s).
    tempo : "auto" or float
        ``"auto"`` tracks the beats; a number gives a constant-tempo grid from 0 s.
    audio : (samples, sr), optional
        Track on the audio's onset strength instead of the notes' (see ``docs/benchmarks/tempo.md``);
        the tempo prior (:func:`event_prior`) and the snapping of the beats (:func:`snap_beats`) use the notes.
    beats_per_bar : int
        Beats of a bar (4 for 4/4, 3 for 3/4).
    """
    if tempo != "auto":
        return fixed_grid(float(tempo), duration, beats_per_bar)
    env = audio_envelope(*audio) if audio is not None else notes_envelope(notes, duration)
    if not np.any(env > 0):
        return fixed_grid(120.0, duration, beats_per_bar)
    prior = event_prior(notes) or PRIOR_BPM
    beats = track_beats(env, prior_bpm=prior)
    if notes:  # onsets to the sample, not the envelope's frame: snap the beats to them
        beats = snap_beats(beats, np.array([n.onset for n in notes]), np.array([n.velocity for n in notes]))
    return grid_from_beats(beats, duration, env, beats_per_bar, smooth=not notes)
