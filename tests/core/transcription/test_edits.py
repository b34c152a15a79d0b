"""The Qt-free edit layer over a transcription's notes, and snapping to a beat grid."""
from __future__ import annotations

import numpy as np
import pytest

from unmf_core.transcription.edits import (MIN_LENGTH, Edit, NoteEdits, add_note, delete_notes, grid_step, make_note,
                                           move_notes, replace_all, resize_note, set_velocity, snap_time)
from unmf_core.transcription.notes import Note

BASE = [Note(60, 0.2, 0.9, 90), Note(64, 0.6, 1.4, 70), Note(67, 1.1, 1.9, 50)]


def test_each_edit_applies_and_reverts_to_the_same_list():
    e = NoteEdits("unrolled", 10, BASE)
    edits = [add_note(Note(72, 2.0, 2.5, 80)), delete_notes([BASE[1]]), move_notes([BASE[0]], 0.5, 2),
             resize_note(BASE[2], 2.4), set_velocity([BASE[0], BASE[2]], delta=-10)]
    states = [list(e.notes)]
    for ed in edits[:4]:
        e.apply(ed)
        states.append(list(e.notes))
    assert e.edited
    assert Note(72, 2.0, 2.5, 80) in e.notes and BASE[1] not in e.notes
    assert Note(62, 0.7, 1.4, 90) in e.notes and Note(67, 1.1, 2.4, 50) in e.notes
    for ed, before in zip(reversed(edits[:4]), reversed(states[:-1])):
        e.revert(ed)
        assert e.notes == before
    assert not e.edited and e.notes == sorted(BASE)


def test_an_edit_of_notes_that_are_not_there_is_refused():
    with pytest.raises(ValueError):
        delete_notes([Note(50, 0.0, 1.0)]).apply(BASE)


def test_edits_keep_notes_valid():
    moved = move_notes(BASE, dt=-5.0, dpitch=100).added
    assert min(n.onset for n in moved) == 0.0 and max(n.pitch for n in moved) == 108
    assert [n.offset - n.onset for n in moved] == pytest.approx([n.offset - n.onset for n in BASE])
    assert resize_note(BASE[0], 0.0).added[0].offset == pytest.approx(0.2 + MIN_LENGTH)
    assert [n.velocity for n in set_velocity(BASE, delta=100).added] == [127, 127, 127]
    assert set_velocity(BASE, velocity=0).added[0].velocity == 1
    assert make_note(10, -1.0, -0.5, 300) == Note(21, 0.0, MIN_LENGTH, 127)


def test_duplicates_are_counted_and_discard_goes_back_to_the_base():
    e = NoteEdits("mu", 5, BASE)
    e.apply(add_note(BASE[0]))  # the same note twice
    assert e.notes.count(BASE[0]) == 2
    e.apply(delete_notes([BASE[0]]))
    assert e.notes.count(BASE[0]) == 1 and not e.edited
    e.apply(delete_notes(BASE))
    d = replace_all(e.notes, e.base)
    e.apply(d)
    assert not e.edited
    e.revert(d)
    assert e.notes == []
    assert Edit((BASE[0],), (BASE[0],)).empty


def test_snap_time_on_a_beat_grid():
    beats = np.array([1.0, 1.5, 2.0, 3.0])  # the tempo changes: the grid follows each beat's length
    assert snap_time(1.13, beats, 4) == pytest.approx(1.125)
    assert snap_time(2.3, beats, 4) == pytest.approx(2.25)
    assert snap_time(2.3, beats, 1) == pytest.approx(2.0)
    assert snap_time(0.55, beats, 2) == pytest.approx(0.5)  # before the first beat: its length goes on
    assert snap_time(3.6, beats, 2) == pytest.approx(3.5)  # after the last beat: its length goes on
    np.testing.assert_allclose(snap_time(np.array([1.13, 2.3]), beats, 4), [1.125, 2.25])
    assert snap_time(1.13, None) == 1.13 and snap_time(1.13, np.array([1.0])) == 1.13
    assert grid_step(2.5, beats, 4) == pytest.approx(0.25) and grid_step(2.5, None) is None


@pytest.mark.parametrize("beats, sub", [(np.array([1.0, 1.0, 2.0]), 4), (np.array([[1.0, 2.0]]), 4),
                                        (np.array([1.0, np.nan]), 4), (np.array([1.0, 2.0]), 0)])
def test_snap_time_validates_its_input(beats, sub):
    with pytest.raises(ValueError):
        snap_time(1.0, beats, sub)
