"""File ▸ Open folder…: a queue of the folder's recordings transcribed to MIDI files, off the GUI thread.

The work is :func:`unmf_core.transcription.batch.run_batch` (the one ``unmf transcribe
DIR -o OUT/ -j N`` runs) with the window's model, method and note settings; a
:class:`BatchWorker` drains it in a :class:`~PySide6.QtCore.QThread` and the files
themselves are transcribed in worker processes (so the app never runs a second torch
model in one of its own threads). A file that fails is marked and the queue goes on;
Cancel stops every worker at its next step and writes nothing half-done; a finished
file opens in the main window with a double click (or "Open in window").
"""
from __future__ import annotations

import threading
from dataclasses import asdict
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import (QAbstractItemView, QDockWidget, QFileDialog, QHBoxLayout, QLabel, QMessageBox,
                               QPushButton, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from unmf_core.errors import Cancelled, UnmfError
from unmf_core.transcription.batch import (Job, Recipe, default_workers, existing, find_audio, plan, run_batch,
                                           usable_cores)

#: Default output folder, inside the folder opened.
OUTPUT_SUBFOLDER = "unmf-midi"


class BatchWorker(QObject):
    """Drains :func:`run_batch` in a worker thread; ends with exactly one of finished / failed / cancelled."""

    fileStarted = Signal(int)
    fileDone = Signal(int, object)  # index, Outcome
    finished = Signal()
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, jobs: list[Job], recipe: Recipe, workers: int, overwrite: bool):
        super().__init__()
        self.jobs, self.recipe, self.workers, self.overwrite = jobs, recipe, workers, overwrite
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Ask the batch to stop (thread-safe)."""
        self._cancel.set()

    @Slot()
    def run(self) -> None:
        try:
            for kind, i, outcome in run_batch(self.jobs, self.recipe, self.workers, overwrite=self.overwrite,
                                              cancel=self._cancel.is_set, processes=True):
                if kind == "start":
                    self.fileStarted.emit(i)
                else:
                    self.fileDone.emit(i, outcome)
            self.finished.emit()
        except Cancelled:
            self.cancelled.emit()
        except UnmfError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # shown in the panel instead of losing the thread
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        finally:
            QThread.currentThread().quit()


class BatchPanel(QDockWidget):
    """The folder queue: one row per recording with its status, output folder, parallel files, start / cancel."""

    #: The batch ended (finished, failed or cancelled); tests wait on it.
    batchEnded = Signal(str)
    COLUMNS = ("Recording", "Status", "Output")

    def __init__(self, window):
        super().__init__("Folder queue", window)
        self.setObjectName("batch-panel")
        self.w = window
        self.folder: Path | None = None
        self.output: Path | None = None
        self.jobs: list[Job] = []
        self.status: list[str] = []
        self._worker: BatchWorker | None = None
        self._thread: QThread | None = None

        self.folder_label = QLabel("No folder")
        self.output_label = QLabel("")
        self.output_button = QPushButton("Output folder…")
        self.output_button.clicked.connect(self.choose_output)
        self.workers_box = QSpinBox()
        self.workers_box.setRange(1, max(1, usable_cores()) * 2)
        self.workers_box.setValue(default_workers())
        self.workers_box.setToolTip("files transcribed at once, each in its own process")
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(lambda: self.start())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.open_button = QPushButton("Open in window")
        self.open_button.clicked.connect(self.open_selected)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.cellDoubleClicked.connect(lambda row, _col: self.open_row(row))
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.summary = QLabel("")

        box = QWidget()
        lay = QVBoxLayout(box)
        lay.addWidget(self.folder_label)
        row = QHBoxLayout()
        row.addWidget(self.output_label, 1)
        row.addWidget(self.output_button)
        lay.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(QLabel("Parallel files"))
        row.addWidget(self.workers_box)
        row.addStretch(1)
        for b in (self.start_button, self.cancel_button, self.open_button):
            row.addWidget(b)
        lay.addLayout(row)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.summary)
        self.setWidget(box)
        window.addDockWidget(Qt.RightDockWidgetArea, self)
        window.installEventFilter(self)
        self._update_buttons()

    # ---- state ---------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Whether a batch is in progress."""
        return self._thread is not None

    def set_folder(self, folder: str | Path, output: str | Path | None = None) -> bool:
        """List ``folder``'s recordings as waiting; the output folder defaults to ``folder/unmf-midi``."""
        if self.running:
            self.w.notify("A folder is being transcribed: cancel it first", 5000)
            return False
        try:
            files = find_audio([folder])
        except UnmfError as exc:
            QMessageBox.warning(self.w, "Open folder", str(exc))
            return False
        self.folder = Path(folder)
        self.folder_label.setText(f"{self.folder} — {len(files)} recordings")
        self.jobs = [Job(f, f) for f in files]  # outputs set by set_output
        self.status = ["waiting"] * len(files)
        self.set_output(output or self.folder / OUTPUT_SUBFOLDER)
        self.show()
        self.raise_()
        return True

    def set_output(self, output: str | Path) -> None:
        """Write the MIDI files to ``output`` (created when the batch starts)."""
        self.output = Path(output)
        self.output_label.setText(f"Output: {self.output}")
        try:
            self.jobs = plan([j.src for j in self.jobs], self.output)
        except UnmfError as exc:
            QMessageBox.warning(self.w, "Output folder", str(exc))
        self._refresh()

    def choose_output(self) -> None:
        """The "Output folder…" button."""
        start = str(self.output or self.folder or Path.home())
        path = QFileDialog.getExistingDirectory(self.w, "Folder for the MIDI files", start)
        if path:
            self.set_output(path)

    def recipe(self) -> Recipe:
        """The window's model, device, method and note settings as a :class:`Recipe`."""
        opts = self.w.options(self.w.method)
        spec = self.w.spec
        return Recipe(templates=spec.templates, model=spec.model, device=spec.device, method=opts.method,
                      iterations=opts.iterations, layers=opts.layers, beta=opts.beta, note_gate=opts.note_gate,
                      adapt_to_piece=opts.adapt_to_piece, notes=asdict(opts.notes) if opts.notes else {})

    def ask_overwrite(self, there: list[Job]) -> str:
        """``"overwrite"``, ``"skip"`` or ``"cancel"`` for outputs that already exist (a dialog)."""
        box = QMessageBox(QMessageBox.Question, "Existing MIDI files",
                          f"{len(there)} of the MIDI files already exist in {self.output}, e.g. {there[0].dst.name}.",
                          parent=self.w)
        over = box.addButton("Overwrite them", QMessageBox.DestructiveRole)
        skip = box.addButton("Skip those files", QMessageBox.AcceptRole)
        box.addButton(QMessageBox.Cancel)
        box.setDefaultButton(skip)
        box.exec()
        return "overwrite" if box.clickedButton() is over else "skip" if box.clickedButton() is skip else "cancel"

    # ---- running -------------------------------------------------------------------------------
    def start(self, workers: int | None = None) -> bool:
        """Transcribe the waiting files; returns False when nothing was started."""
        if self.running or not self.jobs or self.output is None:
            return False
        overwrite, todo = False, list(range(len(self.jobs)))
        there = existing(self.jobs)
        if there:
            choice = self.ask_overwrite(there)
            if choice == "cancel":
                return False
            overwrite = choice == "overwrite"
            if not overwrite:
                todo = [i for i in todo if self.jobs[i] not in there]
        try:
            self.output.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            QMessageBox.warning(self.w, "Output folder", f"{self.output}: cannot be created ({exc.strerror})")
            return False
        self.status = ["skipped (exists)" if i not in todo else "waiting" for i in range(len(self.jobs))]
        self._refresh()
        if not todo:
            self._ended("finished")
            return False
        self._index = todo
        worker = BatchWorker([self.jobs[i] for i in todo], self.recipe(), workers or self.workers_box.value(),
                             overwrite)
        thread = QThread()
        thread.setObjectName("unmf-batch")
        worker.moveToThread(thread)
        worker.fileStarted.connect(self._on_started)
        worker.fileDone.connect(self._on_done)
        worker.finished.connect(lambda: self._ended("finished"))
        worker.failed.connect(lambda message: self._ended(f"failed: {message}"))
        worker.cancelled.connect(lambda: self._ended("cancelled"))
        thread.started.connect(worker.run)
        thread.finished.connect(self._on_thread_finished)
        self._worker, self._thread = worker, thread
        thread.start()
        self._update_buttons()
        return True

    def cancel(self) -> None:
        """Stop the batch: running files stop at their next step, waiting ones are not started."""
        if self._worker is not None:
            self._worker.cancel()
            self.summary.setText("Cancelling…")

    def shutdown(self, timeout_ms: int = 60000) -> bool:
        """Cancel and wait for the batch's thread (the window is closing); True when it has ended."""
        if self._thread is None:
            return True
        self._worker.cancel()
        return self._thread.wait(timeout_ms)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt override)
        if obj is self.w and event.type() == event.Type.Close:
            self.shutdown()
        return False

    @Slot(int)
    def _on_started(self, k: int) -> None:
        self._set(self._index[k], "running")

    @Slot(int, object)
    def _on_done(self, k: int, outcome) -> None:
        text = f"done: {outcome.notes} notes" if outcome.status == "done" else f"failed: {outcome.error}"
        self._set(self._index[k], text)

    def _ended(self, how: str) -> None:
        if how != "finished":
            self.status = ["cancelled" if s in ("waiting", "running") else s for s in self.status]
            self._refresh()
        done = sum(s.startswith("done") for s in self.status)
        failed = sum(s.startswith("failed") for s in self.status)
        self.summary.setText(f"{done} done, {failed} failed of {len(self.status)}"
                             + ("" if how == "finished" else f" — {how}"))
        self.batchEnded.emit(how)

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._worker is not None:
            self._worker.deleteLater()
        if self._thread is not None:
            self._thread.deleteLater()
        self._worker = self._thread = None
        self._update_buttons()

    # ---- view ----------------------------------------------------------------------------------
    def _set(self, row: int, text: str) -> None:
        self.status[row] = text
        self.table.setItem(row, 1, QTableWidgetItem(text))
        self._update_buttons()

    def _refresh(self) -> None:
        self.table.setRowCount(len(self.jobs))
        for row, job in enumerate(self.jobs):
            self.table.setItem(row, 0, QTableWidgetItem(job.src.name))
            self.table.setItem(row, 1, QTableWidgetItem(self.status[row]))
            self.table.setItem(row, 2, QTableWidgetItem(job.dst.name if job.dst != job.src else ""))
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.start_button.setEnabled(not self.running and bool(self.jobs))
        self.cancel_button.setEnabled(self.running)
        self.output_button.setEnabled(not self.running)
        rows = {i.row() for i in self.table.selectedIndexes()}
        self.open_button.setEnabled(any(self.status[r].startswith("done") for r in rows if r < len(self.status)))

    def open_selected(self) -> None:
        """Open the selected finished recording in the main window."""
        for r in sorted({i.row() for i in self.table.selectedIndexes()}):
            if self.open_row(r):
                return

    def open_row(self, row: int) -> bool:
        """Open row ``row``'s recording in the main window (it runs there again) when its file is done."""
        if not (0 <= row < len(self.status)) or not self.status[row].startswith("done"):
            return False
        self.w.open_file(self.jobs[row].src)
        return True
