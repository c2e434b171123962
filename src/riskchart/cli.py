"""The command line: parse options, call the library, print, exit.

Exit status: 0 no errors; 1 errors in the charts (or warnings under
--strict, or a chart that failed to build); 2 usage or environment problem.
Heavy modules (Jinja2, Graphviz, pypdf) are imported inside the commands
that need them, so `riskchart lint` starts fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import __version__

DEFAULT_CHARTS = Path("charts")
_paths = click.argument("paths", nargs=-1, type=click.Path(path_type=Path))


def _chart_paths(paths: tuple[Path, ...]) -> list[Path]:
    return list(paths) or [DEFAULT_CHARTS]


def _show_version(ctx, param, value) -> None:
    if not value or ctx.resilient_parsing:
        return
    import graphviz

    try:
        found = "Graphviz " + ".".join(map(str, graphviz.version()))
    except (graphviz.ExecutableNotFound, RuntimeError, OSError):
        found = "未找到 Graphviz（dot）"
    click.echo(f"riskchart {__version__}（{found}）")
    ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_show_version,
              help="显示 riskchart 和 Graphviz 的版本。")
def main() -> None:
    """riskchart：权力运行廉政风险防控图编译器（YAML → 校验 → SVG/PDF）。"""


@main.command()
@_paths
@click.option("--format", "output_format", type=click.Choice(["text", "json", "github"]),
              default="text", show_default=True, help="输出格式：text 供人阅读，json 供脚本，github 供 GitHub Actions 标注。")
@click.option("--strict", is_flag=True, help="有警告也以状态 1 退出。")
@click.option("-q", "--quiet", is_flag=True, help="不打印末尾的汇总行。")
def lint(paths, output_format, strict, quiet):
    """检查防控图文件（默认 charts/），报告全部错误和警告。"""
    from .diagnostics import has_errors
    from .lint import lint_paths
    from .report import FORMATTERS, summary

    result = lint_paths(_chart_paths(paths))
    click.echo(FORMATTERS[output_format](list(result.diagnostics), result.sources), nl=False)
    if output_format == "text" and not quiet:
        click.echo(summary(result.diagnostics, len(result.files)), err=True)
    sys.exit(1 if has_errors(result.diagnostics, strict=strict) else 0)


@main.command()
@click.option("--defaults", is_flag=True, help="输出 _defaults.yaml 的 schema。")
def schema(defaults):
    """输出防控图格式的 JSON Schema，供编辑器校验和补全。"""
    from .schema import CHART, DEFAULTS, json_schema

    click.echo(json.dumps(json_schema(DEFAULTS if defaults else CHART), ensure_ascii=False, indent=2))


def _font_name(value: str | None) -> str | None:
    if value is not None and (not value.strip() or any(c in value for c in '"\\<>&\n')):
        raise click.BadParameter(f"字体名称不能为空，也不能含引号、反斜杠或尖括号：{value!r}")
    return value


def _formats(ctx, param, value: str) -> tuple[str, ...]:
    from .render import FORMATS

    chosen = tuple(dict.fromkeys(f.strip().lower() for f in value.split(",") if f.strip()))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise click.BadParameter(f"可选格式：{','.join(FORMATS)}，而不是 {value!r}")
    return chosen


@main.command()
@_paths
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out"),
              show_default=True, help="输出文件夹。")
@click.option("--format", "formats", default="svg,pdf", show_default=True, callback=_formats,
              help="输出格式，逗号分隔：svg,pdf,png,dot。")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=None, help="并行数（默认为 CPU 核数）。")
@click.option("--force", is_flag=True, help="忽略增量记录，全部重新生成。")
@click.option("--font", default=None, callback=lambda ctx, param, value: _font_name(value),
              help="中文字体（默认 Noto Sans CJK SC）。")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=None,
              help="单张图 Graphviz 的时限，秒（默认 60）。")
@click.option("--lock-timeout", type=click.FloatRange(0, 86400), default=None,
              help="另一个 build 正在写入同一输出文件夹时，最多等待的秒数（默认 600）。")
@click.option("--no-publish", is_flag=True, help="只生成各图，不生成索引页、汇编和台账。")
@click.option("-q", "--quiet", is_flag=True, help="只打印错误和汇总。")
def build(paths, out, formats, jobs, force, font, timeout, lock_timeout, no_publish, quiet):
    """生成防控图（SVG、PDF 等）以及索引页、汇编 PDF 和风险点台账。"""
    import os

    from . import style
    from .build import BuildOptions, build as run_build
    from .report import format_text

    options = BuildOptions(
        out=out, formats=formats, jobs=jobs or os.cpu_count() or 1, force=force,
        font=font or style.DEFAULT_FONT, timeout=timeout or style.DOT_TIMEOUT_SECONDS,
        publish=not no_publish,
        lock_timeout=style.LOCK_TIMEOUT_SECONDS if lock_timeout is None else lock_timeout)
    labels = {"built": "生成", "fresh": "最新", "failed": "失败"}

    def progress(outcome):
        if outcome.status == "failed":
            click.echo(f"  {labels['failed']}  {outcome.stem}：{outcome.reason}", err=True)
        elif not quiet and outcome.status == "built":
            click.echo(f"  {labels['built']}  {outcome.stem}  {outcome.seconds:.2f} s", err=True)

    def waiting(holder):
        click.echo(f"另一个 build（{holder}）正在写入 {out}/，等待它结束（最多 {options.lock_timeout:g} 秒）…", err=True)

    try:
        with _terminate_as_interrupt():
            report = run_build(_chart_paths(paths), options, progress, waiting)
    except KeyboardInterrupt as interrupt:
        click.echo("已中断：已完成的图已保存，没有留下不完整的文件；再次运行 build 会继续。", err=True)
        sys.exit(128 + getattr(interrupt, "signal", 2))
    for warning in report.warnings:
        click.echo(f"  警告  {warning}", err=True)
    errors = [d for d in report.diagnostics if d.is_error]
    if errors:
        click.echo(format_text(errors, report.sources), nl=False, err=True)
    for name in report.published:
        if not quiet:
            click.echo(f"  发布  {name}", err=True)
    for problem in report.publish_failures:
        click.echo(f"  失败  {problem}", err=True)
    for name in report.removed:
        if not quiet:
            click.echo(f"  删除  {name}（对应的图已不存在）", err=True)
    click.echo(
        f"生成 {report.count('built')} 张，最新 {report.count('fresh')} 张，失败 {report.count('failed')} 张；"
        f"用时 {report.seconds:.2f} 秒 → {out}/", err=True)
    sys.exit(0 if report.ok else 1)


class Terminated(KeyboardInterrupt):
    """SIGTERM, stopped like Ctrl-C: dot runs killed, temporaries removed."""
    signal = 15


def _terminate_as_interrupt():
    import contextlib
    import signal

    @contextlib.contextmanager
    def handled():
        def stop(number, frame):
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


def _valid_charts(paths):
    """Charts that lint without errors; the errors go to stderr."""
    from .lint import lint_paths
    from .report import format_text

    result = lint_paths(_chart_paths(paths))
    errors = [d for d in result.diagnostics if d.is_error]
    if errors:
        click.echo(format_text(errors, result.sources), nl=False, err=True)
    return list(result.charts), bool(errors)


@main.command()
@_paths
@click.option("--format", "output_format", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="写入文件（默认输出到屏幕）。")
def export(paths, output_format, output):
    """导出风险点台账：每个风险点一行（CSV 带 BOM，Excel 可直接打开）。"""
    from .files import write_atomic
    from .tables import register_csv, register_json

    charts, had_errors = _valid_charts(paths)
    data = register_csv(charts) if output_format == "csv" else register_json(charts)
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


@main.command()
@_paths
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def stats(paths, output_format):
    """统计：各类别的图、环节和各等级风险点数量。"""
    from .tables import statistics, statistics_text

    charts, had_errors = _valid_charts(paths)
    numbers = statistics(charts)
    if output_format == "json":
        click.echo(json.dumps(numbers.as_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(statistics_text(numbers), nl=False)
    sys.exit(1 if had_errors else 0)
