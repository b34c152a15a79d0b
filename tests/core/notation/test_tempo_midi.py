"""Beat grids, the tempo map written to MIDI, and tracking on note onsets."""
import mido
import mir_eval
import numpy as np
import pretty_midi
import pytest

from unmf_core.errors import OptionError
from unmf_core.notation.midi import RESOLUTION, written_beats, write_midi
from unmf_core.notation.tempo import BeatGrid, beat_grid, fixed_grid, grid_from_beats
from unmf_core.transcription.notes import Note


def grid_piece(bpm: float, bars: int = 12, start: float = 0.4) -> tuple[list[Note], np.ndarray]:
    """Bass on every beat, a chord on beats 1 and 3, an eighth-note melody: (notes, true beat times)."""
    beat = 60.0 / bpm
    rng = np.random.default_rng(int(bpm))
    notes, beats = [], start + beat * np.arange(4 * bars)
    for i, t in enumerate(beats):
        notes.append(Note(40 + (i % 4 == 0) * 3, t, t + 0.9 * beat, 90 if i % 4 == 0 else 70))
        if i % 2 == 0:
            notes += [Note(p, t, t + 1.8 * beat, 60) for p in (52, 55, 59)]
        for k in range(2):
            notes.append(Note(int(rng.integers(64, 80)), t + k * beat / 2, t + (k + 0.9) * beat / 2, 55))
    return sorted(notes), beats


@pytest.mark.parametrize("bpm", [72, 100, 132])
def test_tracks_beats_and_tempo_of_a_regular_piece(bpm):
    notes, truth = grid_piece(bpm)
    grid = beat_grid(notes, truth[-1] + 1.0)
    assert abs(grid.bpm - bpm) / bpm < 0.02
    assert mir_eval.beat.f_measure(truth, grid.beats[1:], 0.07) >= 0.9
    assert grid.beats[0] == 0 and grid.beats[-1] >= truth[-1] + 1.0


def test_downbeat_follows_the_accented_beat():
    notes, truth = grid_piece(100, start=0.6 + 60 / 100)  # the accented bass note falls on the second grid beat
    grid = beat_grid(notes, truth[-1] + 1)
    first = grid.beats[grid.downbeat]
    assert abs(first - truth[0]) < 0.07 or abs(grid.beats[grid.downbeat + 4] - truth[0]) < 0.07


def test_fixed_grid_and_bad_grids():
    g = fixed_grid(120, 3.0)
    assert g.bpm == pytest.approx(120) and g.beats[-1] >= 3.0 and np.allclose(np.diff(g.beats), 0.5)
    with pytest.raises(OptionError):
        fixed_grid(1000, 3.0)
    with pytest.raises(OptionError):
        BeatGrid(np.array([0.0, 1.0, 0.5]))
    with pytest.raises(OptionError):
        BeatGrid(np.array([0.2, 1.0]))
    with pytest.raises(OptionError):
        BeatGrid(np.array([0.0, 1.0]), 4, 4)
    # no notes: a 120 bpm grid, not an error
    assert beat_grid([], 2.0).bpm == pytest.approx(120)


def test_grid_from_beats_adds_a_pickup_and_covers_the_piece():
    g = grid_from_beats(np.array([1.3, 1.8, 2.3, 2.8]), 4.0)
    assert g.beats[0] == 0 and np.allclose(g.beats[1:5], [0.3, 0.8, 1.3, 1.8]) and g.beats[-1] >= 4.0
    g = grid_from_beats(np.array([0.02, 0.3, 0.8, 1.3]), 1.0)  # a first beat near 0 s moves to 0 s
    assert np.allclose(g.beats[:3], [0.0, 0.3, 0.8])


def test_tempo_map_round_trip_keeps_note_times(tmp_path):
    # an accelerando from 80 to 150 bpm with a pickup of two beats in 3/4
    periods = 60.0 / np.linspace(80, 150, 30)
    beats = np.concatenate([[0.0], np.cumsum(periods)])
    grid = BeatGrid(beats, beats_per_bar=3, downbeat=2)
    rng = np.random.default_rng(1)
    notes = sorted(Note(21 + i, float(a), float(a + rng.uniform(0.05, 1.0)), int(rng.integers(20, 120)))
                   for i, a in enumerate(rng.uniform(0, beats[-1] - 1, 80)))  # one note per key
    path = tmp_path / "map.mid"
    write_midi(notes, path, grid)
    mf = mido.MidiFile(str(path))
    tempi = [m.tempo for m in mf.tracks[0] if m.type == "set_tempo"]
    assert tempi == list(written_beats(grid)[0])
    assert mido.tempo2bpm(tempi[3]) == pytest.approx(60 / periods[3], rel=1e-4)
    sigs = [(m.numerator, m.denominator) for m in mf.tracks[0] if m.type == "time_signature"]
    assert sigs == [(2, 4), (3, 4)]
    pm = pretty_midi.PrettyMIDI(str(path))
    assert [t.time for t in pm.time_signature_changes] == pytest.approx([0.0, beats[2]], abs=1e-4)
    back = sorted((n.start, n.pitch, n.end, n.velocity) for n in pm.instruments[0].notes)
    assert len(back) == len(notes)
    tick = periods.max() / RESOLUTION
    for (s, p, e, v), n in zip(back, sorted(notes, key=lambda n: (n.onset, n.pitch))):
        assert p == n.pitch and v == n.velocity
        assert abs(s - n.onset) <= tick and abs(e - n.offset) <= tick
    # the written beats fall on the grid's beats (integer-microsecond tempi drift less than 0.1 ms)
    got = pm.get_beats()
    assert len(got) >= 20 and np.abs(got - beats[:len(got)]).max() < 1e-4
