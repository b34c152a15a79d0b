"""The model and templates the user chose (Model menu, calibration), remembered across launches in QSettings.

One place decides what is remembered: :func:`remember_choice` is called by the
main window whenever its engine choice changes (a user's choice, a failed
choice reverted, an engine built), and :func:`restored_choice` reads it back at
launch, dropping a remembered file that is gone or broken with one note for the
user.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

#: QSettings keys of the chosen model and templates (a path; "" or absent: the bundled default).
MODEL_KEY, TEMPLATES_KEY = "model", "templates"


def remember_choice(settings: QSettings, model: str | None, templates: str | None) -> None:
    """Remember ``model`` and ``templates`` (paths, None for the defaults) for the next launch."""
    for key, value in ((MODEL_KEY, model), (TEMPLATES_KEY, templates)):
        if value:
            settings.setValue(key, str(Path(value).resolve()))
        else:
            settings.remove(key)
    settings.sync()


def _usable_templates(path: Path) -> str:
    """Why a remembered templates path cannot be used ("" when it can)."""
    if not path.exists():
        return f"the templates chosen last time ({path.name}) are gone"
    if path.is_file():  # a folder is analysed when the engine is built
        from unmf_core.calibration import load_templates
        from unmf_core.errors import TemplateError

        try:
            load_templates(path)
        except TemplateError as exc:
            return f"the templates chosen last time cannot be used ({exc})"
    return ""


def restored_choice(settings: QSettings) -> tuple[str | None, str | None, str]:
    """The remembered (model, templates) paths, None where none or unusable, and a note for the user.

    A remembered file that is gone or broken is forgotten, so the note is said once, not at every launch.
    """
    notes = []
    model = str(settings.value(MODEL_KEY, "") or "") or None
    if model and not Path(model).is_file():
        notes.append(f"the model chosen last time ({Path(model).name}) is gone")
        settings.remove(MODEL_KEY)
        model = None
    templates = str(settings.value(TEMPLATES_KEY, "") or "") or None
    if templates:
        why = _usable_templates(Path(templates))
        if why:
            notes.append(why)
            settings.remove(TEMPLATES_KEY)
            templates = None
    note = ""
    if notes:
        note = "; ".join(notes)
        note = note[0].upper() + note[1:] + "; using the bundled " + (
            "model and templates." if len(notes) == 2 else ("model." if "model" in notes[0] else "templates."))
    return model, templates, note
