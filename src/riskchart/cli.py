"""The command line: parse options, call the library, print, exit.

Exit status: 0 no errors; 1 errors in the charts (or warnings under
--strict, or a chart that failed to build); 2 usage or environment problem.
Heavy modules (Jinja2, Graphviz, pypdf) are imported inside the commands
that need them, so `riskchart lint` starts fast.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import __version__, zh

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import FrameType

    from .config import Project
    from .model import Chart

zh.install()  # click's own words (用法、选项、错误) in Chinese, before any command runs
# Last at exit (after every cleanup registered later): the process's memory goes back to the
# system with it, so the interpreter need not first search its objects for cycles and free
# them one by one — a tenth of a second after a build.
atexit.register(gc.freeze)
# The cycle collector runs every 700 new objects by default, and each full pass walks every
# object alive: with 4,000 charts' models, caches and JSON in memory that was 0.4 s of a
# one-chart rebuild.  riskchart's data has almost no cycles (frozen dataclasses, strings,
# tuples); refcounting frees it.  Passes 70× rarer keep what cycles there are bounded.
gc.set_threshold(50_000, 20, 100)

INTERRUPTED = "已中断。"  # a Ctrl-C before a command's own handling (build's adds what was kept)


@contextlib.contextmanager
def _interrupt_exits() -> Iterator[None]:
    """Ctrl-C (or SIGTERM turned into one) ends the program with 128 + the
    signal's number and one short line, as build's own handling does: click
    would print 已中止。 and exit 1."""
    try:
        yield
    except KeyboardInterrupt as interrupt:
        click.echo(INTERRUPTED, err=True)
        raise click.exceptions.Exit(128 + getattr(interrupt, "signal", 2)) from None


class _Commands(click.Group):
    """The command group; an interrupt while its options or a command's are
    parsed, or while a command imports and starts, exits like a later one."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        with _interrupt_exits():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with _interrupt_exits():
            return super().invoke(ctx)


_paths = click.argument("paths", nargs=-1, type=click.Path(path_type=Path), metavar="[路径]...")
_OPTIONS = "[选项]"  # the usage line's placeholders, in Chinese like the rest of the help


def _one_format(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> str:
    """The one output format of a command that writes one stream or file: a
    second, different --format is refused (click would keep the last silently)."""
    given = list(dict.fromkeys(values))
    if len(given) > 1:
        raise click.BadParameter(f"只能选一种格式，这里给了 {len(given)} 种（{'、'.join(given)}）："
                                 f"riskchart {ctx.info_name} 每次只输出一种，需要几种请分别运行")
    return given[0]


def _project(paths: tuple[Path, ...]) -> Project:
    """The project of the first path given, or of the current folder."""
    from .config import find_project

    return find_project(paths[0] if paths else Path.cwd())


def _chart_paths(paths: tuple[Path, ...], project: Project) -> list[Path]:
    """The paths given, or the project's charts folder as seen from here
    (diagnostics then name files the way the user would type them)."""
    return list(paths) or [Path(os.path.relpath(project.charts))]


def _show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    import graphviz

    try:
        found = "Graphviz " + ".".join(map(str, graphviz.version()))
    except (graphviz.ExecutableNotFound, RuntimeError, OSError):
        found = "未找到 Graphviz（dot）"
    click.echo(f"riskchart {__version__}（{found}）")
    ctx.exit()


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]}, options_metavar=_OPTIONS,
             subcommand_metavar="命令 [参数]...")
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_show_version,
              help="显示 riskchart 和 Graphviz 的版本。")
def main() -> None:
    """riskchart：权力运行廉政风险防控图编译器（YAML → 校验 → SVG/PDF）。"""


@main.command(options_metavar=_OPTIONS)
@_paths
@click.option("--format", "output_format", type=click.Choice(["text", "json", "github"]), multiple=True,
              default=["text"], show_default=True, callback=_one_format, help="输出格式：text 供人阅读，json 供脚本，github 供 GitHub Actions 标注。")
