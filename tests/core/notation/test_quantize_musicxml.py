"""Quantisation to the beat grid and the MusicXML export (re-read with music21)."""
from fractions import Fraction

import numpy as np
import pytest

from unmf_core.errors import OptionError
from unmf_core.notation.musicxml import read_musicxml, to_score, write_musicxml
from unmf_core.notation.quantize import STEPS, grid_step, quantize, quantize_positions
from unmf_core.notation.tempo import BeatGrid, beat_grid, fixed_grid
from unmf_core.resources import DEMO_MIDI
from unmf_core.transcription.notes import Note, read_midi


@pytest.mark.parametrize("name", [k for k in STEPS if k != "off"])
def test_quantised_notes_sit_on_the_grid_and_keep_a_step(name):
    grid = BeatGrid(np.concatenate([[0.0], np.cumsum(60 / np.linspace(90, 110, 40))]))  # a tempo that drifts
    rng = np.random.default_rng(0)
    notes = [Note(int(rng.integers(40, 90)), float(a), float(a + rng.uniform(0.005, 0.8)), 70)
             for a in rng.uniform(0, 20, 200)]
    step = float(grid_step(name))
    out = quantize(notes, grid, name)
    assert 0 < len(out) <= len(notes)
    on, off = grid.to_beats([n.onset for n in out]), grid.to_beats([n.offset for n in out])
    assert np.allclose(on / step, np.round(on / step), atol=1e-6)
    assert np.allclose(off / step, np.round(off / step), atol=1e-6)
    assert np.all(off - on >= step - 1e-6)
    for p in {n.pitch for n in out}:  # one key never sounds twice at once
        same = sorted((n.onset, n.offset) for n in out if n.pitch == p)
        assert all(b[0] >= a[1] - 1e-9 for a, b in zip(same, same[1:]))


def test_quantize_values():
    grid = fixed_grid(120, 4.0)  # a beat is 0.5 s
    notes = [Note(60, 0.13, 0.14), Note(62, 0.51, 0.9), Note(62, 0.49, 0.6), Note(64, 1.0, 1.2)]
    out = quantize(notes, grid, "1/16")  # step 0.125 s
    assert [(n.pitch, n.onset, n.offset) for n in out] == [(60, 0.125, 0.25), (62, 0.5, 0.875), (64, 1.0, 1.25)]
    trip = quantize([Note(60, 0.17, 0.5)], grid, "1/8t")  # step 1/6 s
    assert trip[0].onset == pytest.approx(1 / 6) and trip[0].offset == pytest.approx(0.5)
    assert quantize(notes, grid, "off") == notes
    with pytest.raises(OptionError):
        grid_step("1/7")


def test_demo_musicxml_round_trip(tmp_path):
    notes = read_midi(DEMO_MIDI)
    grid = beat_grid(notes, max(n.offset for n in notes))
    path = tmp_path / "demo.musicxml"
    write_musicxml(notes, path, grid, "1/16")
    back = read_musicxml(path)
    placed = quantize_positions(notes, grid, Fraction(1, 4))
    assert len(placed) == len(notes)  # the demo is written on a grid: nothing merged
    assert len(back) == len(notes)
    assert sorted(p for p, _, _ in back) == sorted(n.pitch for n in notes)
    assert sorted(back) == sorted((n.pitch, a, b - a) for n, a, b in placed)


def test_score_has_two_staves_metre_tempo_and_pickup(tmp_path):
    from music21 import clef, converter, meter, tempo

    grid = BeatGrid(np.arange(12) * 0.75, beats_per_bar=3, downbeat=1)  # 80 bpm, 3/4 with a one-beat pickup
    notes = [Note(72, 0.0, 0.7), Note(48, 0.75, 2.9), Note(50, 0.75, 1.4), Note(76, 0.75, 1.5)]
    path = tmp_path / "x.musicxml"
    write_musicxml(notes, path, grid, "off")
    score = converter.parse(str(path))
    assert len(score.parts) == 2
    assert [type(p.recurse().getElementsByClass(clef.Clef)[0]) for p in score.parts] == [clef.TrebleClef,
                                                                                            clef.BassClef]
    sigs = [ts.ratioString for ts in score.parts[0].recurse().getElementsByClass(meter.TimeSignature)]
    assert sigs[:2] == ["1/4", "3/4"]
    assert score.recurse().getElementsByClass(tempo.MetronomeMark)[0].number == pytest.approx(80)
    assert [(p, a) for p, a, _ in read_musicxml(path)] == [(72, 0), (48, 1), (50, 1), (76, 1)]
    assert to_score([], grid).parts[0].flatten().notes.first() is None  # no notes: an empty score, no error


def test_ties_across_bar_lines_and_odd_lengths_read_back_whole(tmp_path):
    grid = fixed_grid(60, 12.0)  # a beat is a second
    notes = [Note(60, 0.5, 2.25), Note(64, 1.5, 3.5), Note(67, 2.75, 4.75), Note(72, 4.0, 6.25),
             Note(55, 5.0, 7.25), Note(43, 3.0, 10.5), Note(48, 1 / 3, 1.0)]
    path = tmp_path / "ties.musicxml"
    write_musicxml(notes, path, grid, "1/16t")
    placed = quantize_positions(notes, grid, Fraction(1, 6))
    assert read_musicxml(path) == sorted(((n.pitch, a, b - a) for n, a, b in placed), key=lambda x: (x[1], x[0]))
