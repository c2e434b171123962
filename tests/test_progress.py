"""What `riskchart build` prints while it draws: lines, or a bar on a terminal."""

import io
import shutil
from pathlib import Path

import pytest

from riskchart import progress as progress_module
from riskchart.build import BuildOptions, ChartOutcome, build
from riskchart.progress import PROGRESS_BAR_AFTER, BuildProgress

ROOT = Path(__file__).resolve().parents[1]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(stream: io.StringIO, count: int, quiet: bool = False, failing: int = -1) -> str:
    shown = BuildProgress(stream, quiet=quiet)
    shown.planned(count)
    for n in range(count):
        shown(ChartOutcome(f"{n:04d}-合成{n}", "failed" if n == failing else "built", "3:1 RC101 错", 0.25))
    shown(ChartOutcome("9999-旧图", "fresh"))
    shown.close()
    return stream.getvalue()


def test_many_charts_on_a_terminal_show_one_bar_with_count_and_eta_and_each_failure():
    count = PROGRESS_BAR_AFTER + 10
    shown = run(Terminal(), count, failing=7)
    assert f"{count}/{count}" in shown and "生成" in shown
    assert "0001-合成1" not in shown  # no line per chart drawn
    assert "失败  0007-合成7：3:1 RC101 错" in shown
    assert "9999-旧图" not in shown


def test_the_bar_estimates_the_time_left_from_the_builds_mean_rate(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(progress_module.time, "time", lambda: now[0])  # click's clock too
    shown = BuildProgress(Terminal())
    shown.planned(PROGRESS_BAR_AFTER + 10)
    now[0] += 30  # a first batch of ten charts, after 30 seconds, all at once
    for n in range(10):
        shown(ChartOutcome(f"{n}", "built"))
    assert shown._bar is not None
    assert shown._bar.eta == pytest.approx(3 * PROGRESS_BAR_AFTER)  # 3 s a chart, for the 50 left


def test_not_a_terminal_prints_a_line_per_chart_and_no_bar():
    shown = run(io.StringIO(), PROGRESS_BAR_AFTER + 10)
    assert shown.count("生成  ") == PROGRESS_BAR_AFTER + 10
    assert "[" not in shown and "/60" not in shown


def test_a_few_charts_on_a_terminal_print_lines():
    shown = run(Terminal(), 3)
    assert shown.count("生成  ") == 3 and "[" not in shown


def test_quiet_prints_failures_alone_even_on_a_terminal():
    shown = run(Terminal(), PROGRESS_BAR_AFTER + 10, quiet=True, failing=3)
    assert shown.strip() == "失败  0003-合成3：3:1 RC101 错"


@pytest.mark.needs("dot", "cjk-font")
def test_a_build_tells_how_many_charts_it_draws_before_the_first(tmp_path, monkeypatch):
    charts = tmp_path / "charts"
    charts.mkdir()
    for name in ("01-劳动人事争议调解仲裁.yaml", "04-失业保险待遇给付.yaml", "_defaults.yaml"):
        shutil.copy(ROOT / "charts" / name, charts / name)
    monkeypatch.setattr(progress_module, "PROGRESS_BAR_AFTER", 1)
    stream = Terminal()
    shown = BuildProgress(stream)
    build([charts], BuildOptions(out=tmp_path / "out", jobs=2), shown, planned=shown.planned)
    shown.close()
    assert "2/2" in stream.getvalue() and "01-劳动人事争议调解仲裁" not in stream.getvalue()
    stream = Terminal()
    shown = BuildProgress(stream)
    (charts / "04-失业保险待遇给付.yaml").write_text(
        (charts / "04-失业保险待遇给付.yaml").read_text(encoding="utf-8") + "# 改动\n", encoding="utf-8")
    build([charts], BuildOptions(out=tmp_path / "out", jobs=2), shown, planned=shown.planned)
    shown.close()
    assert "生成  04-失业保险待遇给付" in stream.getvalue()  # one chart to draw: a line, no bar
