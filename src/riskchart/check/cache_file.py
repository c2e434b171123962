"""The lint result cache on disk: a whole file and a journal of changes.

`lint-results.bin` holds every entry, sealed as one batch (entrybatch.py,
the layout of the set caches too): a small JSON index of each file's name,
keys (of its bytes, and the stamp key it was last found under) and its
texts' byte lengths, then the texts' UTF-8 bytes one after the
other.  Reading it checks the HMAC, parses the index and slices the bytes:
the entries' JSON texts are not unescaped as strings of one JSON document
(4,000 charts' 20 MB of them were a tenth of a second to read that way).

A build that changed a few charts does not write its 20 MB again: it
appends one signed line with the changed entries to `lint-results.journal`,
and the whole file is written afresh (and the journal removed) only when
the journal has grown to a good part of it.

Each journal line is `<HMAC> <JSON>`; the JSON names the whole file it
adds to (by that file's HMAC), so a line left from before the file was
written again, or a line written by anything without the user's key, or
cut short by a crash, is not believed.  A believed entry can only ever be
stale, never wrong: it is used only when its key (the file's bytes,
defaults, settings, code) matches, or its stamp key (check/cache.py
FileStamps: recorded only for bytes read while the file kept the stamp
the key was made from), so an old line read over a newer entry costs a
check, nothing else.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .. import files
from ..entrybatch import MAC_LENGTH, batch_entries, opened_batch, sealed, sealed_batch, unsealed_at

FILE_NAME = "lint-results.bin"
JOURNAL_NAME = "lint-results.journal"
FORMAT = 3
_MAGIC = b"riskchart lint results %d\n" % FORMAT
FORMER_NAME = "lint-results.json"  # format 1's whole file: removed when a whole file is written, if it is one
_FORMER_HEAD, _FORMER_MIDDLE = b'{"mac":"', b'","body":'
COMPACT_SHARE = 4  # the whole file is written again once the journal is a quarter of its size
COMPACT_FLOOR = 1 << 20  # … or a mebibyte, for small projects


@dataclass(frozen=True)
class Stored:
    """One file's results as the cache keeps them: JSON texts in UTF-8,
    decoded only when used (the positions only when a diagnostic needs one)."""
    key: str
    results: bytes    # encode_results(): {"d": diagnostics, "x": ignore lines, "v": validated values or null}
    positions: bytes  # encode_positions(), or b"" when there is no chart
    stamped: str = ""  # ResultCache.stamp_key of the file as a build last found it unchanged; "": none


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
    """The entries on disk, or none when the file is missing, damaged, not
    ours or of another format (then the next save writes it afresh)."""
    if folder is None or secret is None:
        return OnDisk()
    try:
        data = files.read_untrusted(folder / FILE_NAME)
    except OSError:
        return OnDisk()
    if not data.startswith(_MAGIC):
        return OnDisk()
    batch = opened_batch(memoryview(data), len(_MAGIC), hmac.new(secret, _MAGIC, hashlib.sha256))
    if batch is None or batch[2] != len(data):
        return OnDisk()
    entries = {}
    for name, (keys, texts), _ in batch_entries(*batch[:2]):
        if isinstance(keys, list) and len(keys) == 2 and all(isinstance(k, str) for k in keys) and len(texts) == 2:
            entries[name] = Stored(keys[0], bytes(texts[0]), bytes(texts[1]), keys[1])
    on_disk = OnDisk(entries, data[len(_MAGIC):len(_MAGIC) + MAC_LENGTH].decode("ascii"), len(data))
    _read_journal(folder, secret, on_disk)
    return on_disk


def _read_journal(folder: Path, secret: bytes, on_disk: OnDisk) -> None:
    """The journal's believed lines over `on_disk.entries`, in the order written."""
    try:
        data = files.read_untrusted(folder / JOURNAL_NAME)
    except OSError:
        return
    on_disk.journal = len(data)
    for line in data.split(b"\n"):
        start = unsealed_at(b"", line, secret, b" ")
        if start is None:
            continue
        try:
            found = json.loads(line[start:].decode("utf-8"))
            if found.get("format") != FORMAT or found.get("whole") != on_disk.mac:
                continue
            on_disk.entries.update(_journal_entries(found["files"]))
        except (ValueError, TypeError, AttributeError, KeyError, RecursionError):
            continue


def write_whole(folder: Path, entries: dict[str, Stored], secret: bytes) -> OnDisk:
    """Every entry in a new whole file, written piece by piece (4,000 charts'
    entries are some 20 MB: never joined); the journal, now in it, removed,
    and a whole file of the former format too."""
    batch = sealed_batch(secret, _MAGIC, {name: ([stored.key, stored.stamped], (stored.results, stored.positions))
                                          for name, stored in entries.items()})
    files.write_atomic(folder / FILE_NAME, lambda stream: stream.writelines([_MAGIC, *batch]))
    with contextlib.suppress(OSError):  # a folder of that name stays: appending to it fails, costing time only
        os.unlink(folder / JOURNAL_NAME)  # a link there is removed, not followed
    if _is_former_whole(folder / FORMER_NAME, secret):
        with contextlib.suppress(OSError):
            os.unlink(folder / FORMER_NAME)
    return OnDisk(entries, bytes(batch[0][:MAC_LENGTH]).decode("ascii"), len(_MAGIC) + sum(map(len, batch)))


def _is_former_whole(path: Path, secret: bytes) -> bool:
    """Whether `path` is a whole file that format 1 wrote under this user's
    key: only such a file is removed (read once, after an upgrade)."""
    try:
        data = files.read_untrusted(path)
    except OSError:
        return False
    start = len(_FORMER_HEAD) + MAC_LENGTH + len(_FORMER_MIDDLE)
    if not data.startswith(_FORMER_HEAD) or data[start - len(_FORMER_MIDDLE):start] != _FORMER_MIDDLE:
        return False
    mac = hmac.new(secret, memoryview(data)[start:-1], hashlib.sha256).hexdigest().encode("ascii")
    return data.endswith(b"}") and hmac.compare_digest(mac, data[len(_FORMER_HEAD):len(_FORMER_HEAD) + MAC_LENGTH])


def journal_line(entries: dict[str, Stored], whole: str, secret: bytes) -> bytes:
    """One signed line adding `entries` to the whole file whose HMAC is
    `whole`; an entry that is not UTF-8 (a file name that is not) is left
    out.  No line break in it: JSON writes one inside a text as \\n."""
    texts = {}
    for name, stored in entries.items():
        try:
            name.encode("utf-8")
            texts[name] = [stored.key, stored.results.decode("utf-8"), stored.positions.decode("utf-8"), stored.stamped]
        except UnicodeError:
            continue
    body = json.dumps({"format": FORMAT, "whole": whole, "files": texts}, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")
    return sealed(b"", body, secret, b" ") + b"\n"


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


def _journal_entries(found: object) -> dict[str, Stored]:
    """A journal line's entries: {name: [key, results, positions, stamped]}, all four JSON strings."""
    if not isinstance(found, dict):
        raise TypeError("not a table of entries")
    return {name: Stored(key, results.encode("utf-8"), positions.encode("utf-8"), stamped)
            for name, (key, results, positions, stamped) in found.items()
            if isinstance(key, str) and isinstance(results, str) and isinstance(positions, str)
            and isinstance(stamped, str)}
