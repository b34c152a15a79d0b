"""The app state's edit layer and beat grid, without a window."""
from __future__ import annotations

import numpy as np
import pytest

from gui_helpers import write_recording
from test_state import feed
from unmf_core.transcription.edits import add_note, delete_notes, set_velocity
from unmf_core.transcription.engine import Options
from unmf_core.transcription.notes import Note, NoteParams
from unmf_gui.runs import EngineSpec, RunRequest
from unmf_gui.state import AppState

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    return write_recording(tmp_path_factory.mktemp("edit_state"))


@pytest.fixture
def state(recording):
    s = AppState()
    feed(s, RunRequest(str(recording), [Options(method="unrolled", notes=NoteParams())], EngineSpec(device="cpu")))
    return s


def test_edits_live_on_the_layer_they_were_made_on(state):
    events = []
    state.events.edits.connect(lambda: events.append("edits"))
    derived = list(state.notes)
    new = Note(70, 2.9, 3.1, 64)
    state.apply_edit(add_note(new))
    assert new in state.notes and state.edited and state.edited_notes() == state.notes and events
    final = state.layer
    state.select_layer(final - 1, user=True)
    assert new not in state.notes and not state.can_edit()
    with pytest.raises(ValueError):
        state.apply_edit(delete_notes(state.notes[:1]))
    state.revert_edit(add_note(new))  # undo shows the edited layer again
    assert state.layer == final and state.notes == sorted(derived, key=lambda n: (n.onset, n.pitch, n.offset,
                                                                                    n.velocity))
    assert not state.edited and state.can_edit()


def test_exports_and_threshold_see_the_edits(state):
    state.apply_edit(set_velocity(state.notes[:1], 5))
    assert any(n.velocity == 5 for n in state.edited_notes())
    state.set_note_params(threshold=0.3)  # the window locks this; the state keeps the edited notes shown
    assert any(n.velocity == 5 for n in state.notes)
    state.reapply_edit(state.discard_edit())
    assert not state.edited
    state.set_note_params(threshold=0.3)
    assert state.edits is None and all(n.velocity != 5 for n in state.notes)


def test_a_new_recording_or_a_rerun_drops_the_edits_and_the_grid(state, recording):
    state.set_beat_times(np.array([0.5, 1.0, 1.5]))
    state.apply_edit(delete_notes(state.notes[:1]))
    state.clear_runs(["mu"])
    assert state.edited
    state.clear_runs(["unrolled"])
    assert state.edits is None
    assert state.beat_times is not None
    feed(state, RunRequest(str(recording), [Options(method="unrolled")], EngineSpec(device="cpu")))
    assert state.beat_times is None and state.edits is None


def test_beat_times_are_validated_and_announced(state):
    seen = []
    state.events.beats.connect(lambda: seen.append(state.beat_times))
    state.set_beat_times([0.5, 1.0])
    assert len(seen) == 1 and isinstance(state.beat_times, np.ndarray)
    with pytest.raises(ValueError):
        state.set_beat_times([1.0, 0.5])
    state.set_beat_times(None)
    assert seen[-1] is None


def test_restore_edits_puts_saved_notes_on_their_layer(state):
    step = state.run.steps[-1]
    notes = [Note(60, 0.2, 0.5, 10)]
    assert state.restore_edits("unrolled", step, notes) and state.notes == notes
    assert not state.restore_edits("mu", step, notes) and not state.restore_edits("unrolled", 999, notes)
