"""Editing the notes by hand: the undo stack, the Edit menu, auditioning a note, locking the note settings.

The edits themselves are Qt-free (:mod:`unmf_core.transcription.edits`,
applied by :meth:`AppState.apply_edit <unmf_gui.state.AppState.apply_edit>`);
:class:`EditCommand` wraps one for :class:`QUndoStack`. While the notes are
edited, the threshold and minimum duration are locked (they would derive other
notes and lose the edits): the toolbar says so, and Edit ▸ Discard note edits
(itself undoable) unlocks them.
"""
from __future__ import annotations

from collections import Counter

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import QLabel, QMessageBox

from unmf_core.transcription.edits import Edit
from unmf_core.transcription.notes import Note
from unmf_core.transcription.synth import synthesize
from unmf_gui.playback import Player

#: Longest a note is auditioned (seconds).
AUDITION_S = 1.0
AUDITION_SR = 22050
LOCK_TEXT = "✎ notes edited: settings locked"
LOCK_TIP = ("You have edited the notes by hand. The threshold and minimum duration would derive new notes and lose "
            "your edits, so they are locked.\nEdit ▸ Discard note edits (undoable) unlocks them.")

#: The editing gestures, for Help ▸ Keyboard shortcuts.
EDIT_HELP = ("<b>Editing notes</b> (piano roll H): click a note to select and hear it (Ctrl / Shift: add to the "
             "selection), drag it to move it, drag its right end to resize it, drag on empty space to select "
             "several, double-click empty space to add a note, Ctrl + wheel for velocity, right-click for velocity "
             "presets. Middle-drag pans. Times snap to the beat grid when one is known.")


class EditCommand(QUndoCommand):
    """One :class:`~unmf_core.transcription.edits.Edit` on the undo stack; ``merge`` names edits that join."""

    _ids: dict[str, int] = {}

    def __init__(self, vm, edit: Edit, merge: str = "", shown=None):
        super().__init__(edit.label)
        self.vm, self.edit, self.merge = vm, edit, merge
        self.shown = shown  # called after an undo / redo (shows where the edit is)
        self._done = False

    def id(self) -> int:  # noqa: A003 (Qt override)
        if not self.merge:
            return -1
        return self._ids.setdefault(self.merge, 1000 + len(self._ids))

    def mergeWith(self, other) -> bool:  # noqa: N802 (Qt override)
        if other.id() != self.id() or Counter(other.edit.removed) != Counter(self.edit.added):
            return False
        self.edit = Edit(self.edit.removed, other.edit.added, self.edit.label)
        return True

    def redo(self) -> None:
        try:
            if self._done:
                self.vm.reapply_edit(self.edit)
                if self.shown is not None:
                    self.shown()
            else:
                self.vm.apply_edit(self.edit)
                self._done = True
        except ValueError:  # the notes it changes are gone (cannot happen while the stack follows the state)
            self.setObsolete(True)

    def undo(self) -> None:
        try:
            self.vm.revert_edit(self.edit)
        except ValueError:
            self.setObsolete(True)
            return
        if self.shown is not None:
            self.shown()


def describe(notes: list[Note]) -> str:
    """The selection in words, for the status bar."""
    import pretty_midi

    if not notes:
        return ""
    if len(notes) == 1:
        n = notes[0]
        return (f"{pretty_midi.note_number_to_name(n.pitch)} · {n.onset:.2f}–{n.offset:.2f} s · "
                f"velocity {n.velocity}")
    vel = sorted(n.velocity for n in notes)
    return f"{len(notes)} notes selected · velocity {vel[0]}–{vel[-1]}"


