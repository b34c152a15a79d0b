"""unmf core: piano transcription by NMF and unrolled NMF, with no Qt dependency.

Modules: :mod:`audio` (reading), :mod:`cqt` (torch CQT), :mod:`templates` (W),
:mod:`nmf` (β-divergence MU), :mod:`unrolled` (the unrolled network),
:mod:`checkpoints`, :mod:`notes` (H → notes → MIDI), :mod:`metrics`,
:mod:`pipeline` (the :class:`~unmf_core.transcription.engine.Engine`), :mod:`cli`.
"""
import os

# Torch's OpenMP threads spin while they wait by default; on a busy machine
# (other programs on the same cores) that spinning makes every parallel
# section stall and the factorisation runs ~5-10x slower (see
# docs/benchmarks/README.md). Threads that sleep while waiting avoid it. This
# only takes effect when unmf_core is imported before torch (the CLI and the
# app do so); an explicit setting in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
