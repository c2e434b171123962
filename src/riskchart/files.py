"""Writing into out/: every file appears complete or not at all."""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from pathlib import Path

from .errors import OutputNotWritable


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename over `path`.

    A reader (or a build interrupted by Ctrl-C) sees the old file or the new
    one, never half of one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # The name is chosen before the file exists, so that an interrupt at any
    # moment after its creation (Ctrl-C arrives between any two bytecodes)
    # still finds and removes it.
    temporary = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write only when the content differs, so an unchanged file keeps its time."""
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    write_atomic(path, data)
    return True


def remove_stale_temporaries(folder: Path) -> None:
    """Remove temporaries an interrupted build left behind (never finished files)."""
    for leftover in folder.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            leftover.unlink()


@contextlib.contextmanager
def locked(folder: Path):
    """Hold an exclusive lock on an output folder for one build.

    A second build into the same folder waits for the first, then finds its
    work done; the lock file itself is created once and never rewritten.
    """
    folder.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(folder / ".riskchart.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise OutputNotWritable(f"无法在 {folder} 中建立构建锁：{error.strerror}") from error
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)
