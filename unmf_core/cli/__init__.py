"""The ``unmf`` command line (:mod:`.commands`; training commands in :mod:`.train`)."""
from .commands import main

__all__ = ["main"]
