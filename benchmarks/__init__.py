"""Benchmarks of unmf: speed, memory and quality side by side with reference implementations.

Run ``python -m benchmarks [--quick] [--only cqt,mu,unrolled,convergence,e2e,memory]``;
results go to ``docs/benchmarks/`` (JSON, markdown, PNG). Every speed figure is
a ratio against a reference measured in the same run, calls interleaved.
"""
import unmf_core  # noqa: F401  (sets the OpenMP wait policy before torch is imported)
