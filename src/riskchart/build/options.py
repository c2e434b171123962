"""What a build is asked (BuildOptions) and what it answers (ChartOutcome,
BuildReport); and each chart's name in out/."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .. import config, style
from ..check.diagnostics import Diagnostic
from ..departments import out_name_of_text
from ..draw.page import A4_PORTRAIT, Page

if TYPE_CHECKING:  # lint is imported by a build that has work to do, not by a no-op one
    from ..lint import ResultCache

DEFAULT_FORMATS = style.DEFAULT_FORMATS
_NO_PROJECT_SETTINGS = config.Settings()  # every code on, the standard categories


@dataclass(frozen=True)
class BuildOptions:
    out: Path = Path("out")
    formats: tuple[str, ...] = DEFAULT_FORMATS
    jobs: int = os.cpu_count() or 1
    force: bool = False
    font: str = style.DEFAULT_FONT
    timeout: float = style.DOT_TIMEOUT_SECONDS
    publish: bool = True
    settings: config.Settings = _NO_PROJECT_SETTINGS  # the project's: codes switched off, categories
    lock_timeout: float = style.LOCK_TIMEOUT_SECONDS
    dpi: int = style.DEFAULT_DPI  # PNG charts, and the pictures of booklet.docx (at least 300 there)
    page: Page = A4_PORTRAIT  # the paper charts, booklet and PNG are laid out for
    # each file's lint results from earlier builds (check/cache.py); None: the output folder's.
    # `serve` passes its own, which also keeps them in memory from save to save.
    lint_cache: ResultCache | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ChartOutcome:
    stem: str              # the chart's name in out/: its stem, after its folders when nested
    status: str            # "built", "fresh" (up to date) or "failed"
    reason: str = ""
    seconds: float = 0.0


Progress = Callable[[ChartOutcome], None]


@dataclass(frozen=True)
class BuildReport:
    outcomes: tuple[ChartOutcome, ...]
    diagnostics: tuple[Diagnostic, ...] = ()
    sources: Mapping[str, str] = field(default_factory=dict, repr=False)
    published: tuple[str, ...] = ()
    publish_failures: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def ok(self) -> bool:
        return self.count("failed") == 0 and not self.publish_failures


def _name(path: Path, options: BuildOptions) -> str:
    root = options.settings.charts
    return _out_name(str(path), None if root is None else str(root))


@functools.lru_cache(maxsize=1 << 16)
def _out_name(path: str, root: str | None) -> str:
    """Once per chart and build (asked four times of each by a no-op build:
    thousands of folder lookups), by strings (a Path hashes slowly).
    Relative names are taken from the working folder as it is when first
    asked: each build empties this cache before it fingerprints the charts
    (freshness._fingerprints), so a later build in the same process (serve,
    tests) that runs elsewhere asks again."""
    return out_name_of_text(path, root, os.getcwd())
