"""What the set's per-chart caches share (rowcache.py: the register's rows;
cardcache.py: the index page's cards): the key of a chart's entry, and the
file in the output folder's cache folder that holds a cache's entries.

A chart's key is found without reading the chart again: the fingerprint
the build already has of its file (build/freshness.py: the file's bytes,
its _defaults.yaml files', the settings, the drawing code), its path, its
folder and department (what its place in the tree makes of it), and what
the cache's entries depend on besides the chart (`context`: riskchart's
own code, the level scale, the formats …).  A chart the caller has no
fingerprint for is keyed by its whole model instead (its repr: a quarter
of a second for thousands of charts).

The file is a log: a build that changed one chart appends that chart's
entry instead of writing tens of megabytes again, and the file is written
anew only when most of it is entries no longer used.  It is trusted for
nothing, as the lint cache (check/cache.py): each batch of entries (what
one save wrote) carries an HMAC under the user's own key over the file's
kind and the batch, its index is JSON read with the standard parser, and
each entry's fields are checked again by its cache when used (a bad one is
made again, never believed).  Reading stops at the first batch that is
not whole or not ours; an entry can only ever be one that riskchart made
for its key.  Nothing in the file is ever run: it holds texts, numbers and
bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import stat
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .. import files
from ..check.cache import signing_key
from ..model import Chart

_MAC_LENGTH = 64  # HMAC-SHA256 in hex
_LENGTH_DIGITS = 12
_HEAD = _MAC_LENGTH + 2 * (1 + _LENGTH_DIGITS) + 1  # "<mac> <length of the index> <length of the bytes>\n"

# An entry as its file holds it: its fields (JSON: numbers, texts, lists)
# and its byte strings.
Entry = tuple[Any, Sequence[bytes | memoryview]]
_T = TypeVar("_T")


def chart_key(context: str, chart: Chart, fingerprint: str | None) -> str:
    """The key of a chart's entry: its file's fingerprint and place, or its model."""
    digest = hashlib.sha256(context.encode("utf-8", "surrogateescape"))
    if fingerprint is None:
        digest.update(b"|model|" + repr(chart).encode("utf-8", "surrogateescape"))
    else:  # a repr of texts: no two places give the same text
        unit = chart.unit
        place = (str(chart.path), chart.folder, unit.folder, unit.name, unit.phones.service, unit.phones.supervision)
        digest.update(f"|file|{place!r}|{fingerprint}".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


class EntryFile:
    """A cache's entries on disk, in `path`; `magic` names the kind of file
    (and its format's version).  The file is `magic`, then batches: the
    entries one save wrote, each sealed on its own (an HMAC over `magic`
    and the batch) with a JSON index of its entries' fields and lengths."""

    def __init__(self, path: Path, magic: bytes) -> None:
        self.path = path
        self.magic = magic
        self._size = -1      # the file's length when read (-1: not read, or not to be appended to)
        self._bytes: dict[str, int] = {}  # the bytes of each key's latest entry
        self._stale = 0      # bytes of entries a later batch replaced

    def read(self) -> dict[str, Entry]:
        """The latest entry of each key in the file, up to its first bad batch."""
        self._size, self._bytes, self._stale = -1, {}, 0
        secret = signing_key()
        if secret is None:
            return {}
        try:
            data = files.read_untrusted(self.path)
        except OSError:
            return {}
        if not data.startswith(self.magic):
            return {}
        view = memoryview(data)
        seal = hmac.new(secret, self.magic, hashlib.sha256)
        entries: dict[str, Entry] = {}
        at = len(self.magic)
        while at < len(data):
            batch = _batch(view, at, seal)
            if batch is None:
                return entries  # not whole, or not ours: appended to, it would stay so
            index, blob, at = batch
            for key, entry, size in _entries(index, blob):
                self._stale += self._bytes.get(key, 0)
                self._bytes[key] = size
                entries[key] = entry
        self._size = len(data)
        return entries

    def save(self, used: Mapping[str, Entry], new: Collection[str]) -> None:
        """Keep the `used` entries: append those that are `new` (not in the
        file) when the file is as read and mostly used, else write it anew.
        Best effort: failing costs the next build time only."""
        secret = signing_key()
        if secret is None:
            return
        stale = self._stale + sum(n for key, n in self._bytes.items() if key not in used or key in new)
        with contextlib.suppress(OSError):
            # nothing new and not mostly stale (a chart deleted): leave the file, no empty batch appended
            if not (self._size > 0 and stale <= self._size // 2
                    and (not new or _append(self.path, self._size,
                                            _sealed(secret, self.magic, {key: used[key] for key in new})))):
                batch = _sealed(secret, self.magic, used)
                files.write_atomic(self.path, lambda stream: stream.writelines([self.magic, *batch]))
        self._size = -1  # read again before appending again


class KeptEntries:
    """A cache's entries by key, over its EntryFile (None: in memory only):
    the file is read at the first lookup; the entries looked up and found
    good, and those put, are the ones `save` keeps."""

    def __init__(self, file: EntryFile | None) -> None:
        self.file = file
        self._disk: dict[str, Entry] | None = None
        self._disk_keys: frozenset[str] | None = None  # the file's keys, once its other entries are let go
        self._used: dict[str, Entry] = {}
        self._new: set[str] = set()  # keys put since the last save
        self.made = 0  # entries made by this object, not found

    def _found(self, key: str, decoded: Callable[[Entry], _T]) -> _T | None:
        """The entry of `key`, `decoded` (which checks every field: ValueError
        or TypeError for an entry that is not one), or None."""
        if self._disk is None:
            self._disk = self.file.read() if self.file is not None else {}
        entry = self._used.get(key) or self._disk.get(key)
        if entry is None:
            return None
        try:
            found = decoded(entry)
        except (ValueError, TypeError):
            return None
        self._used[key] = entry
        return found

    def _put(self, key: str, entry: Entry) -> None:
        self._used[key] = entry
        self._new.add(key)
        self.made += 1

    def forget_unasked(self) -> None:
        """Let go of the file's entries nothing has looked up, before the
        missing ones are made: after a code change that is every entry, and
        the file's bytes (tens of megabytes at 4,000 charts) need not be held
        beside the new entries."""
        if self._disk is not None:
            self._disk_keys = frozenset(self._disk)
            self._disk = {key: entry for key, entry in self._disk.items() if key in self._used}

    def save(self) -> None:
        """Keep the entries used, when they are not what the file already
        holds.  Best effort: failing costs time only."""
        on_disk = self._disk_keys if self._disk_keys is not None else (self._disk or {}).keys()
        if self.file is not None and (self._new or self._used.keys() != on_disk):
            self.file.save(self._used, self._new)
        self._disk, self._disk_keys, self._used, self._new = None, None, {}, set()


def _sealed(secret: bytes, magic: bytes, entries: Mapping[str, Entry]) -> list[bytes | memoryview]:
    """One batch of entries, as the pieces to write one after the other (a
    batch of thousands of charts is tens of megabytes: never copied whole)."""
    index: dict[str, Any] = {}
    blob: list[bytes | memoryview] = []
    for key, (fields, pieces) in entries.items():
        index[key] = [fields, [len(piece) for piece in pieces]]
        blob += pieces
    head = json.dumps(index, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    lengths = b" %0*d %0*d\n" % (_LENGTH_DIGITS, len(head), _LENGTH_DIGITS, sum(map(len, blob)))
    mac = hmac.new(secret, magic + lengths + head, hashlib.sha256)
    for piece in blob:
        mac.update(piece)
    return [mac.hexdigest().encode("ascii") + lengths, head, *blob]


def _batch(view: memoryview, at: int, seal: Any) -> tuple[bytes, memoryview, int] | None:
    """The batch at `at`: its index's text, its bytes and where it ends; None when it is not whole or not ours."""
    head = bytes(view[at:at + _HEAD])
    if len(head) != _HEAD or not re.fullmatch(rb"[0-9a-f]{%d} [0-9]{%d} [0-9]{%d}\n" % (
            _MAC_LENGTH, _LENGTH_DIGITS, _LENGTH_DIGITS), head):
        return None
    index_length = int(head[_MAC_LENGTH + 1:_MAC_LENGTH + 1 + _LENGTH_DIGITS])
    blob_length = int(head[-1 - _LENGTH_DIGITS:-1])
    end = at + _HEAD + index_length + blob_length
    if end > len(view):
        return None
    mac = seal.copy()
    mac.update(view[at + _MAC_LENGTH:end])
    if not hmac.compare_digest(mac.hexdigest().encode("ascii"), head[:_MAC_LENGTH]):
        return None
    return bytes(view[at + _HEAD:at + _HEAD + index_length]), view[at + _HEAD + index_length:end], end


def _entries(index_text: bytes, blob: memoryview) -> list[tuple[str, Entry, int]]:
    """A batch's entries (key, entry, its bytes); none when its index is not
    what _sealed writes (the HMAC says riskchart wrote it, not which version)."""
    try:
        index = json.loads(index_text.decode("ascii"))
        found: list[tuple[str, Entry, int]] = []
        offset = 0
        for key, (fields, lengths) in index.items():
            pieces, start = [], offset
            for n in lengths:
                if type(n) is not int or n < 0:
                    return []
                pieces.append(blob[offset:offset + n])
                offset += n
            found.append((key, (fields, pieces), offset - start))
    except (ValueError, TypeError, AttributeError, RecursionError):  # UnicodeDecodeError too
        return []
    return found if offset == len(blob) else []


def _append(path: Path, size: int, batch: list[bytes | memoryview]) -> bool:
    """Append to the file read, if it still is that file: a regular file of
    `size` bytes, not a link (out/ may hold anything).  False: not done."""
    try:
        # without waiting: opening a FIFO to write would wait for a reader for ever
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    with os.fdopen(descriptor, "ab") as stream:
        found = os.fstat(stream.fileno())
        if not stat.S_ISREG(found.st_mode) or found.st_nlink != 1 or found.st_size != size:
            return False
        stream.write(b"".join(batch))  # one write: a batch cut short by a crash is one bad batch at the end
    return True
