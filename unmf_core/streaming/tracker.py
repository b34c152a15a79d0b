"""Notes of a stream: the file transcription's note rule run on a sliding window of activations.

:class:`NoteTracker` keeps the latest committed activations and, after every
update, runs :func:`unmf_core.transcription.notes.extract_notes` (the one note
rule of unmf, with whatever onset, offset and velocity rules it has) on the
last :data:`WINDOW_SECONDS` -- further back while a note is still held -- with

* ``scale`` = the running maximum of the frame totals seen so far (the file
  rule's scale is the maximum over the whole recording), and
* ``background`` = the transcriber's background of the latest minute.

It then reconciles what the rule finds with what it has already reported: a
note the rule finds for the first time is reported (its onset is certain: the
rule only returns notes that passed its threshold and minimum duration); a
reported note is matched again by pitch and an onset within ``min_ioi``, its
onset, offset and velocity follow the rule's latest answer until it ends, and
it is reported ended once its offset lies more than the merge gap behind the
newest frame (later frames can no longer extend it).
"""
from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import numpy as np

from ..transcription.notes import Note, NoteParams, extract_notes

#: Activations the rule reads after every update (seconds)...
WINDOW_SECONDS = 4.0
#: ...and at most, while a long note is held.
MAX_WINDOW_SECONDS = 30.0
#: A new onset is reported once it lies this far behind the newest frame. 0 by default: on the demo,
#: 0.05-0.15 s changed no note and only added latency (the rule's minimum duration already waits).
SETTLE_SECONDS = 0.0
#: A note first found this long after its onset is not reported: it is too late to be of use live, and it
#: comes from a level that changed since (the running scale or the background), not from its own sound.
LATE_SECONDS = 0.5


class Changes(NamedTuple):
    """What one :meth:`NoteTracker.push` changed."""

    #: Notes whose onset is now certain (their offset is where they have got so far).
    onsets: list[Note]
    #: Notes that ended, with their final offset.
    ended: list[Note]
    #: Notes reported before that the rule no longer finds on revised frames: withdrawn, in no later list.
    retracted: list[Note]


class NoteTracker:
    """Report notes of a growing activation matrix as they start and end.

    Parameters
    ----------
    frame_rate : float
        Frames per second.
    params : NoteParams
        The note rule's settings.
    """

    def __init__(self, frame_rate: float, params: NoteParams = NoteParams(), settle: float = SETTLE_SECONDS,
                 late: float = LATE_SECONDS):
        self.fr = float(frame_rate)
        self.settle = float(settle)
        self.late = float(late)
        self.params = params
        self.scale = 0.0
        self._H: np.ndarray | None = None
        self._h0 = 0  # frame index of self._H[:, 0]
        self._end = 0  # frames pushed
        self._window = int(round(WINDOW_SECONDS * self.fr))
        self._max_window = int(round(MAX_WINDOW_SECONDS * self.fr))
        self._guard = int(round(params.merge_gap * self.fr)) + 2
        self._open: list[Note] = []
        self._recent: list[Note] = []  # ended notes still inside the window
        self._done: list[Note] = []

    def notes(self) -> list[Note]:
        """Ended and open notes, by onset then pitch."""
        return sorted(self._done + self._open, key=lambda n: (n.onset, n.pitch))

    def push(self, H: np.ndarray, background: np.ndarray | None = None,
             start: int | None = None) -> Changes:
        """Add committed frames ``(88, n)``; return what changed (:class:`Changes`).

        ``start``: frame index of ``H[:, 0]`` (default: right after the frames pushed so far); frames
        pushed before from ``start`` on are replaced (revised activations). It may not lie before the
        window the rule reads (:data:`WINDOW_SECONDS` back at least). A reported note that starts on
        replaced frames and that the rule no longer finds is retracted (it came from frames computed
        before their audio had arrived).
        """
        H = np.asarray(H, dtype=np.float32)
        start = self._end if start is None else int(start)
        if not self._h0 <= start <= self._end or (self._H is None and start):
            raise ValueError(f"frames from {start} cannot be pushed: frames [{self._h0}, {self._end}) are held")
        self._H = H.copy() if self._H is None else np.concatenate([self._H[:, :start - self._h0], H], axis=1)
        revised = start / self.fr if start < self._end else np.inf
        self._end = start + H.shape[1]
        if H.shape[1]:
            self.scale = max(self.scale, float(H.sum(axis=0).max()))
        first_open = min((int(n.onset * self.fr) for n in self._open), default=self._end)
        ws = max(self._end - self._max_window, min(self._end - self._window, first_open - self._guard), 0)
        if ws > self._h0:
            self._H = self._H[:, ws - self._h0:]
            self._h0 = ws
        if self.scale <= 0:
            return Changes([], [], [])
        found = extract_notes(self._H, self.fr, self.params, scale=self.scale, background=background)
        shift = self._h0 / self.fr
        found = [replace(n, onset=n.onset + shift, offset=n.offset + shift) for n in found]
        return self._reconcile(found, self._h0 / self.fr, self._end / self.fr, self._h0 > 0, revised)

    def close(self) -> list[Note]:
        """End of the stream: every open note ends where it has got."""
        ended, self._open = self._open, []
        self._done.extend(ended)
        return ended

    def _reconcile(self, found: list[Note], t_start: float, t_end: float, truncated: bool,
                   revised: float) -> Changes:
        tol = self.params.min_ioi
        edge = t_start + 1.5 / self.fr  # a segment starting here may have begun before the window
        done_by = t_end - self._guard / self.fr
        self._recent = [n for n in self._recent if n.offset >= t_start - tol]
        onsets: list[Note] = []
        ended: list[Note] = []
        matched: set[int] = set()
        for n in found:
            i = next((j for j, o in enumerate(self._open) if j not in matched and o.pitch == n.pitch and (
                abs(o.onset - n.onset) < tol or (truncated and n.onset <= edge and o.onset < edge))), None)
            if i is None:
                if any(o.pitch == n.pitch and abs(o.onset - n.onset) < tol for o in self._recent):
                    continue  # reported and ended already
                if truncated and n.onset <= edge:
                    continue  # the tail of something older, not a new onset
                if n.onset > t_end - self.settle:
                    continue  # not certain yet: wait for the next update
                if n.onset < t_end - self.late:
                    continue  # too late to report live (see LATE_SECONDS)
                onsets.append(n)
                self._open.append(n)
                matched.add(len(self._open) - 1)
                continue
            matched.add(i)
            old = self._open[i]
            keep_start = truncated and n.onset <= edge  # the rule sees only the note's tail now
            self._open[i] = replace(n, onset=old.onset, velocity=old.velocity) if keep_start else n
        still: list[Note] = []
        retracted: list[Note] = []
        for j, o in enumerate(self._open):
            if j in matched and o.offset >= done_by:
                still.append(o)
            elif j not in matched and o.onset >= revised:  # its frames were revised and it is gone
                retracted.append(o)
            else:  # ended, or no longer found (the rule's answer changed): it ends where it had got
                ended.append(o)
        for o in self._recent:  # an ended note that starts on revised frames follows the rule's latest answer too
            if o.onset >= revised and not any(n.pitch == o.pitch and abs(n.onset - o.onset) < tol for n in found):
                retracted.append(o)
        if retracted:
            gone = {id(o) for o in retracted}
            self._recent = [o for o in self._recent if id(o) not in gone]
            self._done = [o for o in self._done if id(o) not in gone]
        self._open = still
        self._recent.extend(ended)
        self._done.extend(ended)
        return Changes(onsets, ended, retracted)
