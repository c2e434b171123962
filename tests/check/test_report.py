"""Formatters: text (with source line and caret), json, GitHub annotations."""

from __future__ import annotations

import json
import re

import pytest
from conftest import lint_files

from riskchart.check.diagnostics import Diagnostic, Severity, make
from riskchart.check.report import FORMATTERS, format_github, format_json, format_text, summary, terminal_width

SOURCE = "id: 1\ncategory: 行政裁决\ntitle: 中文中文: x\nsteps:\n  - name: 申请\n    level: 很高\n"
PATH = "charts/01-a.yaml"


def d(line, column, code="RC107", message="取值不在允许范围内", path=PATH):
    return make(path, line, column, code, message)


# ---------------------------------------------------------------- text

def test_text_line_source_and_caret():
    out = format_text([d(6, 12, message="level 须为 高、中、低 之一")], {PATH: SOURCE})
    assert out == (
        "charts/01-a.yaml:6:12: error RC107 level 须为 高、中、低 之一\n"
        " 6 |     level: 很高\n"
        "   |            ^\n")


def test_caret_is_placed_by_display_width():
    out = format_text([d(3, 12, "RC006", "YAML 语法错误")], {PATH: SOURCE}).splitlines()
    assert out[1] == " 3 | title: 中文中文: x"
    assert out[2] == "   | " + " " * (7 + 4 * 2) + "^"
    # the caret stands under the colon when both lines are drawn in a terminal
    assert terminal_width(out[2].index("^") * " ") == terminal_width(" 3 | title: 中文中文")


@pytest.mark.parametrize("text, width", [("abc", 3), ("中文", 4), ("ａｂ", 4), ("「」", 4), ("é", 1), ("", 0),
                                         ("\u3000", 2), ("😀", 2)])
def test_display_width(text, width):
    assert terminal_width(text) == width


def test_gutter_widens_with_the_line_number():
    source = "\n" * 11 + "title: 很高\n"
    out = format_text([d(12, 8)], {PATH: source}).splitlines()
    assert out[1] == " 12 | title: 很高"
    assert out[2] == "    |        ^"


def test_warning_is_labelled_warning():
    out = format_text([make(PATH, 1, 1, "RC301", "草稿图")], {})
    assert out == "charts/01-a.yaml:1:1: warning RC301 草稿图\n"


def test_no_source_line_when_unknown_blank_or_out_of_range():
    sources = {PATH: "id: 1\n\n"}
    out = format_text([d(1, 1, path="other.yaml"), d(2, 1), d(99, 1)], sources)
    assert out == ("other.yaml:1:1: error RC107 取值不在允许范围内\n"
                   "charts/01-a.yaml:2:1: error RC107 取值不在允许范围内\n"
                   "charts/01-a.yaml:99:1: error RC107 取值不在允许范围内\n")


def test_long_source_line_is_cut():
    out = format_text([d(1, 1)], {PATH: "x" * 1000}).splitlines()
    assert out[1] == " 1 | " + "x" * 160


def test_empty_text_report():
    assert format_text([], {}) == ""


class CountingText(str):
    """A source text that counts how often it is split into lines."""

    splits = 0

    def split(self, *args, **kwargs):
        CountingText.splits += 1
        return super().split(*args, **kwargs)


def test_text_report_splits_each_source_once():
    CountingText.splits = 0
    source = CountingText("id: 1\n" * 50)
    format_text([d(line, 1) for line in range(1, 51)], {PATH: source})
    assert CountingText.splits == 1


# ---------------------------------------------------------------- json

def test_json_round_trips_with_six_fields():
    diagnostics = [d(6, 12, message="「很高」不在 高、中、低 中"), make("b.yaml", 1, 1, "RC301", "草稿图")]
    out = format_json(diagnostics, {})
    rows = json.loads(out)
    assert rows == [
        {"path": PATH, "line": 6, "column": 12, "code": "RC107", "severity": "error",
         "message": "「很高」不在 高、中、低 中"},
        {"path": "b.yaml", "line": 1, "column": 1, "code": "RC301", "severity": "warning", "message": "草稿图"},
    ]
    assert [Diagnostic(r["path"], r["line"], r["column"], r["code"], Severity(r["severity"]), r["message"])
            for r in rows] == diagnostics
    assert "很高" in out            # not \\u escaped
    assert out.endswith("\n")


def test_json_of_nothing_is_an_empty_list():
    assert json.loads(format_json([], {})) == []


def test_json_keeps_awkward_messages():
    message = 'a "quote" \\ back\nslash \x00 %s {}'
    assert json.loads(format_json([d(1, 1, message=message)], {}))[0]["message"] == message


# ---------------------------------------------------------------- github

