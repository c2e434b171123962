"""Lint: load → validate → model → rules over a set of chart files.

`lint_paths` is the library entry point the CLI calls; it returns every
diagnostic of every file, sorted, and the charts that were valid enough to
build.  One broken file never hides the others.
"""

from __future__ import annotations

import contextlib
import gc
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from . import config, corpus_rules, rules  # noqa: F401 - corpus_rules registers its rules
from .diagnostics import Diagnostic
from .errors import NoCharts
from .load import load_file
from .model import Chart, Defaults, build_chart, build_defaults, sort_key
from .schema import CHART, DEFAULTS
from .validate import validate

DEFAULTS_FILE = "_defaults.yaml"
CHART_SUFFIXES = (".yaml", ".yml")
_IGNORE = re.compile(r"riskchart:\s*ignore\s+(?P<codes>RC[0-9]{3}(?:[ ,]+RC[0-9]{3})*)")


@dataclass(frozen=True)
class LintResult:
    charts: tuple[Chart, ...]
    diagnostics: tuple[Diagnostic, ...]
    sources: dict[str, str] = field(repr=False)
    files: tuple[Path, ...] = ()

    @property
    def failed_paths(self) -> frozenset[str]:
        return frozenset(d.path for d in self.diagnostics if d.is_error)


def discover(paths: Iterable[Path]) -> list[Path]:
    """Chart files under the given files and folders, in name order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in sorted(path.iterdir())
                         if p.suffix.lower() in CHART_SUFFIXES and not p.name.startswith(("_", ".")) and p.is_file())
        elif path.exists():
            found.append(path)
        else:
            raise NoCharts(f"找不到 {path}：请给出防控图文件或所在文件夹（默认 charts/）")
    return sorted(dict.fromkeys(found), key=str)


@contextlib.contextmanager
def _collector_paused():
    """Lint builds many long-lived objects and no garbage cycles; the cyclic
    collector would rescan them all again and again (a quarter of the time
    on thousands of files)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def lint_paths(paths: Iterable[Path], settings: config.Settings | None = None) -> LintResult:
    with _collector_paused():
        return _lint_paths(list(paths), settings)


def _lint_paths(paths: list[Path], settings: config.Settings | None) -> LintResult:
    files = discover(paths)
    if not files:
        raise NoCharts(f"{'、'.join(map(str, paths))} 中没有 .yaml 防控图文件")
    if settings is None:
        settings = config.find_settings(paths[0])
    diagnostics: list[Diagnostic] = []
    sources: dict[str, str] = {}
    defaults_by_folder: dict[Path, Defaults] = {}
    charts: list[Chart] = []
    for path in files:
        folder = path.parent
        if folder not in defaults_by_folder:
            defaults_by_folder[folder] = _load_defaults(folder / DEFAULTS_FILE, diagnostics, sources)
        chart = _load_chart(path, defaults_by_folder[folder], diagnostics, sources)
        if chart is not None:
            charts.append(chart)
    diagnostics.extend(rules.run_rules(charts, settings.enabled))
    exemptions = {path: _exemptions(text) for path, text in sources.items() if "riskchart:" in text}
    kept = [d for d in diagnostics
            if settings.enabled(d.code) and d.code not in exemptions.get(d.path, {}).get(d.line, ())]
    broken = {d.path for d in kept if d.is_error}
    return LintResult(
        charts=tuple(sorted((c for c in charts if str(c.path) not in broken), key=sort_key)),
        diagnostics=tuple(sorted(set(kept))),
        sources=sources,
        files=tuple(files),
    )


def _load_chart(path: Path, defaults: Defaults, diagnostics: list, sources: dict) -> Chart | None:
    loaded = load_file(path)
    if loaded.text is not None:
        sources[str(path)] = loaded.text
    diagnostics.extend(loaded.diagnostics)
    if loaded.root is None or loaded.diagnostics:
        return None
    checked = validate(path, loaded.root, CHART)
    diagnostics.extend(checked.diagnostics)
    if checked.diagnostics:  # every invalid value was reported
        return None
    return build_chart(path, checked.value, checked.positions, defaults)


def _load_defaults(path: Path, diagnostics: list, sources: dict) -> Defaults:
    if not path.is_file():
        return Defaults()
    loaded = load_file(path)
    if loaded.text is not None:
        sources[str(path)] = loaded.text
    diagnostics.extend(loaded.diagnostics)
    if loaded.root is None or loaded.diagnostics:
        return Defaults()
    checked = validate(path, loaded.root, DEFAULTS)
    diagnostics.extend(checked.diagnostics)
    return build_defaults(None if checked.diagnostics else checked.value)


def _exemptions(text: str) -> dict[int, set[str]]:
    """Lines carrying `# riskchart: ignore RC304`, with the codes they silence."""
    found = {}
    for number, line in enumerate(text.split("\n"), start=1):
        match = _IGNORE.search(line)
        if match:
            found[number] = set(re.findall(r"RC[0-9]{3}", match["codes"]))
    return found
