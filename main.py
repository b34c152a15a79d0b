"""Start the unmf desktop app: ``python main.py [FILE] [--method unrolled|mu] [--device auto|cpu|cuda]``.

On a machine with no display (no ``DISPLAY`` / ``WAYLAND_DISPLAY`` and no
``QT_QPA_PLATFORM`` chosen) or without a working Qt, it says so and transcribes
FILE (default: the bundled demo) on the command line instead, writing
``<stem>.mid`` in the current folder (``<stem>-1.mid``, ... if that exists).
"""
import os
import sys
from pathlib import Path


def _has_display() -> bool:
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def _free_name(stem: str) -> Path:
    out, i = Path(f"{stem}.mid"), 0
    while out.exists():
        i += 1
        out = Path(f"{stem}-{i}.mid")
    return out


def headless(argv: list[str], why: str) -> int:
    """Transcribe the given file (or the demo) with the CLI; returns its exit code."""
    from unmf_core.cli import main as cli_main
    from unmf_core.transcription.engine import DEMO_AUDIO

    files = [a for a in argv if not a.startswith("-")]
    src = Path(files[0]) if files else DEMO_AUDIO
    out = _free_name(src.stem)
    print(f"unmf: {why}; transcribing {src} on the command line instead -> {out}", flush=True)
    code = cli_main(["transcribe", str(src), "-o", str(out)])
    if code == 0:
        print(f"wrote {out}. With a display, `python main.py` opens the app; see `unmf --help` for the "
              "command line.", flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    """Open the app, or fall back to the command line when no display or Qt is available."""
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        from unmf_gui.app import parse_args

        parse_args(argv)
    if not _has_display():
        return headless(argv, "no display found (DISPLAY/WAYLAND_DISPLAY unset)")
    try:
        from unmf_gui.app import main as app_main
    except ImportError as exc:
        return headless(argv, f"the desktop app cannot start ({exc})")
    return app_main(argv)


if __name__ == "__main__":
    sys.exit(main())
