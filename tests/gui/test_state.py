"""The app's Qt-free state, driven without a window: a run's events in, layers / notes / selection out."""
from __future__ import annotations

import pytest

from gui_helpers import write_recording
from unmf_core.transcription.metrics import note_scores
from unmf_core.transcription.notes import Note, NoteParams
from unmf_core.transcription.engine import Engine, Options, Transcription
from unmf_gui.runs import EngineSpec, RunRequest, run_events
from unmf_gui.state import AppState

pytestmark = pytest.mark.usefixtures("one_thread")


def feed(state: AppState, request: RunRequest) -> None:
    """What the window does with a worker's events, without the thread."""
    for kind, *args in run_events(request, lambda: False):
        if kind == "loaded":
            state.set_loaded(*args)
            state.clear_runs([request.key(i) for i in range(len(request.options))])
        elif kind == "started":
            state.begin_method(*args)
        elif kind == "step":
            state.add_step(*args)
        elif kind == "result":
            state.set_result(*args)
        elif kind == "done":
            state.finish_method(*args)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    return write_recording(tmp_path_factory.mktemp("state"))


@pytest.fixture
def state(recording):
    s = AppState()
    feed(s, RunRequest(str(recording), [Options(method="unrolled", notes=NoteParams())], EngineSpec(device="cpu")))
    return s