@click.option("--strict", is_flag=True, help="有警告也以状态 1 退出。")
@click.option("-q", "--quiet", is_flag=True, help="不打印末尾的汇总行。")
def lint(paths: tuple[Path, ...], output_format: str, strict: bool, quiet: bool) -> None:
    """检查防控图文件（默认 charts/），报告全部错误和警告。"""
    from .check.diagnostics import has_errors
    from .check.report import FORMATTERS, summary
    from .files import OUTPUT_CACHE
    from .lint import ResultCache, lint_paths

    project = _project(paths)
    result = lint_paths(_chart_paths(paths, project), project.settings,
                        cache=ResultCache(project.out / OUTPUT_CACHE))
    click.echo(FORMATTERS[output_format](list(result.diagnostics), result.sources), nl=False)
    if output_format == "text" and not quiet:
        click.echo(summary(result.diagnostics, len(result.files)), err=True)
    sys.exit(1 if has_errors(result.diagnostics, strict=strict) else 0)


@main.command(options_metavar=_OPTIONS)
@click.argument("folder", default=".", type=click.Path(file_okay=False, path_type=Path), metavar="[文件夹]")
def init(folder: Path) -> None:
    """新建项目：设置文件、部门信息、一张示例图、.gitignore、pre-commit 和 CI 示例。已有的文件不覆盖。"""
    from .scaffold import init_project

    try:
        made = init_project(folder)
    except OSError as error:
        raise click.ClickException(f"无法在 {folder} 中新建项目：{error.strerror or error}") from None
    for name in made.written:
        click.echo(f"  新建  {folder / name}", err=True)
    for name in made.skipped:
        click.echo(f"  跳过  {folder / name}（已存在，未改动）", err=True)
    click.echo(f"下一步：在 {folder / 'charts/_defaults.yaml'} 中填写部门名称和电话，"
               "然后运行 riskchart lint 检查、riskchart build 生成。", err=True)


@main.command(options_metavar=_OPTIONS)
@click.option("--defaults", is_flag=True, help="输出 _defaults.yaml 的 schema。")
def schema(defaults: bool) -> None:
    """输出防控图格式的 JSON Schema，供编辑器校验和补全。"""
    from .check.schema import DEFAULTS, json_schema

    record = DEFAULTS if defaults else _project(()).settings.chart_format()
    click.echo(json.dumps(json_schema(record), ensure_ascii=False, indent=2))


def _font_name(value: str | None) -> str | None:
    from .config import is_font_name

    if value is not None and not is_font_name(value):
        raise click.BadParameter(f"字体名称不能为空，也不能含引号、反斜杠或尖括号：{value!r}")
    return value


def _formats(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...] | None:
    """build's formats: comma-separated, and a repeated --format adds its own
    (in the order given, each once); None when not given."""
    from .style import FORMATS

    chosen: dict[str, None] = {}
    for value in values:
        these = [f.strip().lower() for f in value.split(",") if f.strip()]
        if not these or any(f not in FORMATS for f in these):
            raise click.BadParameter(f"可选格式：{','.join(FORMATS)}，而不是 {value!r}")
        chosen.update(dict.fromkeys(these))
    return tuple(chosen) or None


@main.command(options_metavar=_OPTIONS)
@_paths
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="输出文件夹（默认为项目设置的 out，即 out/）。")
@click.option("--format", "formats", multiple=True, callback=_formats,
              help="输出格式，逗号分隔或重复本选项：svg,pdf,png,dot（默认为项目设置的 formats，即 svg,pdf）。")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=None, help="并行数（默认为 CPU 核数）。")
@click.option("--force", is_flag=True, help="忽略增量记录，全部重新生成。")
@click.option("--font", default=None, callback=lambda ctx, param, value: _font_name(value),
              help="中文字体（默认为项目设置的 font，即 Noto Sans CJK SC）。")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=None,
              help="单张图 Graphviz 的时限，秒（默认 60）。")
