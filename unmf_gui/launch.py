"""Start the desktop app (``unmf-gui``, ``python3 main.py``), or fall back to the command line.

``unmf-gui [FILE] [--method unrolled|mu] [--device auto|cpu|cuda] [--reference MIDI]``.

Qt aborts the whole process (exit 134, with a message that names whichever
library it happened to look for last) when its platform plugin cannot load.
So before Qt starts here, a child process tries to open a ``QGuiApplication``
(:func:`qt_platform_problem`). When there is no display, or the probe fails,
the launcher says why — for a plugin that cannot load, which shared libraries
are missing and which Debian packages hold them — and transcribes FILE
(default: the bundled demo) on the command line instead, writing
``<stem>.mid`` in the current folder (``<stem>-1.mid``, ... if that exists).
Nothing here imports Qt's GUI modules before the probe has passed.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

#: The Debian packages Qt's xcb platform plugin and the app's widgets need (beyond the basics of any desktop).
QT_DEBIAN_PACKAGES = ("libegl1", "libgl1", "libfontconfig1", "libdbus-1-3", "libxkbcommon-x11-0", "libxcb-cursor0",
                      "libxcb-icccm4", "libxcb-image0", "libxcb-keysyms1", "libxcb-randr0", "libxcb-render-util0",
                      "libxcb-shape0", "libxcb-xkb1")

#: Libraries whose Debian package name does not follow from the library's name.
_PACKAGE_OF = {"libGLdispatch.so.0": "libglvnd0", "libglib-2.0.so.0": "libglib2.0-0",
               "libgthread-2.0.so.0": "libglib2.0-0", "libbrotlidec.so.1": "libbrotli1",
               "libbrotlicommon.so.1": "libbrotli1"}

_PROBE = "import sys\nfrom PySide6.QtGui import QGuiApplication\nQGuiApplication(sys.argv[:1])\n"


def debian_package(soname: str) -> str:
    """The Debian package that usually holds a shared library (``libxcb-cursor.so.0`` → ``libxcb-cursor0``).

    Debian names library packages after the soname: the name, then the
    version, with a dash between them when the name ends in a digit.
    """
    if soname in _PACKAGE_OF:
        return _PACKAGE_OF[soname]
    m = re.fullmatch(r"(.+)\.so\.(\d+)", soname)
    if not m:
        return soname
    name, version = m.group(1).lower(), m.group(2)
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


def missing_libraries(platform: str = "xcb") -> list[str]:
    """Shared libraries that Qt's ``platform`` plugin (and its Qt library) needs and the system lacks (via ``ldd``)."""
    try:
        import PySide6
    except ImportError:
        return []
    qt = Path(PySide6.__file__).resolve().parent / "Qt"
    files = [qt / "plugins" / "platforms" / f"libq{platform}.so"]
    if platform == "xcb":
        files.append(qt / "lib" / "libQt6XcbQpa.so.6")
    missing: list[str] = []
    for f in files:
        if not f.is_file():
            continue
        try:
            out = subprocess.run(["ldd", str(f)], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            return missing
        for line in out.splitlines():
            if "not found" in line:
                lib = line.split()[0]
                if lib not in missing:
                    missing.append(lib)
    return missing


def qt_platform_problem(timeout: float = 60.0) -> str | None:
    """Whether Qt can start a GUI here: None if a child process opened a ``QGuiApplication``, else why not (one line).

    The child inherits the environment (``QT_QPA_PLATFORM``, ``DISPLAY``, ...),
    so it meets exactly what the app would.
    """
    try:
        r = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "Qt did not start within a minute"
    if r.returncode == 0:
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] or ("xcb" if os.environ.get("DISPLAY") else "")
    missing = missing_libraries(platform) if platform else []
    if missing:
        packages = sorted({debian_package(lib) for lib in missing})
        return (f"Qt's {platform} platform plugin cannot load: {', '.join(missing)} missing "
                f"(Debian: sudo apt-get install {' '.join(packages)})")
    lines = [ln.strip() for ln in r.stderr.splitlines() if ln.strip()]
    if "ModuleNotFoundError" in r.stderr or "ImportError" in r.stderr:
        return f"Qt cannot be imported ({lines[-1] if lines else 'ImportError'})"
    unknown = re.search(r'Could not find the Qt platform plugin "([^"]*)"', r.stderr)
    if unknown:
        available = next((ln for ln in lines if ln.startswith("Available platform plugins")), "")
        return f"Qt has no platform plugin {unknown.group(1)!r} (QT_QPA_PLATFORM). {available}".strip()
    connect = next((ln for ln in lines if "could not connect to display" in ln), None)
    if connect:
        return f"{connect.split(': ', 1)[-1]} (is the display running, and may this user open it?)"
    detail = next((ln for ln in lines if ln.startswith("qt.qpa")), lines[0] if lines else f"exit {r.returncode}")
    return (f"Qt's platform plugin cannot start ({detail}); the app needs these Debian packages: "
            f"{' '.join(QT_DEBIAN_PACKAGES)}")


def has_display() -> bool:
    """A display to open a window on (or a Qt platform chosen with ``QT_QPA_PLATFORM``)."""
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
    from unmf_core.resources import DEMO_AUDIO

    files = [a for a in argv if not a.startswith("-")]
    src = Path(files[0]) if files else DEMO_AUDIO
    out = _free_name(src.stem)
    print(f"unmf: {why}; transcribing {src} on the command line instead -> {out}", flush=True)
    code = cli_main(["transcribe", str(src), "-o", str(out)])
    if code == 0:
        print(f"wrote {out}. With a display, `unmf-gui` (or `python3 main.py`) opens the app; see `unmf --help` "
              "for the command line.", flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    """Open the app, or fall back to the command line when no display or no working Qt is available."""
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        try:
            from unmf_gui.app import parse_args
        except ImportError as exc:
            print(f"unmf-gui [FILE] [--method unrolled|mu] [--device auto|cpu|cuda] [--reference MIDI] "
                  f"(the desktop app cannot start here: {exc})")
            return 0
        parse_args(argv)
    if not has_display():
        return headless(argv, "no display found (DISPLAY/WAYLAND_DISPLAY unset)")
    problem = qt_platform_problem()
    if problem:
        return headless(argv, f"the desktop app cannot start: {problem}")
    try:
        from unmf_gui.app import main as app_main
    except ImportError as exc:
        return headless(argv, f"the desktop app cannot start ({exc})")
    return app_main(argv)


if __name__ == "__main__":
    sys.exit(main())
