"""Gate training: it learns to silence octave ghosts, fine-tunes a trained gate, averages gates, can be cancelled."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from unmf_core.errors import Cancelled
from unmf_core.nmf.gate import NoteGate
from unmf_core.training.gate import average_gates, gate_loss, make_piece, train_gate, _batch
from unmf_core.transcription.notes import Note, extract_notes

FR = 86.13


def _piece(seed: int, t: int = 420):
    """Notes on keys 10-60, each with a ghost at +12 (its octave partial) at 0.15 of its level."""
    rng = np.random.default_rng(seed)
    H = np.full((88, t), 1e-4, np.float32)
    M = np.full((288, t), 1e-3, np.float32)
    notes = []
    for a in range(20, t - 80, 25):
        k = int(rng.integers(10, 60))
        env = np.exp(-np.arange(60) / 25.0).astype(np.float32)
        H[k, a:a + 60] += env
        H[k + 12, a:a + 60] += 0.15 * env
        M[3 * k, a:a + 60] += env  # the fundamental is in the spectrum, the ghost's is not
        notes.append(Note(21 + k, a / FR, (a + 60) / FR, 80))
    return H, np.full(88, 1e-5), torch.from_numpy(M), notes


def test_the_gate_learns_to_silence_octave_ghosts():
    pieces = [make_piece(*_piece(s)[:3], _piece(s)[3], FR) for s in range(4)]
    losses = []
    gate = train_gate(pieces, steps=100, lr=3e-3, channels=8, frames=192, batch=4,
                      progress=lambda s, loss: losses.append(loss))
    assert losses[-1] < 0.5 * losses[0]
    H, bg, M, ref = _piece(99)
    plain = extract_notes(H, FR, background=bg)
    gated = extract_notes(H, FR, background=bg, gain=gate.gain(H, bg, M))
    truth = {(n.pitch, round(n.onset, 2)) for n in ref}
    ghosts = lambda notes: [n for n in notes if (n.pitch - 12, round(n.onset, 2)) in truth]  # noqa: E731
    assert len(ghosts(plain)) == len(ref)  # the rule alone keeps every ghost
    assert len(ghosts(gated)) == 0
    assert {(n.pitch, round(n.onset, 2)) for n in gated} >= truth  # and no true note is lost


def test_loss_of_an_untrained_gate_and_crops_of_short_pieces():
    H, bg, M, ref = _piece(1, t=200)
    piece = make_piece(H, bg, M, ref, FR)
    assert piece.positives.shape[1] == 3 and piece.negatives.dtype == torch.bool
    batch = _batch([piece], np.random.default_rng(0), 256, 2)  # longer crops than the piece: padded
    assert batch[0].shape == (2, 88, 256)
    from unmf_core.nmf.gate import NoteGate
    assert torch.isfinite(gate_loss(NoteGate(4), *batch, 0.07))
    assert piece.held.any() and not (piece.held & piece.negatives).any()


def test_training_can_be_cancelled_and_needs_pieces():
    H, bg, M, ref = _piece(2)
    calls = []
    with pytest.raises(Cancelled):
        train_gate([make_piece(H, bg, M, ref, FR)], steps=100, cancel=lambda: calls.append(1) or len(calls) > 3)
    assert len(calls) == 4
    with pytest.raises(ValueError, match="no training pieces"):
        train_gate([])


def test_fine_tuning_starts_from_the_given_gate_and_leaves_it_as_it_was():
    pieces = [make_piece(*_piece(s)[:3], _piece(s)[3], FR) for s in range(4)]
    first = train_gate(pieces, steps=30, lr=3e-3, channels=8, frames=192, batch=4)
    before = {k: v.clone() for k, v in first.state_dict().items()}
    losses = []
    tuned = train_gate(pieces, steps=30, lr=1e-3, frames=192, batch=4, init=first,
                       progress=lambda s, loss: losses.append(loss))
    assert all(torch.equal(v, first.state_dict()[k]) for k, v in before.items())  # the start is not trained
    assert tuned is not first and tuned.out.weight.shape == first.out.weight.shape  # its width, not `channels`
    assert not torch.equal(tuned.out.weight, first.out.weight)
    fresh = []
    train_gate(pieces, steps=1, lr=1e-3, channels=8, frames=192, batch=4, progress=lambda s, loss: fresh.append(loss))
    assert losses[0] < fresh[0]  # the first step's loss is the trained gate's, not an untrained one's


def test_averaged_gates_hold_the_mean_of_each_weight_and_leave_the_draws_unchanged():
    torch.manual_seed(0)
    a, b, c = NoteGate(8), NoteGate(8), NoteGate(8)
    before = [{k: v.clone() for k, v in g.state_dict().items()} for g in (a, b, c)]
    soup = average_gates([a, b, c])
    for k, v in soup.state_dict().items():
        assert torch.allclose(v, (before[0][k] + before[1][k] + before[2][k]) / 3, atol=1e-7), k
    assert all(torch.equal(v, g.state_dict()[k]) for g, st in zip((a, b, c), before) for k, v in st.items())
    assert soup is not a and not soup.training
    assert average_gates([a]).state_dict().keys() == a.state_dict().keys()
    with pytest.raises(ValueError, match="different shapes"):
        average_gates([a, NoteGate(16)])
    with pytest.raises(ValueError, match="no gates"):
        average_gates([])
