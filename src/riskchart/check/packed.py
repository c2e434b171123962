"""What lint's results carry lazily: a chart's positions packed for the trip
back from a worker process, and the source texts, read again only when a
report needs one."""

from __future__ import annotations

import marshal
from collections.abc import Iterator, Mapping
from pathlib import Path

from ..model import Position, ValuePath
from .load import source_text


class LazyPositions(Mapping[ValuePath, Position]):
    """A chart's positions kept in a compact form and decoded the first time
    a diagnostic asks for one (most charts never need them).  Read-only."""

    __slots__ = ("_table",)
    _table: dict[ValuePath, Position] | None

    def _decoded(self) -> dict[ValuePath, Position]:
        raise NotImplementedError

    def _unpacked(self) -> dict[ValuePath, Position]:
        if self._table is None:
            self._table = self._decoded()
        return self._table

    def __getitem__(self, key: ValuePath) -> Position:
        return self._unpacked()[key]

    def __iter__(self) -> Iterator[ValuePath]:
        return iter(self._unpacked())

    def __len__(self) -> int:
        return len(self._unpacked())


class PackedPositions(LazyPositions):
    """A chart's positions as they travel back from a worker process: one
    bytes object to pickle instead of hundreds of small tuples per chart
    (that cost lint of 4,000 files half its time again), unpacked in the
    parent only when a diagnostic asks for a position."""

    __slots__ = ("_packed",)

    def __init__(self, positions: Mapping[ValuePath, Position]):
        # marshal: our own worker's plain tuples of str/int, never read from a file
        self._packed = marshal.dumps(list(positions.items()))
        self._table = None

    def _decoded(self) -> dict[ValuePath, Position]:
        return dict(marshal.loads(self._packed))

    def __getstate__(self) -> bytes:
        return self._packed

    def __setstate__(self, packed: bytes) -> None:
        self._packed, self._table = packed, None


class SourceTexts(Mapping[str, str]):
    """The text of each file as checked; texts a worker did not send back
    are read again when a report needs them."""

    def __init__(self, known: dict[str, str], paths: list[str]):
        self._texts: dict[str, str | None] = dict(known)
        self._paths = list(dict.fromkeys(paths))

    def __getitem__(self, key: str) -> str:
        if key not in self._texts and key in self._paths:
            self._texts[key] = source_text(Path(key))
        text = self._texts.get(key)
        if text is None:
            raise KeyError(key)
        return text

    def __iter__(self) -> Iterator[str]:
        return (path for path in self._paths if path in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        """Whether any file was checked: without reading every text again
        (a Mapping's truth is its length, which reads each one to count it)."""
        return bool(self._paths)
