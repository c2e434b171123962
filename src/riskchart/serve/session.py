"""`riskchart serve`: build, serve the output folder, rebuild on every save.

A thin layer over `build.build`: the same incremental build writes the
same files into the output folder; this module watches the chart files,
their `_defaults.yaml` and the settings file (watchfiles), rebuilds when
one is saved and tells the open pages (server-sent events, see
http.py and templates/serve.js) what the latest build made: each
chart's SVG and title, and the diagnostics exactly as `riskchart lint`
prints them.  A saved chart's new SVG is drawn and shown first, before
the build (preview.py); the build then writes it and the set, and
is done before the next save is looked at.  Preview and build run in the
main thread, so Ctrl-C or SIGTERM stop them the way they stop `riskchart
build` (dot runs killed, no temporaries left).
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Callable, Collection, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

from .. import config, departments, files
from ..build import BuildOptions, BuildReport, ChartOutcome, build, recorded
from ..check.characters import printable
from ..check.diagnostics import Diagnostic
from ..check.report import format_text
from ..lint import ResultCache, discover, lint_paths
from ..publish.names import INDEX
from . import preview as serve_preview
from .watch import Watcher

PAGE_PREFIX = "/_riskchart/chart/"
PREVIEW_PREFIX = "/_riskchart/preview/"  # a saved chart's SVG drawn before the build (preview.py)

Echo = Callable[[str], None]


@dataclass(frozen=True)
class ChartView:
    """What a chart page shows of one chart (sent to the browser as JSON)."""
    key: str
    title: str
    source: str                # the chart file, as the user would type it
    files: tuple[str, ...]     # the paths its diagnostics may name: the file and every _defaults.yaml that applies to it
    svg: str | None            # URL of its SVG in the output folder, None when there is none
    version: int               # changes whenever the chart is drawn again
    failed: str                # why the last build could not draw it ("" when it could)
    page: str


def output_url(name: str) -> str:
    """The URL of a file of the output folder (a path relative to it, "/"
    between folders): each part percent-encoded, every character but
    letters, digits and -_.~, as the index page's links are."""
    return "/" + "/".join(quote(part, safe="", errors="surrogateescape") for part in name.split("/"))


def page_url(key: str) -> str:
    return PAGE_PREFIX + quote(key, safe="", errors="surrogateescape")


def preview_url(key: str) -> str:
    return PREVIEW_PREFIX + quote(key, safe="", errors="surrogateescape")


class Live:
    """The state the pages show, replaced by every build; a page's event
    stream waits here for the next one."""

    def __init__(self) -> None:
        self.instance = secrets.token_hex(8)  # a restarted server is another instance: pages reload
        self._changed = threading.Condition()
        self._generation = 0
        self._state: dict[str, Any] = {"instance": self.instance, "index": None, "charts": [], "problems": [],
                                       "notes": []}
        self._message = self._encode()
        self._previews: dict[str, bytes] = {}  # by chart key: the SVG of its last preview
        self.stopping = False

    def _encode(self) -> bytes:
        # ASCII escapes keep one event on one line and carry file names that are not UTF-8
        return json.dumps({**self._state, "generation": self._generation}, ensure_ascii=True).encode("ascii")

    def update(self, **changes: Any) -> None:
        with self._changed:
            self._state = {**self._state, **changes}
            self._generation += 1
            self._message = self._encode()
            self._changed.notify_all()

    def change_charts(self, changes: dict[str, dict[str, Any]], previews: dict[str, bytes] | None = None) -> None:
        """Change some fields of the charts named in `changes` (by key), in
        one step with any other update; with `previews`, the SVGs the
        changed charts now name (served by `preview`)."""
        with self._changed:
            if previews is not None:
                self._previews = previews
            charts = [{**c, **changes[c["key"]]} if c["key"] in changes else c for c in self._state["charts"]]
            self._state = {**self._state, "charts": charts}
            self._generation += 1
            self._message = self._encode()
            self._changed.notify_all()

    def preview(self, key: str) -> bytes | None:
        with self._changed:
            return self._previews.get(key)

    @property
    def state(self) -> dict[str, Any]:
        with self._changed:
            return self._state

    def next_message(self, seen: int, timeout: float) -> tuple[int, bytes] | None:
        """The state as JSON once it is newer than generation `seen`; None
        after `timeout` seconds without a change, or when stopping."""
        with self._changed:
            self._changed.wait_for(lambda: self._generation != seen or self.stopping, timeout)
            if self._generation == seen or self.stopping:
                return None
            return self._generation, self._message

    def stop(self) -> None:
        with self._changed:
            self.stopping = True
            self._changed.notify_all()


