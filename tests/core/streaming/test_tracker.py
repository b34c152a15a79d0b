"""NoteTracker: the file rule's notes, reported once when certain and once when ended, on pushed frames."""
from __future__ import annotations

import numpy as np
import pytest

from unmf_core.streaming.tracker import NoteTracker
from unmf_core.transcription.notes import NoteParams, extract_notes

FR = 86.13


def _activations(n=600, seed=0):
    rng = np.random.default_rng(seed)
    H = rng.uniform(0, 0.01, (88, n)).astype(np.float32)
    for k, a, length, peak in [(39, 40, 50, 5.0), (43, 60, 30, 3.0), (20, 150, 80, 4.0), (39, 260, 40, 5.0),
                               (60, 300, 12, 2.0), (30, 400, 150, 4.0)]:
        t = np.arange(length)
        H[k, a:a + length] = peak * np.exp(-t / (length / 2)) * np.minimum(1, (t + 1) / 3)
    return H


def test_pushed_frames_give_the_notes_of_the_whole_matrix():
    H = _activations()
    params = NoteParams()
    whole = extract_notes(H, FR, params, scale=float(H.sum(0).max()))
    tr = NoteTracker(FR, params)
    onsets, ended = [], []
    for a in range(0, H.shape[1], 8):
        o, e, _ = tr.push(H[:, a:a + 8])
        onsets += o
        ended += e
        assert all(n.onset >= (a + 8) / FR - 0.5 - 1e-9 for n in o)  # reported within LATE_SECONDS of the onset
    ended += tr.close()
    assert [(n.pitch, round(n.onset, 3)) for n in onsets] == [(n.pitch, round(n.onset, 3)) for n in whole]
    assert sorted((n.pitch, round(n.onset, 3)) for n in ended) == sorted((n.pitch, round(n.onset, 3)) for n in whole)
    assert [(n.pitch, round(n.onset, 3), round(n.offset, 3)) for n in tr.notes()] == \
        [(n.pitch, round(n.onset, 3), round(n.offset, 3)) for n in whole]


def test_a_note_held_past_the_window_is_one_note():
    H = np.zeros((88, 6 * 87), np.float32)
    H[40, 10:] = 3.0 * np.exp(-np.arange(H.shape[1] - 10) / 400)
    tr = NoteTracker(FR)
    for a in range(0, H.shape[1], 8):
        tr.push(H[:, a:a + 8])
    tr.close()
    (note,) = tr.notes()
    assert note.pitch == 61 and abs(note.onset - 10 / FR) < 0.03 and note.offset > 5.5


def _note(H, k, a, length, peak):
    t = np.arange(length)
    H[k, a:a + length] = peak * np.exp(-t / (length / 2)) * np.minimum(1, (t + 1) / 3)


def test_revised_frames_replace_the_pushed_ones():
    # a blip on key 50 and an early start of key 40 in the first version of frames 100..140; the revised
    # version holds neither the blip nor the early start: the blip is retracted, key 40 is one note
    final = np.zeros((88, 300), np.float32)
    _note(final, 40, 110, 60, 4.0)
    first = final.copy()
    _note(first, 50, 100, 12, 3.0)
    first[40, 104:110] = 3.5
    tr = NoteTracker(FR)
    reported, retracted = [], []
    for a in range(0, 300, 8):
        b = min(300, a + 8)
        s = max(0, a - 40)
        H = np.concatenate([final[:, s:a], first[:, a:b]], axis=1)  # earlier frames revised to their final form
        changes = tr.push(H, start=s)
        reported += changes.onsets
        retracted += changes.retracted
    tr.close()
    assert [n.pitch for n in retracted] == [71]
    assert sorted(n.pitch for n in reported) == [61, 71]
    (note,) = tr.notes()
    assert note.pitch == 61 and abs(note.onset - 110 / FR) < 0.03  # follows the revised onset


def test_pushing_before_the_held_frames_is_refused():
    tr = NoteTracker(FR)
    with pytest.raises(ValueError):
        tr.push(np.zeros((88, 8), np.float32), start=3)
    tr.push(np.zeros((88, 8), np.float32))
    with pytest.raises(ValueError):
        tr.push(np.zeros((88, 8), np.float32), start=9)
