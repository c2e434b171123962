"""The charts' register rows (chartrows.ChartRows: the Excel sheet's and the
CSV's) kept between builds, so a build makes again only the rows of the
charts that changed.

A chart's entry is found by a key: the SHA-256 of the chart's whole model
(its repr: every text the register shows, and its path), the level scale
and riskchart's own code.  The entries live in one file in the output
folder's cache folder (`register-rows.bin`), which riskchart trusts for
nothing, as the lint cache (check/cache.py): an HMAC under the user's own
key (`~/.cache/riskchart/lint-cache.key`) covers the whole file, its index
is JSON read with the standard parser and checked field by field, and the
compressed XML is used only when the HMAC matches.  A damaged, foreign or
hand-edited file costs time, never a wrong row.  Only the entries of the
latest register are kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from array import array
from pathlib import Path
from typing import Any

from .. import files
from ..check.cache import installed_code, sealed, signing_key, unsealed_at
from ..model import Chart
from .chartrows import ChartRows
from .deflated import Deflated
from .tables import REGISTER_COLUMNS

FILE_NAME = "register-rows.bin"
_MAGIC = b"riskchart register rows 4\n"
_LENGTH_DIGITS = 12


class RowCache:
    """Chart rows by key, read from `folder` (None: kept in memory only)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._disk: dict[str, ChartRows] | None = None
        self._used: dict[str, ChartRows] = {}
        self.made = 0  # entries made by this register, not found

    @staticmethod
    def key(chart: Chart, levels: tuple[str, ...]) -> str:
        digest = hashlib.sha256(f"{installed_code()}|{levels!r}|".encode("utf-8", "surrogateescape"))
        digest.update(repr(chart).encode("utf-8", "surrogateescape"))
        return digest.hexdigest()

    def get(self, key: str) -> ChartRows | None:
        if self._disk is None:
            self._disk = _read(self.folder)
        found = self._used.get(key) or self._disk.get(key)
        if found is not None:
            self._used[key] = found
        return found

    def put(self, key: str, rows: ChartRows) -> None:
        self._used[key] = rows
        self.made += 1

    def save(self) -> None:
        """Keep the entries this register used, when they are not what the
        file already holds.  Best effort: failing costs time only."""
        if self.folder is None or (self._used.keys() == (self._disk or {}).keys() and not self.made):
            self._used = {}
            return
        self._disk, self._used = self._used, {}
        secret = signing_key()
        if secret is None:
            return
        index, blob, offset = {}, [], 0
        for key, rows in self._disk.items():
            numbers = b"".join([array("I", rows.naturals).tobytes(), array("d", rows.widths).tobytes(),
                                array("I", rows.merge_rows).tobytes()])
            index[key] = [offset, len(rows.xml.data), len(numbers), len(rows.csv), rows.xml.crc, rows.xml.size,
                          rows.rows, rows.merges]
            blob += [rows.xml.data, numbers, rows.csv]
            offset += len(rows.xml.data) + len(numbers) + len(rows.csv)
        head = json.dumps(index, separators=(",", ":")).encode("ascii")
        body = b"%0*d\n" % (_LENGTH_DIGITS, len(head)) + head + b"".join(blob)
        with contextlib.suppress(OSError):
            files.write_atomic(self.folder / FILE_NAME, sealed(_MAGIC, body, secret, b"\n"))


def _read(folder: Path | None) -> dict[str, ChartRows]:
    """The entries on disk, or none when the file is missing, damaged or not ours."""
    secret = signing_key()
    if folder is None or secret is None:
        return {}
    try:
        data = (folder / FILE_NAME).read_bytes()
    except OSError:
        return {}
    start = unsealed_at(_MAGIC, data, secret, b"\n")
    if start is None:
        return {}
    body = memoryview(data)[start:]
    try:
        length = int(bytes(body[:_LENGTH_DIGITS]))
        blob = body[_LENGTH_DIGITS + 1 + length:]
        index = json.loads(bytes(body[_LENGTH_DIGITS + 1:_LENGTH_DIGITS + 1 + length]).decode("ascii"))
        return {key: _entry(fields, blob) for key, fields in index.items()}
    except (ValueError, TypeError, AttributeError, KeyError, RecursionError):  # UnicodeDecodeError too
        return {}


def _entry(fields: Any, blob: memoryview) -> ChartRows:
    """One entry, every field checked (raises ValueError or TypeError): the
    HMAC says riskchart wrote it, not which version.  Its numbers are binary
    arrays after its XML (as JSON, reading them took a quarter of a second
    for thousands of charts)."""
    offset, length, count, csv, crc, size, rows, merges = fields
    if not all(type(n) is int and n >= 0 for n in (offset, length, count, csv, crc, size, rows)) \
            or offset + length + count + csv > len(blob) or type(merges) is not str:
        raise ValueError("not an entry of this cache")
    numbers = blob[offset + length:offset + length + count]
    columns = len(REGISTER_COLUMNS)
    naturals, widths, merge_rows = array("I"), array("d"), array("I")
    naturals.frombytes(numbers[:columns * naturals.itemsize])
    widths.frombytes(numbers[columns * naturals.itemsize:columns * (naturals.itemsize + widths.itemsize)])
    merge_rows.frombytes(numbers[columns * (naturals.itemsize + widths.itemsize):])
    csv_start = offset + length + count
    if len(naturals) != columns or len(widths) != columns or merges.count("%d") != len(merge_rows) \
            or "%" in merges.replace("%d", "") or (merge_rows and max(merge_rows) >= rows):
        raise ValueError("not an entry of this cache")
    return ChartRows(rows, tuple(naturals), tuple(widths), merges, tuple(merge_rows),
                     Deflated(bytes(blob[offset:offset + length]), crc, size), bytes(blob[csv_start:csv_start + csv]))
