"""Methods own their β and step count; the engine's single step → Transcription path; template swaps."""
from __future__ import annotations

import numpy as np
import pytest
from tests.conftest import synth_notes
from unmf_core.errors import OptionError, TemplateError
from unmf_core.frontend.audio import Audio
from unmf_core.nmf.unrolled import UnrolledConfig, UnrolledMU
from unmf_core.transcription.engine import Engine, Options
from unmf_core.transcription.methods import MU, Unrolled, method_for
from unmf_core.transcription.templates import Templates, harmonic_templates

PIECE = [(60, 0.2, 0.9), (64, 0.6, 1.4), (67, 1.0, 1.8)]


@pytest.fixture(scope="module")
def audio():
    return Audio(synth_notes(PIECE, duration=2.0), 22050)


@pytest.fixture
def engine():
    model = UnrolledMU(UnrolledConfig(n_layers=4, hidden=4, beta=1.0)).eval()
    return Engine(templates=harmonic_templates(decay=1.0), model=model, device="cpu")


def test_more_layers_than_the_model_has_is_refused(engine, audio):
    with pytest.raises(OptionError, match=r"layers = 50.*1 to 4.*the model has 4 layers"):
        engine.transcribe(audio, Options(layers=50))
    M = engine.spectrogram(audio)
    with pytest.raises(OptionError):
        engine.steps(M, Options(layers=50))  # refused before any step runs
    with pytest.raises(OptionError):
        engine.params(Options(layers=0))
    assert OptionError.exit_code == 2


@pytest.mark.parametrize("opts, steps", [
    (Options(layers=3), 3),
    (Options(layers=None), 4),
    (Options(method="mu", iterations=7), 7),
])
def test_params_record_the_steps_that_ran(engine, audio, opts, steps):
    res = engine.transcribe(audio, opts)
    assert res.params["steps"] == steps
    assert len(res.divergences) == steps + 1  # the initialisation, then each step


@pytest.mark.parametrize("kwargs, words", [
    (dict(method="mu", iterations=0), "iterations = 0"),
    (dict(method="mu", iterations=-5), "iterations = -5"),
    (dict(method="mu", iterations=2.5), "whole number"),
    (dict(method="mu", beta=float("nan")), "beta = nan"),
    (dict(method="unrolled", layers=-3), "layers = -3"),
    (dict(method="nmf"), "unknown method"),
])
def test_out_of_range_settings_are_refused(engine, kwargs, words):
    with pytest.raises(OptionError, match=words):
        method_for(Options(**kwargs), engine.model)


def test_the_method_decides_beta(engine):
    assert engine.method(Options(method="mu", beta=0.5)).beta == 0.5
    assert engine.params(Options(method="mu", beta=0.5))["beta"] == 0.5
    model = UnrolledMU(UnrolledConfig(n_layers=2, beta=0.5))
    unrolled = Unrolled(model)
    assert unrolled.beta == 0.5 and unrolled.steps == 2
    assert Engine(templates=harmonic_templates(), model=model, device="cpu").params(
        Options(method="unrolled", beta=2.0))["beta"] == 0.5  # Options.beta is plain MU's
    assert MU(5).describe() == {"method": "mu", "beta": 1.0, "steps": 5, "update_w": False}


def test_transcribe_is_steps_then_finish(engine, audio):
    opts = Options(layers=3)
    res = engine.transcribe(audio, opts)
    M = engine.spectrogram(engine.load(audio))
    steps = list(engine.steps(M, opts))
    last = engine.finish(M, steps[-1], opts)
    assert last.notes == res.notes and {n.pitch for n in res.notes} >= {60, 64, 67}
    np.testing.assert_array_equal(last.H, res.H)
    np.testing.assert_array_equal(last.background, res.background)
    assert last.params == res.params
    first = engine.finish(M, steps[1], opts)  # any step: its own notes, its own step count
    assert first.params["steps"] == 1
    assert first.renotes(engine.notes_for(opts)) == first.notes


def test_set_templates_swaps_and_validates(engine, audio):
    M = engine.spectrogram(audio)
    before = engine.finish(M, list(engine.steps(M, Options(method="mu", iterations=5)))[-1], Options(method="mu"))
    other = harmonic_templates(decay=0.5)
    engine.set_templates(other)
    assert engine.templates is other
    W0 = engine.initial(M, Options())[0].numpy()  # the new templates, rescaled to M
    np.testing.assert_allclose(W0 * other.W.sum() / W0.sum(), other.W, rtol=1e-4, atol=1e-9)
    after = engine.finish(M, list(engine.steps(M, Options(method="mu", iterations=5)))[-1], Options(method="mu"))
    assert not np.allclose(before.W, after.W)
    with pytest.raises(TemplateError):
        engine.set_templates(Templates(np.ones((100, 88), np.float32), engine.cqt, "wrong bins"))
    with pytest.raises(TemplateError):
        engine.set_templates(Templates(np.full((288, 88), np.nan, np.float32), engine.cqt, "nan"))
    assert engine.templates is other  # a refused swap changes nothing


def test_cli_refuses_more_layers_than_the_model_has_with_exit_2(tmp_path, capsys):
    import soundfile as sf

    from unmf_core.cli import main

    wav = tmp_path / "x.wav"
    sf.write(str(wav), synth_notes(PIECE, duration=2.0), 22050)
    assert main(["transcribe", str(wav), "-o", str(tmp_path / "o.mid"), "--layers", "1000"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--layers 1000" in err[0] and "the model has" in err[0]
    assert not (tmp_path / "o.mid").exists()
