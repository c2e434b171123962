"""Revision marks on a chart's drawing (a redline): what changed since an
older version, and what was removed, as the template draws them.

`Marks` says it in the model's terms: the paths of changed values in the
chart drawn (("steps", 2, "risks", 0), ("title",) …) and the removed texts
with the path of the place they are shown at.  `Redline` is the template's
view of it for one chart: which box, row or item to mark and the removed
texts wrapped for their box.  Without marks every answer is "no", and the
template writes exactly the DOT of an ordinary chart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import style
from ..model import Chart, ValuePath
from .wrap import wrap

# The parts of the header a change marks, by the first key of its path.
HEADER_ROWS = {"title": "title", "code": "code", "time_limit": "time_limit", "basis": "basis", "scope": "scope",
               "owner": "owner", "department": "department", "category": "heading", "id": "heading", "status": "heading"}
BOXES = ("risks", "measures")


@dataclass(frozen=True)
class Removed:
    """A removed text shown struck through at `place`: ("steps", i, "risks") or
    ("steps", i, "measures") for an item of step i's box; ("steps", i, "level"),
    ("steps", i, "owner") or ("steps", i, "name") for the old value of that
    field; ("header",) under the header; ("steps",) for a whole step (listed
    in the legend, since it has no place in the flow any more)."""

    place: ValuePath
    text: str


@dataclass(frozen=True)
class Marks:
    changed: frozenset[ValuePath] = frozenset()
    removed: tuple[Removed, ...] = ()
    note: str = ""  # a remark for the legend, e.g. that the whole chart is new


@dataclass(frozen=True)
class Redline:
    """The template's questions about one chart's marks."""

    marks: Marks = field(default_factory=Marks)
    chart: Chart | None = None
    font: str = style.DEFAULT_FONT
    side_columns: float = 40
    step_columns: float = 12
    header_columns: float = 80

    @property
    def active(self) -> bool:
        return bool(self.marks.changed or self.marks.removed or self.marks.note)

    def _touched(self, *prefix: str | int) -> bool:
        return any(path[:len(prefix)] == prefix for path in self.marks.changed)

    def _removed(self, *place: str | int) -> list[str]:
        return [r.text for r in self.marks.removed if r.place == place]

    def step(self, index: int) -> bool:
        """The step box itself: added, renamed, moved, or its time limit, note or exits changed."""
        return any(path[:2] == ("steps", index) and (len(path) == 2 or path[2] not in (*BOXES, "level", "owner",
                                                                                          "risk_type"))
                   for path in self.marks.changed)

    def item(self, index: int, box: str, number: int) -> bool:
        """Item `number` (from 1, as drawn) of a step's risks or measures."""
        return self._touched("steps", index, box, number - 1)

    def box(self, index: int, box: str) -> bool:
        """Anything in the risk box (its items, level, type) or the measure box (its items, owner)."""
        fields = (box, "level", "risk_type") if box == "risks" else (box, "owner")
        return any(self._touched("steps", index, f) for f in fields) or bool(self.removed(index, box))

    def owner(self, index: int) -> bool:
        return self._touched("steps", index, "owner") or bool(self._removed("steps", index, "owner"))

    def removed(self, index: int, box: str) -> tuple[tuple[str, ...], ...]:
        """The removed items of a step's box, each wrapped like the box's items."""
        return tuple(tuple(wrap(text.strip(), self.side_columns, self.font))
                     for text in self._removed("steps", index, box))

    def old(self, index: int, name: str) -> str:
        """The old value of a step's level, owner or name, shown struck through beside the new one."""
        return "、".join(self._removed("steps", index, name))

    def old_lines(self, index: int, name: str) -> tuple[str, ...]:
        """The old name of a step or its old owner, wrapped for its box."""
        old = self.old(index, name)
        columns = self.step_columns if name == "name" else self.side_columns
        return tuple(wrap(old, columns, self.font)) if old else ()

    def header(self, row: str, number: int = 0) -> bool:
        """A row of the header; `number` picks one 法律依据 (from 1, as drawn)."""
        return any(path[:1] and HEADER_ROWS.get(str(path[0])) == row
                   and (not number or len(path) == 1 or path[1] == number - 1) for path in self.marks.changed)

    @property
    def header_removed(self) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(wrap(text.strip(), self.header_columns, self.font)) for text in self._removed("header"))

    @property
    def phones(self) -> bool:
        return self._touched("phones")

    @property
    def removed_steps(self) -> tuple[str, ...]:
        return tuple(self._removed("steps"))


NO_MARKS = Redline()
