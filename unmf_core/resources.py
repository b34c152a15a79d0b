"""The bundled resources: default model, default templates, demo recording, CQT filters.

They live in the repository's top-level ``resources/`` folder, which the
package installs as the data package ``unmf_resources`` (``setup.py`` maps the
one onto the other), so :mod:`importlib.resources` finds them in a wheel
install and in an editable one alike. ``UNMF_RESOURCES=/some/folder`` (same
layout: ``models/default.pt``, ``templates/default.npz``, ``demo/``, ``cqt/``) replaces
them; it is read once, at import.

A missing bundled model or templates file is an error when it is needed
(:func:`default_model`, :func:`default_templates`), never a silent switch to
an untrained model or synthetic templates.
"""
from __future__ import annotations

import os
from importlib import resources as _importlib_resources
from pathlib import Path

from .errors import CheckpointError, TemplateError

PACKAGE = "unmf_resources"


def _root() -> Path:
    env = os.environ.get("UNMF_RESOURCES")
    if env:
        return Path(env)
    try:
        root = _importlib_resources.files(PACKAGE)
    except ModuleNotFoundError:
        # A source checkout that was never installed (or an install from before
        # the data package existed): the folder beside the package.
        return Path(__file__).resolve().parent.parent / "resources"
    return Path(str(root))


#: The folder the resources are read from.
RESOURCES = _root()
#: The bundled unrolled model.
DEFAULT_MODEL = RESOURCES / "models" / "default.pt"
#: The bundled templates (88 keys rendered with FluidSynth).
DEFAULT_TEMPLATES = RESOURCES / "templates" / "default.npz"
#: The demo recording and its MIDI.
DEMO_AUDIO = RESOURCES / "demo" / "demo.flac"
DEMO_MIDI = RESOURCES / "demo" / "demo.mid"
#: The CQT filters of the default and the seed parameters (see :mod:`unmf_core.frontend.filterbank`).
CQT_FILTERS = RESOURCES / "cqt"

_HINT = "the installation is incomplete: reinstall unmf"


def default_model() -> Path:
    """The bundled model's path.

    Raises
    ------
    CheckpointError
        The file is missing.
    """
    if not DEFAULT_MODEL.is_file():
        raise CheckpointError(f"{DEFAULT_MODEL}: the bundled model is missing ({_HINT}, "
                              f"or give a model with --model)")
    return DEFAULT_MODEL


def default_templates() -> Path:
    """The bundled templates' path.

    Raises
    ------
    TemplateError
        The file is missing.
    """
    if not DEFAULT_TEMPLATES.is_file():
        raise TemplateError(f"{DEFAULT_TEMPLATES}: the bundled templates are missing ({_HINT}, "
                            f"or give templates with --templates)")
    return DEFAULT_TEMPLATES
