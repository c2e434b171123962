"""The charts' register rows (chartrows.ChartRows: the Excel sheet's and the
CSV's) kept between builds, so a build makes again only the rows of the
charts that changed.

A chart's entry is found by its key (setcache.chart_key: its file's
fingerprint when the build gives it, else its whole model), the level
scale and riskchart's own code.  The entries live in one file in the
output folder's cache folder (`register-rows.bin`), kept and checked as
setcache.py says: a damaged, foreign or hand-edited entry costs time, never
a wrong row.  A build appends the entries it made; the entries no register
uses any more are dropped when the file is written anew.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..check.cache import installed_code
from ..model import Chart
from .chartrows import ChartRows
from .deflated import Deflated
from .setcache import Entry, EntryFile, KeptEntries, chart_key
from .tables import REGISTER_COLUMNS

FILE_NAME = "register-rows.bin"
_MAGIC = b"riskchart register rows 6\n"


class RowCache(KeptEntries):
    """Chart rows by key, read from `folder` (None: kept in memory only).
    `fingerprints`: the chart files' fingerprints (build/freshness.py), by path."""

    def __init__(self, folder: Path | None, fingerprints: Mapping[Path, str] | None = None) -> None:
        super().__init__(EntryFile(folder / FILE_NAME, _MAGIC) if folder is not None else None)
        self.fingerprints = fingerprints or {}

    def key(self, chart: Chart, levels: tuple[str, ...]) -> str:
        return chart_key(f"{installed_code()}|{levels!r}", chart, self.fingerprints.get(chart.path))

    def get(self, key: str) -> ChartRows | None:
        return self._found(key, _rows)

    def put(self, key: str, rows: ChartRows) -> None:
        numbers = b"".join([array("I", rows.naturals).tobytes(), array("d", rows.widths).tobytes(),
                            array("I", rows.merge_rows).tobytes()])
        xml = rows.xml
        self._put(key, ([xml.crc, xml.size, xml.shift, rows.rows],
                        [xml.data, numbers, rows.merges.encode("utf-8"), rows.csv]))


def _rows(entry: Entry) -> ChartRows:
    """One entry, every field checked (raises ValueError or TypeError): the
    HMAC says riskchart wrote it, not which version.  Its numbers are binary
    arrays (as JSON, reading them took a quarter of a second for thousands
    of charts)."""
    fields: Any
    fields, pieces = entry
    crc, size, shift, rows = fields
    xml, numbers, merges_bytes, csv = pieces
    if not (type(crc) is type(size) is type(shift) is type(rows) is int) or min(crc, size, shift, rows) < 0 \
            or crc >> 32 or shift >> 32:
        raise ValueError("not an entry of this cache")
    columns = len(REGISTER_COLUMNS)
    naturals, widths, merge_rows = array("I"), array("d"), array("I")
    split = (columns * naturals.itemsize, columns * (naturals.itemsize + widths.itemsize))
    naturals.frombytes(numbers[:split[0]])
    widths.frombytes(numbers[split[0]:split[1]])
    merge_rows.frombytes(numbers[split[1]:])
    merges = str(merges_bytes, "utf-8")
    if len(naturals) != columns or len(widths) != columns or merges.count("%d") != len(merge_rows) \
            or "%" in merges.replace("%d", "") or (merge_rows and max(merge_rows) >= rows):
        raise ValueError("not an entry of this cache")
    return ChartRows(rows, tuple(naturals), tuple(widths), merges, tuple(merge_rows),
                     Deflated(bytes(xml), crc, size, shift), csv)
