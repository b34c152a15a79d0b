"""The templates the user chose (Model menu, calibration), remembered across launches in QSettings."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QSettings

#: QSettings key of the chosen templates (a file or a folder; absent: the defaults).
TEMPLATES_KEY = "model/templates"


def remember_templates(settings: QSettings, templates: str | None) -> None:
    """Remember ``templates`` (a path) for the next launch; None forgets the choice."""
    if templates:
        settings.setValue(TEMPLATES_KEY, str(Path(templates).resolve()))
    else:
        settings.remove(TEMPLATES_KEY)
    settings.sync()


def remembered_templates(settings: QSettings) -> tuple[str | None, str]:
    """The remembered templates path (None when none or gone) and a note for the user when it is gone."""
    value = settings.value(TEMPLATES_KEY, None)
    if not value:
        return None, ""
    path = Path(str(value))
    if not path.exists():
        settings.remove(TEMPLATES_KEY)
        return None, f"The templates chosen last time ({path.name}) are gone; using the bundled templates."
    if path.is_file():  # a file is checked now (a folder is analysed when the engine is built)
        from unmf_core.errors import TemplateError
        from unmf_core.calibration import load_templates

        try:
            load_templates(path)
        except TemplateError as exc:
            settings.remove(TEMPLATES_KEY)
            return None, f"The templates chosen last time cannot be used ({exc}); using the bundled templates."
    return str(path), ""


def restore_templates(window) -> None:
    """Make a new main window use the templates chosen in an earlier session (if they still exist)."""
    path, note = remembered_templates(window.settings)
    if path:
        window.spec = replace(window.spec, templates=path)
        window._update_engine_label()
    elif note:
        window.notify(note, 8000)
