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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="riskchart")
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
