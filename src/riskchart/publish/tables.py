"""The charts as tables: the risk register (风险点台账) and the statistics.

Pure functions over the model; the index page, the CSV, `export` and
`stats` all read these, so their counts cannot disagree.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, BinaryIO

from ..check.schema import CATEGORIES, LEVELS, UNGRADED
from ..model import Chart, sort_key

# How many charts' rows serve remembers between saves.  Bounded: each entry
# keeps its chart alive, and a build of thousands must not hold them all.
CHARTS_REMEMBERED = 1024

# A cell starting with one of these is a formula to Excel and LibreOffice
# (=1+1, +SUM(…), -2+3, @SUM(…)), and tab or CR can hide such a start.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# The power-list columns come last, so the older columns keep their places.
REGISTER_COLUMNS = ("部门", "编号", "类别", "职权名称", "环节", "风险等级", "风险点", "防控措施", "责任人",
                    "职权编码", "法律依据", "法定时限", "承诺时限", "环节时限", "风险类型")


@dataclass(frozen=True)
class RegisterRow:
    部门: str  # the chart's department (its own `department`, or its folder's _defaults.yaml)
    编号: str
    类别: str
    职权名称: str
    环节: str
    风险等级: str
    风险点: str
    防控措施: str
    责任人: str
    职权编码: str
    法律依据: str
    法定时限: str
    承诺时限: str
    环节时限: str
    风险类型: str  # the step's risk_type, or the chart's

    def cells(self) -> tuple[str, ...]:
        """The row's texts in REGISTER_COLUMNS order (dataclasses.astuple deep-copies: ten times slower)."""
        return tuple(getattr(self, name) for name in REGISTER_COLUMNS)


def register(charts: list[Chart]) -> list[RegisterRow]:
    """One row per risk point, department by department, numbered
    图号-环节序号-风险序号 (图号 counts within a department); the step's
    measures go into one cell, one numbered measure per line.  Every
    register format (CSV, JSON, …) is written from these rows."""
    return [row for chart in sorted(charts, key=sort_key) for row in chart_rows(chart)]


@lru_cache(maxsize=CHARTS_REMEMBERED)
def chart_rows(chart: Chart) -> tuple[RegisterRow, ...]:
    """One chart's rows, which depend on that chart alone: a long-running
    `serve` makes them again only for the chart that changed (charts are
    frozen values, equal when their contents are)."""
    rows = []
    basis = _numbered(chart.basis)
    for step_number, step in enumerate(chart.steps, start=1):
        measures = _numbered(step.measures)
        for risk_number, risk in enumerate(step.risks, start=1):
            rows.append(RegisterRow(
                部门=chart.department,
                编号=f"{chart.id}-{step_number}-{risk_number}",
                类别=chart.category,
                职权名称=chart.title,
                环节=step.name,
                风险等级=step.level or "",
                风险点=risk,
                防控措施=measures,
                责任人=chart.owner_of(step) or "",
                职权编码=chart.code or "",
                法律依据=basis,
                法定时限=chart.time_limit.statutory,
                承诺时限=chart.time_limit.promised,
                环节时限=step.time_limit or "",
                风险类型=chart.risk_type_of(step) or "",
            ))
    return tuple(rows)


def _numbered(items: tuple[str, ...]) -> str:
    """Items in one cell, one numbered item per line."""
    return "\n".join(f"{n}. {item}" for n, item in enumerate(items, start=1))


def spreadsheet_cell(text: str) -> str:
    """Text as a spreadsheet shows it, never run as a formula: a cell that
    would start a formula gets a leading ' (OWASP's advice against CSV
    injection).  Only for spreadsheet exports; the charts, the index page
    and JSON keep the text verbatim."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def register_csv(charts: list[Chart]) -> bytes:
    """UTF-8 with a BOM, so Excel on a Chinese Windows machine reads it right."""
    buffer = io.BytesIO()
    write_register_csv(charts, buffer)
    return buffer.getvalue()


def write_register_csv(charts: list[Chart], stream: BinaryIO) -> None:
    """register_csv's bytes, written chart by chart into `stream` (tens of
    megabytes for thousands of charts, never held as one string)."""
    stream.write(CSV_HEAD)
    stream.writelines(csv_bytes(_chart_csv(chart)) for chart in sorted(charts, key=sort_key))


@lru_cache(maxsize=CHARTS_REMEMBERED)
def _chart_csv(chart: Chart) -> str:
    """One chart's CSV lines (made again only when the chart changed, as its rows)."""
    return csv_lines([[spreadsheet_cell(cell) for cell in row.cells()] for row in chart_rows(chart)])