class NoteEditor(QObject):
    """Undo stack and Edit menu of a :class:`~unmf_gui.main_window.MainWindow`; applies its notes layer's edits."""

    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self.vm = window.vm
        self.layer = window.activations.notes_layer
        self.stack = QUndoStack(self)
        self._audition: Player | None = None
        #: Asks whether edits may be discarded (tests replace it); returns True to go on.
        self.ask = self._ask_user
        self._build_menu()
        self.lock_label = QLabel(LOCK_TEXT)
        self.lock_label.setObjectName("edits-lock")
        self.lock_label.setToolTip(LOCK_TIP)
        self.lock_label.setStyleSheet("color: #e08020; font-weight: bold;")
        self.lock_label.setVisible(False)
        window.notes_controls.layout().addWidget(self.lock_label)
        self.layer.editRequested.connect(self.push)
        self.layer.auditionRequested.connect(self.audition)
        self.layer.refused.connect(lambda msg: window.notify(msg, 6000))
        self.layer.selectionChanged.connect(self._selection)
        self.vm.editsChanged.connect(self._edits_changed)

    def _build_menu(self) -> None:
        w = self.w
        menu = self.menu = w.menuBar().addMenu("&Edit")
        file_action = w.files.file_menu.menuAction()
        actions = w.menuBar().actions()
        after = actions[actions.index(file_action) + 1] if file_action in actions else None
        if after is not None and after is not menu.menuAction():
            w.menuBar().insertMenu(after, menu)
        self.undo_action = self.stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.Undo)
        self.redo_action = self.stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        for act in (self.undo_action, self.redo_action):
            menu.addAction(act)
            w.addAction(act)
        menu.addSeparator()
        self._act("&Delete selected notes", [QKeySequence("Del"), QKeySequence("Backspace")],
                  self.layer.delete_selection)
        self._act("Select &all notes", [QKeySequence("Ctrl+A")], lambda: self.layer.select(self.layer.notes))
        menu.addSeparator()
        self.discard_action = self._act("Discard note &edits (derive the notes again)", [], self.discard)
        self.discard_action.setEnabled(False)

    def _act(self, text: str, keys: list, slot) -> QAction:
        act = QAction(text, self.w)
        if keys:
            act.setShortcuts(keys)
        act.triggered.connect(lambda _c=False: slot())
        self.menu.addAction(act)
        self.w.addAction(act)
        return act

    # ---- edits ----------------------------------------------------------------------------
    def push(self, edit: Edit, merge: str = "") -> None:
        """Apply ``edit`` to the notes on screen as one undo step (joined with the last one of the same ``merge``)."""
        if edit.empty or not self.vm.can_edit():
            return
        try:
            edit.apply(self.vm.notes)  # its notes may have gone meanwhile (a run streamed new ones in)
        except ValueError:
            return
        if not self.vm.edits_shown():  # a new edit layer: the old commands were of other notes
            self.stack.clear()
        self.stack.push(EditCommand(self.vm, edit, merge, self._show_edits))

    def discard(self) -> None:
        """Edit ▸ Discard note edits: back to the derived notes (undoable); the note settings unlock."""
        edit = self.vm.discard_edit()
        if edit is None:
            return
        self.vm.show_edited_layer()
        if not self.vm.edits_shown():  # the edits are of the other method's run: not shown, dropped at once
            self.vm.clear_edits()
            return
        self.stack.push(EditCommand(self.vm, edit, shown=self._show_edits))

    def _show_edits(self) -> None:
        """After an undo / redo: show the method and layer the edits are on (they may be off screen)."""
        e = self.vm.edits
        if e is None or self.vm.edits_shown() or e.key not in self.vm.runs:
            return
        box = self.w.method_box
        if box.currentData() != e.key:
            box.setCurrentIndex(box.findData(e.key))
        self.vm.show_edited_layer()

    def _edits_changed(self) -> None:
        if self.vm.edits is None:
            self.stack.clear()
        edited = self.vm.edited
        controls = self.w.notes_controls
        for widget in (controls.threshold, controls.threshold_slider, controls.min_duration):
            widget.setEnabled(not edited)
            widget.setToolTip(LOCK_TIP if edited else "")
        controls.threshold.setToolTip(LOCK_TIP if edited else
                                      "Onset threshold relative to the largest total activation of a frame")
        self.lock_label.setVisible(edited)
        self.discard_action.setEnabled(edited)

    def _selection(self) -> None:
        text = describe(self.layer.selection())
        self.w.notify(text)

    # ---- runs that would replace the edits --------------------------------------------------
    def allow_run(self, keys: list[str], new_file: bool) -> bool:
        """Whether a run of ``keys`` (on a ``new_file``) may go on: it would drop the edits; the user is asked."""
        if not self.vm.edited or (not new_file and self.vm.edits.key not in keys):
            return True
        what = "Opening another recording" if new_file else "Running again"
        return self.ask(f"{what} replaces the notes you edited by hand.\n\nDiscard your note edits? "
                        "(File ▸ Save project keeps them.)")

    def allow_close(self) -> bool:
        """Whether the window may close: no note edits, or saved in a project, or the user discards them."""
        if not self.vm.edited or self.stack.isClean():
            return True
        return self.ask("Your note edits are not saved.\n\nDiscard them and close? "
                        "(File ▸ Save project keeps them.)")

    def _ask_user(self, text: str) -> bool:
        answer = QMessageBox.question(self.w, "Discard note edits?", text,
                                      QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Cancel)
        return answer == QMessageBox.Discard

    # ---- audition ------------------------------------------------------------------------------
    def audition(self, note: Note) -> bool:
        """Play ``note`` alone (short); silently nothing when playback is unavailable or the recording plays."""
        main = self.w.player
        if not main.available or main.playing:
            return False
        if self._audition is None:
            stream = (main._stream_cls, main._stop_exc)  # the same output as the window's player
            self._audition = Player(stream_factory=lambda: stream, parent=self)
        length = min(AUDITION_S, max(0.1, note.offset - note.onset))
        samples = synthesize([Note(note.pitch, 0.0, length, note.velocity)], AUDITION_SR, length + 0.05)
        self._audition.set_signal(samples, AUDITION_SR)
        self._audition.seek(0.0)
        return self._audition.play()
