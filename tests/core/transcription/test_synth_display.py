"""Additive synthesis of notes and the display helpers (dB scaling, reconstruction)."""
from __future__ import annotations

import numpy as np

from unmf_core.transcription.display import FLOOR_DB, activation_db, reconstruction, to_db
from unmf_core.transcription.notes import Note, activation_scale
from unmf_core.transcription.synth import mix, synthesize


def test_synthesised_note_sounds_at_its_pitch_and_only_while_held():
    sr = 22050
    y = synthesize([Note(69, 0.5, 1.0, 100)], sr, duration=2.0, release=0.05)
    assert y.dtype == np.float32 and len(y) == 2 * sr
    assert np.abs(y[: int(0.49 * sr)]).max() == 0.0
    assert np.abs(y[int(1.06 * sr):]).max() == 0.0
    seg = y[int(0.55 * sr): int(0.95 * sr)]
    spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    freqs = np.fft.rfftfreq(len(seg), 1 / sr)
    assert abs(freqs[spec.argmax()] - 440.0) < 5.0
    assert np.abs(y).max() == np.float32(0.3)


def test_louder_velocity_gives_a_louder_note_and_empty_list_gives_silence():
    sr = 8000
    y = synthesize([Note(60, 0.1, 0.5, 30), Note(72, 1.0, 1.4, 120)], sr, duration=2.0)
    assert np.abs(y[int(1.0 * sr):int(1.4 * sr)]).max() > 2 * np.abs(y[int(0.1 * sr):int(0.5 * sr)]).max()
    assert not synthesize([], sr, duration=1.0).any()


def test_mix_pads_and_clips():
    out = mix(np.ones(3, np.float32), np.ones(5, np.float32), 0.8, 0.8)
    np.testing.assert_allclose(out, [1, 1, 1, 0.8, 0.8])


def test_to_db_range_and_reference():
    X = np.array([[1.0, 0.1, 0.0]])
    np.testing.assert_allclose(to_db(X), [[0.0, -20.0, FLOOR_DB]], atol=1e-5)
    np.testing.assert_allclose(to_db(X, ref=10.0), [[-20.0, -40.0, FLOOR_DB]], atol=1e-5)
    assert (to_db(np.zeros((2, 2))) == FLOOR_DB).all()


def test_activation_db_is_relative_to_the_activation_scale():
    H = np.array([[1.0, 0.0], [1.0, 0.5]])
    assert activation_scale(H) == 2.0
    np.testing.assert_allclose(activation_db(H)[:, 0], 20 * np.log10([0.5, 0.5]), atol=1e-5)


def test_reconstruction_is_the_product():
    rng = np.random.default_rng(0)
    W, H = rng.random((288, 88)), rng.random((88, 40))
    np.testing.assert_allclose(reconstruction(W, H), W @ H, rtol=1e-5)
    assert reconstruction(W, H).dtype == np.float32
