import numpy as np

from unmf_core.training.synthdata import GATE_SEGMENTS, _accompaniment, random_piece


def test_accompaniment_strikes_a_chord_again_over_a_low_bass():
    notes, end = _accompaniment(np.random.default_rng(3), 0.2, 0.5, 33, 90)
    assert end > 0.2 + 2 * 4 * 0.5 - 1e-9  # at least two 4-beat bars
    assert all(21 <= n.pitch <= 108 and n.offset > n.onset for n in notes)
    bars = {}
    for n in notes:
        bars.setdefault(int((n.onset - 0.2) // 2.0 + 1e-9), []).append(n)
    for bar in bars.values():
        bass = min(bar, key=lambda n: n.pitch)
        chord = [n for n in bar if n is not bass]
        assert min(n.pitch for n in chord) - bass.pitch >= 18  # 1.5 octaves or more under the chord
        assert bass.offset - bass.onset > 1.0  # held through most of the bar
        onsets = sorted({round(n.onset, 6) for n in chord})
        assert len(onsets) >= 3  # the same chord struck again on a rhythm
        assert len(chord) == len(onsets) * len({n.pitch for n in chord})


def test_gate_material_contains_accompaniment():
    assert _accompaniment in GATE_SEGMENTS
    a = random_piece(np.random.default_rng(7), 60.0, GATE_SEGMENTS)
    assert a == random_piece(np.random.default_rng(7), 60.0, GATE_SEGMENTS)
