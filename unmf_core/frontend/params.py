"""CQT parameters and the piano's keys (numpy only: importing this module is cheap)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

#: Piano keys A0..C8 as MIDI pitches.
N_KEYS = 88
LOWEST_PITCH = 21


@dataclass(frozen=True)
class CQTParams:
    """Parameters of the CQT front end; recorded with every result.

    Attributes
    ----------
    sr : int
        Working sample rate (Hz); audio is resampled to it.
    hop : int
        Hop in samples at ``sr``. The default 256 at 22050 Hz gives 86 frames/s,
        ample for 50 ms onset tolerance; the seed used 128 at 44100 Hz (344/s).
    fmin : float
        Frequency of the lowest bin (A0 = 27.5 Hz).
    bins_per_octave : int
        36: three bins per semitone.
    n_bins : int
        288: eight octaves, A0 up to just below A8.
    filter_scale : float
        Filter length factor (librosa's ``filter_scale``).
    """

    sr: int = 22050
    hop: int = 256
    fmin: float = 27.5
    bins_per_octave: int = 36
    n_bins: int = 288
    filter_scale: float = 1.0

    @classmethod
    def seed(cls) -> "CQTParams":
        """The seed research code's setting: 44.1 kHz, hop 128."""
        return cls(sr=44100, hop=128)

    @classmethod
    def from_dict(cls, d: dict) -> "CQTParams":
        """Build from a dict as written by :meth:`to_dict` (unknown keys ignored)."""
        fields = cls.__dataclass_fields__
        return cls(**{k: type(getattr(cls(), k))(v) for k, v in d.items() if k in fields})

    def to_dict(self) -> dict:
        """Plain dict of the parameters (JSON-ready)."""
        return asdict(self)

    @property
    def frame_rate(self) -> float:
        """Frames per second."""
        return self.sr / self.hop

    @property
    def bins_per_semitone(self) -> int:
        """CQT bins per semitone (3 by default)."""
        return self.bins_per_octave // 12

    def frequencies(self) -> np.ndarray:
        """Centre frequency of each bin in Hz."""
        return self.fmin * 2.0 ** (np.arange(self.n_bins) / self.bins_per_octave)


_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def key_names() -> list[str]:
    """Names of the 88 piano keys, A0..C8 (sharps as ``#``, as ``librosa.midi_to_note(unicode=False)``)."""
    return [f"{_NAMES[m % 12]}{m // 12 - 1}" for m in range(LOWEST_PITCH, LOWEST_PITCH + N_KEYS)]
