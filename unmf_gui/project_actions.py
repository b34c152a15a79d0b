"""File ▸ Open project / Save project: the window's recording, settings and edited notes in one JSON file.

The file format and its validation are Qt-free (:mod:`unmf_core.io.project`).
Opening a project sets the model, method, run length and note settings, opens
the recording (its run is deterministic: the same notes come back), then, when
that run finishes, shows the saved layer and puts the edited notes back.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog

from unmf_core.errors import UnmfError
from unmf_core.io.project import SUFFIX, Project, ProjectEdits, load_project, save_project
from unmf_gui.workers import EngineSpec

#: Delay before the saved zoom is applied once more (ms): the views' throttled refresh comes first.
VIEW_SETTLE_MS = 300

PROJECT_FILTER = f"unmf project (*{SUFFIX});;All files (*)"


class ProjectActions(QObject):
    """Project entries of the File menu of a :class:`~unmf_gui.main_window.MainWindow`.

    ``restored(path)`` is emitted once an opened project is shown as saved.
    """

    restored = Signal(str)

    def __init__(self, window):
        super().__init__(window)
        self.w = window
        #: The project file last saved or opened (Save writes there; the user chose it).
        self.current: Path | None = None
        self._pending: tuple[Path, Project] | None = None
        menu = window.files.file_menu
        acts = menu.actions()
        demo = next((i for i, a in enumerate(acts) if a.text() == "Open &demo recording"), len(acts) - 1)
        before = acts[demo + 1] if demo + 1 < len(acts) else None
        new = [self._action("Open &project…", "Ctrl+Shift+O", self.open_dialog),
               self._action("&Save project", "Ctrl+S", self.save),
               self._action("Save project &as…", "Ctrl+Shift+S", self.save_dialog)]
        sep = QAction(window)
        sep.setSeparator(True)
        menu.insertActions(before, [sep, *new]) if before is not None else menu.addActions([sep, *new])
        window.run_finished.connect(self._run_finished)

    def _action(self, text, shortcut, slot) -> QAction:
        act = QAction(text, self.w)
        act.setShortcut(QKeySequence(shortcut))
        act.triggered.connect(lambda _c=False: slot())
        self.w.addAction(act)
        return act

    # ---- saving -------------------------------------------------------------------------------------
    def project(self) -> Project | None:
        """The window as a :class:`Project` (None without a recording)."""
        w, vm = self.w, self.w.vm
        if vm.path is None:
            return None
        box = w.layers_box
        edits = None
        if vm.edited:
            e = vm.edits
            edits = ProjectEdits(e.key, e.step, list(e.notes))
        run = vm.run
        x_range, y_range = w.activations.getPlotItem().vb.viewRange()
        return Project(audio=str(Path(vm.path).resolve()), model=w.spec.model, templates=w.spec.templates,
                       device=w.spec.device, method=w.method, iterations=w.iterations_box.value(),
                       layers=None if box.value() == box.maximum() else box.value(), note_params=vm.note_params,
                       edits=edits, step=vm.current_step() if run and run.steps else None,
                       tab="compare" if w.tabs.currentWidget() is w.compare_view else "transcription",
                       reference=vm.reference_path,
                       beat_times=None if vm.beat_times is None else [float(t) for t in vm.beat_times],
                       x_range=[float(v) for v in x_range], y_range=[float(v) for v in y_range])

    def save(self, path: str | Path | None = None) -> bool:
        """File ▸ Save project (Ctrl+S): to ``path``, else the current project, else asked; returns success.

        Only a file the user chose is replaced: the one picked in the save
        dialog (which confirms) or the project already saved or opened; another
        existing ``path`` is an error.
        """
        project = self.project()
        if project is None:
            self.w.notify("Open a recording first: a project is a recording and its notes", 6000)
            return False
        if path is None and self.current is None:
            return self.save_dialog()
        target = Path(path) if path is not None else self.current
        overwrite = self.current is not None and target.resolve() == self.current.resolve()
        return self._write(project, target, overwrite)

    def save_dialog(self) -> bool:
        """File ▸ Save project as…"""
        project = self.project()
        if project is None:
            self.w.notify("Open a recording first: a project is a recording and its notes", 6000)
            return False
        start = self.current or Path(project.audio).with_suffix(SUFFIX)
        path, _ = QFileDialog.getSaveFileName(self.w, "Save project", str(start), PROJECT_FILTER)
        if not path:
            return False
        if not Path(path).suffix:
            path += SUFFIX
        return self._write(project, Path(path), True)  # the dialog asked before replacing

    def _write(self, project: Project, path: Path, overwrite: bool) -> bool:
        try:
            save_project(project, path, overwrite=overwrite)
        except UnmfError as exc:
            self.w.show_error(f"Could not save the project:\n{exc}")
            return False
        self.current = path
        self.w.editor.stack.setClean()
        self.w.notify(f"Saved project {path.name}", 4000)
        return True

    # ---- opening --------------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        """File ▸ Open project…"""
        start = str(self.current.parent) if self.current else self.w.files._start_dir()
        path, _ = QFileDialog.getOpenFileName(self.w, "Open project", start, PROJECT_FILTER)
        if path:
            self.open(path)

    def open(self, path: str | Path) -> bool:
        """Open a project: a bad file or a missing recording shows an error; returns whether it is opening."""
        path = Path(path)
        try:
            project = load_project(path)
        except UnmfError as exc:
            self.w.show_error(f"Could not open the project:\n{exc}")
            return False
        w, vm = self.w, self.w.vm
        if not w.editor.allow_run([], new_file=True):
            return False
        vm.clear_edits()
        spec = EngineSpec(project.templates, project.model, project.device)
        if spec != w.spec:
            w.device_box.blockSignals(True)
            w.device_box.setCurrentText(project.device)
            w.device_box.blockSignals(False)
            w.set_engine_spec(spec, run=False)
        w._notes_model = (spec.model, spec.templates)  # the project's note settings, not the model's calibrated ones
        w.method_box.blockSignals(True)
        w.method_box.setCurrentIndex(w.method_box.findData(project.method))
        w.method_box.blockSignals(False)
        vm.set_method(project.method)
        w.iterations_box.setValue(project.iterations)
        w.layers_box.setValue(project.layers or w.layers_box.maximum())
        controls = w.notes_controls
        for box, value in ((controls.threshold, project.note_params.threshold),
                           (controls.min_duration, project.note_params.min_duration)):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)
        controls.threshold_slider.blockSignals(True)
        controls.threshold_slider.setValue(int(round(project.note_params.threshold * 1000)))
        controls.threshold_slider.blockSignals(False)
        vm.set_note_params(project.note_params)
        w.tabs.setCurrentWidget(w.compare_view if project.tab == "compare" else w.tabs.widget(0))
        self.current = path
        self._pending = (path, project)
        w.open_file(project.audio)
        return True

    def _run_finished(self) -> None:
        if self._pending is None:
            return
        path, project = self._pending
        vm = self.w.vm
        if vm.path is None or Path(vm.path).resolve() != Path(project.audio).resolve():
            self._pending = None  # another recording was opened meanwhile
            return
        if project.method not in vm.runs:
            return  # a run of the other method only: wait for the project's
        self._pending = None
        run = vm.run
        if project.step is not None and project.step in run.steps:
            vm.select_layer(run.steps.index(project.step), user=True)
        if project.reference:
            self.w.load_reference(project.reference)
        if project.x_range and project.y_range:  # the piano roll's zoom (the other time views follow its time axis)
            self.w.activations.setRange(xRange=project.x_range, yRange=project.y_range, padding=0)
        if project.beat_times is not None:
            vm.set_beat_times(project.beat_times)
        if project.edits is not None:
            e = project.edits
            if not vm.restore_edits(e.key, e.step, e.notes):
                steps = vm.runs[e.key].steps if e.key in vm.runs else []
                if steps and vm.restore_edits(e.key, steps[-1], e.notes):
                    self.w.notify(f"The edited notes were on step {e.step}, which this run lacks: they are shown "
                                  f"on step {steps[-1]}", 8000)
                else:
                    self.w.show_error(f"{path.name}: the edited notes are of a {e.key} run, which was not run")
        self.w.editor.stack.clear()
        self.w.editor.stack.setClean()
        self.w.notify(f"Opened project {path.name}", 4000)
        if project.x_range and project.y_range:
            # once more after the views' pending refresh: new axis labels change the plots' widths, and linked
            # time axes re-align by screen position, which can pan the piano roll by a few pixels
            QTimer.singleShot(VIEW_SETTLE_MS, lambda: self._settle(path, project))
        else:
            self.restored.emit(str(path))

    def _settle(self, path: Path, project) -> None:
        self.w.activations.setRange(xRange=project.x_range, yRange=project.y_range, padding=0)
        self.restored.emit(str(path))