def test_github_annotation():
    out = format_github([d(6, 12, message="level 须为 高、中、低 之一")], {})
    assert out == "::error file=charts/01-a.yaml,line=6,col=12,title=RC107::level 须为 高、中、低 之一\n"


def test_github_warning():
    out = format_github([make(PATH, 5, 9, "RC301", "草稿图")], {})
    assert out == "::warning file=charts/01-a.yaml,line=5,col=9,title=RC301::草稿图\n"


def test_github_escapes_data():
    out = format_github([d(1, 1, message="100% 完成\r\n第二行: a, b")], {})
    assert out == "::error file=charts/01-a.yaml,line=1,col=1,title=RC107::100%25 完成%0D%0A第二行: a, b\n"
    assert out.count("\n") == 1


def test_github_escapes_properties():
    out = format_github([d(2, 3, path="C:\\图,表%1\n.yaml")], {})
    assert out == "::error file=C%3A\\图%2C表%251%0A.yaml,line=2,col=3,title=RC107::取值不在允许范围内\n"


def test_github_of_nothing():
    assert format_github([], {}) == ""


# ---------------------------------------------------------------- through lint

def test_formatters_on_a_real_result(tmp_path):
    result = lint_files(tmp_path, {"01-a.yaml": SOURCE})
    diagnostics = list(result.diagnostics)
    assert [(x.line, x.column, x.code) for x in diagnostics] == [(3, 12, "RC006")]
    text = FORMATTERS["text"](diagnostics, result.sources)
    assert text.splitlines()[0].endswith(":3:12: error RC006 " + diagnostics[0].message)
    assert json.loads(FORMATTERS["json"](diagnostics, result.sources))[0]["line"] == 3
    assert FORMATTERS["github"](diagnostics, result.sources).startswith("::error file=")
    assert set(FORMATTERS) == {"text", "json", "github"}


@pytest.mark.parametrize("diagnostics, files, expected", [
    ([], 3, "检查了 3 个文件，没有发现问题。"),
    ([d(1, 1), d(2, 1), make(PATH, 1, 1, "RC301", "草稿图")], 2, "检查了 2 个文件：2 个错误，1 个警告。"),
    ([make(PATH, 1, 1, "RC301", "草稿图")], 1, "检查了 1 个文件：0 个错误，1 个警告。"),
])
def test_summary(diagnostics, files, expected):
    assert summary(diagnostics, files) == expected


# ---------------------------------------------------------------- control characters never reach the terminal

# What a terminal acts on or reorders: C0 (but the line feed ending each line),
# DEL, C1 (U+009B is a one-character CSI), bidi controls, lone surrogates.
TERMINAL_CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
PWNED = "\x1b]0;PWNED\x07"


@pytest.mark.parametrize("name", sorted(FORMATTERS))
def test_no_format_prints_control_characters(name):
    diagnostics = [d(1, 9, "RC102", f"未知键 {PWNED}\x9b31m\u202e", path=f"charts/01-{PWNED}\udcff.yaml")]
    out = FORMATTERS[name](diagnostics, {diagnostics[0].path: f"title: 测{PWNED}\u202e试\n"})
    assert not TERMINAL_CONTROLS.search(out), repr(out)
    out.encode("utf-8")  # a file name that is not UTF-8 cannot break printing either
    if name == "json":  # the data itself is kept exactly
        row = json.loads(out)[0]
        assert (row["path"], row["message"]) == (diagnostics[0].path, diagnostics[0].message)
    else:
        assert "\\x1b]0;PWNED\\x07" in out and "\\x9b31m\\u202e" in out and "\\udcff" in out


def test_text_caret_stands_under_an_escaped_character():
    out = format_text([d(1, 9, "RC004", "含控制字符")], {PATH: "title: 测\x1b试\n"}).splitlines()
    assert out[1] == " 1 | title: 测\\x1b试"
    assert out[2].index("^") == out[1].index("\\") + 1  # 测 takes two columns in both lines


def test_lint_of_an_escape_in_a_key_and_a_file_name(tmp_path):
    from click.testing import CliRunner

    from riskchart.cli import main

    folder = tmp_path / "charts"
    folder.mkdir()
    (folder / "01-a.yaml").write_text('id: 1\ncategory: 行政裁决\ntitle: 测试\n"\\e]0;PWNED\\a": x\n', encoding="utf-8")
    (folder / f"02-{PWNED}.yaml").write_text("id: 2\ncategory: 行政裁决\ntitle: 测\x1b]0;PWNED\x07试\n",
                                             encoding="utf-8")
    for output_format in sorted(FORMATTERS):
        result = CliRunner().invoke(main, ["lint", "--format", output_format, str(folder)])
        assert result.exit_code == 1, result.output
        assert not TERMINAL_CONTROLS.search(result.output), repr(result.output)
        assert "PWNED" in result.output
