"""File and Model menus: open (with recent files kept in QSettings), reference MIDI, exports, model choice,
fine-tuning and the base-vs-fine-tuned comparison."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QCheckBox, QFileDialog

from unmf_core.errors import UnmfError
from unmf_core.io.atomic import write_bytes_atomic
from unmf_core.transcription.notes import write_csv, write_midi
from unmf_core.transcription.options import Options
from unmf_gui.calibrate_dialog import open_dialog as open_calibrate_dialog
from unmf_gui.finetune_dialog import open_dialog as open_finetune_dialog
from unmf_gui.model_compare import ModelCompare
from unmf_gui.notation_actions import NotationActions
from unmf_gui.workers import EngineSpec

MIDI_FILTER = "MIDI (*.mid *.midi)"
RECENT_KEY = "recent_files"
#: QSettings key: the model's note gate also with the user's own templates (``Options.note_gate`` "on", the
#: default; unchecked: "auto", the gate with the model's own templates only).
NOTE_GATE_KEY = "note_gate_any_templates"
#: QSettings key: a calibration adapted to each recording (``Options.adapt_to_piece``, on by default).
ADAPT_KEY = "adapt_calibration_to_recording"
MAX_RECENT = 8
#: Object name of the export dialog's "layer on screen instead of the final layer" option.
ON_SCREEN_BOX = "export-on-screen"


def final_layer_text(vm) -> tuple[str, str | None]:
    """What a notes export writes by default, and the option to write the layer on screen instead.

    Returns ``("final layer (10)", "Export layer 3 on screen instead of the final layer (10)")``;
    the option is None when the final layer is the one on screen (or nothing ran).
    """
    run = vm.run
    if run is None or not run.steps:
        return "notes", None
    what = "layer" if vm.method == "unrolled" else "iteration"
    final, shown = run.steps[-1], vm.current_step()
    option = None if shown == final else f"Export {what} {shown} on screen instead of the final {what} ({final})"
    return f"final {what} ({final})", option


#: File-name patterns of the audio formats libsndfile (the loader) may read, by its format name.
SOUNDFILE_PATTERNS = {"WAV": "*.wav", "FLAC": "*.flac", "OGG": "*.ogg *.oga *.opus", "MP3": "*.mp3",
                      "AIFF": "*.aif *.aiff *.aifc", "AU": "*.au *.snd", "CAF": "*.caf", "W64": "*.w64",
                      "RF64": "*.rf64"}


def audio_filter() -> str:
    """The open dialog's filter: every format the installed libsndfile reads, then all files."""
    import soundfile as sf

    formats = sf.available_formats()
    patterns = " ".join(p for name, p in SOUNDFILE_PATTERNS.items() if name in formats)
    return f"Audio ({patterns});;All files (*)"


def find_reference(audio_path: str | Path) -> Path | None:
    """The recording's reference MIDI (same stem, ``.mid`` / ``.midi``), if any.

    Looked for next to the recording, then in a ``midi`` folder beside its folder
    (``audio/x.wav`` with ``midi/x.mid``, the layout ``unmf evaluate`` reads).
    """
    p = Path(audio_path)
    for folder in (p.parent, p.parent.parent / "midi"):
        for suffix in (".mid", ".midi", ".MID"):
            candidate = folder / f"{p.stem}{suffix}"
            if candidate.is_file():
                return candidate
    return None