@click.option("--lock-timeout", type=click.FloatRange(0, 86400), default=None,
              help="另一个 build 正在写入同一输出文件夹时，最多等待的秒数（默认 600）。")
@click.option("--dpi", type=click.IntRange(36, 1200), default=None,
              help="PNG 的分辨率：A4 页面按此 dpi 画出（默认 150；300 dpi 约 2480 像素宽）；Word 汇编中的图不低于 300 dpi。")
@click.option("--no-publish", is_flag=True, help="只生成各图，不生成索引页、汇编和台账。")
@click.option("--page", "page_size", type=click.Choice(["A4", "A3"]), default=None,
              help="纸张（默认为项目设置的 page，即 A4）：各图、汇编和 PNG 按它排版。")
@click.option("--landscape/--portrait", default=None, help="横向或纵向排版（默认为项目设置的 orientation，即纵向）。")
@click.option("-q", "--quiet", is_flag=True, help="只打印错误和汇总（不打印警告和逐张进度）。")
def build(paths: tuple[Path, ...], out: Path | None, formats: tuple[str, ...] | None, jobs: int | None, force: bool,
          font: str | None, timeout: float | None, lock_timeout: float | None, dpi: int | None, no_publish: bool,
          page_size: str | None, landscape: bool | None, quiet: bool) -> None:
    """生成防控图（SVG、PDF 等）以及索引页、汇编（PDF、Word）和风险点台账（CSV、Excel）。"""

    from .draw import fonts, trimfont

    project = _project(paths)
    fonts.resolve_soon(font or project.font)  # fontconfig answers while the build's modules import
    trimfont.bold_soon(font or project.font)

    from . import style
    from .build import BuildOptions
    from .build import build as run_build
    from .check.characters import printable
    from .draw.page import Page
    from .progress import BuildProgress

    out = out or Path(os.path.relpath(project.out))
    options = BuildOptions(
        out=out, formats=formats or project.formats, jobs=jobs or os.cpu_count() or 1, force=force,
        font=font or project.font, timeout=timeout or style.DOT_TIMEOUT_SECONDS,
        publish=not no_publish, settings=replace(project.settings, font=font or project.font),
        lock_timeout=style.LOCK_TIMEOUT_SECONDS if lock_timeout is None else lock_timeout,
        dpi=dpi or style.DEFAULT_DPI,
        page=Page(page_size or project.page.size, project.page.landscape if landscape is None else landscape))
    progress = BuildProgress(sys.stderr, quiet=quiet)

    def waiting(holder: str) -> None:
        click.echo(f"另一个 build（{holder}）正在写入 {out}/，等待它结束（最多 {options.lock_timeout:g} 秒）…", err=True)

    try:
        with _terminate_as_interrupt():
            report = run_build(_chart_paths(paths, project), options, progress, waiting, progress.planned)
    except KeyboardInterrupt as interrupt:
        progress.close()
        click.echo("已中断：已完成的图已保存，没有留下不完整的文件；再次运行 build 会继续。", err=True)
        sys.exit(128 + getattr(interrupt, "signal", 2))
    progress.close()
    for warning in report.warnings:
        click.echo(f"  警告  {warning}", err=True)
    # Warnings too (numbering left in an item would otherwise print silently); -q keeps errors only.
    shown = [d for d in report.diagnostics if d.is_error or not quiet]
    if shown:
        from .check.report import format_text  # only when there is something to show: not before dot starts

        click.echo(format_text(shown, report.sources), nl=False, err=True)
    warnings = sum(not d.is_error for d in shown)
    if warnings:
        click.echo(f"{warnings} 个警告（不影响生成；riskchart lint 可单独查看）", err=True)
    for name in report.published:
        if not quiet:
            click.echo(f"  发布  {name}", err=True)
    for problem in report.publish_failures:
        click.echo(f"  失败  {problem}", err=True)
    for name in report.removed:
        if not quiet:
            click.echo(printable(f"  删除  {name}（对应的图已不存在）"), err=True)
    click.echo(
        f"生成 {report.count('built')} 张，最新 {report.count('fresh')} 张，失败 {report.count('failed')} 张；"
        f"用时 {report.seconds:.2f} 秒 → {out}/", err=True)
    sys.exit(0 if report.ok else 1)


