"""Safe file output: write to a temporary file beside the target, then rename.

A crash, a full disk or a read-only folder never leaves a half-written file
and never destroys the previous version of the target.
"""
from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import Iterator

from ..errors import OutputError


def check_writable(path: str | Path, overwrite: bool = True) -> Path:
    """Check that ``path`` may be written.

    Parameters
    ----------
    path : str or Path
        Target file.
    overwrite : bool
        If False, an existing file is an error.

    Raises
    ------
    OutputError
        The file exists (and ``overwrite`` is False) or its folder is missing.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputError(f"{path}: already exists (use --overwrite to replace it)")
    if path.is_dir():
        raise OutputError(f"{path}: is a folder")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise OutputError(f"{parent}: no such folder")
    return path


@contextlib.contextmanager
def atomic_path(path: str | Path, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path; on success it is renamed onto ``path``.

    The temporary file lives in the target's folder (so the rename is atomic)
    and is removed on any error. OS errors become :class:`OutputError`.
    """
    path = check_writable(path, overwrite)
    parent = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + path.suffix, dir=parent)
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write here ({_reason(exc)})") from None
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _default_mode(path))
        os.replace(tmp_path, path)
    except OSError as exc:
        raise OutputError(f"{path}: could not be written ({_reason(exc)}); any previous file is unchanged") from None
    finally:
        with contextlib.suppress(OSError):
            if tmp_path.exists():
                tmp_path.unlink()


def _default_mode(path: Path) -> int:
    """The mode of the file being replaced, or what a plain ``open`` would give."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_bytes_atomic(path: str | Path, data: bytes, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path, overwrite) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "disk full"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "permission denied"
    return exc.strerror or str(exc)
