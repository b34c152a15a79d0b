"""The quality benchmark's own parts (issue 10): material, room response, octave-error count, report.

The benchmark itself renders 96 files and runs three transcribers (minutes);
these fast tests check the pieces it is made of.
"""
import numpy as np
import pytest

from unmf_core.transcription.notes import Note


def test_pieces_are_reproducible_and_playable():
    from benchmarks.quality import DURATION, N_PIECES, pieces

    a, b = pieces(seed=3), pieces(seed=3)
    assert [x[0] for x in a] == [x[0] for x in b] and all(x[1] == y[1] for x, y in zip(a, b))
    assert len(a) == N_PIECES and {n.split("-")[1] for n, _, _ in a} == {"random", "chorale", "ragtime"}
    for name, notes, program in a:
        assert program in (0, 1) and len(notes) >= 20, name
        assert all(21 <= n.pitch <= 108 and 0 <= n.onset < DURATION and n.offset > n.onset for n in notes), name
    assert [x[1] for x in pieces(seed=4)] != [x[1] for x in a]


def test_room_response_decays_at_its_rt60():
    from benchmarks.quality import room_ir

    ir, t60 = room_ir(np.random.default_rng(0), sr=8000)
    assert 0.8 <= t60 <= 1.2 and ir[0] == 1.0 and len(ir) == int(1.5 * t60 * 8000)
    tail = ir[1:].astype(float) ** 2
    # energy in a 50 ms window 0.1 s and 0.1 s + RT60/2 apart: 30 dB less (±6 dB, it is noise)
    w = 400
    e1 = tail[800:800 + w].sum()
    k = 800 + int(t60 / 2 * 8000)
    e2 = tail[k:k + w].sum()
    assert 24 < 10 * np.log10(e1 / e2) < 36


def test_octave_false_positives():
    from benchmarks.quality import octave_false_positives, score

    ref = [Note(60, 0.0, 1.0), Note(64, 1.0, 2.0)]
    est = [Note(60, 0.01, 1.0),   # match
           Note(72, 0.5, 1.0),    # octave above a sounding C4: octave error
           Note(52, 1.2, 1.5),    # octave below E4
           Note(67, 0.0, 1.0),    # a fifth: other error
           Note(76, 2.5, 3.0)]    # octave of E4, but after it ended: other error
    assert octave_false_positives(ref, est) == (4, 2)
    assert octave_false_positives(ref, []) == (0, 0)
    assert octave_false_positives([], est[:2]) == (2, 0)
    s = score(ref, est)
    assert s["fp"] == 4 and s["fp_octave"] == 2 and s["onset_r"] == pytest.approx(0.5)


def test_report_says_when_basic_pitch_did_not_run(tmp_path):
    from benchmarks import quality

    row = {"source": "MuseScore", "room": "dry", "piece": "x", "duration": 2.0, "onset_f": 0.5, "offset_f": 0.25,
           "onset_p": 0.5, "onset_r": 0.5, "n_est": 2, "n_ref": 2, "fp": 1, "fp_octave": 1, "seconds": 0.1}
    res = {"set": {"pieces": 1, "seconds_each": 2.0, "seed": 0, "programs": [0], "files": 1, "audio_s": 2.0,
                   "unseen": "MuseScore"},
           "engine": {"model": "m", "layers": 3, "templates": "t"},
           "methods": {"unmf": {"rows": [row], "cells": quality.cells([row])},
                       "mu100": {"rows": [row], "cells": quality.cells([row])},
                       "basic_pitch": {"skipped": "Basic Pitch not run: no Python given"}}}
    md = quality.markdown(res)
    assert "Basic Pitch not run" in md and "| MuseScore / dry (unseen) | 0.500 | 0.500 |" in md
    assert "1.00 (1/1)" in md and "0.0500" in md
    paths = quality.write(res, tmp_path)
    assert all(p.is_file() for p in paths)


def test_basic_pitch_python_absent(monkeypatch, tmp_path):
    from benchmarks.quality import basic_pitch_python

    monkeypatch.delenv("UNMF_BASIC_PITCH_PYTHON", raising=False)
    assert basic_pitch_python(None) is None
    assert basic_pitch_python(str(tmp_path / "nope")) is None
    monkeypatch.setenv("UNMF_BASIC_PITCH_PYTHON", __import__("sys").executable)
    assert basic_pitch_python(None) == __import__("sys").executable
