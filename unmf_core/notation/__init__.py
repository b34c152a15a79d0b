"""From notes to music: beats and tempo (:mod:`.tempo`), quantisation (:mod:`.quantize`), MIDI with a tempo map
(:mod:`.midi`) and MusicXML (:mod:`.musicxml`)."""
from .quantize import STEPS, grid_step, quantize
from .tempo import BeatGrid, beat_grid, fixed_grid

__all__ = ["BeatGrid", "STEPS", "beat_grid", "fixed_grid", "grid_step", "quantize"]
