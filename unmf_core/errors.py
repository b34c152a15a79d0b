"""Typed errors of unmf, each with the exit code the CLI uses for it.

Every error the user can cause (a bad file, a bad model, an unwritable
destination) derives from :class:`UnmfError`, so front ends can show its
message instead of a traceback.
"""
from __future__ import annotations


class UnmfError(Exception):
    """Base class of every error unmf reports to the user."""

    exit_code = 1


class AudioError(UnmfError):
    """The audio file cannot be read or holds no usable signal."""

    exit_code = 3


class MidiError(UnmfError):
    """A MIDI file cannot be read."""

    exit_code = 3


class TemplateError(UnmfError):
    """Templates cannot be built or loaded."""

    exit_code = 4


class CheckpointError(UnmfError):
    """A model checkpoint cannot be loaded or does not fit."""

    exit_code = 4


class OptionError(UnmfError, ValueError):
    """An option out of range for what runs it (e.g. more layers than the model has); a usage error."""

    exit_code = 2


class OutputError(UnmfError):
    """An output file cannot be written (exists, read-only, disk full)."""

    exit_code = 5


class DeviceError(UnmfError):
    """The requested compute device is not available."""

    exit_code = 6


class DataError(UnmfError):
    """A training or evaluation dataset is malformed."""

    exit_code = 7


class Cancelled(UnmfError):
    """The user cancelled the work."""

    exit_code = 130