class Terminated(KeyboardInterrupt):
    """SIGTERM, stopped like Ctrl-C: dot runs killed, temporaries removed."""
    signal = 15


def _terminate_as_interrupt() -> contextlib.AbstractContextManager[None]:
    import signal

    @contextlib.contextmanager
    def handled() -> Iterator[None]:
        def stop(number: int, frame: FrameType | None) -> None:
            raise Terminated()

        try:
            previous = signal.signal(signal.SIGTERM, stop)
        except ValueError:  # not the main thread (an embedding program): leave signals alone
            yield
            return
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)

    return handled()


def _valid_charts(paths: tuple[Path, ...], project: Project) -> tuple[list[Chart], bool]:
    """Charts that lint without errors; the errors go to stderr."""
    from .check.report import format_text
    from .lint import lint_paths

    result = lint_paths(_chart_paths(paths, project), project.settings)
    errors = [d for d in result.diagnostics if d.is_error]
    if errors:
        click.echo(format_text(errors, result.sources), nl=False, err=True)
    return list(result.charts), bool(errors)


@main.command(options_metavar=_OPTIONS)
@_paths
@click.option("--format", "output_format", type=click.Choice(["csv", "json", "xlsx"]), multiple=True,
              default=["csv"], show_default=True, callback=_one_format)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="写入文件（默认输出到屏幕；xlsx 必须写入文件）。")
def export(paths: tuple[Path, ...], output_format: str, output: Path | None) -> None:
    """导出风险点台账：每个风险点一行（CSV 带 BOM，Excel 可直接打开；xlsx 带格式，可直接打印）。"""
    from .files import write_atomic

    if output_format == "xlsx" and output is None:
        raise click.UsageError("xlsx 是二进制文件，不能输出到屏幕：请用 -o 指定文件，例如 -o 风险点台账.xlsx")
    project = _project(paths)
    charts, had_errors = _valid_charts(paths, project)
    data = _register_bytes(charts, output_format, project.settings.categories, project.settings.levels)
    if output is None:
        try:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        except (AttributeError, OSError, ValueError):  # stdout closed (None), a closed pipe, a full disk
            from .errors import OutputNotWritable

            raise OutputNotWritable("无法写到标准输出（已关闭或不可写）：请用 -o 指定文件") from None
    else:
        write_atomic(output, data)
        click.echo(f"已写入 {output}", err=True)
    sys.exit(1 if had_errors else 0)


def _register_bytes(charts: list[Chart], output_format: str, categories: tuple[str, ...],
                    levels: tuple[str, ...]) -> bytes:
    from .publish.tables import register_csv, register_json

    if output_format == "xlsx":
        from .publish.xlsx import register_xlsx

        return register_xlsx(charts, categories, levels)
    return register_csv(charts) if output_format == "csv" else register_json(charts)


@main.command(options_metavar=_OPTIONS)
@_paths
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), multiple=True, default=["text"],
              show_default=True, callback=_one_format)
