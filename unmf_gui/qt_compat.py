"""Guard against reference-counting bugs of PySide6 6.12.0 that crash Python 3.11.

PySide6 6.12.0 drops references to Python's singletons: ``SignalInstance.emit()``
returns ``True`` without taking a reference, and calls that omit a default
argument (pyqtgraph's frequent ``item.update()``) release a reference to
``None``. Each app session loses thousands of them; once a count reaches zero
Python aborts with "Fatal Python error: bool_dealloc" / "none_dealloc" (at exit
or mid-run). PySide6 6.11 is not affected (pyproject.toml excludes 6.12.0), and
from Python 3.12 these singletons are immortal.

:func:`guard_singleton_refcounts` detects the bug by emitting a few signals and,
only when it is present on Python < 3.12, gives ``None``, ``True`` and ``False``
a large reference count so they can never reach zero. They are static objects
that are never freed, so this only disarms the fatal check (as Python 3.12 does).
"""
from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

#: References added to each singleton when the bug is present (far more than any session loses).
_EXTRA_REFS = 1 << 40


class _Probe(QObject):
    ping = Signal()


def emit_loses_true_references(n: int = 64) -> bool:
    """Whether ``emit()`` drops a reference to ``True`` (the PySide6 6.12.0 bug)."""
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(n):
        probe.ping.emit()
    return sys.getrefcount(True) < before - n // 2


def guard_singleton_refcounts() -> bool:
    """Apply the workaround if needed; returns whether it was applied."""
    if sys.version_info >= (3, 12) or not emit_loses_true_references():
        return False
    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += _EXTRA_REFS
    return True


GUARDED = guard_singleton_refcounts()
