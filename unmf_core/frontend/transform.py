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

#: Frames of one octave that go through the STFT and the filters in one call (:meth:`CQT.forward`).
FRAMES_PER_CALL = 256


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
    odd_taps: torch.Tensor
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
        h = np.asarray(bank.halfband, dtype=np.float64)
        c = len(h) // 2
        halfband = np.abs(np.delete(h[c % 2::2], c // 2)).max() <= 1e-9 * np.abs(h).max()
        #: the taps at odd offsets from the centre, and the centre tap (None: not a half-band filter)
        self._centre = float(h[c]) if halfband else None
        self.register_buffer("odd_taps", torch.from_numpy(h[(c + 1) % 2::2].astype(np.float32)).view(1, 1, -1))

    def _down(self, y: torch.Tensor, block: int = 8192) -> torch.Tensor:
        """Half-band low-pass and decimation by two of ``(B, n)`` signals.

        The filter is a half-band one: its taps at even offsets from the centre are zero (to ~1e-17 in
        the design), so output ``m`` is the centre tap times ``y[2m]`` plus a 64-tap filter over the
        odd samples (the polyphase form: half the multiply-adds of the strided 129-tap convolution,
        1.8× faster, the same values up to float rounding, ~5e-7 of the peak). A filter that is not
        half-band runs as the strided convolution with all its taps (:func:`_blocked_conv`).
        """
        n_out = (y.shape[-1] - 1) // 2 + 1
        if self._centre is None:
            out = _blocked_conv(y, self.halfband, 2, self.halfband.shape[-1] // 2, n_out, block // 2)
        else:
            out = _blocked_conv(y[:, 1::2], self.odd_taps, 1, self.odd_taps.shape[-1] // 2, n_out, block // 2)
            out.add_(y[:, 0::2], alpha=self._centre)
        return out.mul_(np.sqrt(2.0))

    def decimate_valid(self, seg: torch.Tensor) -> torch.Tensor:
        """The outputs of :meth:`_down` whose filter lies inside the 1-D segment ``seg`` (output ``j`` centred
        on ``seg[half + 2j]``), with :meth:`_down`'s arithmetic (for :class:`CQTStream`)."""
        half = self.halfband.shape[-1] // 2
        if self._centre is None:
            out = torch.nn.functional.conv1d(seg.view(1, 1, -1), self.halfband, stride=2).reshape(-1)
        else:
            out = torch.nn.functional.conv1d(seg[(half + 1) % 2::2].reshape(1, 1, -1), self.odd_taps).reshape(-1)
            out.add_(seg[half::2][:out.shape[0]], alpha=self._centre)
        return out.mul_(np.sqrt(2.0))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """Magnitude CQT of ``y`` (see the class notes for shapes).

        Each octave's frames go through the STFT and its filters :data:`FRAMES_PER_CALL` at a time, written
        into the output as they come: frame ``j`` is the ``n_fft`` samples centred on ``j * hop`` of the
        zero-padded octave signal whichever call computes it, so the result is that of one call over all
        frames, and the working memory is bounded by the stretch, not by the signal (one call over 26 s
        held ~60 MB of STFT frames and products).
        """
        single = y.dim() == 1
        if single:
            y = y.unsqueeze(0)
        y = y.to(self.halfband.dtype)
        n_frames = 1 + y.shape[-1] // self.params.hop
        C = torch.empty((y.shape[0], self.params.n_bins, n_frames), dtype=y.dtype, device=y.device)
        top = self.params.n_bins  # octave 0 (the highest) fills the last rows, each lower octave the rows above
        for i in range(self.n_octaves):
            n_fft, hop = self._nffts[i], self._hops[i]
            basis = getattr(self, f"basis{i}")
            rows = slice(top - basis.shape[0], top)
            top -= basis.shape[0]
            window = torch.ones(n_fft, device=y.device, dtype=y.dtype)
            for a in range(0, n_frames, FRAMES_PER_CALL):
                b = min(n_frames, a + FRAMES_PER_CALL)
                # frames a … b-1 centred on j * hop, zeros outside the signal (torch.stft's centring)
                seg = _window(y, 0, a * hop - n_fft // 2, (b - 1) * hop + n_fft - n_fft // 2)
                spec = torch.stft(seg, n_fft=n_fft, hop_length=hop, window=window, center=False, return_complex=True)
                C[:, rows, a:b] = torch.matmul(basis, spec).abs()
            if self._decimate[i]:
                y = self._down(y)
        C *= self.inv_sqrt_len[:, None]
        return C[0] if single else C


class CQTStream:
    """The CQT of a growing signal, one stretch of frames at a time, without recomputing the past.

    :meth:`frames` returns what :class:`CQT` gives on all the samples pushed so
    far (as if the signal ended there, zero padded like a file's end), for the
    frames asked, in time independent of how long the stream has run.

    Why it is exact: the recursive-octave CQT has two steps that read a
    neighbourhood. (1) Decimation: output ``m`` of octave ``i + 1`` is the
    half-band filter centred on sample ``2m`` of octave ``i``; it is *final*
    once octave ``i``'s samples up to ``2m + half`` are final. Octave 0's
    samples are the input and final when pushed, so each octave keeps its final
    samples, computed once, and on every :meth:`frames` call recomputes only
    its *provisional* tail (the outputs that still read beyond the received
    signal, where the whole-signal transform reads its zero padding).
    (2) Frames: frame ``j`` of octave ``i`` is the ``n_fft``-sample window
    centred on ``j * hop_i`` of the zero-padded octave signal; slicing those
    samples and taking the un-centred STFT is the same product. Tests compare
    it with :class:`CQT` on the whole signal.

    Memory is bounded: :meth:`forget` drops every sample that no frame from a
    given one on and no later decimation reads.

    Parameters
    ----------
    cqt : CQT
        The transform (filters, device).
    """

    def __init__(self, cqt: CQT):
        self.cqt = cqt
        self.hop = cqt.params.hop
        dev, dt = cqt.halfband.device, cqt.halfband.dtype
        self._half = cqt.halfband.shape[-1] // 2
        n = cqt.n_octaves
        self._buf = [torch.zeros(0, device=dev, dtype=dt) for _ in range(n)]  # final samples of each octave
        self._start = [0] * n  # index (in the octave's own rate) of self._buf[i][0]
        self._end = [0] * n  # final samples of each octave: [0, self._end[i])
        self._length = [0] * n  # samples of each octave's whole-signal version
        self.n = 0  # samples pushed

    @property
    def held(self) -> int:
        """Samples held, all octaves together (bounded once :meth:`forget` is called as frames are done)."""
        return sum(b.shape[0] for b in self._buf)

    def push(self, x: torch.Tensor) -> None:
        """Append 1-D samples at the transform's rate."""
        x = x.to(self._buf[0].device, self._buf[0].dtype).reshape(-1)
        self._buf[0] = torch.cat([self._buf[0], x])
        self.n += x.shape[0]
        self._end[0] = self._length[0] = self.n
        for i in range(1, self.cqt.n_octaves):
            if not self.cqt._decimate[i - 1]:
                break
            self._length[i] = (self._length[i - 1] - 1) // 2 + 1 if self._length[i - 1] else 0
            done = max(0, (self._end[i - 1] - 1 - self._half) // 2 + 1)  # outputs reading final samples only
            done = min(done, self._length[i])
            if done > self._end[i]:
                new = self._decimate(self._buf[i - 1], self._start[i - 1], self._end[i], done)
                self._buf[i] = torch.cat([self._buf[i], new])
                self._end[i] = done

    def _decimate(self, y: torch.Tensor, y0: int, a: int, b: int) -> torch.Tensor:
        """Outputs ``[a, b)`` of the decimation of the signal ``y`` = samples ``[y0, y0 + len(y))``, zero elsewhere."""
        lo, hi = 2 * a - self._half, 2 * (b - 1) + self._half + 1  # input samples read
        seg = _window(y, y0, lo, hi)
        return self.cqt.decimate_valid(seg)

    def frames(self, f0: int, f1: int) -> torch.Tensor:
        """Magnitudes ``(n_bins, f1 - f0)`` of frames ``[f0, f1)``; ``f1`` at most ``1 + n // hop``."""
        if not 0 <= f0 <= f1 <= (1 + self.n // self.hop if self.n else 0):
            raise ValueError(f"frames [{f0}, {f1}) are not available after {self.n} samples")
        cqt = self.cqt
        out = []
        sig, sig0 = self._buf[0], self._start[0]
        for i in range(cqt.n_octaves):
            n_fft, hop = cqt._nffts[i], cqt._hops[i]
            seg = _window(sig, sig0, f0 * hop - n_fft // 2, (f1 - 1) * hop + n_fft // 2 + 1) if f1 > f0 else \
                sig.new_zeros(n_fft)
            spec = torch.stft(seg, n_fft=n_fft, hop_length=hop, window=torch.ones_like(seg[:n_fft]), center=False,
                              return_complex=True)[..., :f1 - f0]
            out.append(torch.matmul(getattr(cqt, f"basis{i}"), spec).abs())
            if i + 1 < cqt.n_octaves and cqt._decimate[i]:
                # octave i + 1 as the whole-signal transform has it: its final samples, then the outputs
                # that read past the end of octave i's signal (provisional), from octave i's whole version
                j = i + 1
                tail = self._decimate(sig, sig0, self._end[j], self._length[j])
                sig, sig0 = torch.cat([self._buf[j], tail]), self._start[j]
        C = torch.cat(out[::-1], dim=-2)
        return C * cqt.inv_sqrt_len[:, None]

    def forget(self, before: int) -> None:
        """Drop the samples that neither frames from ``before`` on nor later decimations read."""
        cqt = self.cqt
        for i in range(cqt.n_octaves):
            keep = before * cqt._hops[i] - cqt._nffts[i] // 2
            if i + 1 < cqt.n_octaves and cqt._decimate[i]:
                keep = min(keep, 2 * self._end[i + 1] - self._half)
            drop = min(keep - self._start[i], self._buf[i].shape[0])
            if drop > 0:
                self._buf[i] = self._buf[i][drop:]
                self._start[i] += drop


def _blocked_conv(x: torch.Tensor, kernel: torch.Tensor, stride: int, left: int, n_out: int,
                  step: int) -> torch.Tensor:
    """``(B, n_out)`` outputs of ``conv1d(x, kernel, stride)`` over ``(B, n)`` signals with ``left`` zeros before
    them (and zeros after), in blocks of ``step`` outputs stacked as a batch, eight blocks a call.

    A single very long one-channel convolution is ~20× slower on a CPU than these blocks; each group is
    copied out of the padded signal just before its call and its output written in place (the same
    values as one call over all blocks).
    """
    k = kernel.shape[-1]
    width = step * stride + k - stride  # input samples of one block of outputs
    n_blocks = -(-n_out // step)
    total = (n_blocks - 1) * step * stride + width
    windows = torch.nn.functional.pad(x, (left, total - left - x.shape[-1])).unfold(-1, width, step * stride)
    out = x.new_empty((x.shape[0], n_blocks, step))
    for i in range(0, n_blocks, 8):
        group = windows[:, i:i + 8].reshape(-1, 1, width)
        out[:, i:i + 8] = torch.nn.functional.conv1d(group, kernel, stride=stride).view(x.shape[0], -1, step)
    return out.view(x.shape[0], -1)[:, :n_out]


def _window(y: torch.Tensor, y0: int, lo: int, hi: int) -> torch.Tensor:
    """Samples ``[lo, hi)`` (last axis) of a signal held as ``y`` = samples ``[y0, y0 + y.shape[-1])``; zeros
    elsewhere."""
    a, b = max(lo, y0), min(hi, y0 + y.shape[-1])
    if a >= b:
        return y.new_zeros(y.shape[:-1] + (hi - lo,))
    part = y[..., a - y0:b - y0]
    if a == lo and b == hi:
        return part
    return torch.nn.functional.pad(part, (a - lo, hi - b))
