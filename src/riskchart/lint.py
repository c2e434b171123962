"""Lint: load → validate → model → rules over a set of chart files.

`lint_paths` is the library entry point the CLI calls; it returns every
diagnostic of every file, sorted, and the charts that were valid enough to
build.  One broken file never hides the others.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from . import config, limits
from .check import corpus_rules, corpus_totals, load, rules, slips  # noqa: F401 - corpus_rules registers its rules
from .check.cache import (
    FileStamps,
    ResultCache,
    Stored,
    TextPositions,
    decode_results,
    encode_positions,
    encode_results,
)
from .check.diagnostics import Diagnostic
from .check.load import LoadedFile, load_bytes, load_file
from .check.packed import PackedPositions, SourceTexts
from .check.schema import DEFAULTS
from .check.validate import validate
from .departments import CHART_SUFFIXES, DEFAULTS_FILE, defaults_files, discover, folder_parts
from .errors import NoCharts
from .model import Chart, Defaults, build_chart, merge_defaults, sort_key

__all__ = ["CHART_SUFFIXES", "DEFAULTS_FILE", "FileStamps", "LintResult", "ResultCache", "charts_valid_alone", "check_file",
           "discover", "lint_paths"]
_ALL_RULES = config.Settings()
PARALLEL_FROM = 400  # below this, starting worker processes costs more than it saves
WORKER_CHUNK = 250  # files a worker checks before sending their results back
_Item = TypeVar("_Item")
_Result = TypeVar("_Result")
# Checking a chart file costs about as much as reading 13 charts' entries from the cache's file,
# which is read whole (0.3 s at 4,000 charts): charts_valid_alone reads it for many changed charts
# (after a change of font or formats every one is in it), not for a few edited ones (none is).
CHECK_VS_READ = 13
_IGNORE = re.compile(r"riskchart:\s*ignore\s+(?P<codes>RC[0-9]{3}(?:[ ,]+RC[0-9]{3})*)")


@dataclass(frozen=True)
class LintResult:
    charts: tuple[Chart, ...]
    diagnostics: tuple[Diagnostic, ...]
    sources: Mapping[str, str] = field(repr=False)
    files: tuple[Path, ...] = ()

    @property
    def failed_paths(self) -> frozenset[str]:
        return frozenset(d.path for d in self.diagnostics if d.is_error)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Lint builds many long-lived objects and no garbage cycles; the cyclic
    collector would rescan them all again and again (a quarter of the time
    on thousands of files)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            # What lint made lives on (the models): moved straight to the oldest generation,
            # the collector's next pass need not walk all of it once more to find it young
            # (0.1 s at 4,000 charts).  Frozen and unfrozen at once: nothing stays exempt.
            gc.freeze()
            gc.unfreeze()
            gc.enable()


def lint_paths(paths: Iterable[Path], settings: config.Settings | None = None,
               jobs: int | None = None, cache: ResultCache | None = None,
               stamps: FileStamps | None = None, found: bool = False) -> LintResult:
    """`cache`: each file's own results from earlier runs (check/cache.py),
    used where the file, its defaults, the settings and the code are the
    same, and updated with the files checked now.  `stamps`: a build's stamp
    keys of the files it found settled (_check_files_cached).  `found`: the
    paths are chart files already discovered, in order (the build's): not
    looked for again."""
    with _collector_paused():
        result = _lint_paths(list(paths), settings, jobs or os.cpu_count() or 1, cache, stamps, found)
    if cache is not None:
        cache.save()
    return result


@dataclass(frozen=True)
class FileResult:
    """One chart file, checked on its own."""
    path: Path
    text: str | None
    chart: Chart | None
    diagnostics: tuple[Diagnostic, ...]
    exemptions: dict[int, set[str]]


def _lint_paths(paths: list[Path], settings: config.Settings | None, jobs: int,
                cache: ResultCache | None, stamps: FileStamps | None = None,
                found: bool = False) -> LintResult:
    files = paths if found else discover(paths)
    if not files:
        raise NoCharts(f"{'、'.join(map(str, paths))} 中没有 .yaml 防控图文件")
    if settings is None:
        settings = config.find_settings(paths[0])
    checked, defaults = folder_defaults(files, settings.charts)
    results = list(checked.values())
    by_folder = {folder: d for folder, (d, _) in defaults.items()}
    keys: dict[Path, str] = {}
    results += _check_files(files, by_folder, settings, jobs) if cache is None \
        else _check_files_cached(files, by_folder, settings, jobs, cache, keys, stamps=stamps)
    charts = [r.chart for r in results if r.chart is not None]
    diagnostics = [d for r in results for d in r.diagnostics] + corpus_totals.run_corpus_rules(
        charts, settings.enabled, keys, cache)
    kept = kept_diagnostics(diagnostics, results, settings)
    broken = {d.path for d in kept if d.is_error}
    # an error in a _defaults.yaml is an error of every chart under it
    return LintResult(
        charts=tuple(sorted((c for c in charts if str(c.path) not in broken
                             and broken.isdisjoint(defaults[c.path.parent][1])), key=sort_key)),
        diagnostics=tuple(sorted(set(kept))),
        sources=SourceTexts({str(r.path): r.text for r in results if r.text is not None},
                            [str(r.path) for r in results]),
        files=tuple(files),
    )


def kept_diagnostics(diagnostics: Iterable[Diagnostic], results: Iterable[FileResult],
                     settings: config.Settings) -> list[Diagnostic]:
    """The diagnostics the settings enable and no `# riskchart: ignore` line
    silences.  Like the settings, an ignore line cannot silence a protected
    code (config.PROTECTED): the chart would still not be drawn, or drawn
    over another's outputs, with lint saying nothing."""
    exemptions = {str(r.path): r.exemptions for r in results if r.exemptions}
    return [d for d in diagnostics
            if settings.enabled(d.code)
            and (d.code in config.PROTECTED or d.code not in exemptions.get(d.path, {}).get(d.line, ()))]


def charts_valid_alone(paths: list[Path], settings: config.Settings = _ALL_RULES,
                       cache: ResultCache | None = None, among: int = 0, jobs: int = 1) -> dict[Path, Chart]:
    """The charts among `paths` that pass every check of their own file.

    Lets a build start drawing them before the whole set is linted; only
    the cross-file rules can still fail them.  `among`: how many charts the
    cache's file holds about (the set's): for a few changed charts it is not
    read, as they are seldom in it (see CHECK_VS_READ); what they check to
    is kept in `cache`'s memory all the same, for the set's lint to find.
    `jobs`: many files are checked on as many cores (dot waits for them:
    400 charts took a second on one).
    """
    checked, defaults = folder_defaults(paths, settings.charts)
    broken = {str(path) for path, result in checked.items() if any(d.is_error for d in result.diagnostics)}
    # a broken _defaults.yaml fails every chart under it
    checkable = [path for path in paths if broken.isdisjoint(defaults[path.parent][1])]
    merged = {path.parent: defaults[path.parent][0] for path in checkable}
    results = _check_files(checkable, merged, settings, jobs) if cache is None else _check_files_cached(
        checkable, merged, settings, jobs, cache, on_disk=len(paths) * CHECK_VS_READ >= among)
    return {result.path: result.chart for result in results
            if result.chart is not None and not any(d.is_error for d in result.diagnostics)}


def check_file(path: Path, defaults: Defaults, settings: config.Settings = _ALL_RULES) -> FileResult:
    """Load, validate and model one file, and run the rules that see one chart."""
    return _checked(path, defaults, settings)[0]


def check_loaded(loaded: LoadedFile, defaults: Defaults, settings: config.Settings = _ALL_RULES) -> FileResult:
    """`check_file` of a file already loaded (from disk, or from a git revision by `riskchart diff`)."""
    return _checked_loaded(loaded, defaults, settings)[0]


def _checked(path: Path, defaults: Defaults, settings: config.Settings,
             data: bytes | None = None) -> tuple[FileResult, dict[str, Any] | None]:
    """The file's results and its validated values (None: no chart); from
    `data` when given (the file's bytes, read once, within the size limit)."""
    loaded = load_file(path, settings.font) if data is None else load_bytes(path, data, settings.font)
    return _checked_loaded(loaded, defaults, settings)


def _checked_loaded(loaded: LoadedFile, defaults: Defaults,
                    settings: config.Settings) -> tuple[FileResult, dict[str, Any] | None]:
    path = loaded.path
    exemptions = _exemptions(loaded.text) if loaded.text and "riskchart:" in loaded.text else {}
    if loaded.root is None or loaded.diagnostics:
        return FileResult(path, loaded.text, None, loaded.diagnostics, exemptions), None
    cut = tuple(slips.cut_by_comments(path, loaded.text, loaded.root)) if loaded.text else ()
    checked = validate(path, loaded.root, settings.chart_format())
    # every invalid value was reported, so a chart without diagnostics is whole
    if checked.diagnostics or not isinstance(checked.value, dict):
        return FileResult(path, loaded.text, None, cut + checked.diagnostics, exemptions), None
    chart = build_chart(path, checked.value, checked.positions, defaults)
    return (FileResult(path, loaded.text, chart, cut + tuple(rules.run_chart_rules(chart, settings.enabled)),
                       exemptions), checked.value)


def folder_defaults(files: list[Path], root: Path | None) -> tuple[
        dict[Path, FileResult], dict[Path, tuple[Defaults, frozenset[str]]]]:
    """Each present _defaults.yaml checked once, and for each folder holding
    charts its merged defaults with the _defaults.yaml files they came from
    (an error in one of these is an error of every chart below it)."""
    checked: dict[Path, tuple[FileResult, dict[str, Any] | None]] = {}
    by_folder: dict[Path, tuple[Defaults, frozenset[str]]] = {}
    for path in files:
        if path.parent in by_folder:
            continue
        parts, merged, applying = folder_parts(path, root), Defaults(), []
        for depth, defaults_file in enumerate(defaults_files(path, root)):
            values = None
            if defaults_file in checked or defaults_file.exists():
                if defaults_file not in checked:
                    checked[defaults_file] = _check_defaults(defaults_file)
                values = checked[defaults_file][1]
                applying.append(str(defaults_file))
            merged = merge_defaults(merged, values, "/".join(parts[:depth]))
        by_folder[path.parent] = (merged, frozenset(applying))
    return {path: result for path, (result, _) in checked.items()}, by_folder


def _check_defaults(path: Path) -> tuple[FileResult, dict[str, Any] | None]:
    return check_defaults_loaded(load_file(path))


def check_defaults_loaded(loaded: LoadedFile) -> tuple[FileResult, dict[str, Any] | None]:
    """A _defaults.yaml's diagnostics, and its values when it has none."""
    path = loaded.path
    if loaded.root is None or loaded.diagnostics:
        return FileResult(path, loaded.text, None, loaded.diagnostics, {}), None
    checked = validate(path, loaded.root, DEFAULTS)
    values = checked.value if not checked.diagnostics and isinstance(checked.value, dict) else None
    return FileResult(path, loaded.text, None, checked.diagnostics, {}), values


def _check_files(files: list[Path], defaults: dict[Path, Defaults], settings: config.Settings,
                 jobs: int) -> list[FileResult]:
    """Check every file, on several cores when there are many.

    Worker processes are forked, so they start at once with everything
    imported; only with no other thread running, as forking a threaded
    process is unsafe.  They send back neither texts nor positions: those
    are read again on the rare occasion a diagnostic needs them.
    """
    if jobs < 2 or len(files) < PARALLEL_FROM or threading.active_count() > 1:
        return [check_file(path, defaults.get(path.parent, Defaults()), settings) for path in files]
    return _in_workers(_check_chunk, files, defaults, settings, jobs)


def _in_workers(work: Callable[[list[_Item], dict[Path, Defaults], config.Settings], list[_Result]],
                items: list[_Item], defaults: dict[Path, Defaults], settings: config.Settings,
                jobs: int) -> list[_Result]:
    """`work` over `items` in forked worker processes, in chunks of at most
    WORKER_CHUNK (a worker holds a chunk's results until it sends them:
    half of 4,000 charts' was the build's peak memory), in order."""
    import multiprocessing  # only here: it costs a lint of a few files more than their checks
    from concurrent.futures import ProcessPoolExecutor

    size = min(math.ceil(len(items) / jobs), WORKER_CHUNK)
    chunks = [items[start:start + size] for start in range(0, len(items), size)]
    with ProcessPoolExecutor(max_workers=min(jobs, len(chunks)), mp_context=multiprocessing.get_context("fork")) as pool:
        return [r for chunk in pool.map(work, chunks, [defaults] * len(chunks), [settings] * len(chunks))
                for r in chunk]


def _check_chunk(files: list[Path], defaults: dict[Path, Defaults], settings: config.Settings) -> list[FileResult]:
    """Check files in a worker; the texts stay behind, the positions travel
    with each chart, packed."""
    results = []
    for path in files:
        result = check_file(path, defaults.get(path.parent, Defaults()), settings)
        chart = result.chart and replace(result.chart, positions=PackedPositions(result.chart.positions))
        results.append(replace(result, text=None, chart=chart))
    return results


# -------------------------------------------------- with a result cache

Miss = tuple[Path, bytes, str]  # a file to check: its path, the bytes its key was made from, the key


def _check_files_cached(files: list[Path], defaults: dict[Path, Defaults], settings: config.Settings,
                        jobs: int, cache: ResultCache, keys: dict[Path, str] | None = None,
                        on_disk: bool = True, stamps: FileStamps | None = None) -> list[FileResult]:
    """Like `_check_files`, with each file's results taken from `cache`
    when its key matches: only the files that changed are checked.  `keys`:
    given, it gets the key of each file (none for one unreadable or too
    large).  `on_disk` False: only the results kept in memory are looked at.
    `stamps`: the build's stamp keys of files it found settled (see
    ResultCache.stamp_key); an entry recorded under the same one is used
    without reading the file (4,000 files are a sixth of a second to read)."""
    from .draw import fonts

    font_file = fonts.resolve(settings.font)
    context = cache.context(settings, font_file.key if font_file else "-")
    found: dict[Path, FileResult] = {}
    misses: list[Miss] = []
    shown: dict[Path, str] = {}  # each folder's defaults as its keys show them: made once, not per file
    stamped: dict[Path, str] = {}  # the stamp key of each file read that has one, recorded with its entry
    for path in files:
        folder = path.parent  # once: each .parent is a new Path, hashed again at every look-up
        folder_defaults = defaults.get(folder, Defaults())
        if folder not in shown:
            shown[folder] = repr(folder_defaults)
        stamp = stamps.keys.get(path) if stamps is not None else None
        if stamp is not None:
            stamped[path] = cache.stamp_key(context, path, shown[folder], stamp)
            known = cache.by_stamp(path, stamped[path], on_disk)
            if known is not None:
                entry, made = known
                result = made if isinstance(made, FileResult) else _from_stored(path, entry, folder_defaults)
                if result is not None:
                    found[path] = result
                    if keys is not None:
                        keys[path] = entry.key
                    cache.keep(path, entry, result)
                    continue
        data = _readable(path)
        if data is None:  # unreadable or too large: checked, and said so, every time
            found[path] = check_file(path, folder_defaults, settings)
            continue
        if stamps is not None and path in stamped and not stamps.unchanged(path):
            del stamped[path]  # written since the build looked: the bytes read are not those of its stamp
        key = cache.key(context, path, shown[folder], data)
        if keys is not None:
            keys[path] = key
        remembered = cache.remembered(path, key)
        if remembered is not None and isinstance(remembered[1], FileResult):
            found[path] = remembered[1]
            cache.keep(path, _stamped(remembered[0], stamped.get(path)), remembered[1])
            continue
        stored = cache.stored(path, key) if on_disk else None
        result = _from_stored(path, stored, folder_defaults) if stored else None
        if stored and result:
            found[path] = result
            cache.keep(path, _stamped(stored, stamped.get(path)), result)
        else:
            misses.append((path, data, key))
    cache.checked += len(misses)
    if jobs < 2 or len(misses) < PARALLEL_FROM or threading.active_count() > 1:
        checked = _check_misses(misses, defaults, settings)
    else:
        checked = _in_workers(_check_misses, misses, defaults, settings, jobs)
    for (path, _, _), (result, stored) in zip(misses, checked, strict=True):
        found[path] = result
        if stored is not None:
            cache.keep(path, _stamped(stored, stamped.get(path)), result)
    return [found[path] for path in files]


def _stamped(stored: Stored, stamp_key: str | None) -> Stored:
    """The entry with the stamp key of the file it was found for, when the build gave one."""
    return stored if stamp_key is None or stored.stamped == stamp_key else replace(stored, stamped=stamp_key)


def _readable(path: Path) -> bytes | None:
    try:
        data = load.read_chart_bytes(path)
    except OSError:
        return None
    return data if len(data) <= limits.MAX_FILE_BYTES else None


def _check_misses(misses: list[Miss], defaults: dict[Path, Defaults],
                  settings: config.Settings) -> list[tuple[FileResult, Stored | None]]:
    """Check files and make their cache entries (in a worker too: the
    texts stay behind, the positions travel as the entry's JSON text).
    The text of a file with no diagnostics of its own is not kept either
    (4,000 charts' texts are some 35 MB that a build holds to the end); a
    report that needs it after a cross-file rule reads it again."""
    done = []
    for path, data, key in misses:
        result, values = _checked(path, defaults.get(path.parent, Defaults()), settings, data)
        if not result.diagnostics:
            result = replace(result, text=None)
        results = encode_results(path, result.diagnostics, result.exemptions, values)
        positions = encode_positions(result.chart.positions) if result.chart is not None else ""
        stored = None
        if results is not None and positions is not None:
            stored = Stored(key, results, positions.encode("ascii"))
            if result.chart is not None:
                result = replace(result, chart=replace(result.chart, positions=TextPositions(positions)))
        done.append((result, stored))
    return done


def _from_stored(path: Path, stored: Stored, defaults: Defaults) -> FileResult | None:
    """The results a cache entry holds, with the chart built again; None
    for an entry that does not decode (then the file is checked)."""
    try:
        diagnostics, exemptions, values = decode_results(path, stored.results)
        chart = None
        if values is not None:
            chart = build_chart(path, values, TextPositions(stored.positions.decode("ascii")), defaults)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None
    return FileResult(path, None, chart, diagnostics, exemptions)


def _exemptions(text: str) -> dict[int, set[str]]:
    """Lines carrying `# riskchart: ignore RC304`, with the codes they silence."""
    found = {}
    for number, line in enumerate(text.split("\n"), start=1):
        match = _IGNORE.search(line)
        if match:
            found[number] = set(re.findall(r"RC[0-9]{3}", match["codes"]))
    return found
