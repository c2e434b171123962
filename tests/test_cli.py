"""The command line, through click's CliRunner and once as a real process."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import CHART, HEAD, write_files

from riskchart import __version__
from riskchart.cli import main

WARNING_ONLY = HEAD + "status: draft\n"
ERROR = HEAD + "steps:\n  - name: 受理\n    level: 很高\n"


def run(*args):
    return CliRunner().invoke(main, list(map(str, args)), catch_exceptions=False)


@pytest.fixture
def charts(tmp_path):
    """A folder of charts; a pyproject.toml above it keeps the real one out of reach."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")

    def make(**files):
        folder = tmp_path / "charts"
        write_files(folder, {name.replace("_", "-") + ".yaml": text for name, text in files.items()})
        return folder

    return make


def test_lint_clean_exits_0(charts):
    result = run("lint", charts(**{"01_a": CHART}))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == "检查了 1 个文件，没有发现问题。\n"


def test_lint_errors_exit_1_with_located_lines(charts):
    folder = charts(**{"01_a": ERROR})
    result = run("lint", folder)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{folder / '01-a.yaml'}:6:12: error RC107 ")
    assert lines[1] == " 6 |     level: 很高"
    assert lines[2] == "   |            ^"
    assert result.stderr == "检查了 1 个文件：1 个错误，0 个警告。\n"


def test_lint_keeps_its_results_in_the_output_folder_and_says_the_same_again(charts):
    folder = charts(**{"01_a": ERROR, "02_b": WARNING_ONLY.replace("id: 1", "id: 2")})
    first = run("lint", folder)
    assert (folder / "out" / ".riskchart-cache" / "lint-results.bin").is_file()
    again = run("lint", folder)
    assert (again.exit_code, again.stdout, again.stderr) == (first.exit_code, first.stdout, first.stderr)
    assert "RC107" in first.stdout


def test_warnings_alone_exit_0(charts):
    result = run("lint", charts(**{"01_a": WARNING_ONLY}))
    assert result.exit_code == 0
    assert " warning RC301 " in result.stdout


def test_strict_makes_warnings_exit_1(charts):
    folder = charts(**{"01_a": WARNING_ONLY})
    result = run("lint", "--strict", folder)
    assert result.exit_code == 1
    assert " warning RC301 " in result.stdout
    assert run("lint", "--strict", folder / "01-a.yaml").exit_code == 1


def test_strict_with_no_diagnostics_exits_0(tmp_path):
    folder = write_files(tmp_path / "c", {"01-a.yaml": CHART})
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    assert run("lint", "--strict", folder).exit_code == 0


def test_missing_path_exits_2(tmp_path):
    result = run("lint", tmp_path / "nope")
    assert result.exit_code == 2
    assert "nope" in result.stderr
    assert result.stdout == ""


def test_folder_without_charts_exits_2(tmp_path):
    result = run("lint", tmp_path)
    assert result.exit_code == 2
    assert ".yaml" in result.stderr


def test_unknown_format_is_a_usage_error(charts):
    result = CliRunner().invoke(main, ["lint", "--format", "xml", str(charts(**{"01_a": CHART}))])
    assert result.exit_code == 2


def test_format_json(charts):
    folder = charts(**{"01_a": ERROR, "02_b": HEAD.replace("id: 1", "id: 2").replace("测试", "乙") + "status: draft\n"})
    result = run("lint", "--format", "json", folder)
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert [(r["path"], r["line"], r["column"], r["code"], r["severity"]) for r in rows] == [
        (str(folder / "01-a.yaml"), 6, 12, "RC107", "error"),
        (str(folder / "02-b.yaml"), 4, 9, "RC301", "warning"),
    ]
    assert set(rows[0]) == {"path", "line", "column", "code", "severity", "message"}
    assert result.stderr == ""          # no summary line to break a script


def test_format_json_clean_is_an_empty_list(charts):
    result = run("lint", "--format", "json", charts(**{"01_a": CHART}))
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


def test_format_github(charts):
    folder = charts(**{"01_a": ERROR})
    result = run("lint", "--format", "github", folder)
    assert result.exit_code == 1
    path = str(folder / "01-a.yaml").replace(":", "%3A").replace(",", "%2C")
    assert result.stdout.startswith(f"::error file={path},line=6,col=12,title=RC107::")
    assert result.stdout.count("\n") == 1


def test_quiet_drops_the_summary(charts):
    result = run("lint", "-q", charts(**{"01_a": ERROR}))
    assert result.exit_code == 1
    assert result.stderr == ""
    assert "RC107" in result.stdout


