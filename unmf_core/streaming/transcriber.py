"""Live transcription: blocks of audio in, notes out while the audio goes on.

:class:`LiveTranscriber` takes mono blocks at the engine's sample rate
(:meth:`~LiveTranscriber.feed`) and, every ``tick_frames`` new CQT frames,

1. computes the CQT of the recent audio only (:func:`~unmf_core.frontend.cqt.compute_cqt`
   on the last :data:`CQT_MARGIN_SECONDS` plus the window, starting on a frame
   boundary as :func:`~unmf_core.frontend.blocks.block_cqt` does);
2. runs the model's unrolled layers (W fixed: the bundled or calibrated
   templates) on a sliding window of frames: the frames to commit, the
   ``lookahead_frames`` after them, and the full receptive halo of every layer
   before them (4 frames a layer), through
   :func:`unmf_core.nmf.chunking.apply_layer` -- the same layer as a file run;
3. commits the window's frames that are ``lookahead_frames`` old, and hands the
   recent committed activations to :class:`~unmf_core.streaming.tracker.NoteTracker`,
   which runs the file transcription's own note rule
   (:func:`~unmf_core.transcription.notes.extract_notes`) on them and reports a
   note once its onset is certain and again when it has ended.

What differs from a file run, and why (``docs/benchmarks/live.md`` measures the effect):

* **Future context.** A file run sees the whole recording; a committed frame
  here sees ``lookahead_frames`` of future frames (70 ms by default), where the
  file run's layers read 40 frames (4 per layer) and the lowest CQT filters
  almost a second. Waiting for all of it would cost about a second of latency.
* **Global levels become running ones.** The file run normalises A_H's input by
  the largest activation of the whole recording, thresholds notes relative to
  the largest frame total of the whole recording, and measures the background
  on the whole recording. Here they are the running maximum of everything seen
  so far (per layer) and the background of the last :data:`BACKGROUND_SECONDS`,
  refreshed every :data:`BACKGROUND_EVERY_SECONDS`.
* **Initialisation.** The seeded random start is drawn frame by frame (the file
  run draws it for the whole length at once); with β = 1 the first MU step
  removes its overall scale, and the file run's rescaling of W is 1 for a
  KL fit (checked in the tests), so W is the templates as they are.

At the end of the stream (:meth:`~LiveTranscriber.finish`) the last frames are
committed with the zero padding a file's end gets, and the open notes end.
Memory is bounded: audio, CQT and activations are kept for a few tens of
seconds only, unless ``keep=True`` keeps the take's activations for
:meth:`~LiveTranscriber.transcription` (88 floats per frame, 30 kB a second).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import OptionError
from ..frontend.cqt import compute_cqt
from ..nmf import chunking
from ..nmf.kernels import EPS, background_activation, update_H
from ..transcription.notes import Note
from ..transcription.options import Options
from ..transcription.result import Transcription
from .tracker import NoteTracker

#: Default frames between two updates (93 ms at 86 frames/s).
TICK_FRAMES = 8
#: Default future frames a committed frame sees (70 ms at 86 frames/s).
LOOKAHEAD_FRAMES = 6
#: Audio before the window that the CQT of each update reads (covers the long low filters and the decimation).
CQT_MARGIN_SECONDS = 2.0
#: The background activation is measured on this much of the latest CQT...
BACKGROUND_SECONDS = 60.0
#: ...and refreshed this often.
BACKGROUND_EVERY_SECONDS = 1.0


@dataclass
class LiveUpdate:
    """What one update of a :class:`LiveTranscriber` produced.

    Attributes
    ----------
    start : int
        Index of the first committed frame of this update.
    M : np.ndarray
        ``(n_bins, n)`` CQT of the committed frames.
    H : np.ndarray
        ``(88, n)`` activations of the committed frames.
    onsets : list of Note
        Notes whose onset became certain (their offset is where they have got so far).
    ended : list of Note
        Notes that ended, with their final offset (and velocity).
    audio_time : float
        Seconds of audio received when the update ran.
    compute_time : float
        Seconds the update took.
    """

    start: int
    M: np.ndarray
    H: np.ndarray
    onsets: list[Note] = field(default_factory=list)
    ended: list[Note] = field(default_factory=list)
    audio_time: float = 0.0
    compute_time: float = 0.0


class LiveTranscriber:
    """Incremental transcription of a stream with an :class:`~unmf_core.transcription.engine.Engine`'s model.

    Parameters
    ----------
    engine : Engine
        Model, templates, CQT parameters (runs on ``engine.device``).
    opts : Options, optional
        ``layers``, ``init_iters``, ``seed`` and ``notes`` are used; the method must be ``"unrolled"``.
    tick_frames : int
        New frames between two updates (at least 1).
    lookahead_frames : int
        Future frames each committed frame sees (at least 0).
    keep : bool
        Keep the whole take's activations for :meth:`transcription` (else
        memory stays bounded by a few tens of seconds).

    Raises
    ------
    OptionError
        Plain MU asked for, a model that updates W (its W update sums over the
        whole recording), or settings out of range.
    """

    def __init__(self, engine, opts: Options | None = None, tick_frames: int = TICK_FRAMES,
                 lookahead_frames: int = LOOKAHEAD_FRAMES, keep: bool = True):
        opts = opts or Options()
        if opts.method != "unrolled":
            raise OptionError("live transcription runs the unrolled model (method 'unrolled')")
        method = engine.method(opts)
        model = engine.model
        if any(model.updates_w(i) for i in range(method.steps)):
            raise OptionError("live transcription needs a model that keeps W fixed (this one updates W)")
        if int(tick_frames) < 1 or int(lookahead_frames) < 0:
            raise OptionError(f"tick_frames must be at least 1 and lookahead_frames at least 0, "
                              f"got {tick_frames} and {lookahead_frames}")
        self.engine, self.opts = engine, opts
        self.cqt = engine.cqt
        self.layers = list(model.layers[:method.steps])
        self.beta = method.beta
        self.tick, self.lookahead = int(tick_frames), int(lookahead_frames)
        self.halo = sum(layer.receptive_halo() for layer in self.layers)
        self.keep = bool(keep)
        self.W = engine._W
        self.device = self.W.device
        self.params = engine.notes_for(opts)
        self.frame_rate = self.cqt.frame_rate
        self._margin = int(np.ceil(CQT_MARGIN_SECONDS * self.frame_rate))
        self._gen = torch.Generator(device="cpu").manual_seed(int(opts.seed))
        # audio: samples [self._a0, self._a0 + len(self._audio)) of the stream
        self._audio = np.zeros(0, dtype=np.float32)
        self._a0 = 0
        self._n = 0  # samples received
        self._committed = 0  # frames committed
        self._rand = torch.zeros((self.W.shape[1], 0))  # per-frame random starts from frame self._r0
        self._r0 = 0
        self._peaks = [0.0] * len(self.layers)
        self._M_hist: list[np.ndarray] = []  # committed M, for the background
        self._hist_frames = 0
        self._bg_frames = int(round(BACKGROUND_SECONDS * self.frame_rate))
        self._bg_every = max(1, int(round(BACKGROUND_EVERY_SECONDS * self.frame_rate)))
        self._bg_at = -1
        self.background: np.ndarray | None = None
        self._H_take: list[np.ndarray] = []
        self.tracker = NoteTracker(self.frame_rate, self.params)
        self.finished = False
        self.compute_seconds = 0.0

    # ------------------------------------------------------------------ input
    @property
    def audio_time(self) -> float:
        """Seconds of audio received."""
        return self._n / self.cqt.sr

    @property
    def notes(self) -> list[Note]:
        """Every note found so far (open ones with the offset they have reached), by onset."""
        return self.tracker.notes()

    def feed(self, block: np.ndarray) -> list[LiveUpdate]:
        """Take mono samples at the engine's rate; return the updates they completed (often none).

        Raises
        ------
        ValueError
            A block that is not one-dimensional or not finite, or feeding after :meth:`finish`.
        """
        if self.finished:
            raise ValueError("the stream has finished")
        x = np.asarray(block, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError(f"a block must be mono samples (n,), got shape {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("a block holds NaN or infinite samples")
        self._audio = np.concatenate([self._audio, x])
        self._n += len(x)
        out = []
        while self._frames_available() - self.lookahead - self._committed >= self.tick:
            out.append(self._update(self._committed + self.tick, final=False))
        return out

    def finish(self) -> list[LiveUpdate]:
        """End of the stream: commit the last frames (zero padding, as at a file's end) and end every note."""
        if self.finished:
            return []
        self.finished = True
        out = []
        while self._committed < self._frames_available():
            out.append(self._update(min(self._frames_available(), self._committed + 4 * self.tick), final=True))
        ended = self.tracker.close()
        if ended:
            if out:
                out[-1].ended.extend(ended)
            else:
                out.append(LiveUpdate(self._committed, np.zeros((self.cqt.n_bins, 0), np.float32),
                                      np.zeros((self.W.shape[1], 0), np.float32), [], ended, self.audio_time))
        return out

    def _frames_available(self) -> int:
        return 1 + self._n // self.cqt.hop if self._n else 0

    # ------------------------------------------------------------------ one update
    def _update(self, upto: int, final: bool) -> LiveUpdate:
        t0 = time.perf_counter()
        hop = self.cqt.hop
        end = self._frames_available()
        c0 = self._committed
        w0 = max(0, c0 - self.halo)  # window [w0, end): halo, frames to commit, lookahead
        m0 = max(0, w0 - self._margin)
        piece = self._audio[m0 * hop - self._a0:]
        with torch.no_grad():
            M = compute_cqt(piece, self.cqt, self.device)[:, w0 - m0:end - m0]
            H = self._initial(M, w0, end)
            for i, layer in enumerate(self.layers):
                self._peaks[i] = max(self._peaks[i], float(H.max()))
                peak = torch.tensor(self._peaks[i], dtype=H.dtype, device=H.device).reshape(1, 1)
                _, H, _ = chunking.apply_layer(layer, M, self.W, H, False, peak=peak)
        a, b = c0 - w0, upto - w0
        Mc = M[:, a:b].cpu().numpy()
        Hc = H[:, a:b].cpu().numpy()
        self._committed = upto
        self._forget(m0_next=max(0, upto - self.halo - self._margin))
        self._remember(Mc, Hc)
        onsets, ended = self.tracker.push(Hc, self.background)
        dt = time.perf_counter() - t0
        self.compute_seconds += dt
        return LiveUpdate(c0, Mc, Hc, onsets, ended, self.audio_time, dt)

    def _initial(self, M: torch.Tensor, w0: int, end: int) -> torch.Tensor:
        """The file run's start on frames [w0, end): seeded uniform + 0.01, scaled to M, then MU steps."""
        need = end - (self._r0 + self._rand.shape[1])
        if need > 0:
            fresh = torch.rand((self._rand.shape[0], need), generator=self._gen) + 0.01
            self._rand = torch.cat([self._rand, fresh], dim=1)
        H = self._rand[:, w0 - self._r0:end - self._r0].to(device=self.device, dtype=M.dtype)
        H = H * (M.sum() / (self.W @ H).sum().clamp_min(EPS))
        for _ in range(self.opts.init_iters):
            H = update_H(M, self.W, H, self.beta)
        return H

    def _forget(self, m0_next: int) -> None:
        """Drop the audio and random starts that no later update reads."""
        drop = m0_next * self.cqt.hop - self._a0
        if drop > 0:
            self._audio = self._audio[drop:]
            self._a0 += drop
        keep_from = max(0, self._committed - self.halo)
        if keep_from > self._r0:
            self._rand = self._rand[:, keep_from - self._r0:]
            self._r0 = keep_from

    def _remember(self, Mc: np.ndarray, Hc: np.ndarray) -> None:
        if self.keep:
            self._H_take.append(Hc)
        self._M_hist.append(Mc)
        self._hist_frames += Mc.shape[1]
        while self._M_hist and self._hist_frames - self._M_hist[0].shape[1] >= self._bg_frames:
            self._hist_frames -= self._M_hist.pop(0).shape[1]
        if self._bg_at < 0 or self._committed - self._bg_at >= self._bg_every:
            self._bg_at = self._committed
            Mh = torch.from_numpy(np.concatenate(self._M_hist, axis=1)).to(self.device)
            self.background = background_activation(Mh, self.W, self.beta).cpu().numpy()

    # ------------------------------------------------------------------ result
    def transcription(self) -> Transcription:
        """The take as a normal :class:`Transcription` (notes as they were emitted, H of the committed frames).

        Raises
        ------
        ValueError
            The transcriber was made with ``keep=False``.
        """
        if not self.keep:
            raise ValueError("the take's activations were not kept (keep=False)")
        n_keys = self.W.shape[1]
        H = np.concatenate(self._H_take, axis=1) if self._H_take else np.zeros((n_keys, 0), np.float32)
        params = self.engine.params(self.opts)
        params.update(live={"tick_frames": self.tick, "lookahead_frames": self.lookahead,
                            "scale": self.tracker.scale})
        return Transcription(self.notes, H, self.W.cpu().numpy().copy(), [], self.frame_rate, self.audio_time,
                             params, {"compute": self.compute_seconds}, self.background)
