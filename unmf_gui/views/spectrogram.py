"""CQT views: the spectrogram M and the reconstruction W·H of the selected layer, in dB with note names."""
from __future__ import annotations

from unmf_core.transcription.display import FLOOR_DB
from unmf_gui.viewmodel import ViewModel
from unmf_gui.views.common import RUN_HINT, TimeImage


class SpectrogramView(TimeImage):
    """Log-magnitude CQT (``source="M"``, with the notes drawn over it) or the reconstruction (``source="WH"``)."""

    def __init__(self, vm: ViewModel, source: str = "M", parent=None):
        title = "CQT spectrogram M (dB)" if source == "M" else "Reconstruction WH (dB, scale of M)"
        super().__init__(title, rows_per_key=3, levels=(FLOOR_DB, 0.0), parent=parent)
        self.vm = vm
        self.source = source
        vm.fileChanged.connect(self._file)
        vm.positionChanged.connect(self.set_position)
        if source == "M":
            vm.referenceChanged.connect(lambda: self.set_reference(vm.reference))
            vm.notesChanged.connect(lambda: self.set_notes(vm.notes))
        else:
            vm.layerChanged.connect(self._layer)
        self.seekRequested.connect(vm.set_position)

    def _file(self) -> None:
        if self.source == "M":
            self.set_image(self.vm.M_db, self.vm.frame_rate)
        else:
            self.hint_text = RUN_HINT
            self.set_image(None, 1.0, later=True)

    def _layer(self, _pos: int = 0) -> None:
        if self.defer(self._layer):
            return
        self.set_image(self.vm.current_WH_db(), self.vm.frame_rate)
