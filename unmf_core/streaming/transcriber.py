"""Live transcription: blocks of audio in, notes out while the audio goes on.

:class:`LiveTranscriber` takes mono blocks at the engine's sample rate
(:meth:`~LiveTranscriber.feed`) and, every ``tick_frames`` new CQT frames,

1. computes the CQT of the new frames only (:class:`~unmf_core.frontend.transform.CQTStream`:
   what the file's transform gives on the audio received so far, without
   recomputing the past);
2. runs the model's unrolled layers (W fixed: the bundled or calibrated
   templates) on a sliding window of frames -- the last ``revise_frames``
   committed frames again, the frames to commit and the ``lookahead_frames``
   after them -- through :func:`unmf_core.nmf.chunking.apply_layer`, the same
   layer as a file run. What a layer's A_H reads before the window (its
   receptive halo, 4 frames) is that layer's input on the frames fixed
   before, kept from the update that fixed them, so an update's cost does not
   grow with the network's receptive field (40 frames for 10 layers);
3. commits the window's frames that are ``lookahead_frames`` old, and hands the
   committed activations (the revised ones replacing their earlier version)
   to :class:`~unmf_core.streaming.tracker.NoteTracker`, which runs the file
   transcription's own note rule (:func:`~unmf_core.transcription.notes.extract_notes`)
   on them and reports a note once its onset is certain, again when it has
   ended, and withdraws one whose revised frames no longer hold it.

What differs from a file run, and why (``docs/benchmarks/live.md`` measures the effect):

* **Future context.** A file run sees the whole recording; a committed frame
  here sees ``lookahead_frames`` of future frames (70 ms by default), where the
  file run's layers read 40 frames (4 per layer) and the lowest CQT filters
  almost a second. Waiting for all of it would cost about a second of latency.
  Instead a committed frame is computed again in the next updates, up to
  ``revise_frames`` (0.46 s) after it was committed: the low keys' filters
  move most as their audio arrives (bass onsets came ~60 ms early before;
  onset-F live − file on 16 renders went from −0.018 to −0.005). Past that a
  frame is final, and the frames a layer reads before the window are as they
  were then.
* **Global levels become running ones.** The file run normalises A_H's input by
  the largest activation of the whole recording, thresholds notes relative to
  the largest frame total of the whole recording, and measures the background
  on the whole recording. Here they are the running maximum of everything seen
  so far (per layer) and the background of the last :data:`BACKGROUND_SECONDS`,
  refreshed every :data:`BACKGROUND_EVERY_SECONDS`.
* **No note gate.** A file run of a model with a note gate (:mod:`unmf_core.nmf.gate`) decides where notes
  start on H × the gate's gain; live, the rule reads H alone. The gate reads H and the CQT relative to the
  whole recording's levels and 9 frames of future; with running levels and the window's edge instead (tried:
  the gain on the tracker's window at every update), live onset-F on the demo fell from 0.778 to 0.726,
  against 0.747 for the file run with its gate.
* **Initialisation.** The file run's start (flat by default; a seeded random
  one is drawn frame by frame where the file run draws it for the whole length
  at once); with β = 1 the first MU step removes its overall scale, and the file run's rescaling of W is 1 for a
  KL fit (checked in the tests), so W is the templates as they are.

At the end of the stream (:meth:`~LiveTranscriber.finish`) the last frames are
committed with the zero padding a file's end gets, and the open notes end.
Memory is bounded: the CQT keeps ~1.5 s of audio over its octaves, the
background a minute of CQT frames, the tracker a few seconds of activations
(more while a note is held, at most 30 s), unless ``keep=True`` keeps the take's activations for
:meth:`~LiveTranscriber.transcription` (88 floats per frame, 30 kB a second).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import OptionError
from ..frontend.cqt import cqt_module
from ..frontend.transform import CQTStream
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
#: Default committed frames that every update computes again with the audio that has arrived since (0.46 s):
#: the low keys' long CQT filters read ~1 s around a frame, so a bass note's frames move as its audio comes
#: in (committed once, its onset came ~60 ms early on the demo, then counted as a wrong note).
REVISE_FRAMES = 40
#: The background activation is measured on this much of the latest CQT...
BACKGROUND_SECONDS = 60.0
#: ...and refreshed this often (a steady floor changes slowly; every second cost ~10 % of a core).
BACKGROUND_EVERY_SECONDS = 5.0


@dataclass
class LiveUpdate:
    """What one update of a :class:`LiveTranscriber` produced.

    Attributes
    ----------
    start : int
        Index of the first committed frame of this update.
    M : np.ndarray
        ``(n_bins, n)`` CQT of the frames this update committed.
    H : np.ndarray
        ``(88, n)`` their activations as first computed (the next updates may
        revise them; :meth:`LiveTranscriber.transcription` holds the final ones).
    onsets : list of Note
        Notes whose onset became certain (their offset is where they have got so far).
    ended : list of Note
        Notes that ended, with their final offset (and velocity).
    audio_time : float
        Seconds of audio received when the update ran.
    compute_time : float
        Seconds the update took.
    retracted : list of Note
        Notes reported before (in ``onsets``) that the revised frames no longer
        hold: withdrawn, they are not in :attr:`LiveTranscriber.notes`.
    """

    start: int
    M: np.ndarray
    H: np.ndarray
    onsets: list[Note] = field(default_factory=list)
    ended: list[Note] = field(default_factory=list)
    audio_time: float = 0.0
    compute_time: float = 0.0
    retracted: list[Note] = field(default_factory=list)


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
    revise_frames : int
        Committed frames every update computes again (at least 0): notes
        follow the revised activations, onsets are reported when first found.

    Raises
    ------
    OptionError
        Plain MU asked for, a model that updates W (its W update sums over the
        whole recording), or settings out of range.
    """

    def __init__(self, engine, opts: Options | None = None, tick_frames: int = TICK_FRAMES,
                 lookahead_frames: int = LOOKAHEAD_FRAMES, keep: bool = True, revise_frames: int = REVISE_FRAMES):
        opts = opts or Options()
        if opts.method != "unrolled":
            raise OptionError("live transcription runs the unrolled model (method 'unrolled')")
        method = engine.method(opts)
        model = engine.model
        if any(model.updates_w(i) for i in range(method.steps)):
            raise OptionError("live transcription needs a model that keeps W fixed (this one updates W)")
        if int(tick_frames) < 1 or int(lookahead_frames) < 0 or int(revise_frames) < 0:
            raise OptionError(f"tick_frames must be at least 1, lookahead_frames and revise_frames at least 0, "
                              f"got {tick_frames}, {lookahead_frames} and {revise_frames}")
        self.engine, self.opts = engine, opts
        self.cqt = engine.cqt
        self.layers = list(model.layers[:method.steps])
        self.beta = method.beta
        self.tick, self.lookahead, self.revise = int(tick_frames), int(lookahead_frames), int(revise_frames)
        self._halos = [layer.receptive_halo() for layer in self.layers]
        self.halo = max(self._halos, default=0)
        self.keep = bool(keep)
        self.W = engine.W
        self.device = self.W.device
        self.params = engine.notes_for(opts)
        self.frame_rate = self.cqt.frame_rate
        self._gen = None if opts.seed is None else torch.Generator(device="cpu").manual_seed(int(opts.seed))
        self._stream = CQTStream(cqt_module(self.cqt, self.device))
        self._n = 0  # samples received
        self._final = 0  # frames before this one are final: no later update recomputes them
        # each layer's input on the last committed frames (its A_H's left halo), and M there
        self._left = [torch.zeros((self.W.shape[1], 0), device=self.device) for _ in self.layers]
        self._M_left = torch.zeros((self.cqt.n_bins, 0), device=self.device)
        self._committed = 0  # frames committed
        self._rand = torch.zeros((self.W.shape[1], 0))  # per-frame starts (flat or random) from frame self._r0
        self._r0 = 0
        self._peaks = [0.0] * len(self.layers)
        self._M_hist: list[np.ndarray] = []  # committed M, for the background
        self._hist_frames = 0
        self._bg_frames = int(round(BACKGROUND_SECONDS * self.frame_rate))
        self._bg_every = max(1, int(round(BACKGROUND_EVERY_SECONDS * self.frame_rate)))
        self._bg_at = -1
        self.background: np.ndarray | None = None
        self._take = np.zeros((self.W.shape[1], 0), np.float32)  # the take's H (keep=True)
        self.tracker = NoteTracker(self.frame_rate, self.params)
        self.finished = False
        self.compute_seconds = 0.0

    # ------------------------------------------------------------------ input
    @property
    def audio_time(self) -> float:
        """Seconds of audio received."""
        return self._n / self.cqt.sr

    @property
    def held_samples(self) -> int:
        """Samples the incremental CQT holds (all octaves): bounded, however long the stream runs."""
        return self._stream.held

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
        self._stream.push(torch.from_numpy(x))
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
        end = self._frames_available()
        c0, s = self._committed, self._final
        b = max(s, upto - self.revise)  # frames [s, b) are final after this update
        with torch.no_grad():
            # window [s, end): the last committed frames again (revised), the frames to commit, the look-ahead
            M = self._stream.frames(s, end)
            H = self._initial(M, s, end)
            for i, layer in enumerate(self.layers):
                self._peaks[i] = max(self._peaks[i], float(H.max()))
                peak = torch.tensor(self._peaks[i], dtype=H.dtype, device=H.device).reshape(1, 1)
                left = self._left[i]
                h = left.shape[1]
                _, out, _ = chunking.apply_layer(layer, torch.cat([self._M_left[:, self._M_left.shape[1] - h:], M], 1),
                                                 self.W, torch.cat([left, H], 1), False, peak=peak)
                self._left[i] = _last(torch.cat([left, H[:, :b - s]], 1), self._halos[i])
                H = out[:, h:]
            self._M_left = _last(torch.cat([self._M_left, M[:, :b - s]], 1), self.halo)
        Mw, Hw = M[:, :upto - s].cpu().numpy(), H[:, :upto - s].cpu().numpy()
        self._committed, self._final = upto, b
        self._stream.forget(b)  # later windows start at b: drop what only earlier frames read
        self._rand = self._rand[:, b - self._r0:]
        self._r0 = b
        self._remember(s, b, Mw, Hw)
        changes = self.tracker.push(Hw, self.background, start=s)
        dt = time.perf_counter() - t0
        self.compute_seconds += dt
        return LiveUpdate(c0, Mw[:, c0 - s:], Hw[:, c0 - s:], changes.onsets, changes.ended, self.audio_time, dt,
                          retracted=changes.retracted)

    def _initial(self, M: torch.Tensor, w0: int, end: int) -> torch.Tensor:
        """The file run's start on frames [w0, end) (:func:`~unmf_core.nmf.kernels.start_H`), scaled, then MU steps."""
        need = end - (self._r0 + self._rand.shape[1])
        if need > 0:
            n = self._rand.shape[0]
            fresh = torch.ones((n, need)) if self._gen is None else torch.rand((n, need), generator=self._gen) + 0.01
            self._rand = torch.cat([self._rand, fresh], dim=1)
        H = self._rand[:, w0 - self._r0:end - self._r0].to(device=self.device, dtype=M.dtype)
        H = H * (M.sum() / (self.W @ H).sum().clamp_min(EPS))
        for _ in range(self.opts.init_iters):
            H = update_H(M, self.W, H, self.beta)
        return H

    def _remember(self, s: int, b: int, Mw: np.ndarray, Hw: np.ndarray) -> None:
        """Keep the take's H (frames [s, s + n), revised ones overwritten) and the final M for the background."""
        if self.keep:
            n = s + Hw.shape[1]
            if n > self._take.shape[1]:
                grown = np.zeros((Hw.shape[0], max(n, 2 * self._take.shape[1])), np.float32)
                grown[:, :self._take.shape[1]] = self._take
                self._take = grown
            self._take[:, s:n] = Hw
        if b > s:
            self._M_hist.append(Mw[:, :b - s].copy())  # a copy: a view would keep the whole window alive
            self._hist_frames += b - s
        while self._M_hist and self._hist_frames - self._M_hist[0].shape[1] >= self._bg_frames:
            self._hist_frames -= self._M_hist.pop(0).shape[1]
        if self._bg_at < 0 or b - self._bg_at >= self._bg_every:
            self._bg_at = b
            Mh = torch.from_numpy(np.concatenate(self._M_hist + [Mw[:, b - s:]], axis=1)).to(self.device)
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
        H = self._take[:, :self._committed].copy()
        params = self.engine.params(self.opts)
        params.update(live={"tick_frames": self.tick, "lookahead_frames": self.lookahead,
                            "scale": self.tracker.scale})
        return Transcription(self.notes, H, self.W.cpu().numpy().copy(), [], self.frame_rate, self.audio_time,
                             params, {"compute": self.compute_seconds}, self.background)


def _last(x: torch.Tensor, n: int) -> torch.Tensor:
    """The last ``n`` columns of ``x`` (none for n = 0, where ``x[:, -0:]`` would be all of them)."""
    return x[:, x.shape[1] - min(n, x.shape[1]):]
