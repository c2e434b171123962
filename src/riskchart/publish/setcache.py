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
one save wrote: entrybatch.py) carries an HMAC under the user's own key
over the file's kind and the batch, its index is JSON read with the
standard parser, and each entry's fields are checked again by its cache
when used (a bad one is made again, never believed).  Reading stops at
the first batch that is not whole or not ours; an entry can only ever be
one that riskchart made for its key.  Nothing in the file is ever run: it
holds texts, numbers and bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import stat
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, TypeVar

from .. import files
from ..check.cache import signing_key
from ..entrybatch import Entry, batch_entries, opened_batch, opened_sealed, sealed_batch
from ..model import Chart

__all__ = ["Entry", "EntryFile", "KeptEntries", "chart_key", "read_headed", "read_sealed"]  # Entry: the type of the caches' entries

_T = TypeVar("_T")


def read_sealed(cache: Path, name: str, head: bytes, most: int) -> tuple[bytes, int] | None:
    """The file `name` of the output folder's cache folder (`cache`), sealed
    with the user's key (entrybatch.sealed): its bytes and where its body
    starts; None when it is missing, not a plain file, over `most` bytes,
    or not sealed with this user's key."""
    folder = files.output_cache(cache)
    return None if folder is None else opened_sealed(folder / name, head, signing_key(), most)


def read_headed(cache: Path, name: str, head: bytes, most: int) -> tuple[Any, memoryview] | None:
    """A sealed file (read_sealed) whose body is a line of JSON and then
    bytes: the JSON's value and the bytes; None when it is not such a file."""
    found = read_sealed(cache, name, head, most)
    if found is None:
        return None
    data, start = found
    try:
        end = data.index(b"\n", start)
        return json.loads(data[start:end].decode("ascii")), memoryview(data)[end + 1:]
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError too
        return None


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
            batch = opened_batch(view, at, seal)
            if batch is None:
                return entries  # not whole, or not ours: appended to, it would stay so
            index, blob, at = batch
            for key, entry, size in batch_entries(index, blob):
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
                                            sealed_batch(secret, self.magic, {key: used[key] for key in new})))):
                batch = sealed_batch(secret, self.magic, used)
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
