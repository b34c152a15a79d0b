"""The activations H of the selected layer as a piano roll (88 keys × time) with the notes drawn over it."""
from __future__ import annotations

from unmf_gui.viewmodel import ViewModel
from unmf_gui.views.common import RUN_HINT, TimeImage
from unmf_gui.views.notes_layer import NotesLayer

#: Colour range of H in dB below the activation scale (the note threshold's reference).
H_LEVELS = (-40.0, -6.0)


class PianoRollView(TimeImage):
    """H in dB relative to its activation scale, estimated notes (filled, by velocity) and reference notes (green,
    dashed); the notes are edited with the mouse (:class:`~unmf_gui.views.notes_layer.NotesLayer`)."""

    def __init__(self, vm: ViewModel, parent=None):
        super().__init__("Activations H (dB) · notes: blue → yellow = soft → loud (drag to edit), "
                         "dashed green = reference", rows_per_key=1, levels=H_LEVELS, parent=parent)
        self.vm = vm
        self.note_curve.setVisible(False)  # the notes layer draws them
        self.notes_layer = NotesLayer(self, vm)
        vm.fileChanged.connect(self._file)
        vm.layerChanged.connect(self._layer)
        vm.referenceChanged.connect(lambda: self.set_reference(vm.reference))
        vm.positionChanged.connect(self.set_position)
        self.seekRequested.connect(vm.set_position)

    def _file(self) -> None:
        self.hint_text = RUN_HINT
        self.set_image(None, 1.0, later=True)

    def _layer(self, _pos: int = 0) -> None:
        if self.defer(self._layer):
            return
        self.set_image(self.vm.current_H_db(), self.vm.frame_rate)
