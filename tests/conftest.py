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
