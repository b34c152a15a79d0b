"""Property-based tests (hypothesis): note extraction and the MIDI round trip on random activations."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from unmf_core.frontend.cqt import LOWEST_PITCH, N_KEYS
from unmf_core.transcription.notes import Note, NoteParams, extract_notes, piano_roll, read_midi, write_csv, write_midi

FRAME_RATE = 22050 / 256
#: pretty_midi writes 220 ticks per beat at 120 bpm: one tick is 1/440 s; times round to the nearest tick
TICK = 1 / 440

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def activations(draw):
    """Random non-negative ``(88, T)`` activations: note-like bursts, noise, flat or extreme scales."""
    T = draw(st.integers(1, 400))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    kind = draw(st.sampled_from(["bursts", "noise", "zeros", "constant", "spiky"]))
    scale = draw(st.sampled_from([1e-30, 1e-6, 1.0, 1e6, 1e30]))
    rng = np.random.default_rng(seed)
    H = np.zeros((N_KEYS, T))
    if kind == "bursts":
        for _ in range(rng.integers(0, 40)):
            k, a = rng.integers(0, N_KEYS), rng.integers(0, T)
            b = min(T, a + rng.integers(1, 120))
            H[k, a:b] += rng.uniform(0.05, 1.0) * np.exp(-np.arange(b - a) / rng.uniform(2, 60))
        H += rng.uniform(0, 0.02) * rng.random(H.shape)
    elif kind == "noise":
        H = rng.random(H.shape) ** rng.uniform(1, 12)
    elif kind == "constant":
        H[:] = rng.uniform(0, 1)
    elif kind == "spiky":
        H[rng.random(H.shape) < 0.01] = 1.0
    return (H * scale).astype(np.float32)


note_params = st.builds(NoteParams, threshold=st.floats(0.01, 0.9), offset_ratio=st.floats(0.05, 1.0),
                        min_duration=st.floats(0.0, 0.3), merge_gap=st.floats(0.0, 0.2),
                        reonset_ratio=st.floats(1.1, 5.0), min_ioi=st.floats(0.0, 0.3))


def _check_notes(notes, T):
    end = T / FRAME_RATE + 1e-9
    for n in notes:
        assert LOWEST_PITCH <= n.pitch < LOWEST_PITCH + N_KEYS
        assert 0.0 <= n.onset < n.offset <= end
        assert 1 <= n.velocity <= 127
    assert notes == sorted(notes, key=lambda n: (n.onset, n.pitch))
    for k in range(LOWEST_PITCH, LOWEST_PITCH + N_KEYS):  # one key never sounds twice at once
        same = [n for n in notes if n.pitch == k]
        assert all(a.offset <= b.onset + 1e-9 for a, b in zip(same, same[1:]))


@SETTINGS
@given(H=activations(), params=note_params)
def test_extracted_notes_are_well_formed(H, params):
    _check_notes(extract_notes(H, FRAME_RATE, params), H.shape[1])


@SETTINGS
@given(H=activations(), background=st.floats(0.0, 0.5))
def test_extracted_notes_with_background_are_well_formed(H, background):
    bg = np.full(N_KEYS, background * float(H.max() if H.size else 0.0))
    notes = extract_notes(H, FRAME_RATE, NoteParams(), background=bg)
    _check_notes(notes, H.shape[1])
    assert {(n.pitch, n.onset) for n in notes} <= {(n.pitch, n.onset) for n in extract_notes(H, FRAME_RATE)}


@SETTINGS
@given(H=activations(), k=st.integers(-20, 20))
def test_extraction_ignores_the_overall_scale(H, k):
    """Thresholds are relative: multiplying H by a power of two (exact in floats) changes nothing.

    The one absolute setting, the floor ``min_peak`` that keeps near-silence free of notes, is off here;
    with it, an H that stays below the floor gives no notes.
    """
    H64 = H.astype(np.float64)
    scaled = H64 * 2.0 ** k
    assume(np.isfinite(scaled).all())
    relative = NoteParams(min_peak=0.0)
    assert extract_notes(scaled, FRAME_RATE, relative) == extract_notes(H64, FRAME_RATE, relative)
    if H64.max() > 0:
        assert extract_notes(H64 * (0.5 * NoteParams().min_peak / H64.max()), FRAME_RATE) == []


def _key(notes):
    return [(n.pitch, n.velocity) for n in notes]


def _close(a, b, tol):
    return len(a) == len(b) and all(
        x.pitch == y.pitch and x.velocity == y.velocity and abs(x.onset - y.onset) <= tol
        and abs(x.offset - y.offset) <= tol for x, y in zip(a, b))


@SETTINGS
@given(H=activations(), params=note_params)
def test_midi_round_trip_of_extracted_notes(tmp_path_factory, H, params):
    notes = extract_notes(H, FRAME_RATE, params)
    path = tmp_path_factory.mktemp("rt") / "n.mid"
    write_midi(notes, path)
    back = read_midi(path)
    # times round to the nearest tick; notes shorter than a tick would vanish, and extraction gives none
    assert _close(sorted(back, key=lambda n: (n.onset, n.pitch, n.offset)),
                  sorted(notes, key=lambda n: (n.onset, n.pitch, n.offset)), TICK), (notes, back)


@st.composite
def note_lists(draw):
    """Random notes, never two of one key at once (MIDI cannot say which of two overlapping ones ends)."""
    notes = []
    for pitch in draw(st.lists(st.integers(LOWEST_PITCH, LOWEST_PITCH + N_KEYS - 1), max_size=12, unique=True)):
        t = draw(st.floats(0.0, 5.0))
        for _ in range(draw(st.integers(1, 4))):
            dur = draw(st.floats(0.01, 3.0))
            notes.append(Note(pitch, t, t + dur, draw(st.integers(1, 127))))
            t += dur + draw(st.floats(0.0, 1.0))
    return sorted(notes, key=lambda n: (n.onset, n.pitch))


@SETTINGS
@given(notes=note_lists())
def test_midi_round_trip_of_random_notes(tmp_path_factory, notes):
    folder = tmp_path_factory.mktemp("rt")
    write_midi(notes, folder / "n.mid")
    back = read_midi(folder / "n.mid")
    order = lambda ns: sorted(ns, key=lambda n: (n.pitch, n.onset))  # noqa: E731
    assert _close(order(back), order(notes), TICK)
    write_csv(notes, folder / "n.csv")
    rows = (folder / "n.csv").read_text().strip().splitlines()
    assert len(rows) == len(notes) + 1


@SETTINGS
@given(notes=note_lists(), n_frames=st.integers(1, 600))
def test_piano_roll_marks_every_onset_inside_the_grid(notes, n_frames):
    roll = piano_roll(notes, n_frames, FRAME_RATE)
    assert roll.shape == (N_KEYS, n_frames)
    for n in notes:
        a = int(round(n.onset * FRAME_RATE))
        if 0 <= a < n_frames:
            assert roll[n.pitch - LOWEST_PITCH, a]


@pytest.mark.parametrize("T", [0, 1])
def test_degenerate_lengths(T):
    assert extract_notes(np.zeros((N_KEYS, T)), FRAME_RATE) == []
    H = np.ones((N_KEYS, T))
    _check_notes(extract_notes(H, FRAME_RATE), T)
