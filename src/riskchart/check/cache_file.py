"""The lint result cache on disk: a whole file and a journal of changes.

`lint-results.json` holds every entry, signed as one (see cache.py).  A
build that changed a few charts does not write its 20 MB again: it appends
one signed line with the changed entries to `lint-results.journal`, and
the whole file is written afresh (and the journal removed) only when the
journal has grown to a good part of it.

Each journal line is `<HMAC> <JSON>`; the JSON names the whole file it
adds to (by that file's HMAC), so a line left from before the file was
written again, or a line written by anything without the user's key, or
cut short by a crash, is not believed.  A believed entry can only ever be
stale, never wrong: it is used only when its key (the file's bytes,
defaults, settings, code) matches, so an old line read over a newer entry
costs a check, nothing else.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from .. import files

FILE_NAME = "lint-results.json"
JOURNAL_NAME = "lint-results.journal"
FORMAT = 1
_HEAD = b'{"mac":"'
_MIDDLE = b'","body":'
MAC_LENGTH = 64
COMPACT_SHARE = 4  # the whole file is written again once the journal is a quarter of its size
COMPACT_FLOOR = 1 << 20  # … or a mebibyte, for small projects


@dataclass(frozen=True)
class Stored:
    """One file's results as the cache keeps them: JSON texts, decoded
    only when used (the positions only when a diagnostic needs one)."""
    key: str
    results: str    # {"d": diagnostics, "x": ignore lines, "v": validated values or null}
    positions: str  # encode_positions(), or "" when there is no chart


@dataclass
class OnDisk:
    """What was read: the entries (the whole file's, then the journal's
    over them), and what the next save needs to know to append."""
    entries: dict[str, Stored] = field(default_factory=dict)
    mac: str | None = None  # the whole file's HMAC; None: no whole file believed
    size: int = 0           # the whole file's bytes
    journal: int = 0        # the journal's bytes

    def compact_due(self, adding: int) -> bool:
        return self.mac is None or self.journal + adding > max(self.size // COMPACT_SHARE, COMPACT_FLOOR)


def read(folder: Path | None, secret: bytes | None) -> OnDisk:
    """The entries on disk, or none when the file is missing, damaged or not ours."""
    if folder is None or secret is None:
        return OnDisk()
    try:
        data = files.read_untrusted(folder / FILE_NAME)
    except OSError:
        return OnDisk()
    start = len(_HEAD) + MAC_LENGTH + len(_MIDDLE)
    if not data.startswith(_HEAD) or data[len(_HEAD) + MAC_LENGTH:start] != _MIDDLE or not data.endswith(b"}"):
        return OnDisk()
    body = data[start:-1]
    mac = hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac.encode("ascii"), data[len(_HEAD):len(_HEAD) + MAC_LENGTH]):
        return OnDisk()
    try:
        found = json.loads(body.decode("utf-8"))  # decoded first: json's own decoding of bytes is 3× slower
        if found.get("format") != FORMAT:
            return OnDisk()
        entries = _entries(found["files"])
    except (ValueError, TypeError, AttributeError, KeyError, RecursionError):  # UnicodeDecodeError too
        return OnDisk()
    on_disk = OnDisk(entries, mac, len(data))
    _read_journal(folder, secret, on_disk)
    return on_disk


def _entries(found: object) -> dict[str, Stored]:
    if not isinstance(found, dict):
        raise TypeError("not a table of entries")
    return {name: Stored(key, results, positions) for name, (key, results, positions) in found.items()
            if isinstance(key, str) and isinstance(results, str) and isinstance(positions, str)}


def _read_journal(folder: Path, secret: bytes, on_disk: OnDisk) -> None:
    """The journal's believed lines over `on_disk.entries`, in the order written."""
    try:
        data = files.read_untrusted(folder / JOURNAL_NAME)
    except OSError:
        return
    on_disk.journal = len(data)
    for line in data.split(b"\n"):
        mac, body = line[:MAC_LENGTH], line[MAC_LENGTH + 1:]
        expected = hmac.new(secret, body, hashlib.sha256).hexdigest().encode("ascii")
        if line[MAC_LENGTH:MAC_LENGTH + 1] != b" " or not hmac.compare_digest(mac, expected):
            continue
        try:
            found = json.loads(body.decode("utf-8"))
            if found.get("format") != FORMAT or found.get("whole") != on_disk.mac:
                continue
            on_disk.entries.update(_entries(found["files"]))
        except (ValueError, TypeError, AttributeError, KeyError, RecursionError):
            continue


def write_whole(folder: Path, entries: dict[str, Stored], secret: bytes) -> OnDisk:
    """Every entry in a new whole file; the journal, now in it, removed."""
    written: list[str] = []
    files.write_atomic(folder / FILE_NAME, lambda stream: written.append(_write(stream, entries, secret)))
    with contextlib.suppress(FileNotFoundError):
        os.unlink(folder / JOURNAL_NAME)  # a link there is removed, not followed
    return OnDisk(entries, written[0], (folder / FILE_NAME).stat().st_size)


def journal_line(entries: dict[str, Stored], whole: str, secret: bytes) -> bytes:
    """One signed line adding `entries` to the whole file whose HMAC is `whole`."""
    body = b"".join(_body_pieces(entries, {"format": FORMAT, "whole": whole}))
    return hmac.new(secret, body, hashlib.sha256).hexdigest().encode("ascii") + b" " + body + b"\n"


def append(folder: Path, line: bytes) -> None:
    """`line` at the end of the journal, in one write; never through a link
    or into anything but a plain file (the folder is the user's to mess with)."""
    # without waiting: opening a FIFO to write would wait for a reader for ever
    descriptor = os.open(folder / JOURNAL_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    try:
        found = os.fstat(descriptor)
        # a hard link would carry the line into another file, perhaps outside out/
        if not stat.S_ISREG(found.st_mode) or found.st_nlink != 1:
            raise OSError(f"{folder / JOURNAL_NAME} is not a plain file of its own")
        os.write(descriptor, line)
    finally:
        os.close(descriptor)


def _write(stream: BinaryIO, entries: dict[str, Stored], secret: bytes) -> str:
    """The file, entry by entry (4,000 charts' entries are some 20 MB: made
    whole, as text and then as bytes, they were the largest allocation of a
    build), with the HMAC of the body written into its place at the end."""
    stream.write(_HEAD + b"0" * MAC_LENGTH + _MIDDLE)
    mac = hmac.new(secret, digestmod=hashlib.sha256)
    for piece in _body_pieces(entries, {"format": FORMAT}):
        mac.update(piece)
        stream.write(piece)
    stream.write(b"}")
    stream.seek(len(_HEAD))
    stream.write(mac.hexdigest().encode("ascii"))
    return mac.hexdigest()


def _body_pieces(entries: dict[str, Stored], head: dict[str, object]) -> Iterator[bytes]:
    """A body's JSON, {…head, "files": {name: [key, results, positions]}},
    in pieces; an entry that is not UTF-8 (a file name that is not) is left
    out.  No piece holds a line break: JSON writes one inside a text as \\n."""
    yield json.dumps({**head, "files": {}}, separators=(",", ":"))[:-2].encode("utf-8")  # up to "{"
    separator = ""
    for name, stored in entries.items():
        try:
            yield (separator + json.dumps(name, ensure_ascii=False) + ":"
                   + json.dumps([stored.key, stored.results, stored.positions], ensure_ascii=False,
                                separators=(",", ":"))).encode("utf-8")
        except UnicodeEncodeError:
            continue
        separator = ","
    yield b"}}"
