import librosa
import numpy as np
import pytest
import torch

from unmf_core.frontend.cqt import CQT, CQTParams, compute_cqt, key_names


def _signal(sr, seconds=2.0):
    rng = np.random.default_rng(0)
    t = np.arange(int(sr * seconds)) / sr
    y = (0.5 * np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * 65.4 * t) * (t > 0.7)
         + 0.2 * np.sin(2 * np.pi * 2793 * t) * (t < 1.2) + 0.01 * rng.standard_normal(len(t)))
    return y.astype(np.float32)


@pytest.mark.parametrize("params", [CQTParams(), CQTParams.seed()], ids=["default", "seed"])
def test_agrees_with_librosa(params):
    y = _signal(params.sr)
    ours = compute_cqt(y, params).numpy()
    ref = np.abs(librosa.cqt(y, sr=params.sr, hop_length=params.hop, fmin=params.fmin, n_bins=params.n_bins,
                             bins_per_octave=params.bins_per_octave))
    assert ours.shape == ref.shape == (288, 1 + len(y) // params.hop)
    corr = [np.corrcoef(ours[:, j], ref[:, j])[0, 1] for j in range(ours.shape[1])]
    assert min(corr) > 0.99
    assert np.max(np.abs(ours - ref)) / ref.max() < 0.01


def test_batch_equals_single():
    p = CQTParams()
    y = torch.from_numpy(_signal(p.sr, 1.0))
    cqt = CQT(p)
    both = cqt(torch.stack([y, 0.5 * y]))
    assert torch.allclose(both[0], cqt(y), atol=1e-5)
    assert torch.allclose(both[1], 0.5 * cqt(y), atol=1e-5)


def test_pitch_lands_on_its_key_bin():
    p = CQTParams()
    t = np.arange(p.sr) / p.sr
    C = compute_cqt(np.sin(2 * np.pi * 440 * t).astype(np.float32), p).numpy()
    a4 = key_names().index("A4")
    assert int(np.argmax(C[:, C.shape[1] // 2])) == a4 * p.bins_per_semitone


def test_params_round_trip_and_frame_rate():
    p = CQTParams.seed()
    assert CQTParams.from_dict(p.to_dict()) == p
    assert abs(CQTParams().frame_rate - 86.13) < 0.01
    assert len(key_names()) == 88 and key_names()[0] == "A0" and key_names()[-1] == "C8"


def test_key_names_are_librosas():
    assert key_names() == [librosa.midi_to_note(21 + k, unicode=False) for k in range(88)]
