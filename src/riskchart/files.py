"""Writing into out/: every file appears complete or not at all.

Nothing riskchart reads back from an output folder is trusted: it may come
from a CI artifact or another user.  Temporaries carry riskchart's own
prefix, so a clean-up never removes a file it did not make.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import LockTimeout, OutputNotWritable

TEMP_PREFIX = ".riskchart-"
TEMP_SUFFIX = ".tmp"
SCRATCH = ".riskchart-tmp"  # dot's inputs and outputs while it draws, inside the output folder
LOCK = ".riskchart.lock"
# The output folder's cache (booklet pages, lint results): written by riskchart, trusted for nothing.
OUTPUT_CACHE = ".riskchart-cache"
_LOCK_POLL_SECONDS = 0.1


def inside(folder: Path, name: str) -> Path:
    """`folder / name` for a relative "/"-separated name, checked to stay
    inside `folder`: no .. and no folder on the way that is a link (which
    could lead anywhere) or a file.  Raises OSError with a reason."""
    parts = name.split("/")
    if name.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise OSError(f"「{name}」不是输出文件夹中的名字")
    place = folder
    for part in parts[:-1]:
        place = place / part
        if place.is_symlink() or (place.exists() and not place.is_dir()):
            raise OSError(f"{place} 是链接或文件，不是 riskchart 建的文件夹：请删除或改名")
    return place / parts[-1]


def write_atomic(path: Path, data: bytes | Callable[[BinaryIO], None]) -> None:
    """Write to a temporary file in the same folder, then rename over `path`.

    A reader (or a build interrupted by Ctrl-C) sees the old file or the new
    one, never half of one.  `data`: the bytes, or a function that writes
    them piece by piece into the (seekable) temporary file, so that a large
    file never has to be held in memory whole.
    """
    with _written_aside(path, data) as temporary:
        os.replace(temporary, path)


def move_into_place(staged: Path, path: Path) -> None:
    """Rename a finished file written elsewhere on the same file system (a
    build's staging folder) over `path`: like write_atomic, a reader sees
    the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(staged, 0o644)
    os.replace(staged, path)


def write_new(path: Path, data: bytes) -> bool:
    """Write a file that must not exist yet: complete or not at all, and never
    over a file that appeared meanwhile.  False if `path` already existed."""
    with _written_aside(path, data) as temporary:
        try:
            os.link(temporary, path)  # unlike rename, fails on an existing name
        except FileExistsError:
            return False
    return True


@contextlib.contextmanager
def _written_aside(path: Path, data: bytes | Callable[[BinaryIO], None]) -> Iterator[Path]:
    """`data` in a temporary file beside `path`, removed on leaving unless
    the body renamed it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # The name is chosen before the file exists, so that an interrupt at any
    # moment after its creation (Ctrl-C arrives between any two bytecodes)
    # still finds and removes it.
    temporary = path.parent / f"{TEMP_PREFIX}{path.name}.{os.urandom(6).hex()}{TEMP_SUFFIX}"
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            if isinstance(data, bytes):
                stream.write(data)
            else:
                data(stream)
        os.chmod(temporary, 0o644)
        yield temporary
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def user_cache_folder(name: str = "") -> Path | None:
    """`$XDG_CACHE_HOME/riskchart[/<name>]` (default ~/.cache), private to the
    user (0700), or None when it cannot be made or is not the user's own.
    Every cache riskchart keeps (fonts, glyph verdicts, compiled templates)
    lives here, never in an output folder."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None
    root = Path(base) / "riskchart"
    folder = root / name if name else root
    owned_folders = (root, folder) if name else (root,)
    try:
        Path(base).mkdir(parents=True, exist_ok=True)
        for owned in owned_folders:
            owned.mkdir(mode=0o700, exist_ok=True)
        for owned in owned_folders:
            state = owned.lstat()
            if not stat.S_ISDIR(state.st_mode) or state.st_uid != os.getuid() or state.st_mode & 0o077:
                return None
    except OSError:
        return None
    return folder


def output_cache(folder: Path | None) -> Path | None:
    """The output folder's cache folder, or None when it is not one riskchart
    made (a link, a file): then nothing is read or written through it."""
    if folder is None or folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        return None
    return folder


def write_cache(path: Path | None, data: bytes) -> None:
    """Best effort: a cache entry that cannot be written only costs time."""
    if path is not None:
        with contextlib.suppress(OSError):
            write_atomic(path, data)


# the largest file riskchart reads back from out/ (the lint cache of 50,000 charts is about half of it)
UNTRUSTED_MOST_BYTES = 1 << 30


def _open_regular(path: Path) -> BinaryIO:
    """`path` opened for reading if it is a regular file (following links):
    opened without waiting, since a FIFO in out/ would make a plain open
    wait for a writer for ever, and a device (/dev/zero through a link)
    refused.  Raises OSError."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    stream = os.fdopen(descriptor, "rb")
    if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
        stream.close()
        raise OSError(errno.EINVAL, "不是普通文件", str(path))
    return stream


def read_untrusted(path: Path, limit: int = UNTRUSTED_MOST_BYTES) -> bytes:
    """The bytes of a file in the output folder, which riskchart trusts for
    nothing: a regular file only (see _open_regular), and never more than
    `limit` bytes: a sparse file of 200 GB is refused, not read into
    memory.  Raises OSError."""
    with _open_regular(path) as stream:
        if os.fstat(stream.fileno()).st_size > limit:
            raise OSError(errno.EFBIG, "文件太大", str(path))
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, "文件太大", str(path))
    return data


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write only when the content differs, so an unchanged file keeps its time."""
    try:
        if read_untrusted(path, len(data)) == data:
            return False
    except OSError:
        pass
    write_atomic(path, data)
    return True


def remove_stale_temporaries(folder: Path, *subfolders: str) -> None:
    """Remove what an interrupted build left behind: its own temporary files
    (named `.riskchart-….tmp`, here and in `subfolders`) and its scratch
    folder, never anything else.  Only under the folder's lock."""
    for place in (folder, *(folder / name for name in subfolders)):
        if place.is_symlink():
            continue
        for leftover in place.glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
            if leftover.is_file() and not leftover.is_symlink():
                with contextlib.suppress(OSError):
                    leftover.unlink()
    scratch = folder / SCRATCH
    if scratch.is_symlink():
        with contextlib.suppress(OSError):
            scratch.unlink()
    elif scratch.is_dir():
        shutil.rmtree(scratch, ignore_errors=True)  # rmtree never follows links inside


def remove_scratch_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        (folder / SCRATCH).rmdir()


def scratch_folder(folder: Path) -> Path:
    """The output folder's own temporary area (a later build cleans it)."""
    scratch = folder / SCRATCH
    with contextlib.suppress(FileExistsError):  # left by a build, or a file or a dangling link: checked below
        scratch.mkdir(mode=0o700)
    if scratch.is_symlink() or not scratch.is_dir():
        raise OutputNotWritable(f"{scratch} 不是 riskchart 的临时文件夹：请删除它后重试")
    return scratch


_SIGNATURES = {  # start and end of a complete file of each format
    "pdf": (b"%PDF-", b"%%EOF"),
    "svg": (b"", b"</svg>"),
    "png": (b"\x89PNG\r\n\x1a\n", b"IEND"),
}


def looks_complete(path: Path) -> bool:
    """A cheap check that an output is a whole file of its kind (an emptied
    or cut-off PDF in out/ is then rebuilt instead of breaking the booklet)."""
    try:
        with _open_regular(path) as stream:
            size = os.fstat(stream.fileno()).st_size
            head = stream.read(16)
            stream.seek(max(0, size - 1024))
            tail = stream.read()
    except OSError:
        return False
    start, end = _SIGNATURES.get(path.suffix.lower().lstrip("."), (b"", b""))
    return size > 0 and head.startswith(start) and end in tail


@contextlib.contextmanager
def locked(folder: Path, timeout: float = 600.0,
           waiting: Callable[[str], None] = lambda holder: None) -> Iterator[None]:
    """Hold an exclusive lock on an output folder for one build.

    A second build into the same folder says at once who holds the lock and
    waits for it (at most `timeout` seconds), then finds its work done.  The
    holder's process id is written into the lock file for that message.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as error:
        raise OutputNotWritable(f"无法使用输出文件夹 {folder}：{error.strerror or error}") from error
    try:
        if not _try_lock(descriptor):
            holder = _holder(descriptor)
            waiting(holder)
            deadline = time.monotonic() + timeout
            while not _try_lock(descriptor):
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"等待 {timeout:g} 秒后，另一个 build（{holder}）仍在写入 {folder}，"
                                      f"本次放弃；可用 --lock-timeout 调整等待时间")
                time.sleep(_LOCK_POLL_SECONDS)
        with contextlib.suppress(OSError):
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(descriptor)


def _try_lock(descriptor: int) -> bool:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _holder(descriptor: int) -> str:
    try:
        text = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    return f"进程 {text}" if text.isdigit() else "进程号未知"
