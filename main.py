"""Start the unmf desktop app from a checkout: ``python3 main.py [FILE] [--method unrolled|mu] [--device ...]``.

The same as the installed ``unmf-gui`` command (:mod:`unmf_gui.launch`): without
a display, or when Qt's platform plugin cannot load, it says why and transcribes
FILE (default: the bundled demo) on the command line instead.
"""
import sys

from unmf_gui.launch import main

if __name__ == "__main__":
    sys.exit(main())
