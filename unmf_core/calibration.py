"""STAND-IN for CAL-core's calibration module (branch ``cal``); replaced when that branch is merged.

Only the API is real: :func:`calibrate` builds templates from a folder of
single notes with :func:`unmf_core.templates.build_from_folder` and raises
:class:`TemplateError` for every other source.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .audio import Audio
from .cqt import LOWEST_PITCH, CQTParams, key_names
from .errors import TemplateError
from .templates import Templates, build_from_folder


@dataclass
class Calibration:
    """Templates calibrated to an instrument, with what they were made from."""

    templates: Templates
    #: MIDI pitch → fit
    recorded: dict[int, float] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    method: str = ""


def calibrate(source, *, midi=None, base=None, cqt=None) -> Calibration:
    """Stand-in: templates from a folder of single notes only."""
    if isinstance(source, (str, Path)) and Path(source).is_dir():
        t = build_from_folder(source, cqt or CQTParams())
        filled = set(t.filled)
        recorded = {k + LOWEST_PITCH: 1.0 for k, name in enumerate(key_names()) if name not in filled}
        return Calibration(t, recorded, [], "folder")
    what = "a recording" if isinstance(source, Audio) or midi is None else "a recording with MIDI"
    raise TemplateError(f"calibration from {what} is not available yet (stand-in)")
