"""File stamps: telling that a file is unchanged without reading it.

Like git's index, a build records each chart file's size, modification
time, inode and change time next to the fingerprint made from its bytes;
the next build reads and hashes only the files whose stamp differs.

A stamp is trusted only for a file last changed well before the build
looked at it.  A file written again within the same tick of the file
system's clock as the build read it (same size, same times: a script or an
editor saving twice in quick succession) would otherwise keep a stamp that
no longer matches its bytes.  So a stamp whose modification or change time
is not at least RACY_NS older than the moment the build started looking is
not recorded ("racy", as git calls it): that file is read and hashed again
by the next build, and gets its stamp once it has settled.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

# Coarse file-system clocks (FAT: 2 s; most others a few milliseconds) and a
# little skew between the file system's clock and this machine's.
RACY_NS = 2_000_000_000

Stamp = tuple[int, int, int, int]  # size, mtime_ns, inode, ctime_ns


def now_ns() -> int:
    """The moment a build starts looking at files: taken before the first stat."""
    return time.time_ns()


def file_stamp(path: Path | str) -> Stamp | None:
    """A regular file's stamp; None for anything else (missing, a folder, a
    FIFO…): such a file is always read, and lint says what is wrong with it."""
    try:
        found = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(found.st_mode):
        return None
    return found.st_size, found.st_mtime_ns, found.st_ino, found.st_ctime_ns


def settled(stamp: Stamp | None, looked_at_ns: int) -> bool:
    """Whether the file was last changed at least RACY_NS before `looked_at_ns`
    (an absent file, None, has nothing that could change unseen)."""
    return stamp is None or max(stamp[1], stamp[3]) < looked_at_ns - RACY_NS


def output_stamp(path: Path | str) -> list[int] | None:
    """What a build records of an output it wrote: size and modification time."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return [found.st_size, found.st_mtime_ns]
