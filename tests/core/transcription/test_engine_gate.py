"""The engine's note gate: unrolled runs, with the model's own templates unless asked; stored for re-extraction."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from tests.conftest import synth_notes
from unmf_core.errors import OptionError
from unmf_core.io.checkpoints import Checkpoint
from unmf_core.frontend.cqt import CQTParams
from unmf_core.nmf.unrolled import UnrolledConfig, UnrolledMU
from unmf_core.transcription.engine import Engine, Options
from unmf_core.transcription.notes import NoteParams
from unmf_core.transcription.templates import harmonic_templates

SCORE = [(60, 0.2, 0.9), (64, 0.2, 0.9), (67, 0.2, 0.9), (72, 1.1, 1.6), (48, 1.1, 2.2)]


@pytest.fixture
def recording(tmp_path):
    path = tmp_path / "chords.wav"
    sf.write(path, synth_notes(SCORE, sr=22050), 22050)
    return path


def _engine(gain_log: float | None, templates=None) -> Engine:
    """An untrained 3-layer model; with a gate whose output is the constant log-gain ``gain_log``."""
    model = UnrolledMU(UnrolledConfig(n_layers=3, w_every=0, note_gate=0 if gain_log is None else 4))
    if gain_log is not None:
        with torch.no_grad():
            model.gate.out.bias.fill_(gain_log)
    W = harmonic_templates(decay=1.0)
    return Engine(templates=templates or W, model=Checkpoint(model, CQTParams(), W.W, "harmonic"), device="cpu")


def test_a_silencing_gate_removes_the_notes_of_unrolled_runs_only(recording):
    plain = _engine(None).transcribe(recording, Options(method="unrolled"))
    assert len(plain.notes) >= 4 and plain.gain is None
    eng = _engine(-2.5)  # gain exp(3 tanh(-2.5/3)) ≈ 0.13 everywhere: nothing reaches the onset threshold
    gated = eng.transcribe(recording, Options(method="unrolled"))
    assert gated.notes == [] and gated.gain is not None
    assert np.allclose(gated.gain, np.exp(3 * np.tanh(-2.5 / 3)), rtol=1e-4)
    assert np.array_equal(gated.H, plain.H)  # the gate changes where notes start, not H
    mu = eng.transcribe(recording, Options(method="mu", iterations=3))
    assert mu.gain is None and mu.notes == _engine(None).transcribe(recording, Options(method="mu", iterations=3)).notes
    # re-extraction (the app's threshold changes) keeps the gate
    assert gated.renotes(NoteParams(threshold=0.07)) == []
    assert len(gated.renotes(NoteParams(threshold=0.003))) >= 4


def test_auto_turns_the_gate_off_with_other_templates_than_the_models_own(recording):
    eng = _engine(-2.5, templates=harmonic_templates(decay=0.7))
    auto = Options(method="unrolled", note_gate="auto")
    assert not eng.own_templates and eng.gate_for(auto) is None
    res = eng.transcribe(recording, auto)
    assert res.gain is None and len(res.notes) >= 4 and res.params["note_gate"] == "auto"
    eng.set_templates(harmonic_templates(decay=1.0))
    assert eng.own_templates and eng.gate_for(auto) is eng.model.gate


def test_the_default_gates_with_any_templates_and_off_never(recording):
    eng = _engine(-2.5, templates=harmonic_templates(decay=0.7))
    assert Options().note_gate == "on"
    on = eng.transcribe(recording, Options(method="unrolled"))
    assert on.gain is not None and on.notes == [] and on.params["note_gate"] == "on"
    eng.set_templates(harmonic_templates(decay=1.0))  # the model's own: auto gates, off does not
    off = eng.transcribe(recording, Options(method="unrolled", note_gate="off"))
    assert off.gain is None and len(off.notes) >= 4
    assert eng.gate_for(Options(method="mu", note_gate="on")) is None  # plain MU never
    with pytest.raises(OptionError, match="note_gate"):
        Options(note_gate="yes")


def test_only_the_last_layer_is_gated(recording):
    eng = _engine(-2.5)
    M = eng.spectrogram(eng.load(recording))
    opts = Options(method="unrolled")
    steps = list(eng.steps(M, opts))
    results = [eng.finish(M, s, opts) for s in steps]
    assert [r.gain is not None for r in results] == [False] * (len(steps) - 1) + [True]
    assert results[-1].notes == [] and len(results[-2].notes) >= 4  # earlier layers: the rule on H alone


def test_a_run_of_fewer_layers_reads_h_alone(recording):
    eng = _engine(-2.5)
    short = eng.transcribe(recording, Options(method="unrolled", layers=2))
    assert short.gain is None and len(short.notes) >= 4  # the gate reads the model's last layer only