class Session:
    """The charts of one `serve`: builds them and keeps `live` current."""

    def __init__(self, project: config.Project, paths: list[Path], options: BuildOptions, live: Live,
                 echo: Echo) -> None:
        self.project, self.paths, self.live, self.echo = project, paths, live, echo
        # one lint cache for the session: a save re-checks the saved file only (check/cache.py)
        self.options = options if options.lint_cache else \
            replace(options, lint_cache=ResultCache(options.out / files.OUTPUT_CACHE))
        self._versions: dict[str, int] = {}
        self._builds = 0
        self._problems: list[dict[str, Any]] = []
        self._previewed: set[str] = set()  # the charts whose drawing this save's preview showed

    def rebuild(self, settings_changed: bool = False, changed: Collection[Path] = ()) -> BuildReport | None:
        """Build (again); `changed`: the files saved since the last build
        (absolute paths), whose charts' drawings are shown first."""
        notes = []
        if changed and not settings_changed and self._builds:
            self._show_previews(changed)
        if settings_changed and self.project.config_file is not None:
            try:
                settings = config.read_settings(self.project.config_file)
                self.options = replace(self.options, settings=replace(settings, font=self.options.settings.font))
                self.echo(f"已重新读取 {self.project.config_file}")
            except click.ClickException as problem:
                notes.append(f"设置文件有误，仍按原来的设置生成：{problem.format_message()}")
        try:
            report = build(self.paths, self.options, self._drawn_early,
                           lambda holder: self.echo(f"另一个 build（{holder}）正在写入输出文件夹，等待它结束…"))
        except click.ClickException as problem:  # no charts left, dot gone, lock held too long: say so, keep watching
            notes.append(problem.format_message())
            self.echo(printable(f"  错误  {notes[-1]}"))
            self.live.update(notes=notes)
            return None
        linted = bool(report.sources) or not report.outcomes  # a build with nothing to do does not lint
        diagnostics = list(report.diagnostics)
        if not linted and self._builds == 0:
            result = lint_paths(self.paths, self.options.settings, cache=self.options.lint_cache)  # the first build: warnings too
            diagnostics, sources, linted = list(result.diagnostics), result.sources, True
        else:
            sources = report.sources
        if linted:
            self._problems = [_problem(d, sources) for d in diagnostics]
        notes += list(report.publish_failures) + list(report.warnings)
        self.live.update(charts=[asdict(c) for c in self._views(report.outcomes)], problems=self._problems,
                         notes=notes, index=_index_version(self.options.out))
        self.echo(self._summary(report, diagnostics, sources) if linted else
                  f"没有变化：{len(report.outcomes)} 张图都是最新的；用时 {report.seconds:.2f} 秒")
        self._builds += 1
        self._previewed = set()
        return report

    def _show_previews(self, changed: Collection[Path]) -> None:
        """The saved charts' new drawings on their pages, before the build."""
        shown = {c["key"] for c in self.live.state["charts"] if c["svg"]}
        saved = serve_preview.saved_charts(changed, _chart_files(self.paths))
        previews = [p for p in serve_preview.draw(saved, self.options, self.options.lint_cache)
                    if p.key in shown]  # a new chart shows once built
        if not previews:
            return
        for preview in previews:
            self._versions[preview.key] = self._versions.get(preview.key, 0) + 1
        self.live.change_charts({p.key: {"title": p.title, "svg": preview_url(p.key), "failed": "",
                                         "version": self._versions[p.key]} for p in previews},
                                {p.key: p.svg for p in previews})
        self._previewed = {p.key for p in previews}

    def _drawn_early(self, outcome: ChartOutcome) -> None:
        """A chart drawn again shows at once, before the rest of the build
        (the index, the booklet) is done; one its preview showed already
        changes to its file in out/ with the build's last update."""
        if outcome.status != "built" or outcome.stem in self._previewed:
            return
        self._versions[outcome.stem] = self._versions.get(outcome.stem, 0) + 1
        if any(c["key"] == outcome.stem and c["svg"] for c in self.live.state["charts"]):
            self.live.change_charts({outcome.stem: {"version": self._versions[outcome.stem], "failed": ""}})

    def _views(self, outcomes: Iterable[ChartOutcome]) -> list[ChartView]:
        records = recorded(self.options.out)
        root = self.options.settings.charts
        on_disk = {departments.out_name(path, root): path for path in _chart_files(self.paths)}
        views = []
        for outcome in outcomes:
            record = records.get(outcome.stem)
            path = on_disk.get(outcome.stem) or (record.source if record else Path(outcome.stem))
            svg = next((name for name in record.outputs if name.endswith(".svg")), None) if record else None
            views.append(ChartView(
                key=outcome.stem, title=record.title if record else outcome.stem, source=_shown(path),
                files=(str(path), *map(str, departments.defaults_files(path, root))),
                svg=output_url(svg) if svg else None,
                version=self._versions.get(outcome.stem, 0),
                failed=outcome.reason if outcome.status == "failed" else "", page=page_url(outcome.stem)))
        return views

    def _summary(self, report: BuildReport, diagnostics: list[Diagnostic], sources: Any) -> str:
        lines = [printable(f"  失败  {o.stem}：{o.reason}") for o in report.outcomes if o.status == "failed"]
        lines += [printable(f"  删除  {name}（对应的图已不存在）") for name in report.removed]
        lines += [printable(f"  失败  {problem}") for problem in report.publish_failures]
        text = format_text(diagnostics, sources)
        if text:
            lines.append(text.rstrip("\n"))
        errors = sum(d.is_error for d in diagnostics)
        lines.append(f"生成 {report.count('built')} 张，最新 {report.count('fresh')} 张，失败 {report.count('failed')} 张；"
                     f"{errors} 个错误，{len(diagnostics) - errors} 个警告；用时 {report.seconds:.2f} 秒")
        return "\n".join(lines)