def csv_lines(rows: Iterable[Iterable[str]]) -> str:
    """Rows as the register's CSV lines (CRLF, quoted where needed)."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


CSV_HEAD = ("\ufeff" + csv_lines([REGISTER_COLUMNS])).encode("utf-8")  # a BOM and the header


def csv_bytes(lines: str) -> bytes:
    """CSV lines in UTF-8; a lone surrogate (which UTF-8 cannot hold) becomes "?"."""
    return lines.encode("utf-8", "replace")


def register_json(charts: list[Chart]) -> bytes:
    rows = [dict(zip(REGISTER_COLUMNS, row.cells(), strict=True)) for row in register(charts)]
    return (json.dumps(rows, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


@dataclass
class Counts:
    charts: int = 0
    drafts: int = 0
    steps: int = 0
    coded: int = 0  # charts with a code (职权编码)
    exits: int = 0  # branch exits of their steps
    risks: dict[str, int] = field(default_factory=lambda: {level: 0 for level in LEVELS})

    @property
    def risk_total(self) -> int:
        return sum(self.risks.values())

    def of(self, level: str) -> int:
        """The risks of one level (0 for a level none of these charts uses)."""
        return self.risks.get(level, 0)

    def add(self, chart: Chart) -> None:
        self.count(tally(chart))

    def count(self, part: Tally) -> None:
        """Add one chart's tally."""
        self.charts += 1
        self.drafts += part.draft
        self.steps += part.steps
        self.coded += part.coded
        self.exits += part.exits
        risks = self.risks
        for level, number in part.risks:  # a project's own scale counts its own levels; ungraded risks count too
            risks[level] = risks.get(level, 0) + number


@dataclass(frozen=True)
class Tally:
    """One chart's part of the counts: what Counts adds up, worked out once
    (the index page adds it three times: total, category, department) and
    kept with its card (cardcache.py)."""
    draft: bool
    steps: int
    coded: bool
    exits: int
    risks: tuple[tuple[str, int], ...]  # by level (未评定 for none), in the order of the chart's steps


def tally(chart: Chart) -> Tally:
    risks: dict[str, int] = {}
    exits = 0
    for step in chart.steps:
        exits += len(step.exits)
        if step.risks:
            level = step.level or UNGRADED
            risks[level] = risks.get(level, 0) + len(step.risks)
    return Tally(chart.draft, len(chart.steps), bool(chart.code), exits, tuple(risks.items()))


@dataclass(frozen=True)
class Statistics:
    total: Counts
    by_category: dict[str, Counts]
    # the level columns: the project's scale, highest first, and 未评定 when a risk has no level
    levels: tuple[str, ...] = LEVELS

    def as_json(self) -> dict[str, Any]:
        def one(counts: Counts) -> dict[str, Any]:
            return {"charts": counts.charts, "drafts": counts.drafts, "steps": counts.steps,
                    "risks": dict(counts.risks), "risk_total": counts.risk_total,
                    "coded": counts.coded, "exits": counts.exits}
        return {"total": one(self.total),
                "by_category": {name: one(c) for name, c in self.by_category.items()}}


def statistics(charts: list[Chart], categories: tuple[str, ...] = CATEGORIES,
               levels: tuple[str, ...] = LEVELS) -> Statistics:
    """Counts in total and per category, categories in the project's order,
    risks by the project's level scale (`levels`, highest first)."""
    return tallied_statistics([(chart.category, tally(chart)) for chart in charts], categories, levels)


def tallied_statistics(tallies: Iterable[tuple[str, Tally]], categories: tuple[str, ...] = CATEGORIES,
                       levels: tuple[str, ...] = LEVELS) -> Statistics:
    """`statistics` of the charts of these categories and tallies."""
    def counts() -> Counts:
        return Counts(risks=dict.fromkeys(levels, 0))

    total = counts()
    by_category = {name: counts() for name in categories}
    for category, part in tallies:
        total.count(part)
        (by_category.get(category) or by_category.setdefault(category, counts())).count(part)
    shown = levels + ((UNGRADED,) if total.of(UNGRADED) else ())
    return Statistics(total, {name: c for name, c in by_category.items() if c.charts}, shown)


def statistics_text(stats: Statistics) -> str:
    """A terminal table, aligned by display width."""
    from ..check.report import terminal_width

    header = ("类别", "图", "环节", "风险点", *stats.levels, "有编码", "分支")
    rows: list[tuple[str, ...]] = [header]
    for name, counts in [*stats.by_category.items(), ("合计", stats.total)]:
        rows.append((name, str(counts.charts), str(counts.steps), str(counts.risk_total),
                     *(str(counts.of(level)) for level in stats.levels), str(counts.coded), str(counts.exits)))
    widths = [max(terminal_width(row[i]) for row in rows) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        cells = [row[0] + " " * (widths[0] - terminal_width(row[0]))]
        cells += [" " * (widths[i] - terminal_width(row[i])) + row[i] for i in range(1, len(row))]
        return "  ".join(cells)

    rule = "  ".join("-" * w for w in widths)
    body = [line(r) for r in rows]
    return "\n".join([body[0], rule, *body[1:-1], rule, body[-1]]) + "\n"
