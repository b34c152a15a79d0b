"""The note gate: a small CNN that reads the last layer's H and the CQT, and says where notes start.

The unrolled layers refine H one key row at a time; what they cannot see is the pattern *across*
keys and the spectrum itself: a row lit up an octave or a twelfth above a strong note (its partial),
or a rise of H without a rise of the key's own fundamental. The gate sees both. From

- ``log(H / scale)`` (``scale``: the largest total activation of any frame, as the note rule uses),
- ``log(background / scale)``, the key's steady background activation, broadcast over time,
- the key's position (−1 at A0 … 1 at C8),
- ``log(M / max M)`` at the three CQT bins around the key's fundamental (bins ``3k−1, 3k, 3k+1`` of
  the 36-bins-per-octave CQT that starts at A0),

it computes a log-gain per key and frame, bounded to ±``limit`` by a tanh. Convolutions over
(key, time): a 5-key × 7-frame one, then residual ones dilated over keys by 12, 19 and 24 (the
octave, the twelfth and two octaves: the partials), and a 9-frame one over time.

The note rule (:func:`unmf_core.transcription.notes.extract_notes`) then decides where notes start
on ``H × gain``, and where they end, and how loud they are, on H itself. The output convolution starts
at zero, so an untrained gate is a gain of exactly 1: the note rule of plain MU.

The gain is computed in blocks of frames with a halo of :data:`HALO` frames on each side, at least
the network's reach in time (±9 frames), so every block's kept frames see exactly the inputs the
whole recording would give them: the blocked result equals the unblocked one.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
from torch.nn import functional as F  # noqa: N812 (the usual name)

__all__ = ["NoteGate", "HALO", "REACH", "EPS", "NEEDED_BINS", "inputs", "key_spectrum"]

#: Floor added to the normalised inputs before their log.
EPS = 1e-5
#: Frames the network reaches on each side (kernels 7, 3, 3 and 9 over time: 3 + 1 + 1 + 4).
REACH = 9
#: Frames of context on each side of a block (at least :data:`REACH`).
HALO = 16
#: CQT bins the gate needs: the three around A0 … C8's fundamentals (bins_per_octave 36, fmin A0).
NEEDED_BINS = 3 * 87 + 2


class NoteGate(nn.Module):
    """Log-gain per key and frame from H, the background and the CQT (see the module docstring).

    Parameters
    ----------
    channels : int
        Channels of the hidden convolutions.
    limit : float
        Bound of the log-gain: the gain lies in ``[exp(-limit), exp(limit)]``.
    """

    def __init__(self, channels: int = 16, limit: float = 3.0):
        super().__init__()
        self.limit = float(limit)
        c = int(channels)
        self.inp = nn.Conv2d(6, c, (5, 7), padding=(2, 3))
        self.octave = nn.Conv2d(c, c, (3, 3), padding=(12, 1), dilation=(12, 1))
        self.twelfth = nn.Conv2d(c, c, (3, 3), padding=(19, 1), dilation=(19, 1))
        self.time = nn.Conv2d(c, c, (3, 9), padding=(1, 4))
        self.two_octaves = nn.Conv2d(c, c, (3, 1), padding=(24, 0), dilation=(24, 1))
        self.out = nn.Conv2d(c, 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)  # type: ignore[arg-type]  # (it has one)

    def forward(self, log_h: torch.Tensor, log_bg: torch.Tensor, log_m: torch.Tensor) -> torch.Tensor:
        """Log-gain ``(B, K, T)``.

        Parameters
        ----------
        log_h : torch.Tensor
            ``(B, K, T)`` ``log(H / scale + EPS)``.
        log_bg : torch.Tensor
            ``(B, K)`` ``log(background / scale + EPS)``.
        log_m : torch.Tensor
            ``(B, 3, K, T)`` ``log(M / max M + EPS)`` at the bins around each key (:func:`key_spectrum`).
        """
        b, k, t = log_h.shape
        key = torch.linspace(-1.0, 1.0, k, device=log_h.device, dtype=log_h.dtype).view(1, k, 1).expand(b, k, t)
        x = torch.cat([torch.stack([log_h / 5 + 1, (log_bg[:, :, None] / 5 + 1).expand(b, k, t), key], 1),
                       log_m / 5 + 1], 1)
        h = F.leaky_relu(self.inp(x), 0.1)
        for conv in (self.octave, self.twelfth, self.two_octaves, self.time):
            h = h + F.leaky_relu(conv(h), 0.1)
        return self.limit * torch.tanh(self.out(h)[:, 0] / self.limit)

    @torch.no_grad()
    def gain(self, H: np.ndarray, background: np.ndarray | None, M: torch.Tensor, scale: float | None = None,
             block: int = 1024, m_max: float | None = None) -> np.ndarray:
        """The gain ``exp(log-gain)`` of a whole recording, float32 ``(K, T)``, computed in blocks.

        Parameters
        ----------
        H : np.ndarray
            ``(K, T)`` activations.
        background : np.ndarray or None
            ``(K,)`` background activation per key (None: zeros).
        M : torch.Tensor
            ``(F, T)`` CQT magnitude (any device; ``F >= NEEDED_BINS``).
        scale : float, optional
            The activation scale (default: the largest column sum of H).
        block : int
            Frames per block (without the halo).
        m_max : float, optional
            The CQT's reference level (default: the largest value of M; live input: the largest so far).
        """
        H = np.asarray(H)
        k, t = H.shape
        if M.dim() != 2 or M.shape[-1] != t or M.shape[0] < NEEDED_BINS:
            raise ValueError(f"the note gate needs the CQT (>= {NEEDED_BINS} bins, {t} frames), got {tuple(M.shape)}")
        out = np.ones((k, t), np.float32)
        scale = float(H.sum(axis=0, dtype=np.float64).max()) if scale is None else float(scale)
        if t == 0 or not scale > 0:
            return out
        m_max = (float(M.max()) if m_max is None else float(m_max)) or 1.0
        device = next(self.parameters()).device
        for a in range(0, t, block):
            lo, hi = max(0, a - HALO), min(t, a + block + HALO)
            x = inputs(H[:, lo:hi], background, M[:, lo:hi].to(device), scale, m_max)
            g = self(*(v[None].to(device) for v in x))[0]
            out[:, a:a + block] = torch.exp(g[:, a - lo:a - lo + min(block, t - a)].float()).cpu().numpy()
        return out


def inputs(H: np.ndarray, background: np.ndarray | None, M: torch.Tensor, scale: float,
           m_max: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The gate's inputs ``(log_h (K, T), log_bg (K,), log_m (3, K, T))`` for H, its background and M.

    ``scale`` and ``m_max`` are the whole recording's (activation scale, largest CQT value), so a block
    gets the inputs the whole recording would.
    """
    k = H.shape[0]
    bg = np.zeros(k) if background is None else np.asarray(background, dtype=np.float64)
    log_h = torch.from_numpy(np.log(np.asarray(H, dtype=np.float64) / scale + EPS).astype(np.float32))
    log_bg = torch.from_numpy(np.log(bg / scale + EPS).astype(np.float32))
    return log_h, log_bg, key_spectrum(M.to(torch.float32), m_max, k)


def key_spectrum(M: torch.Tensor, m_max: float, keys: int = 88) -> torch.Tensor:
    """``(3, keys, T)``: ``log(M / m_max + EPS)`` at CQT bins ``3k − 1, 3k, 3k + 1`` (bin −1 is bin 0)."""
    L = torch.log(M / m_max + EPS)
    idx = 3 * torch.arange(keys, device=M.device)
    return torch.stack([L[(idx - 1).clamp(min=0)], L[idx], L[idx + 1]], 0)
