"""Model ▸ Fine-tune on my files…: adapt the unrolled model to the user's recordings in the background.

The dialog is modeless (the user keeps working in the main window). A
:class:`FineTuneWorker` in its own ``QThread`` runs
:func:`unmf_core.training.finetune.fine_tune` and relays its progress reports; the
dialog shows a progress bar, live curves of the training loss and of the
validation onset-F, cancels on request (the last written checkpoint stays
valid) and, when done, offers to use the new model and to compare it with the
base model in the window's compare view (:mod:`unmf_gui.model_compare`). The
new model is always written to a new file, never over the base model or the
bundled default.
"""
from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtWidgets import (QDialog, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QProgressBar,
                               QPushButton, QSpinBox, QVBoxLayout, QWidget)

from unmf_core.errors import UnmfError
from unmf_core.transcription.engine import DEFAULT_MODEL
from unmf_core.training.trainer import TrainConfig


class FineTuneWorker(QObject):
    """Runs one fine-tuning job in a worker thread."""

    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, data: str, out: str, base: str | None, templates: str | None, cfg: TrainConfig):
        super().__init__()
        self.args = (data, out, base, templates)
        self.cfg = cfg
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Ask the job to stop after the current step (thread-safe)."""
        self._cancel.set()

    @Slot()
    def run(self) -> None:
        """Fine-tune; emits ``finished(TrainResult)`` or ``failed(message)``."""
        from unmf_core.training.finetune import fine_tune

        data, out, base, templates = self.args
        try:
            res = fine_tune(data, out, base, templates, cfg=self.cfg, callback=self.progress.emit,
                            cancel=self._cancel.is_set)
        except UnmfError as exc:
            self.failed.emit(" ".join(str(exc).split()))
        except Exception as exc:  # a bug must not kill the app's thread silently
            self.failed.emit(f"unexpected {type(exc).__name__}: {exc}")
        else:
            self.finished.emit(res)


def pair_from_open_file(audio: str, reference: str) -> str:
    """A temporary folder holding the open recording and its reference MIDI as one pair."""
    folder = Path(tempfile.mkdtemp(prefix="unmf-finetune-"))
    stem = Path(audio).stem
    shutil.copyfile(audio, folder / f"{stem}{Path(audio).suffix}")
    shutil.copyfile(reference, folder / f"{stem}.mid")
    return str(folder)


class FineTuneDialog(QDialog):
    """The fine-tuning dialog of a main window.

    Parameters
    ----------
    window : MainWindow
        Its engine spec gives the base model and templates; "Use the new
        model" switches it to the result.
    """

    jobFinished = Signal(object)
    jobFailed = Signal(str)

    def __init__(self, window):
        super().__init__(window)
        self.window_ = window
        self.setWindowTitle("Fine-tune the model on my files")
        self.setModal(False)
        self.cfg: TrainConfig | None = None
        self.result = None
        self.base_used: str | None = None
        self._thread: QThread | None = None
        self._worker: FineTuneWorker | None = None
        self._losses: list[float] = []
        self._val: list[tuple[int, float]] = []
        self._build()

    # ---- construction -------------------------------------------------------
    def _build(self) -> None:
        form = QFormLayout()
        self.data_edit = QLineEdit()
        browse = QPushButton("Folder…")
        browse.clicked.connect(self._browse_data)
        self.open_file_button = QPushButton("Use the open file")
        self.open_file_button.setToolTip("the recording open in the window and its reference MIDI")
        self.open_file_button.clicked.connect(self.use_open_file)
        row = QHBoxLayout()
        for w in (self.data_edit, browse, self.open_file_button):
            row.addWidget(w)
        form.addRow("Pairs (audio + MIDI)", _wrap(row))
        spec = self.window_.spec
        self.base_edit = QLineEdit(spec.model or (str(DEFAULT_MODEL) if DEFAULT_MODEL.is_file() else ""))
        self.base_edit.setPlaceholderText("bundled model")
        form.addRow("Base model", self.base_edit)
        self.out_edit = QLineEdit(str(Path.home() / f"unmf-finetuned-{time.strftime('%Y%m%d-%H%M%S')}.pt"))
        save = QPushButton("Save as…")
        save.clicked.connect(self._browse_out)
        row = QHBoxLayout()
        row.addWidget(self.out_edit)
        row.addWidget(save)
        form.addRow("New model file", _wrap(row))
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 200)
        self.epochs.setValue(10)
        form.addRow("Epochs (at most)", self.epochs)

        self.progress_bar = QProgressBar()
        self.status = QLabel("Choose a folder of pairs: audio/x.wav + midi/x.mid, or x.wav next to x.mid.")
        self.status.setWordWrap(True)
        self.loss_plot = pg.PlotWidget(title="training loss")
        self.loss_plot.setLabel("bottom", "step")
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen("#4a90d9", width=1.5))
        self.f_plot = pg.PlotWidget(title="validation onset-F")
        self.f_plot.setLabel("bottom", "epoch")
        self.f_plot.setYRange(0, 1)
        self.f_curve = self.f_plot.plot(pen=pg.mkPen("#e07b39", width=2), symbol="o", symbolSize=6)
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.f_plot)

        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Close")  # "Cancel" while a job runs
        self.cancel_button.clicked.connect(self.cancel)
        self.use_button = QPushButton("Use the new model")
        self.use_button.setEnabled(False)
        self.use_button.clicked.connect(self.use_new_model)
        self.compare_button = QPushButton("Compare base vs fine-tuned")
        self.compare_button.setToolTip("run both models on the open file, side by side in the compare view")
        self.compare_button.setEnabled(False)
        self.compare_button.clicked.connect(self.compare_models)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for b in (self.start_button, self.cancel_button, self.use_button, self.compare_button):
            buttons.addWidget(b)

        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.progress_bar)
        lay.addWidget(self.status)
        lay.addLayout(plots, 1)
        lay.addLayout(buttons)
        self.resize(900, 560)

    def _browse_data(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Folder of (audio, MIDI) pairs")
        if d:
            self.data_edit.setText(d)

    def _browse_out(self) -> None:
        f, _ = QFileDialog.getSaveFileName(self, "New model file", self.out_edit.text(), "Model (*.pt)")
        if f:
            self.out_edit.setText(f)

    # ---- actions --------------------------------------------------------------
    def use_open_file(self) -> bool:
        """Fine-tune on the recording open in the window and its reference MIDI."""
        vm = self.window_.vm
        if not vm.path or not vm.reference_path:
            self.status.setText("Open a recording and load its reference MIDI first.")
            return False
        self.data_edit.setText(pair_from_open_file(vm.path, vm.reference_path))
        return True

    @property
    def running(self) -> bool:
        """Whether a job is in progress."""
        return self._thread is not None

    def start(self) -> bool:
        """Start the job in the background (returns False and says why when it cannot)."""
        if self.running:
            return False
        data, out = self.data_edit.text().strip(), self.out_edit.text().strip()
        base = self.base_edit.text().strip() or None
        if not data or not out:
            self._fail("Choose a folder of pairs and a file for the new model.")
            return False
        for p in (base, str(DEFAULT_MODEL)):
            if p and Path(p).exists() and Path(out).exists() and Path(out).resolve() == Path(p).resolve():
                self._fail("The new model must go to a new file, not over the base or the bundled model.")
                return False
        cfg = self.cfg or TrainConfig(epochs=self.epochs.value(), lr=3e-4, crops_per_file=8, patience=3,
                                      calibrate=True)
        self._losses, self._val, self.result, self.base_used = [], [], None, base
        self.loss_curve.setData([], [])
        self.f_curve.setData([], [])
        self.use_button.setEnabled(False)
        self.compare_button.setEnabled(False)
        self.start_button.setEnabled(False)
        self.status.setText("Preparing the data…")
        self.progress_bar.setRange(0, 0)
        self._thread = QThread(self)
        self._worker = FineTuneWorker(data, out, base, self.window_.spec.templates, cfg)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progress.connect(self._progress)
        self._worker.finished.connect(self._finished)
        self._worker.failed.connect(self._failed)
        self._thread.start()
        self.cancel_button.setText("Cancel")
        return True

    def cancel(self) -> None:
        """Cancel a running job, or close the dialog when idle."""
        if self._worker is not None:
            self.status.setText("Cancelling after the current step…")
            self._worker.cancel()
        else:
            self.close()

    def use_new_model(self) -> None:
        """Make the window transcribe with the fine-tuned model."""
        if self.result is None:
            return
        from unmf_gui.workers import EngineSpec

        spec = self.window_.spec
        self.window_.set_engine_spec(EngineSpec(spec.templates, self.result.out, spec.device))
        self.status.setText(f"The window now uses {Path(self.result.out).name}.")

    def compare_models(self) -> bool:
        """Run the base and the new model on the window's open file, side by side in its compare view."""
        if self.result is None:
            return False
        ok = self.window_.files.model_compare.start(self.base_used, self.result.out)
        self.status.setText("Comparing in the window's compare view…" if ok
                            else "Open a recording in the window first, then compare.")
        return ok

    # ---- worker signals -------------------------------------------------------------
    def _progress(self, p) -> None:
        if p.kind == "step":
            self.progress_bar.setRange(0, max(1, p.steps))
            self.progress_bar.setValue(p.step)
            self._losses.append(p.loss)
            self.loss_curve.setData(list(range(1, len(self._losses) + 1)), self._losses)
            self.status.setText(f"epoch {p.epoch}: step {p.step}/{p.steps}, loss {p.loss:.4f}")
        elif p.kind == "epoch":
            self._val.append((p.epoch, p.val_f))
            self.f_curve.setData([e for e, _ in self._val], [f for _, f in self._val])
            self.status.setText(p.message)
        elif p.message:
            self.status.setText(p.message)

    def _finished(self, res) -> None:
        self.result = res
        self._stop_thread()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1)
        what = "Cancelled" if res.cancelled else "Done"
        thr = f" at onset threshold {res.notes.threshold:g}" if res.notes is not None else ""
        self.status.setText(f"{what}: validation onset-F {res.base_f:.3f} → {res.best_f:.3f}{thr}; "
                            f"the best model is in {res.out}.")
        written = Path(res.out).is_file()
        self.use_button.setEnabled(written)
        self.compare_button.setEnabled(written)
        if written:
            self.window_.files.model_compare.offer(self.base_used, res.out)
        self.jobFinished.emit(res)

    def _failed(self, message: str) -> None:
        self._stop_thread()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self._fail(message)

    def _fail(self, message: str) -> None:
        self.status.setText(f"Error: {message}")
        self.start_button.setEnabled(True)
        self.jobFailed.emit(message)

    def _stop_thread(self) -> None:
        if self._thread is not None:
            self._thread.quit()
            self._thread.wait()
        self._thread, self._worker = None, None
        self.start_button.setEnabled(True)
        self.cancel_button.setText("Close")

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if self._worker is not None:
            self._worker.cancel()
            self._stop_thread()
        super().closeEvent(event)


def _wrap(layout) -> QWidget:
    w = QWidget()
    layout.setContentsMargins(0, 0, 0, 0)
    w.setLayout(layout)
    return w


def open_dialog(window) -> FineTuneDialog:
    """Show the window's fine-tune dialog (one per window; a running job keeps its dialog)."""
    dlg = getattr(window, "finetune_dialog", None)
    if dlg is None:
        dlg = window.finetune_dialog = FineTuneDialog(window)
    dlg.show()
    dlg.raise_()
    return dlg
