"""Word-boundary shortening of status-bar texts (no window)."""
from __future__ import annotations

from unmf_gui.status import elide_words


def test_elide_words_keeps_whole_leading_words():
    text = "templates: FluidR3_GM Acoustic Grand Piano rendered by FluidSynth"

    def width(n):
        return lambda s: len(s) <= n

    assert elide_words(text, width(len(text))) == text
    assert elide_words(text, width(40)) == "templates: FluidR3_GM Acoustic Grand…"
    assert elide_words(text, width(12)) == "templates:…"
    assert elide_words(text, width(3)) == "…"
    for n in range(1, len(text)):
        shown = elide_words(text, width(n))
        words = shown.removesuffix("…").split()
        assert words == text.split()[:len(words)] and (len(shown) <= n or shown == "…")
