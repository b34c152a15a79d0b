"""unmf core: piano transcription by NMF and unrolled NMF, with no Qt dependency.

Modules: :mod:`audio` (reading), :mod:`cqt` (torch CQT), :mod:`templates` (W),
:mod:`nmf` (β-divergence MU), :mod:`unrolled` (the unrolled network),
:mod:`checkpoints`, :mod:`notes` (H → notes → MIDI), :mod:`metrics`,
:mod:`pipeline` (the :class:`~unmf_core.pipeline.Engine`), :mod:`cli`.
"""
__version__ = "0.1.0"
