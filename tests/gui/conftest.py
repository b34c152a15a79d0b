"""Fixtures of the GUI tests: a real main window."""
import pytest

from gui_helpers import make_window


@pytest.fixture
def win(qtbot, tmp_path):
    """A real MainWindow (temporary settings, no audio device), shown offscreen and closed afterwards."""
    w = make_window(qtbot, tmp_path)
    yield w
    w.close()