class FileActions(QObject):
    """Menus and file dialogs of a :class:`~unmf_gui.main_window.MainWindow`."""

    def __init__(self, window):
        super().__init__(window)
        self.w = window
        bar = window.menuBar()
        file = self.file_menu = bar.addMenu("&File")
        self._act(file, "&Open…", "Ctrl+O", self.open_dialog)
        self._act(file, "Open &folder…", "Ctrl+Alt+O", self.open_folder_dialog)
        self.batch_panel = None  # unmf_gui.batch_panel.BatchPanel, made on first use
        self.recent_menu = file.addMenu("Open &recent")
        self._act(file, "Open &demo recording", None, window.open_demo)
        file.addSeparator()
        self._act(file, "Load &reference MIDI…", None, self.reference_dialog)
        self._act(file, "C&lear reference", None, lambda: window.vm.set_reference(None))
        file.addSeparator()
        self._act(file, "&Export MIDI…", "Ctrl+E", self.export_midi)
        self._act(file, "Export notes as &CSV…", None, self.export_csv)
        self.notation = NotationActions(window, file, self)
        self._act(file, "Export view as &PNG…", None, self.export_png)
        file.addSeparator()
        self._act(file, "&Quit", "Ctrl+Q", window.close)
        model = bar.addMenu("&Model")
        self._act(model, "&Default model and templates", None, lambda: self._spec(model=None, templates=None))
        self._act(model, "Load &checkpoint…", None, self.checkpoint_dialog)
        self._act(model, "Load &templates file…", None, self.templates_dialog)
        self._act(model, "Build templates from a &folder of single notes…", None, self.templates_folder_dialog)
        self._act(model, "C&alibrate to my instrument…", None, lambda: open_calibrate_dialog(window))
        self.note_gate_action = self._option(
            model, "Note &gate with my templates too", NOTE_GATE_KEY, Options.note_gate == "on",
            "the model's note gate (it decides where notes start) also with calibrated or loaded templates (the "
            "default): it keeps a calibration from few notes from scoring below the bundled templates")
        self.adapt_action = self._option(
            model, "&Adapt my calibration to each recording", ADAPT_KEY, Options.adapt_to_piece,
            "with a calibration from some of the keys (the default): learn the keys it only predicted from the "
            "recording's own clean attacks where they clearly differ, then transcribe again")
        self.save_templates_action = self._act(model, "&Save templates…", None, self.save_templates)
        self.save_templates_action.setEnabled(False)
        self.save_templates_action.setToolTip("the templates in use (built from a folder, loaded, or the model's)")
        window.controller.engineReady.connect(lambda _engine: self.save_templates_action.setEnabled(True))
        model.setToolTipsVisible(True)
        model.addSeparator()
        self._act(model, "&Fine-tune on my files…", None, lambda: open_finetune_dialog(window))
        self.model_compare = ModelCompare(window, self._act(model, "Compare &base vs fine-tuned", None,
                                                            lambda: self.model_compare.start()))
        self._refresh_recent()

    @property
    def note_gate(self) -> str:
        """``Options.note_gate`` of the next run: "on" when the Model menu's gate option is checked, else "auto"."""
        return "on" if self.note_gate_action.isChecked() else "auto"

    @property
    def adapt_to_piece(self) -> bool:
        """``Options.adapt_to_piece`` of the next run: the Model menu's "Adapt my calibration…" option."""
        return self.adapt_action.isChecked()

    def _option(self, menu, text: str, key: str, default: bool, tip: str) -> QAction:
        """A checkable Model menu option remembered under ``key``; toggling it runs the open file again."""
        act = QAction(text, self.w, checkable=True)
        act.setChecked(self.w.settings.value(key, default, type=bool))
        act.setToolTip(tip)
        act.toggled.connect(lambda on: self._option_toggled(key, on))
        menu.addAction(act)
        return act

    def _option_toggled(self, key: str, on: bool) -> None:
        self.w.settings.setValue(key, bool(on))
        self.w.settings.sync()
        if self.w.vm.loaded is not None:
            self.w.run()  # the notes change: transcribe the open file again

    def _act(self, menu, text, shortcut, slot) -> QAction:
        act = QAction(text, self.w)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
        act.triggered.connect(lambda _checked=False: slot())
        menu.addAction(act)
        self.w.addAction(act)
        return act

    # ---- recent files --------------------------------------------------------------
    def recent(self) -> list[str]:
        """Recently opened recordings, newest first."""
        value = self.w.settings.value(RECENT_KEY, [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def opened(self, path: str) -> None:
        """A recording was opened: remember it and load a reference found next to it."""
        path = str(Path(path).resolve())
        items = [path] + [p for p in self.recent() if p != path]
        self.w.settings.setValue(RECENT_KEY, items[:MAX_RECENT])
        self.w.settings.sync()
        self._refresh_recent()
        ref = self.w.reference_override or find_reference(path)
        if ref is not None:
            self.w.load_reference(ref)
        else:
            self.w.vm.set_reference(None)

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.recent():
            act = self.recent_menu.addAction(Path(p).name)
            act.setToolTip(p)
            act.triggered.connect(lambda _c=False, p=p: self.w.open_file(p))
        self.recent_menu.setEnabled(bool(self.recent()))

    # ---- dialogs ------------------------------------------------------------------------
    def _start_dir(self) -> str:
        return str(Path(self.w.vm.path).parent) if self.w.vm.path else str(Path.home())

    def open_dialog(self) -> None:
        """File ▸ Open."""
        path, _ = QFileDialog.getOpenFileName(self.w, "Open a recording", self._start_dir(), audio_filter())
        if path:
            self.w.open_file(path)

    def open_folder_dialog(self, path: str | None = None) -> None:
        """File ▸ Open folder: its recordings in the folder queue (:mod:`unmf_gui.batch_panel`)."""
        path = path or QFileDialog.getExistingDirectory(self.w, "Open a folder of recordings", self._start_dir())
        if path:
            if self.batch_panel is None:
                from unmf_gui.batch_panel import BatchPanel

                self.batch_panel = BatchPanel(self.w)
            self.batch_panel.set_folder(path)

    def reference_dialog(self) -> None:
        """File ▸ Load reference."""
        path, _ = QFileDialog.getOpenFileName(self.w, "Load a reference MIDI", self._start_dir(), MIDI_FILTER)
        if path:
            self.w.load_reference(path)

    def checkpoint_dialog(self) -> None:
        """Model ▸ Load checkpoint."""
        path, _ = QFileDialog.getOpenFileName(self.w, "Load an unrolled-model checkpoint", self._start_dir(),
                                              "Checkpoints (*.pt *.pth);;All files (*)")
        if path:
            self._spec(model=path)

    def templates_dialog(self) -> None:
        """Model ▸ Load templates file."""
        path, _ = QFileDialog.getOpenFileName(self.w, "Load templates", self._start_dir(), "Templates (*.npz)")
        if path:
            self._spec(templates=path)

    def templates_folder_dialog(self) -> None:
        """Model ▸ Build templates from a folder."""
        path = QFileDialog.getExistingDirectory(self.w, "Folder of single-note recordings", self._start_dir())
        if path:
            self._spec(templates=path)

    def save_templates(self, path: str | Path | None = None) -> bool:
        """Model ▸ Save templates: write the templates in use as ``.npz``; returns success.

        Without ``path`` a save dialog asks (it confirms before replacing a file,
        so the file chosen there is overwritten); a given ``path`` is never
        overwritten. The write is atomic.
        """
        engine = self.w.engine
        if engine is None:
            self.w.notify("Open a recording first: the templates are loaded or built with its run", 6000)
            return False
        overwrite = path is None
        if path is None:
            start = str(Path(self._start_dir()) / "templates.npz")
            path, _ = QFileDialog.getSaveFileName(self.w, "Save templates", start, "Templates (*.npz)")
            if not path:
                return False
        try:
            engine.templates.save(path, overwrite=overwrite)
        except UnmfError as exc:
            self.w.show_error(str(exc))
            return False
        self.w.notify(f"Wrote {Path(path).name}", 4000)
        return True

    def _spec(self, **changes) -> None:
        s = self.w.spec
        values = {"templates": s.templates, "model": s.model, "device": s.device, **changes}
        self.w.set_engine_spec(EngineSpec(**values))

    def _target(self, path, title: str, filt: str, suffix: str, option: str | None = None) -> tuple[str | None, bool]:
        """The file to write (``path``, else asked for) and whether ``option`` (a check box) was ticked."""
        if path:
            return str(path), False
        stem = Path(self.w.vm.path).stem if self.w.vm.path else "transcription"
        start = str(Path(self._start_dir()) / f"{stem}{suffix}")
        if option is None:
            chosen, _ = QFileDialog.getSaveFileName(self.w, title, start, filt)
            return chosen or None, False
        dialog = QFileDialog(self.w, title, str(Path(start).parent), filt)
        dialog.setAcceptMode(QFileDialog.AcceptSave)
        dialog.setDefaultSuffix(suffix.lstrip("."))
        dialog.setOption(QFileDialog.DontUseNativeDialog, True)  # a native dialog has no room for the option
        dialog.selectFile(Path(start).name)
        box = QCheckBox(option)
        box.setObjectName(ON_SCREEN_BOX)
        layout = dialog.layout()
        layout.addWidget(box, layout.rowCount(), 0, 1, -1)
        ok = dialog.exec()
        files = dialog.selectedFiles()
        chosen = files[0] if ok and files else None
        dialog.deleteLater()
        return chosen, box.isChecked()

    # ---- exports ------------------------------------------------------------------------
    def export_midi(self, path: str | Path | None = None, on_screen: bool = False) -> bool:
        """Write the notes as MIDI (Ctrl+E): the final layer's, or the layer on screen's when asked; returns success."""
        return self._export_notes(path, "Export MIDI", MIDI_FILTER, ".mid", write_midi, on_screen)

    def export_csv(self, path: str | Path | None = None, on_screen: bool = False) -> bool:
        """Write the notes as CSV (final layer unless ``on_screen``); returns success."""
        return self._export_notes(path, "Export notes as CSV", "CSV (*.csv)", ".csv", write_csv, on_screen)

    def _export_notes(self, path, title, filt, suffix, write, on_screen: bool) -> bool:
        """Export the final layer's notes; the dialog offers the layer on screen instead when another one is shown."""
        vm = self.w.vm
        edited = vm.edited_notes()  # hand-edited notes are the transcription
        what, option = ("edited notes", None) if edited is not None else final_layer_text(vm)
        target, ticked = self._target(path, f"{title}: {what}", filt, suffix, option)
        if not target:
            return False
        notes = edited if edited is not None else vm.notes if (on_screen or ticked) else vm.final_notes()
        return self._export(target, title, filt, suffix, lambda p: write(notes, p))

    def export_png(self, path: str | Path | None = None) -> bool:
        """Save the current tab as a PNG image; returns success."""
        return self._export(path, "Export view as PNG", "PNG (*.png)", ".png", self._write_png)

    def _write_png(self, path: str) -> None:
        data = QByteArray()
        buf = QBuffer(data)
        buf.open(QIODevice.WriteOnly)
        self.w.tabs.currentWidget().grab().save(buf, "PNG")
        buf.close()
        write_bytes_atomic(path, bytes(data.data()))

    def _export(self, path, title, filt, suffix, write) -> bool:
        target, _ = self._target(path, title, filt, suffix)
        if not target:
            return False
        try:
            write(target)
        except UnmfError as exc:
            self.w.show_error(str(exc))
            return False
        self.w.notify(f"Wrote {Path(target).name}", 4000)
        return True
