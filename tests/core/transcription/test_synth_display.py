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


def test_db_image_holds_to_db_within_half_a_code_step_in_a_quarter_of_the_memory():
    from unmf_core.transcription.display import db_image

    rng = np.random.default_rng(1)
    X = (rng.random((6, 5000)) ** 6).astype(np.float32)
    img = db_image(X)
    assert img.codes.dtype == np.uint8 and img.shape == X.shape and img.frames_per_column == 1
    step = -FLOOR_DB / 255
    assert np.abs(img.to_db() - to_db(X)).max() <= step / 2 + 1e-4
    assert img.codes.nbytes * 4 == to_db(X).nbytes
    lo, hi = img.levels(FLOOR_DB, 0.0)
    assert (lo, hi) == (0.0, 255.0) and img.levels(-40.0, 0.0)[0] == 127.5


def test_long_db_images_are_max_pooled_in_time_block_by_block():
    from unmf_core.transcription import display

    rng = np.random.default_rng(2)
    X = (rng.random((3, 10007)) ** 6).astype(np.float32)
    X[1, 5003] = 50.0  # one loud frame survives the pooling
    img = display.db_image(X, ref=50.0, max_columns=1000)
    k = img.frames_per_column
    assert k == 11 and img.shape == (3, -(-10007 // 11)) and img.n_frames == 10007
    full = to_db(X, 50.0)
    pooled = np.stack([[full[r, c * k:(c + 1) * k].max() for c in range(img.shape[1])] for r in range(3)])
    assert np.abs(img.to_db() - pooled).max() <= -FLOOR_DB / 255 / 2 + 1e-4
    assert img.codes[1, 5003 // k] == 255
    small_blocks = display._BLOCK_FRAMES
    try:
        display._BLOCK_FRAMES = 50  # many blocks give the same image as one
        np.testing.assert_array_equal(display.db_image(X, ref=50.0, max_columns=1000).codes, img.codes)
    finally:
        display._BLOCK_FRAMES = small_blocks


def test_activation_and_reconstruction_images_match_their_float_versions():
    from unmf_core.transcription.display import activation_image, reconstruction_image

    rng = np.random.default_rng(3)
    W, H = rng.random((288, 88)).astype(np.float32), (rng.random((88, 300)) ** 4).astype(np.float32)
    half = 80 / 255 / 2 + 1e-4
    assert np.abs(reconstruction_image(W, H, 30.0).to_db() - to_db(reconstruction(W, H), 30.0)).max() <= half
    a = activation_image(H)
    assert a.floor_db == -50.0 and np.abs(a.to_db() - activation_db(H)).max() <= 50 / 255 / 2 + 1e-4
