"""Start the unmf desktop app: ``python main.py [FILE] [--method unrolled|mu] [--device auto|cpu|cuda]``."""
import sys

from unmf_gui.app import main

if __name__ == "__main__":
    sys.exit(main())
