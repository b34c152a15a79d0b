"""Calibrate the templates to the user's instrument from a few recorded notes.

Three kinds of calibration material give templates for some keys:

* a folder of single-note recordings named after their keys (any number ≥ 1);
* ONE recording of single notes played one after another in any order: onsets
  are detected on the CQT, each note's pitch is found by decomposing its
  spectrum on the bundled templates, and notes that overlap, sound as chords or
  have no clear pitch are skipped and listed;
* a recording with its MIDI: each key's template is the spectrum its notes add
  at their attacks (the MIDI says where; notes struck with others are left out).

Keys without a recording are then predicted from the recorded ones on the
bundled templates' frame (:func:`adapt`): in harmonic-relative coordinates (CQT
bin offset from each key's fundamental) the recorded log-spectra are
interpolated across keys (linearly in key number, constant beyond the recorded
range); the bundled templates, corrected by the interpolated log-ratio of
recorded to bundled, fill what no recording covers. Scaling the bundled
templates alone (per relative bin or per absolute frequency) was measured and
scored lower on instruments they were not made from (see
``docs/benchmarks/calibration.md``).

:func:`calibrate` does all of it in one call and returns a :class:`Calibration`
whose templates record which keys were recorded, how well each fits and how.

Modules: :mod:`.material` (per-key spectra from a folder, a single-notes
recording or a recording with its MIDI), :mod:`.adapt` (unrecorded keys
predicted from the recorded ones), :mod:`.core` (:func:`calibrate`,
:class:`Calibration`; :func:`load_templates` for "a templates file or a
folder of recordings").
"""
from .core import METHODS, Calibration, build_from_folder, calibrate, default_base, load_templates

__all__ = ["METHODS", "Calibration", "build_from_folder", "calibrate", "default_base", "load_templates"]
