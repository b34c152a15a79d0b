"""``python -m unmf_core.cli``."""
import sys

from .commands import main

sys.exit(main())
