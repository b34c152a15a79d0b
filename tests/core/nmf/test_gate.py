"""The note gate: identity when untrained, exact in blocks, in checkpoints, and only for unrolled runs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from unmf_core.errors import CheckpointError, OptionError
from unmf_core.frontend.cqt import CQTParams
from unmf_core.io.checkpoints import load_checkpoint, save_checkpoint
from unmf_core.nmf.gate import NEEDED_BINS, NoteGate
from unmf_core.nmf.unrolled import UnrolledConfig, UnrolledMU
from unmf_core.transcription.notes import NoteParams, extract_notes


def _inputs(t=900, seed=0):
    rng = np.random.default_rng(seed)
    H = (rng.random((88, t)) ** 6).astype(np.float32)
    H[40, 100:300] += 3.0  # one clear note
    M = torch.from_numpy(rng.random((288, t)).astype(np.float32))
    return H, rng.random(88) * 1e-3, M


def _trained_like(seed=1) -> NoteGate:
    g = NoteGate(8)
    torch.manual_seed(seed)
    for p in g.parameters():
        torch.nn.init.normal_(p, std=0.2)
    return g.eval()


def test_untrained_gate_is_a_gain_of_one_and_changes_no_note():
    H, bg, M = _inputs()
    gain = NoteGate(8).gain(H, bg, M)
    assert gain.shape == H.shape and gain.dtype == np.float32
    assert np.array_equal(gain, np.ones_like(H))
    assert extract_notes(H, 86.13, background=bg, gain=gain) == extract_notes(H, 86.13, background=bg)


def test_blocks_with_halo_give_the_whole_recording_result():
    H, bg, M = _inputs(t=1000)
    g = _trained_like()
    whole = g.gain(H, bg, M, block=10_000)
    assert not np.allclose(whole, 1.0)
    for block in (37, 128, 999):
        np.testing.assert_allclose(g.gain(H, bg, M, block=block), whole, rtol=1e-5, atol=1e-6)


def test_gain_is_bounded_and_positive():
    H, bg, M = _inputs()
    g = _trained_like()
    gain = g.gain(H, bg, M)
    assert np.all(gain >= np.exp(-g.limit) * 0.999) and np.all(gain <= np.exp(g.limit) * 1.001)


def test_gain_decides_onsets_h_decides_offsets_and_velocity():
    fr = 86.13
    H = np.zeros((88, 600), np.float32)
    H[40, 100:400] = np.exp(-np.arange(300) / 60.0)  # one decaying note
    H[52, 100:400] = 0.2 * np.exp(-np.arange(300) / 60.0)  # its octave partial, above the threshold
    base = extract_notes(H, fr)
    assert sorted({n.pitch for n in base}) == [61, 73]
    gain = np.ones_like(H)
    gain[52] = 0.1  # the gate silences the partial
    gated = extract_notes(H, fr, gain=gain)
    assert [n.pitch for n in gated] == [61]
    n0 = next(n for n in base if n.pitch == 61)
    assert gated[0] == n0  # same onset, offset (decay of H) and velocity (peak of H)
    gain[40] = 2.0  # a louder gate on the note moves neither its end nor its velocity
    assert extract_notes(H, fr, gain=gain)[0] == n0
    with pytest.raises(ValueError, match="gain has shape"):
        extract_notes(H, fr, gain=gain[:, :10])


def test_gain_refuses_a_spectrogram_that_does_not_fit():
    H, bg, M = _inputs()
    with pytest.raises(ValueError, match="note gate needs the CQT"):
        NoteGate(8).gain(H, bg, M[: NEEDED_BINS - 1])
    with pytest.raises(ValueError, match="note gate needs the CQT"):
        NoteGate(8).gain(H, bg, M[:, :-1])


def test_config_and_checkpoint_round_trip(tmp_path):
    with pytest.raises(OptionError, match="note_gate"):
        UnrolledConfig(note_gate=-1)
    assert UnrolledMU(UnrolledConfig(n_layers=2)).gate is None  # the models trained before it
    model = UnrolledMU(UnrolledConfig(n_layers=2, note_gate=8))
    for p in model.gate.parameters():
        torch.nn.init.normal_(p, std=0.1)
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, CQTParams())
    ck = load_checkpoint(path)
    assert ck.model.cfg.note_gate == 8
    for k, v in model.gate.state_dict().items():
        assert torch.equal(ck.model.gate.state_dict()[k], v)
    save_checkpoint(path, model, CQTParams(bins_per_octave=24, n_bins=192))
    with pytest.raises(CheckpointError, match="note_gate"):
        load_checkpoint(path)


def test_a_lifting_gain_raises_weak_notes_only_up_to_the_lift_level():
    fr = 86.13
    H = np.zeros((88, 600), np.float32)
    H[40, 100:400] = np.exp(-np.arange(300) / 60.0)  # a clear note: peaks at the scale
    H[47, 300:500] = 0.05 * np.exp(-np.arange(200) / 60.0)  # a weak one, under the default threshold 0.07
    assert [n.pitch for n in extract_notes(H, fr)] == [61]
    gain = np.full_like(H, 10.0)
    lifted = extract_notes(H, fr, gain=gain)
    assert [n.pitch for n in lifted] == [61, 68]  # lifted to gate_lift (0.08) × scale: over 0.07
    # a threshold above the lift level reads H itself: the gain keeps no note the rule alone would drop
    assert extract_notes(H, fr, NoteParams(threshold=0.5), gain=gain) == extract_notes(H, fr, NoteParams(threshold=0.5))
    assert [n.pitch for n in extract_notes(H, fr, NoteParams(threshold=0.5, gate_lift=1.0), gain=gain)] == [61, 68]
