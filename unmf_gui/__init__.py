"""unmf desktop app (PySide6 + pyqtgraph): views and workers only, no maths."""
from unmf_gui.qt_compat import GUARDED as _QT_REFCOUNT_GUARDED  # noqa: F401 (applies a PySide6 6.12.0 fix)
