"""Shared fixtures: offscreen Qt, paths to ../shared data, small synthetic recordings."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "seed"


def synth_notes(notes, sr=22050, duration=None, partials=8, seed=0):
    """A piano-like signal: decaying harmonic tones for (pitch, onset, offset) triples."""
    rng = np.random.default_rng(seed)
    end = duration or max(n[2] for n in notes) + 0.3
    t = np.arange(int(end * sr)) / sr
    y = np.zeros_like(t)
    for pitch, on, off in notes:
        f0 = 440.0 * 2 ** ((pitch - 69) / 12)
        env = np.where((t >= on) & (t < off), np.exp(-(t - on) * 2.5), 0.0)
        rel = np.exp(-np.clip(t - off, 0.0, None) * 40) * np.exp(-(off - on) * 2.5) * (t >= off) * (t >= on)
        tone = sum(np.sin(2 * np.pi * h * f0 * t + rng.uniform(0, 6)) / h for h in range(1, partials + 1)
                   if h * f0 < sr / 2.2)
        y += (env + rel) * tone
    y += 1e-4 * rng.standard_normal(len(t))
    return (0.3 * y / np.abs(y).max()).astype(np.float32)


#: An instrument whose E3-G3 have a second partial over three times their fundamental (MuseScore_General's grand
#: has such a zone, docs/benchmarks/calibration.md) and a piece on it: E3 struck alone four times, quieter than the
#: other notes. Calibrated from C2 C3 C4 C5, the predicted E3 lets E4 in where E3 is struck loud.
ODD_ZONE = (52, 55)
ODD_ZONE_PIECE = [(52, 0.2, 0.4), (60, 0.9, 1), (52, 1.6, 0.3), (67, 2.3, 1), (52, 3.0, 0.4), (64, 3.7, 1),
                  (52, 4.4, 0.3), (48, 5.1, 1), (36, 5.1, 1)]


def odd_zone_tone(pitch, seconds, sr=22050):
    """One note of the odd-zone instrument (decaying partials 1-8; see :data:`ODD_ZONE`)."""
    t = np.arange(int(seconds * sr)) / sr
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    odd = ODD_ZONE[0] <= pitch <= ODD_ZONE[1]
    amps = [0.3, 1.0, 0.7, 0.25, 0.2, 0.17, 0.14, 0.12] if odd else [1, 0.5, 0.33, 0.25, 0.2, 0.17, 0.14, 0.12]
    env = np.exp(-t * 2.5) * np.minimum(1, t / 0.005)
    return env * sum(a * np.sin(2 * np.pi * (h + 1) * f0 * t) for h, a in enumerate(amps) if (h + 1) * f0 < sr / 2.2)


def write_odd_zone_instrument(folder, sr=22050):
    """``folder/notes/`` (C2 C3 C4 C5, one WAV each) and ``folder/piece.wav`` (:data:`ODD_ZONE_PIECE`)."""
    import soundfile as sf

    from unmf_core.frontend.cqt import key_names

    notes = Path(folder) / "notes"
    notes.mkdir(parents=True, exist_ok=True)
    for p in (36, 48, 60, 72):
        sf.write(notes / f"{key_names()[p - 21]}.wav", (0.3 * odd_zone_tone(p, 1.2, sr)).astype(np.float32), sr)
    y = np.zeros(int(6.0 * sr))
    for p, on, level in ODD_ZONE_PIECE:
        x = level * odd_zone_tone(p, 0.65, sr)
        y[int(on * sr):int(on * sr) + len(x)] += x
    piece = Path(folder) / "piece.wav"
    sf.write(piece, (0.3 * y / np.abs(y).max()).astype(np.float32), sr)
    return notes, piece


@pytest.fixture
def shared_data():
    """The ../shared/data/seed folder, or skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared/data/seed is not available")
    return SHARED


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a test module (tiny tensors: faster, and much faster on a loaded machine)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