def test_default_path_is_charts(charts, monkeypatch):
    folder = charts(**{"01_a": ERROR})
    monkeypatch.chdir(folder.parent)
    result = run("lint")
    assert result.exit_code == 1
    assert result.stdout.startswith("charts/01-a.yaml:6:12: error RC107")


def test_default_path_missing_exits_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("lint")
    assert result.exit_code == 2
    assert "charts" in result.stderr


def test_several_paths(charts, tmp_path):
    folder = charts(**{"01_a": CHART})
    other = write_files(tmp_path / "more", {"01-a.yaml": CHART})
    result = run("lint", "--format", "json", folder, other)
    assert result.exit_code == 1
    assert {r["code"] for r in json.loads(result.stdout)} == {"RC203", "RC204", "RC212"}


def test_pyproject_disable_applies(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.riskchart]\ndisable = ["RC301"]\n', encoding="utf-8")
    folder = write_files(tmp_path / "charts", {"01-a.yaml": WARNING_ONLY})
    result = run("lint", "--strict", folder)
    assert result.exit_code == 0
    assert result.stdout == ""


def test_schema_prints_the_chart_schema():
    result = run("schema")
    assert result.exit_code == 0
    s = json.loads(result.stdout)
    assert {"id", "category", "title", "steps"} <= set(s["properties"])
    assert s["required"] == ["id", "category", "title"]
    assert "行政裁决" in result.stdout            # not \\u escaped


def test_schema_defaults():
    result = run("schema", "--defaults")
    assert result.exit_code == 0
    assert set(json.loads(result.stdout)["properties"]) == {"department", "phones"}


def test_version_option():
    result = run("--version")
    assert result.exit_code == 0
    assert re.fullmatch(rf"riskchart {re.escape(__version__)}（(Graphviz [0-9.]+|未找到 Graphviz（dot）)）\n", result.stdout)


def test_help_lists_lint_and_schema():
    result = run("--help")
    assert result.exit_code == 0
    assert "lint" in result.stdout and "schema" in result.stdout
    assert run("lint", "-h").exit_code == 0


def test_python_dash_m_version():
    done = subprocess.run([sys.executable, "-m", "riskchart", "--version"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"riskchart {__version__}（")


def test_python_dash_m_lint_exit_status(tmp_path):
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    folder = write_files(tmp_path / "charts", {"01-a.yaml": ERROR})
    done = subprocess.run([sys.executable, "-m", "riskchart", "lint", "--format", "json", str(folder)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)[0]["code"] == "RC107"


def test_version_names_graphviz_even_when_it_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout == f"riskchart {__version__}（未找到 Graphviz（dot））\n"


def test_build_shows_warnings_with_their_count_and_quiet_hides_them(charts, tmp_path):
    folder = charts(**{"01_a": CHART.replace("- 故意刁难申请人。", "- 1. 故意刁难申请人。")})
    result = CliRunner().invoke(main, ["build", str(folder), "-o", str(tmp_path / "out"), "--format", "svg",
                                       "--no-publish"])
    assert result.exit_code == 0, result.output
    assert "warning RC302" in result.output and "1 个警告" in result.output
    quiet = CliRunner().invoke(main, ["build", str(folder), "-o", str(tmp_path / "out2"), "--format", "svg",
                                      "--no-publish", "-q"])
    assert quiet.exit_code == 0
    assert "RC302" not in quiet.output and "个警告" not in quiet.output


# ESC, BEL and a one-character CSI: what would retitle or recolour the terminal.
TERMINAL_CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def test_missing_path_with_an_escape_is_printed_escaped(tmp_path):
    result = CliRunner().invoke(main, ["lint", str(tmp_path / "\x1b]0;PWNED\x07")])
    assert result.exit_code == 2
    assert "\\x1b]0;PWNED\\x07" in result.output and not TERMINAL_CONTROLS.search(result.output)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")
def test_build_prints_a_file_name_with_an_escape_escaped(charts, tmp_path):
    folder = charts(**{"01_a": CHART})
    (folder / "02-\x1b]0;PWNED\x07\x9b31m.yaml").write_text(CHART.replace("id: 1", "id: 2").replace("测试", "测试二"),
                                                          encoding="utf-8")
    result = CliRunner().invoke(main, ["build", "-o", str(tmp_path / "out"), "--format", "svg", str(folder)])
    assert result.exit_code == 1, result.output
    assert "02-\\x1b]0;PWNED\\x07\\x9b31m" in result.output and "RC211" in result.output
    assert not TERMINAL_CONTROLS.search(result.output), repr(result.output)


def _memory_capped():
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))  # a bug here must not exhaust the machine


