"""The result of one run: :class:`Transcription` (notes, H, W, divergences, parameters)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .notes import Note, NoteParams, extract_notes


@dataclass
class Transcription:
    """Result of one run, in plain numpy data.

    Attributes
    ----------
    notes : list of Note
    H, W : np.ndarray
        Final activations ``(88, T)`` and templates ``(n_bins, 88)``.
    divergences : list of float
        D(M | WH) after the initialisation and after each step.
    frame_rate : float
    duration : float
        Audio length in seconds.
    params : dict
        Everything needed to reproduce the run (CQT, method, steps, model…);
        ``params["fallback"]`` lists the out-of-memory fallbacks taken, if any.
    timings : dict
        Seconds spent in each stage.
    background : np.ndarray or None
        ``(88,)`` activation of the recording's stationary background (see
        :func:`unmf_core.nmf.kernels.background_activation`), used by note extraction.
    gain : np.ndarray or None
        ``(88, T)`` the model's note gate (:mod:`unmf_core.nmf.gate`) on H, used by note extraction;
        None where the run's notes come from H alone (:meth:`Engine.gate_for
        <unmf_core.transcription.engine.Engine.gate_for>`, and layers before the last).
    """

    notes: list[Note]
    H: np.ndarray
    W: np.ndarray
    divergences: list[float]
    frame_rate: float
    duration: float
    params: dict
    timings: dict
    background: np.ndarray | None = None
    gain: np.ndarray | None = None

    def renotes(self, params: NoteParams) -> list[Note]:
        """Re-extract notes from the stored H with other settings (no new factorisation)."""
        return extract_notes(self.H, self.frame_rate, params, background=self.background, gain=self.gain)