def stats(paths: tuple[Path, ...], output_format: str) -> None:
    """统计：各类别的图、环节和各等级风险点数量。"""
    from .publish.tables import statistics, statistics_text

    project = _project(paths)
    charts, had_errors = _valid_charts(paths, project)
    numbers = statistics(charts, project.settings.categories, project.settings.levels)
    if output_format == "json":
        click.echo(json.dumps(numbers.as_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(statistics_text(numbers), nl=False)
    sys.exit(1 if had_errors else 0)


def _diff_format(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> str:
    from .diff.formats import RENDERERS

    value = _one_format(ctx, param, values)
    if value not in RENDERERS:
        raise click.BadParameter(f"可选格式：{'、'.join(RENDERERS)}，而不是 {value!r}")
    return value


def _wants_colour() -> bool:
    """ANSI colour on a terminal only (and not under NO_COLOR), unless click was told otherwise."""
    chosen = click.get_current_context().color
    if chosen is not None:
        return chosen
    return not os.environ.get("NO_COLOR") and sys.stdout.isatty()


@main.command(options_metavar=_OPTIONS)
@click.argument("old", metavar="旧版本")
@click.argument("rest", nargs=-1, metavar="[新版本] [路径]...")
@click.option("--format", "output_format", multiple=True, default=["text"], show_default=True, callback=_diff_format,
              help="输出格式：text 供人阅读（终端上有颜色），json 供脚本，html 为左右对照的网页，"
                   "docx、xlsx 为修订对照表（须用 -o）。")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="写入文件（默认输出到屏幕）。")
@click.option("--exit-code", is_flag=True, help="有修订时以状态 1 退出（同 git diff --exit-code）。")
@click.option("--redline", type=click.Path(file_okay=False, path_type=Path), default=None, metavar="文件夹",
              help="把每张有修订的图（新版本）画成标出修订的 SVG 和 PDF，写入这个文件夹。")
def diff(old: str, rest: tuple[str, ...], output_format: str, output: Path | None, exit_code: bool,
         redline: Path | None) -> None:
    """修订对照：两个版本（git 的提交、标签或分支，新版本默认为工作区）或两个文件夹之间，各图改了什么。"""
    from .diff.formats import Options, render
    from .diff.versions import diff_arguments
    from .files import write_atomic

    project = _project(())
    found = diff_arguments(project, [old, *rest])
    if redline is not None:
        from .diff.redline import draw_redlines

        drawn = draw_redlines(found, redline, font=project.font, settings=project.settings, page=project.page)
        click.echo(f"红线图：{len(drawn)} 个文件写入 {redline}", err=True)
    colour = output is None and output_format == "text" and _wants_colour()
    rendered = render(found, output_format, Options(color=colour, settings=project.settings))
    if output is not None:
        write_atomic(output, rendered.encode("utf-8") if isinstance(rendered, str) else rendered)
        click.echo(f"已写入 {output}", err=True)
    elif isinstance(rendered, bytes):
        raise click.UsageError(f"{output_format} 是二进制文件，不能输出到屏幕：请用 -o 指定文件")
    else:
        click.echo(rendered, nl=False, color=colour)
    sys.exit(1 if exit_code and found else 0)


@main.command(options_metavar=_OPTIONS)
@_paths
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="端口（0：任选一个空闲端口）。")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="监听的地址；默认只有本机能访问，改为其他地址时网络上的其他人也能看到这些图。")
@click.option("--open", "open_browser", is_flag=True, help="启动后在浏览器中打开索引页。")
def serve(paths: tuple[Path, ...], port: int, host: str, open_browser: bool) -> None:
    """边改边看：生成全部图并在浏览器中显示，保存文件后自动重新生成、页面自动更新。"""
    from .build import BuildOptions
    from .serve import serve as run_serve

    project = _project(paths)
    options = BuildOptions(out=Path(os.path.relpath(project.out)), formats=project.formats, font=project.font,
                           settings=project.settings)
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"警告：正在 {host} 上提供服务，网络上的其他人也能看到这些图。", err=True)

    def opened(url: str) -> None:
        if open_browser:
            import webbrowser

            webbrowser.open(url)

    try:
        with _terminate_as_interrupt():
            run_serve(project, _chart_paths(paths, project), options, host, port,
                      lambda text: click.echo(text, err=True), opened)
    except KeyboardInterrupt:
        pass
    click.echo("已停止。", err=True)
