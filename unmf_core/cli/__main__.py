"""``python -m unmf_core.cli``."""
from .commands import console

console()
