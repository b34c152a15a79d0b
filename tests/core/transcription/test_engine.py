import numpy as np
import pytest
import soundfile as sf
import torch

from tests.conftest import synth_notes
from unmf_core.errors import Cancelled, DeviceError
from unmf_core.transcription.metrics import note_scores
from unmf_core.transcription.notes import Note, NoteParams
from unmf_core.transcription.engine import Engine, Options, resolve_device
from unmf_core.transcription.templates import harmonic_templates
from unmf_core.nmf.unrolled import UnrolledConfig, UnrolledMU

SCORE = [(60, 0.2, 0.9), (64, 0.2, 0.9), (67, 0.2, 0.9), (72, 1.1, 1.6), (48, 1.1, 2.2), (72, 1.8, 2.3)]


@pytest.fixture
def recording(tmp_path):
    path = tmp_path / "chords.wav"
    sf.write(path, synth_notes(SCORE, sr=22050), 22050)
    return path


@pytest.fixture
def engine():
    return Engine(templates=harmonic_templates(decay=1.0), model=UnrolledMU(UnrolledConfig(n_layers=4)), device="cpu")


def test_mu_transcribes_synthetic_chords(engine, recording):
    res = engine.transcribe(recording, Options(method="mu", iterations=60, track_divergence=True))
    ref = [Note(p, a, b) for p, a, b in SCORE]
    assert note_scores(ref, res.notes)["onset_f"] >= 0.8
    assert res.H.shape[0] == 88 and res.W.shape == (288, 88)
    assert len(res.divergences) == 61 and res.divergences[-1] < res.divergences[0]
    assert res.params["method"] == "mu" and res.params["cqt"]["hop"] == 256 and res.params["steps"] == 60
    assert set(res.timings) >= {"load", "cqt", "factorise", "notes", "total"}


def test_same_initialisation_for_both_methods(engine, recording):
    M = engine.spectrogram(engine.load(recording))
    mu0 = next(engine.steps(M, Options(method="mu")))
    un0 = next(engine.steps(M, Options(method="unrolled")))
    assert mu0.index == un0.index == 0 and torch.equal(mu0.H, un0.H)


def test_steps_deliver_every_layer_and_stop_when_asked(engine, recording):
    M = engine.spectrogram(engine.load(recording))
    assert [s.index for s in engine.steps(M, Options(method="unrolled"))] == [0, 1, 2, 3, 4]
    assert [s.index for s in engine.steps(M, Options(method="unrolled", layers=2))] == [0, 1, 2]
    with pytest.raises(Cancelled):
        engine.transcribe(recording, Options(method="mu", iterations=50), callback=lambda s: s.index < 3)


def test_renotes_reuses_stored_activations(engine, recording):
    res = engine.transcribe(recording, Options(method="mu", iterations=30))
    strict = res.renotes(NoteParams(threshold=0.9))
    assert len(strict) < len(res.notes)


def test_untrained_unrolled_equals_mu_without_w_updates(recording):
    eng = Engine(templates=harmonic_templates(), model=UnrolledMU(UnrolledConfig(n_layers=5, w_every=0)), device="cpu")
    a = eng.transcribe(recording, Options(method="unrolled"))
    b = eng.transcribe(recording, Options(method="mu", iterations=5))
    assert np.allclose(a.H, b.H, rtol=1e-5, atol=1e-8)


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="no CUDA"):
            resolve_device("cuda")


def test_white_noise_and_a4(shared_data):
    eng = Engine(device="cpu")
    noise = eng.transcribe(shared_data / "white_noise.wav", Options(method="mu"))
    assert len(noise.notes) <= 3
    a4 = eng.transcribe(shared_data / "a4.wav", Options(method="mu"))
    assert [n.pitch for n in a4.notes] == [69]
