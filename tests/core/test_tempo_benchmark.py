"""Smoke test of benchmarks/tempo.py without rendering: its material is on the 1/16 grid and the tracker finds it."""
import numpy as np

from benchmarks.tempo import SEED, STYLES, _beat_scores, markdown, piece
from unmf_core.notation.tempo import beat_grid


def test_material_is_on_the_sixteenth_grid_and_tracked():
    for style in STYLES:
        notes, beats = piece(style, 140, np.random.default_rng([SEED, 140, STYLES.index(style)]))
        step = 60 / 140 / 4
        pos = (np.array([n.onset for n in notes]) - beats[0]) / step
        assert np.allclose(pos, np.round(pos), atol=1e-6)
        s = _beat_scores(beat_grid(notes, 20.0), beats, 140, 20.0)
        assert s["beat_f"] >= 0.85 and s["tempo_err"] < 0.02


def test_markdown_table():
    m = {"beat_f_notes": 1.0, "beat_f_audio": 0.9, "beat_f_ref": 1.0, "tempo_err_notes": 0.01,
         "max_tempo_err_notes": 0.02, "tempo_err_audio": 0.0, "onset_f": 0.8, "onset_f_q16": 0.81,
         "onset_f_q16_notes": 0.79}
    row = {"bpm": 60, "style": "melody", "source": "x", "beat_f_notes": 1, "beat_f_audio": 1, "beat_f_ref": 1,
           "tempo_notes": 60, "tempo_audio": 60, "onset_f": 0.8, "onset_f_q16": 0.81, "onset_f_q16_notes": 0.79}
    text = markdown({"per_tempo": {"60": m}, "rows": [row]})
    assert "| 60 | 1.000 | 0.900 |" in text and "+0.010 | -0.010 |" in text
