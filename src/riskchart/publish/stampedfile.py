"""Files the publish stage wrote and may copy from next time (the register,
the index page): each known by its stamp as it was moved into place —
size, modification and change times and inode (as build/stamps.py) — and
the SHA-256 of the bytes written into it.  A file whose stamp differs was
changed or replaced since; one whose bytes no longer match the digest was
changed in place within a coarse clock's tick, or while it was read.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path
from typing import Any

# size, mtime_ns, inode, ctime_ns (build/stamps.py), and the SHA-256 (hex) of the bytes written
Stamp = tuple[int, int, int, int, str]


def staged_inode(path: Path) -> int:
    """The inode of a file written aside: the same once it is moved into place."""
    return os.stat(path).st_ino


def placed_stamp(path: Path, inode: int, digest: str) -> Stamp | None:
    """The stamp of the file moved into place at `path`, if it is still the
    one written (`inode`); `digest`: the SHA-256 of the bytes written into it."""
    try:
        found = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(found.st_mode) or found.st_ino != inode:
        return None
    return found.st_size, found.st_mtime_ns, found.st_ino, found.st_ctime_ns, digest


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> str:
    """The SHA-256 of a file this build wrote aside (in its scratch folder)."""
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def is_stamp(value: object) -> bool:
    """Whether `value` (read from JSON) is a Stamp: four integers and a SHA-256 in hex."""
    return type(value) is list and len(value) == 5 and all(type(n) is int for n in value[:4]) \
        and type(value[4]) is str and len(value[4]) == 64


def stamp_of(value: list[Any]) -> Stamp:
    size, modified, inode, changed, digest = value
    return size, modified, inode, changed, digest


def read_stamped(path: Path, stamp: Stamp, offset: int, length: int) -> bytes | None:
    """`length` bytes at `offset` of the regular file `path` (not through a
    link, not waiting on a FIFO) if it has `stamp` and its bytes are those
    written (the digest), else None.  The whole file is read for the digest
    (the Excel register is a few megabytes beside the CSV's tens)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return None
    try:
        found = os.fstat(descriptor)
        size, *_, digest = stamp
        if not stat.S_ISREG(found.st_mode) \
                or (found.st_size, found.st_mtime_ns, found.st_ino, found.st_ctime_ns, digest) != stamp \
                or offset + length > size:
            return None
        chunks, at = [], 0
        while at < size:
            chunk = os.pread(descriptor, size - at, at)
            if not chunk:
                raise OSError(errno.EIO, "short read")
            chunks.append(chunk)
            at += len(chunk)
        data = b"".join(chunks)
        if digest_of(data) != digest:
            return None
        return data if (offset, length) == (0, size) else data[offset:offset + length]
    except OSError:
        return None
    finally:
        os.close(descriptor)