def test_state_modules_import_no_qt():
    """state.py and runs.py import only the standard library, numpy, torch, unmf_core and each other."""
    import ast
    from pathlib import Path

    import unmf_gui

    allowed = {"__future__", "bisect", "ctypes", "dataclasses", "typing", "collections", "math", "tempfile", "time",
               "numpy", "torch", "unmf_core", "unmf_gui"}
    for name in ("state", "runs"):
        tree = ast.parse((Path(unmf_gui.__file__).parent / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                mods = [node.module]
            elif isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            else:
                continue
            for mod in mods:
                assert mod.split(".")[0] in allowed, f"{name}.py imports {mod}"
                if mod.startswith("unmf_gui"):
                    assert mod in ("unmf_gui.state", "unmf_gui.runs"), f"{name}.py imports {mod}"


def test_a_run_shows_its_final_layer_with_the_cli_notes(state, recording):
    cli = Engine(device="cpu").transcribe(recording)
    run = state.run
    n = run.total
    assert run.finished and run.steps == list(range(n + 1)) and state.layer == n
    assert [(x.pitch, x.onset, x.offset) for x in state.notes] == [(x.pitch, x.onset, x.offset) for x in cli.notes]
    assert state.final_notes() == state.notes
    assert all(isinstance(r, Transcription) and r.background is not None for r in run.results)


def test_layers_whose_notes_come_after_the_last_one_get_the_notes_of_a_run_that_stops_there(recording,
                                                                                            monkeypatch):
    """A fast run shows its layers at once and sends their notes after the last layer ("result" events);
    each layer's notes are those of ``unmf transcribe --layers k`` (the one H → notes path)."""
    import unmf_gui.runs

    monkeypatch.setattr(unmf_gui.runs, "FINISH_EVERY_S", 1e9)  # every layer but the last is "fast"
    request = RunRequest(str(recording), [Options(method="unrolled", notes=NoteParams())], EngineSpec(device="cpu"))
    events = list(run_events(request, lambda: False))
    kinds = [e[0] for e in events]
    later = [e[2] for e in events if e[0] == "result"]
    assert kinds.index("result") > max(i for i, k in enumerate(kinds) if k == "step")
    steps = [e[2] for e in events if e[0] == "step"]
    assert all(s.result is None and s.H_db is not None and s.W is not None for s in steps if s.index in later)
    assert steps[-1].result is not None  # the last layer comes with its notes
    assert later == list(range(steps[-1].index))
    engine = next(e[1] for e in events if e[0] == "engine")
    state = AppState()
    feed(state, RunRequest(str(recording), request.options, engine=engine))
    assert state.run.finished and all(r is not None for r in state.run.results)
    for k in (1, later[-1]):
        cli = engine.transcribe(recording, Options(method="unrolled", layers=k, notes=NoteParams()))
        assert state.notes_for("unrolled", k) == cli.notes


@pytest.mark.parametrize("ahead_s, with_notes", [(0.0, "all"), (1e9, "last")])
def test_a_layer_brings_its_notes_only_while_the_run_has_time_to_go(recording, monkeypatch, ahead_s, with_notes):
    """Notes come with a kept layer when the run is slow (the rest of it takes NOTES_AHEAD_S or more at the
    latest step's pace); near the end of a run (a whole fast run) they follow its last layer."""
    import unmf_gui.runs

    monkeypatch.setattr(unmf_gui.runs, "FINISH_EVERY_S", 0.0)
    monkeypatch.setattr(unmf_gui.runs, "NOTES_AHEAD_S", ahead_s)
    request = RunRequest(str(recording), [Options(method="unrolled", notes=NoteParams())], EngineSpec(device="cpu"))
    events = list(run_events(request, lambda: False))
    steps = [e[2] for e in events if e[0] == "step"]
    results = [e[2] for e in events if e[0] == "result"]
    assert steps[-1].result is not None
    if with_notes == "all":
        assert all(s.result is not None for s in steps) and not results
    else:
        assert all(s.result is None for s in steps[:-1]) and results == [s.index for s in steps[:-1]]


def test_observers_hear_layers_and_notes_and_flush_coalesces(recording):
    state = AppState()
    heard = []
    for name in ("file", "run_updated", "layer", "notes"):
        getattr(state.events, name).connect(lambda *a, name=name: heard.append((name, *a)))
    state.set_method("mu")
    request = RunRequest(str(recording), [Options(method="mu", iterations=4)], EngineSpec(device="cpu"))
    events = run_events(request, lambda: False)
    for kind, *args in events:
        if kind == "loaded":
            state.set_loaded(*args)
        elif kind == "started":
            state.begin_method(*args)
        elif kind == "step":
            state.add_step(*args)
    assert ("file",) in heard and not [h for h in heard if h[0] == "run_updated"]  # add_step alone announces nothing
    state.flush()
    assert ("run_updated", "mu") in heard and state.layer == 4 and ("layer", 4) in heard


def test_stepping_layers_computes_nothing(state, monkeypatch):
    calls = []
    monkeypatch.setattr(Transcription, "renotes", lambda self, p: calls.append(p) or [])
    run = state.run
    for pos in range(len(run.steps)):
        state.select_layer(pos, user=True)
        assert state.notes is run.results[pos].notes
        assert state.current_WH_db() is run.WH_db[pos] and state.current_H_db() is run.H_db[pos]
    assert calls == [] and not state.follow


def test_other_note_settings_use_renotes_and_export_stays_final(state):
    run = state.run
    state.select_layer(0, user=True)
    layer0 = list(state.notes)
    state.set_note_params(threshold=0.3)
    assert state.notes == run.results[0].renotes(NoteParams(threshold=0.3))
    assert state.final_notes() == run.results[-1].renotes(NoteParams(threshold=0.3))
    state.set_note_params(NoteParams())
    assert state.notes == layer0 and state.final_notes() == run.results[-1].notes


def test_reference_scores_follow_the_selection(state):
    heard = []
    state.events.metrics.connect(heard.append)
    reference = [Note(p, on, off) for p, on, off in [(60, 0.2, 0.9), (64, 0.6, 1.4), (67, 1.1, 1.9)]]
    state.set_reference(reference, "ref.mid")
    assert state.metrics == note_scores(reference, state.notes) and heard[-1] == state.metrics
    state.select_layer(0, user=True)
    assert state.metrics == note_scores(reference, state.notes)
    state.set_reference(None)
    assert state.metrics is None
