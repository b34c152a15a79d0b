"""Constant-Q transform in torch, on the same device as the factorisation.

:func:`compute_cqt` applies the filters of librosa's recursive-octave CQT
(``librosa.cqt``) in torch (:class:`~unmf_core.frontend.transform.CQT`); the
filters are built once per :class:`CQTParams` and read from a file afterwards
(:mod:`.filterbank`). The result agrees with ``librosa.cqt`` (correlation
> 0.99 per frame, see the tests).

This module imports neither torch nor librosa when it is imported (the
command line's ``--help`` and the note code only need the parameters and the
key names); torch is imported by the first :func:`compute_cqt` or ``CQT``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

    from .transform import CQT  # noqa: F401

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


_CACHE: dict[tuple, Any] = {}


def compute_cqt(samples: np.ndarray | torch.Tensor, params: CQTParams = CQTParams(),
                device: str | torch.device = "cpu") -> torch.Tensor:
    """Magnitude CQT of a mono signal at ``params.sr``.

    Parameters
    ----------
    samples : np.ndarray or torch.Tensor
        Mono signal, already at ``params.sr``.
    params : CQTParams
        Transform parameters.
    device : str or torch.device
        Where to compute.

    Returns
    -------
    torch.Tensor
        float32 ``(n_bins, frames)`` on ``device``.
    """
    import torch

    from .transform import CQT

    device = torch.device(device)
    key = (params, str(device))
    if key not in _CACHE:
        _CACHE[key] = CQT(params).to(device)
    y = torch.as_tensor(np.asarray(samples, dtype=np.float32) if not torch.is_tensor(samples) else samples)
    with torch.no_grad():
        return _CACHE[key](y.to(device))


_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def key_names() -> list[str]:
    """Names of the 88 piano keys, A0..C8 (sharps as ``#``, as ``librosa.midi_to_note(unicode=False)``)."""
    return [f"{_NAMES[m % 12]}{m // 12 - 1}" for m in range(LOWEST_PITCH, LOWEST_PITCH + N_KEYS)]


def __getattr__(name: str):
    # ``CQT`` (the torch module) lives in .transform; imported on first use so that
    # importing this module stays free of torch.
    if name == "CQT":
        from .transform import CQT

        return CQT
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