@pytest.mark.parametrize("target", ["/dev/zero", "fifo"])
def test_lint_of_a_device_or_fifo_ends_with_a_located_error(target, tmp_path):
    if target == "fifo":
        target = tmp_path / "42-x.yaml"
        os.mkfifo(target)
    done = subprocess.run([sys.executable, "-m", "riskchart", "lint", str(target)], capture_output=True,
                          timeout=60, preexec_fn=_memory_capped)
    assert done.returncode == 1
    first = done.stdout.decode().splitlines()[0]
    assert first.startswith(f"{target}:1:1: error RC001 无法读取文件：这是"), first


# ---------------------------------------------------------------- --format given more than once

@pytest.mark.needs("dot")
@pytest.mark.parametrize("options, made", [
    (["--format", "svg", "--format", "dot"], {"svg", "dot"}),          # repeated: they add up
    (["--format", "svg,dot", "--format", "svg"], {"svg", "dot"}),      # commas still work; each format once
    (["--format", "dot"], {"dot"}),
])
def test_build_takes_every_format_given(charts, tmp_path, options, made):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", str(charts(**{"01_a": CHART})), "-o", str(out), "--no-publish",
                                       *options])
    assert result.exit_code == 0, result.output
    assert {p.suffix.lstrip(".") for p in out.glob("01-a.*")} == made


def test_build_s_formats_keep_the_order_given_each_once():
    from riskchart.cli import _formats

    assert _formats(None, None, ("dot", "svg,DOT", " pdf ,svg")) == ("dot", "svg", "pdf")
    assert _formats(None, None, ()) is None  # not given: the project's formats


@pytest.mark.parametrize("second", ["svg,xyz", ",", ""])
def test_a_wrong_value_in_a_repeated_build_format_is_named(charts, second):
    result = CliRunner().invoke(main, ["build", str(charts(**{"01_a": CHART})), "--format", "svg", "--format", second])
    assert result.exit_code == 2
    assert f"可选格式：svg,pdf,png,dot，而不是 {second!r}" in result.output


@pytest.mark.parametrize("command", [["lint"], ["export"], ["stats"], ["diff", "HEAD"]])
def test_commands_with_one_output_refuse_two_formats(charts, command):
    first, second = {"lint": ("json", "github"), "export": ("csv", "xlsx"), "stats": ("json", "text"),
                     "diff": ("json", "html")}[command[0]]
    folder = charts(**{"01_a": CHART})
    paths = [] if command[0] == "diff" else [str(folder)]
    result = CliRunner().invoke(main, [*command, *paths, "--format", first, "--format", second])
    assert result.exit_code == 2, result.output
    assert (f"只能选一种格式，这里给了 2 种（{first}、{second}）：riskchart {command[0]} 每次只输出一种，"
            "需要几种请分别运行") in result.stderr
    assert result.stdout == ""


def test_the_same_format_twice_is_that_format(charts):
    result = run("lint", "--format", "json", "--format", "json", charts(**{"01_a": CHART}))
    assert result.exit_code == 0 and json.loads(result.stdout) == []
    assert run("stats", "--format", "json", charts(**{"01_a": CHART})).stdout.startswith("{")


# ---------------------------------------------------------------- Ctrl-C before a command's own handling

def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize("command", [["lint"], ["build", "--no-publish"], ["export"], ["stats"], ["schema"]])
def test_ctrl_c_while_a_command_starts_exits_130_with_one_line(charts, monkeypatch, command):
    folder = charts(**{"01_a": CHART})
    monkeypatch.chdir(folder)
    monkeypatch.setattr("riskchart.config.find_project", _interrupt)  # every command's first step
    result = CliRunner().invoke(main, command)
    assert (result.exit_code, result.stdout, result.stderr) == (130, "", "已中断。\n")
    assert not isinstance(result.exception, KeyboardInterrupt)


def test_ctrl_c_while_options_are_parsed_exits_130(charts, monkeypatch):
    monkeypatch.setattr("riskchart.config.is_font_name", _interrupt)  # --font's check, during parsing
    result = CliRunner().invoke(main, ["build", str(charts(**{"01_a": CHART})), "--font", "宋体"])
    assert (result.exit_code, result.stderr) == (130, "已中断。\n")


def test_ctrl_c_while_the_version_is_looked_up_exits_130(monkeypatch):
    monkeypatch.setattr("graphviz.version", _interrupt)  # the group's own eager option
    result = CliRunner().invoke(main, ["--version"])
    assert (result.exit_code, result.stdout, result.stderr) == (130, "", "已中断。\n")


def test_sigterm_turned_into_an_interrupt_early_exits_143(charts, monkeypatch):
    from riskchart.cli import Terminated

    def terminated(*args, **kwargs):
        raise Terminated

    monkeypatch.setattr("riskchart.config.find_project", terminated)
    assert CliRunner().invoke(main, ["lint", str(charts(**{"01_a": CHART}))]).exit_code == 143
