"""`riskchart diff`'s library entry: two versions of a project → a Diff.

Only files that differ are parsed: a chart whose file and every
_defaults.yaml above it have the same object id on both sides is counted
unchanged from `git ls-tree` alone.  Each side's differing files go through
lint's own checks (load, validate, model, the one-chart rules); a file that
does not load on one side is reported with its diagnostics and left out of
the comparison on both, the rest is compared.  The cross-chart rules need
every chart and are left to `riskchart lint`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from ..check.diagnostics import Diagnostic
from ..config import Project, Settings, find_project
from ..errors import NoCharts, UsageProblem
from ..lint import FileResult, check_defaults_loaded, check_loaded, kept_diagnostics
from ..model import Chart, Defaults, merge_defaults
from .changes import Diff, Side
from .compare import compare
from .sources import Source, defaults_chain, find_repository, folder_source, revision_source

WORKING_TREE = "工作区"


def diff_arguments(project: Project, arguments: Sequence[str]) -> Diff:
    """The command line's OLD [NEW] [PATH…]: two folders, or a revision and
    the working tree, or two revisions, each optionally narrowed to paths.
    NEW is a path when a file or folder of that name exists, else a revision."""
    if not arguments:
        raise UsageProblem("缺少要比较的版本：riskchart diff 旧版本 [新版本] [路径]…")
    old, rest = arguments[0], list(arguments[1:])
    if old and Path(old).is_dir():
        if len(rest) != 1 or not Path(rest[0]).is_dir():
            raise UsageProblem(f"{old} 是文件夹：比较文件夹时请给出两个文件夹，如 riskchart diff 旧文件夹 新文件夹")
        return diff_folders(Path(old), Path(rest[0]), project.settings)
    new = rest.pop(0) if rest and not os.path.lexists(rest[0]) else None
    return diff_revisions(project, old, new, [Path(p) for p in rest])


def diff_folders(old: Path, new: Path, settings: Settings) -> Diff:
    """Two charts folders on disk, each the top of its own department tree and
    checked with the settings of the project it is in (`settings` outside any)."""
    def source(folder: Path) -> Source:
        project = find_project(folder)
        return folder_source(folder, str(folder), settings=project.settings if project.config_file else settings)

    return diff_sources(source(old), source(new), settings)


def diff_revisions(project: Project, old: str, new: str | None = None, paths: Sequence[Path] = ()) -> Diff:
    """The project's charts folder at revision `old` against revision `new`
    (None: the working tree), narrowed to `paths` when given."""
    repository = find_repository(project.charts)
    old_source = revision_source(repository, old)
    if new is None:
        shown = Path(os.path.relpath(project.charts))  # files named as lint names them
        new_source = folder_source(shown, WORKING_TREE, repository.object_format)
    else:
        new_source = revision_source(repository, new)
    return diff_sources(old_source, new_source, project.settings, _within(project.charts, paths))


def _within(charts: Path, paths: Sequence[Path]) -> list[str]:
    """Paths as names relative to the charts folder ("" for all of it)."""
    names = []
    top = Path(os.path.abspath(charts))
    for path in paths:
        absolute = Path(os.path.abspath(path))
        if not absolute.is_relative_to(top):
            raise NoCharts(f"{path} 不在防控图文件夹 {os.path.relpath(charts)} 中")
        names.append("/".join(absolute.relative_to(top).parts))
    return names


def diff_sources(old: Source, new: Source, settings: Settings, paths: Sequence[str] = ()) -> Diff:
    """Compare two sides, parsing only the files that differ."""
    def wanted(name: str) -> bool:
        return not paths or any(not p or name == p or name.startswith(p + "/") for p in paths)

    old_names = {n for n in old.charts if wanted(n)}
    new_names = {n for n in new.charts if wanted(n)}
    if paths and not old_names and not new_names:
        raise NoCharts(f"两个版本中都没有 {'、'.join(paths)} 下的防控图")
    same = {n for n in old_names & new_names
            if old.charts[n] == new.charts[n] and _defaults_ids(old, n) == _defaults_ids(new, n)}
    old_charts, old_diagnostics, old_failed = check_side(old, sorted(old_names - same), old.settings or settings)
    new_charts, new_diagnostics, new_failed = check_side(new, sorted(new_names - same), new.settings or settings)
    failed = old_failed | new_failed
    # a file that does not load has no id: the one in its name (RC201) stands for it, so that a
    # chart renamed and broken is not shown as removed
    numbered = {_numbered(name) for name in failed} - {None}

    def compared(charts: dict[str, Chart]) -> list[Chart]:
        return [c for n, c in charts.items() if n not in failed and (c.folder, c.id) not in numbered]

    changed, unchanged = compare(compared(old_charts), compared(new_charts))
    return Diff(Side(old.label, old_diagnostics), Side(new.label, new_diagnostics), tuple(changed),
                unchanged + len(same))


def _numbered(name: str) -> tuple[str, int] | None:
    """(folder, number) of a chart file named like 食品科/03-食品经营许可.yaml."""
    folder, _, file_name = name.rpartition("/")
    digits = re.match(r"[0-9]+", file_name)
    return (folder, int(digits.group())) if digits else None


def _defaults_ids(source: Source, name: str) -> tuple[str | None, ...]:
    return tuple(source.defaults.get(d) for d in defaults_chain(name))


def check_side(source: Source, names: Sequence[str], settings: Settings) -> tuple[
        dict[str, Chart], tuple[Diagnostic, ...], set[str]]:
    """The charts among `names` that load, every diagnostic of the files
    checked, and the names of those that do not load (or sit under a
    _defaults.yaml that does not)."""
    chains = {name: defaults_chain(name) for name in names}
    defaults_names = sorted({d for chain in chains.values() for d in chain if d in source.defaults})
    loaded = source.load([*defaults_names, *names], settings.font)
    checked_defaults = {d: check_defaults_loaded(loaded[d]) for d in defaults_names}
    broken = {d for d, (result, _) in checked_defaults.items() if any(x.is_error for x in result.diagnostics)}
    results: list[FileResult] = [result for result, _ in checked_defaults.values()]
    charts: dict[str, Chart] = {}
    failed: set[str] = set()
    for name in names:
        merged = Defaults()
        for depth, defaults_name in enumerate(chains[name]):
            values = checked_defaults[defaults_name][1] if defaults_name in checked_defaults else None
            merged = merge_defaults(merged, values, "/".join(name.split("/")[:depth]))
        result = check_loaded(loaded[name], merged, settings)
        results.append(result)
        if result.chart is None or not broken.isdisjoint(chains[name]):
            failed.add(name)
        else:
            charts[name] = result.chart
    diagnostics = kept_diagnostics((d for r in results for d in r.diagnostics), results, settings)
    return charts, tuple(sorted(set(diagnostics))), failed
