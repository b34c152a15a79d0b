"""Status-bar pieces: a label that shortens its text at word boundaries (full text in its tooltip)."""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QLabel, QSizePolicy

ELLIPSIS = "…"


def elide_words(text: str, fits: Callable[[str], bool]) -> str:
    """The longest run of ``text``'s leading whole words (plus "…") for which ``fits`` holds.

    ``text`` itself when it fits; never a word cut in the middle (at worst only "…").
    """
    if fits(text):
        return text
    words = text.split()
    for n in range(len(words) - 1, 0, -1):
        candidate = " ".join(words[:n]) + ELLIPSIS
        if fits(candidate):
            return candidate
    return ELLIPSIS


class WordElidedLabel(QLabel):
    """A label that takes the width it is given and shows as many whole words as fit in it."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)

    def set_full_text(self, text: str) -> None:
        """Show ``text`` (shortened to the label's width; the whole of it in the tooltip)."""
        self._full = text
        self.setToolTip(text)
        self._elide()

    def full_text(self) -> str:
        """The text before shortening."""
        return self._full

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(self.fontMetrics().horizontalAdvance(self._full) + 8, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(0, super().minimumSizeHint().height())

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        fm, width = self.fontMetrics(), self.contentsRect().width()
        self.setText(elide_words(self._full, lambda s: fm.horizontalAdvance(s) <= width))