def file_version(info: os.stat_result) -> str:
    """Changes whenever the file is replaced (outputs are written by rename)."""
    return f"{info.st_ino}-{info.st_mtime_ns}-{info.st_size}"


def _index_version(out: Path) -> str | None:
    try:
        return file_version((out / INDEX).stat())
    except OSError:
        return None


def _problem(diagnostic: Diagnostic, sources: Any) -> dict[str, Any]:
    """One diagnostic for the page: its path and the text lint prints."""
    return {"path": diagnostic.path, "error": diagnostic.is_error,
            "text": format_text([diagnostic], sources).rstrip("\n")}


def _chart_files(paths: list[Path]) -> list[Path]:
    try:
        return discover(paths)
    except click.ClickException:
        return []


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the current folder when inside it."""
    if not path.is_absolute():
        return str(path)
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def serve(project: config.Project, paths: list[Path], options: BuildOptions, host: str, port: int,
          echo: Echo, opened: Callable[[str], None] = lambda url: None) -> None:
    """Serve until interrupted (KeyboardInterrupt, which the caller turns
    into exit status 0).  `opened(url)` is called once the first build is done."""
    from . import http as serve_http

    live = Live()
    server = serve_http.bind(host, port, options.out, live)  # a port in use fails before anything is built
    watcher = Watcher(paths, project.config_file)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    try:
        serving.start()
        watcher.start()
        session = Session(project, paths, options, live, echo)
        session.rebuild()
        url = serve_http.url_of(server)
        echo(f"正在提供 {url} （{options.out}/）；保存文件即自动更新，按 Ctrl-C 停止。")
        opened(url)
        while True:
            if watcher.changed.wait(0.25):
                watcher.settle()
                watcher.changed.clear()
                session.rebuild(*watcher.take())
    finally:
        watcher.close()
        live.stop()
        if serving.is_alive():  # shutdown() waits for serve_forever, which a thread never started would not run
            server.shutdown()
        server.server_close()
