"""The CQT as a torch module (the filters come from :mod:`.filterbank`).

The transform follows librosa's recursive-octave algorithm (``librosa.cqt``):
the top octave's filters are applied through an STFT at the full rate, then the
signal is low-pass filtered and decimated by two for each lower octave, so every
octave uses short FFTs. Use it through :func:`unmf_core.frontend.cqt.compute_cqt`.
"""
from __future__ import annotations

import numpy as np
import torch

from .params import CQTParams
from .filterbank import FilterBank, filter_bank


class CQT(torch.nn.Module):
    """Magnitude CQT as a torch module.

    Parameters
    ----------
    params : CQTParams
        Transform parameters.
    bank : FilterBank, optional
        Its filters (default: :func:`~unmf_core.frontend.filterbank.filter_bank`,
        i.e. the shipped or cached ones, built once when there are none).

    Notes
    -----
    ``forward(y)`` takes a 1-D signal (or a batch ``(B, n)``) at ``params.sr`` and
    returns magnitudes of shape ``(n_bins, frames)`` (or ``(B, n_bins, frames)``)
    with ``frames = 1 + n // hop``, matching librosa's centred frames.
    """

    halfband: torch.Tensor  # buffers
    inv_sqrt_len: torch.Tensor

    def __init__(self, params: CQTParams = CQTParams(), bank: FilterBank | None = None):
        super().__init__()
        self.params = params
        bank = bank if bank is not None else filter_bank(params)
        self.n_octaves = len(bank.bases)
        self._nffts = list(bank.n_ffts)
        self._hops = list(bank.hops)
        self._decimate = list(bank.decimate)
        for i, basis in enumerate(bank.bases):
            self.register_buffer(f"basis{i}", torch.from_numpy(np.array(basis, dtype=np.complex64)))
        self.register_buffer("halfband", torch.from_numpy(np.array(bank.halfband, dtype=np.float32)).view(1, 1, -1))
        self.register_buffer("inv_sqrt_len", torch.from_numpy(np.array(bank.inv_sqrt_len, dtype=np.float32)))

    def _down(self, y: torch.Tensor, block: int = 8192) -> torch.Tensor:
        """Half-band low-pass and decimation by two of ``(B, n)`` signals.

        The same as one strided ``conv1d`` over each whole signal, computed on
        overlapping blocks of ``block`` samples stacked as a batch: a single
        very long one-channel convolution is ~20× slower on CPU. The blocks go
        through the convolution eight at a time (the same values as all at once,
        which needs ~30 MB of working memory for 30 s of audio).
        """
        k = self.halfband.shape[-1]
        half = k // 2
        n = y.shape[-1]
        n_out = (n - 1) // 2 + 1
        n_blocks = -(-n_out // (block // 2))
        padded = torch.nn.functional.pad(y, (half, n_blocks * block + k - 1 - n - half))
        frames = padded.unfold(-1, block + k - 1, block).reshape(-1, 1, block + k - 1)
        # a few blocks per call: the same values as one call over all blocks, a third of its working memory
        out = torch.cat([torch.nn.functional.conv1d(frames[i:i + 8], self.halfband, stride=2)
                         for i in range(0, frames.shape[0], 8)])
        return out.reshape(y.shape[0], -1)[:, :n_out] * np.sqrt(2.0)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """Magnitude CQT of ``y`` (see the class notes for shapes)."""
        single = y.dim() == 1
        if single:
            y = y.unsqueeze(0)
        y = y.to(self.halfband.dtype)
        n_frames = 1 + y.shape[-1] // self.params.hop
        responses = []
        for i in range(self.n_octaves):
            n_fft, hop = self._nffts[i], self._hops[i]
            window = torch.ones(n_fft, device=y.device, dtype=y.dtype)
            spec = torch.stft(y, n_fft=n_fft, hop_length=hop, window=window, center=True,
                              pad_mode="constant", return_complex=True)
            resp = torch.matmul(getattr(self, f"basis{i}"), spec)[..., :n_frames]
            responses.append(resp.abs())
            if self._decimate[i]:
                y = self._down(y)
        C = torch.cat(responses[::-1], dim=-2)
        C = C * self.inv_sqrt_len[:, None]
        return C[0] if single else C
