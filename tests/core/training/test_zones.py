"""Zone-shifted pianos: their zones, and the MIDI that plays every key as a transposed neighbour."""
import numpy as np
import pretty_midi

from unmf_core.training.zones import ZONE_SHIFTS, write_zone_midi, zone_offsets
from unmf_core.transcription.notes import Note


def test_zone_offsets_are_seeded_and_constant_over_zones_of_three_keys_or_more():
    d = zone_offsets(2)
    assert d.shape == (88,) and set(d.tolist()) <= set(ZONE_SHIFTS) and len(set(d.tolist())) > 2
    assert np.array_equal(d, zone_offsets(2)) and not np.array_equal(d, zone_offsets(3))
    borders = np.flatnonzero(np.diff(d)) + 1
    widths = np.diff(np.concatenate([[0], borders, [88]]))
    assert widths[:-1].min() >= 3  # two zones that draw the same shift merge; the last may be cut by the keyboard


def test_the_zone_midi_plays_each_key_as_a_transposed_neighbour(tmp_path):
    d = zone_offsets(2)
    notes = [Note(21 + k, 0.5 + 0.1 * k, 0.58 + 0.1 * k, 80) for k in range(88)]
    write_zone_midi(notes, tmp_path / "z.mid", d)
    pm = pretty_midi.PrettyMIDI(str(tmp_path / "z.mid"))
    played = 0
    for inst in pm.instruments:
        assert [(c.number, c.value) for c in inst.control_changes][:3] == [(101, 0), (100, 0), (6, 12)]
        bend = inst.pitch_bends[0].pitch / 8192 * 12  # semitones: RPN 0 set the range to 12
        for n in inst.notes:
            k = round((n.start - 0.5) / 0.1)
            assert n.pitch - d[k] == 21 + k and abs(bend + d[k]) < 0.01
            played += 1
    assert played == 88
