"""Additive synthesis of note lists, to listen to a transcription.

Each note is a few harmonic sine partials under a piano-like envelope (short
attack, exponential decay, short release). No sound font is needed, so this
works wherever numpy does.
"""
from __future__ import annotations

import numpy as np

from .notes import Note


def synthesize(notes: list[Note], sr: int = 22050, duration: float | None = None, partials: int = 6,
               decay: float = 3.0, release: float = 0.05, peak: float = 0.3) -> np.ndarray:
    """Render notes by additive synthesis.

    Parameters
    ----------
    notes : list of Note
        Notes to play (any MIDI pitch; velocity scales the amplitude).
    sr : int
        Sample rate in Hz.
    duration : float, optional
        Length of the output in seconds (default: the last offset plus the release).
    partials : int
        Harmonics per note (those above 0.45 · sr are left out).
    decay : float
        Exponential decay rate of a held note (1/s).
    release : float
        Fade-out time after the offset (s).
    peak : float
        Peak level of the result (0 leaves it unscaled).

    Returns
    -------
    np.ndarray
        float32 mono signal.
    """
    end = duration if duration is not None else max((n.offset for n in notes), default=0.0) + release
    out = np.zeros(max(0, int(round(end * sr))), dtype=np.float64)
    attack = max(1, int(0.005 * sr))
    for n in notes:
        a = int(round(n.onset * sr))
        held = max(1, int(round((n.offset - n.onset) * sr)))
        tail = int(round(release * sr))
        b = min(len(out), a + held + tail)
        if a >= b or a < 0:
            continue
        t = np.arange(b - a) / sr
        env = np.exp(-decay * t)
        env[:attack] *= np.linspace(0.0, 1.0, attack)[: b - a]
        if tail > 0:
            rel = np.clip(1.0 - (t - held / sr) / release, 0.0, 1.0)
            env *= np.where(t < held / sr, 1.0, rel)
        f0 = 440.0 * 2.0 ** ((n.pitch - 69) / 12.0)
        tone = sum(np.sin(2 * np.pi * h * f0 * t) / h ** 1.5 for h in range(1, partials + 1) if h * f0 < 0.45 * sr)
        if not isinstance(tone, np.ndarray):
            continue
        out[a:b] += (n.velocity / 127.0) * env * tone
    top = float(np.abs(out).max()) if out.size else 0.0
    if peak > 0 and top > 0:
        out *= peak / top
    return out.astype(np.float32)


def mix(a: np.ndarray, b: np.ndarray, gain_a: float = 0.5, gain_b: float = 0.5) -> np.ndarray:
    """Sum of two mono signals padded to the longer one, clipped to [-1, 1]."""
    n = max(len(a), len(b))
    out = np.zeros(n, dtype=np.float32)
    out[: len(a)] += gain_a * a
    out[: len(b)] += gain_b * b
    return np.clip(out, -1.0, 1.0)
