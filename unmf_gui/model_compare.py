"""Model ▸ Compare base vs fine-tuned: the unrolled method with two models, side by side in the compare view.

After a fine-tune (:mod:`unmf_gui.finetune_dialog`) the base model and the new
one both run on the open file from the same initialisation: one request, one
engine per model sharing the same templates (the window's templates file, else
the base model's own, as fine-tuning used), the window's CQT and device, and the
same :class:`~unmf_core.transcription.engine.Options` (seed included), so step 0 is
identical (:class:`~unmf_gui.workers.RunRequest` ``models`` / ``keys``). The runs are
stored under :data:`BASE` and :data:`TUNED`; the view-model's
:class:`~unmf_gui.viewmodel.Comparison` makes them the compare view's two
columns, titled with the file names; each column extracts notes at its
model's own calibrated onset threshold (a fine-tuning stores one), so both
are shown as they transcribe. :meth:`MainWindow.compare
<unmf_gui.main_window.MainWindow.compare>` (or opening another file) goes back
to unrolled MU vs MU.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction

from unmf_core.transcription.engine import DEFAULT_MODEL, Options, model_notes
from unmf_gui.viewmodel import Column, Comparison
from unmf_gui.workers import EngineSpec, Loaded, RunRequest

#: Run keys of the base and of the fine-tuned model's results.
BASE, TUNED = "base", "fine-tuned"
BASE_COLOR, TUNED_COLOR = (175, 175, 175), (255, 110, 200)
TITLE = "Compare base / fine-tuned"


def model_name(path: str | None) -> str:
    """File name of a checkpoint (None: the bundled model, or the untrained one when there is none)."""
    if path:
        return Path(path).name
    return DEFAULT_MODEL.name if DEFAULT_MODEL.is_file() else "untrained model"


def model_comparison(base: str | None, tuned: str) -> Comparison:
    """The compare view's columns for base vs fine-tuned (both unrolled, each at its own onset threshold)."""
    tb, tt = model_notes(base).threshold, model_notes(tuned).threshold
    return Comparison((Column(BASE, "unrolled", f"base: {model_name(base)} (threshold {tb:g})", BASE_COLOR, tb),
                       Column(TUNED, "unrolled", f"fine-tuned: {model_name(tuned)} (threshold {tt:g})", TUNED_COLOR,
                              tt)), TITLE)


def comparison_request(source: str | Loaded, opts: Options, spec: EngineSpec, engine, base: str | None,
                       tuned: str) -> RunRequest:
    """One job running ``opts`` (as unrolled, every layer of each model) with ``base`` then ``tuned``."""
    opts = replace(opts, method="unrolled", layers=None)
    return RunRequest(source, [opts, opts], spec, engine, models=[base, str(tuned)], keys=[BASE, TUNED])


class ModelCompare(QObject):
    """Starts base-vs-fine-tuned comparisons in a main window; keeps the compare tab's title in step.

    Parameters
    ----------
    window : MainWindow
    action : QAction
        Model ▸ Compare base vs fine-tuned (enabled once a fine-tuned model is known).

    Attributes
    ----------
    pair : tuple or None
        (base, fine-tuned) checkpoints of the last fine-tune or comparison.
    """

    def __init__(self, window, action: QAction):
        super().__init__(window)
        self.w = window
        self.action = action
        self.pair: tuple[str | None, str] | None = None
        action.setEnabled(False)
        action.setToolTip("Fine-tune a model first (Model ▸ Fine-tune on my files…)")
        window.vm.comparisonChanged.connect(self._retitle)

    def offer(self, base: str | None, tuned: str) -> None:
        """A fine-tune wrote ``tuned`` starting from ``base``: they can now be compared."""
        self.pair = (base, str(tuned))
        self.action.setEnabled(True)
        self.action.setToolTip(f"{model_name(base)} vs {model_name(tuned)} on the open file")

    def start(self, base: str | None = None, tuned: str | None = None) -> bool:
        """Run both models on the open file and show them in the compare view.

        Without ``tuned``, compares the last :attr:`pair`. Returns False (and
        says why in the status bar) without an open file or a fine-tuned model.
        """
        w = self.w
        if tuned is None:
            if self.pair is None:
                w.notify("Fine-tune a model first (Model ▸ Fine-tune on my files…)", 4000)
                return False
            base, tuned = self.pair
        if w.vm.loaded is None:
            w.notify("Open a recording first: base and fine-tuned models are compared on the open file", 6000)
            return False
        self.offer(base, tuned)
        w.vm.set_comparison(model_comparison(base, tuned))
        w.tabs.setCurrentWidget(w.compare_view)
        request = comparison_request(w.vm.loaded, w.options("unrolled"), w.spec, w.engine, base, tuned)
        w._start(request, [BASE, TUNED])  # the window's run plumbing: progress, cancel, run_finished
        w.notify(f"Comparing {model_name(base)} with {model_name(tuned)}…")
        return True

    def _retitle(self) -> None:
        w = self.w
        w.tabs.setTabText(w.tabs.indexOf(w.compare_view), w.vm.comparison.title)
