"""unmf desktop app (PySide6 + pyqtgraph): views and workers only, no maths."""
