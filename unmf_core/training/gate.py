"""Training the note gate (:class:`unmf_core.nmf.gate.NoteGate`) on rendered pieces.

The note rule starts a note where ``H × gain`` crosses ``threshold × scale`` (:mod:`unmf_core.transcription.notes`).
The loss asks exactly that of the gate, in a smooth form, with ``z = log(H × gain / scale) − log(threshold)``:

- **positives**: for each reference note, the soft maximum of z over the frames from 2 before to 8 after its
  onset should be above 0: ``softplus(−s · softmax_z)``;
- **negatives**: every frame where the key is not sounding (from 4 frames before any of its notes to half a
  second after the note's end, or 0.1 s after its onset, whichever is later, are left out) should stay
  below 0: ``negative × softplus(s · z)``, summed (``negative`` = 0.5: with 1 the gate is trained for a
  lower threshold than the rule's default; measured in docs/benchmarks/gate.md);
- **held notes**: inside a note, from 9 frames after its onset to 20 frames after its end (or 3 before the
  key's next onset), the log-gain should not rise: ``body × Σ relu(Δ log-gain)``. A gain that grows inside a
  held note makes the rule's re-onsets (a rise of 2× above the last valley): without this term a gate
  trades the octave errors it removes for as many repeated notes;

all divided by the number of notes in the batch (``s`` = 3). The pieces' H comes from the unrolled model
the gate will ship with, so the gate learns what that model's H gets wrong: the partials an octave or a
twelfth above a note, notes that rise without their fundamental, notes the layers left too weak.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812 (the usual name)

from ..errors import Cancelled
from ..frontend.cqt import LOWEST_PITCH
from ..nmf.gate import NoteGate, inputs

#: Sharpness of the smooth threshold (per unit of log-activation).
SHARPNESS = 3.0


@dataclass
class GatePiece:
    """One piece's gate inputs and targets.

    Attributes
    ----------
    log_h, log_bg, log_m : torch.Tensor
        ``(K, T)``, ``(K,)``, ``(3, K, T)``: :func:`unmf_core.nmf.gate.inputs`.
    positives : np.ndarray
        ``(N, 3)`` int: key, first and last-plus-one frame of each reference onset's window.
    negatives : torch.Tensor
        ``(K, T)`` bool: frames where the key is not sounding.
    held : torch.Tensor
        ``(K, T)`` bool: frames inside a note, after its onset window.
    """

    log_h: torch.Tensor
    log_bg: torch.Tensor
    log_m: torch.Tensor
    positives: np.ndarray
    negatives: torch.Tensor
    held: torch.Tensor


def make_piece(H: np.ndarray, background: np.ndarray | None, M: torch.Tensor, notes: list,
               frame_rate: float) -> GatePiece:
    """The :class:`GatePiece` of a piece: H ``(K, T)``, its background ``(K,)``, its CQT ``(F, T)`` and its notes."""
    k, t = H.shape
    scale = float(H.sum(axis=0, dtype=np.float64).max()) or 1.0
    log_h, log_bg, log_m = inputs(H, background, M.cpu(), scale, float(M.max()) or 1.0)
    neg = np.ones((k, t), bool)
    held = np.zeros((k, t), bool)
    pos = []
    onsets: dict[int, list[int]] = {}
    for n in notes:
        onsets.setdefault(int(n.pitch) - LOWEST_PITCH, []).append(int(round(n.onset * frame_rate)))
    for n in notes:
        key, a = int(n.pitch) - LOWEST_PITCH, int(round(n.onset * frame_rate))
        if not 0 <= key < k or a >= t:
            continue
        end = int(round((max(n.offset, n.onset + 0.1) + 0.5) * frame_rate))
        neg[key, max(0, a - 4):min(t, end)] = False
        pos.append((key, max(0, a - 2), min(t, a + 9)))
        following = min([o for o in onsets[key] if o > a] + [t + 3])
        held[key, min(t, a + 9):min(t, int(round(n.offset * frame_rate)) + 20, following - 3)] = True
    return GatePiece(log_h, log_bg, log_m, np.array(pos, dtype=np.int64).reshape(-1, 3), torch.from_numpy(neg),
                     torch.from_numpy(held))


def gate_loss(gate: NoteGate, log_h: torch.Tensor, log_bg: torch.Tensor, log_m: torch.Tensor,
              positives: list[np.ndarray], negatives: torch.Tensor, held: torch.Tensor, threshold: float,
              body: float = 1.0, negative: float = 0.5) -> torch.Tensor:
    """The loss of the module docstring on a batch (``positives``: one ``(N, 3)`` array per crop)."""
    log_gain = gate(log_h, log_bg, log_m)
    z = log_h + log_gain - float(np.log(threshold))
    loss = negative * F.softplus(SHARPNESS * z)[negatives].sum()
    if body:
        loss = loss + body * F.relu(log_gain[:, :, 1:] - log_gain[:, :, :-1])[held[:, :, 1:]].sum()
    n = 0
    for b, pos in enumerate(positives):
        for key, a, e in pos:
            soft_max = torch.logsumexp(5.0 * z[b, key, a:e], 0) / 5.0
            loss = loss + F.softplus(-SHARPNESS * soft_max)
            n += 1
    return loss / max(n, 1)


def _batch(pieces: list[GatePiece], rng: np.random.Generator, frames: int, size: int):
    hs, bgs, ms, negs, poss, helds = [], [], [], [], [], []
    for _ in range(size):
        p = pieces[int(rng.integers(len(pieces)))]
        t = p.log_h.shape[1]
        a = int(rng.integers(0, max(1, t - frames)))
        window = torch.full((p.log_h.shape[0], frames), float(np.log(1e-5)))  # a short piece: padded as silence
        w = min(frames, t - a)
        h = window.clone()
        h[:, :w] = p.log_h[:, a:a + w]
        m = window[None].repeat(3, 1, 1)
        m[:, :, :w] = p.log_m[:, :, a:a + w]
        neg = torch.zeros(p.log_h.shape[0], frames, dtype=torch.bool)
        neg[:, :w] = p.negatives[:, a:a + w]
        held = torch.zeros_like(neg)
        held[:, :w] = p.held[:, a:a + w]
        pos = p.positives[(p.positives[:, 1] >= a) & (p.positives[:, 2] <= a + w)] - np.array([0, a, a])
        hs.append(h)
        bgs.append(p.log_bg)
        ms.append(m)
        negs.append(neg)
        poss.append(pos)
        helds.append(held)
    return torch.stack(hs), torch.stack(bgs), torch.stack(ms), poss, torch.stack(negs), torch.stack(helds)


def train_gate(pieces: list[GatePiece], steps: int = 2500, lr: float = 1e-3, threshold: float = 0.07,
               channels: int = 16, frames: int = 384, batch: int = 8, seed: int = 0, body: float = 1.0,
               negative: float = 0.5,
               progress: Callable[[int, float], object] | None = None,
               cancel: Callable[[], bool] | None = None, init: NoteGate | None = None) -> NoteGate:
    """Train a fresh :class:`NoteGate` with Adam (one-cycle learning rate) on random crops of ``pieces``.

    With ``init``, fine-tune a copy of that gate instead, at the constant learning rate ``lr``.

    Parameters
    ----------
    pieces : list of GatePiece
        Training material (:func:`make_piece`).
    steps, lr : int, float
        Adam steps and peak learning rate.
    threshold : float
        The note rule's onset threshold the gate is trained for (``NoteParams.threshold``).
    body, negative : float
        Weights of the held-note and negative terms (module docstring).
    channels, frames, batch : int
        Gate width, crop length in frames, crops per step.
    seed : int
        Seed of the initialisation and of the crops.
    init : NoteGate, optional
        A trained gate to start from (left unchanged; ``channels`` is then its width).
    progress : callable, optional
        ``progress(step, loss)`` every 100 steps.
    cancel : callable, optional
        Checked before each step; True raises :class:`~unmf_core.errors.Cancelled`.
    """
    if not pieces:
        raise ValueError("no training pieces")
    torch.manual_seed(seed)
    gate = NoteGate(channels) if init is None else copy.deepcopy(init).train()
    opt = torch.optim.Adam(gate.parameters(), lr)
    sched: torch.optim.lr_scheduler.LRScheduler = (
        torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(1, steps), pct_start=0.1)
        if init is None else torch.optim.lr_scheduler.ConstantLR(opt, factor=1.0))
    rng = np.random.default_rng(seed)
    for step in range(steps):
        if cancel is not None and cancel():
            raise Cancelled("gate training cancelled")
        h, bg, m, pos, neg, held = _batch(pieces, rng, frames, batch)
        loss = gate_loss(gate, h, bg, m, pos, neg, held, threshold, body, negative)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if progress is not None and (step % 100 == 0 or step == steps - 1):
            progress(step, float(loss.detach()))
    return gate.eval()


def average_gates(gates: list[NoteGate]) -> NoteGate:
    """The gate whose every weight is the mean of that weight over ``gates`` (a "model soup").

    Fine-tuned from one gate, draws on other material and crops differ mostly in noise; their mean keeps what
    they share (measured in docs/benchmarks/gate.md, "Fine-tuned on zone-shifted pianos").

    Parameters
    ----------
    gates : list of NoteGate
        At least one, all of one width (one architecture); left unchanged.
    """
    if not gates:
        raise ValueError("no gates to average")
    states = [g.state_dict() for g in gates]
    shapes = {k: v.shape for k, v in states[0].items()}
    for s in states[1:]:
        if s.keys() != shapes.keys() or any(v.shape != shapes[k] for k, v in s.items()):
            raise ValueError("gates of different shapes cannot be averaged")
    soup = copy.deepcopy(gates[0])
    soup.load_state_dict({k: torch.stack([s[k].float() for s in states]).mean(0).to(v.dtype)
                          for k, v in states[0].items()})
    return soup.eval()
