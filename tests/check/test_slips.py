"""Slips of a clerk's hand, named as what was typed and where."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskchart.check.load import load_bytes
from riskchart.lint import check_file
from riskchart.model import Defaults

X = Path("x.yaml")
STEP = "steps:\n  - name: 受理\n    level: 中\n    risks:\n      - 故意刁难申请人。\n"


def diagnostics(text: str):
    return [(d.line, d.column, d.code, d.message) for d in load_bytes(X, text.encode()).diagnostics]


def checked(text: str, tmp_path: Path):
    """What lint says of one file (RC305 is found after loading, beside validation)."""
    path = tmp_path / "01-a.yaml"
    path.write_text("id: 1\ncategory: 其他权力\ntitle: 测试\n" + text, encoding="utf-8")
    return [(d.line - 3, d.column, d.code, d.message) for d in check_file(path, Defaults()).diagnostics
            if d.code == "RC305"]


@pytest.mark.parametrize("text, line, column", [
    ("title：测试\n", 1, 6),
    ("id: 1\ntitle ：测试\n", 2, 7),
    ("steps:\n  - name：受理\n", 2, 9),
    ("steps:\n  - name: 受理\n    level：高\n", 3, 10),
])
def test_full_width_colon_after_a_key_is_named_at_the_colon(text, line, column):
    (found,) = diagnostics(text)
    assert found[:3] == (line, column, "RC006")
    assert "全角冒号「：」" in found[3] and "半角冒号加空格" in found[3]


def test_full_width_colon_inside_text_is_text():
    assert diagnostics("title: 职权名称：劳动用工备案\n") == []
    assert diagnostics("steps:\n  - name: 受理\n    risks:\n      - 依据：《劳动法》\n") == []


def test_every_full_width_colon_is_reported_at_once():
    assert [d[:3] for d in diagnostics("title：一\ncategory：其他权力\n")] == [(1, 6, "RC006"), (2, 9, "RC006")]


def test_full_width_space_in_indentation_is_named_at_its_line():
    (found,) = diagnostics(STEP.replace("    level", "\u3000\u3000level"))
    assert found[:3] == (3, 1, "RC006")
    assert "全角空格（U+3000）" in found[3]
    (found,) = diagnostics(STEP.replace("    level", "  \u3000 level"))
    assert found[:3] == (3, 3, "RC006")


def test_full_width_space_inside_text_is_text():
    assert diagnostics("title: 劳动\u3000用工\n") == []


@pytest.mark.parametrize("indent, line, column, mark", [
    (5, 3, 11, "这一行在第 6 列"),   # one space too deep: PyYAML sees a colon it cannot place
    (3, 3, 4, "这一行在第 4 列"),    # one space too shallow
])
def test_key_indented_off_by_one_is_named_as_indentation(indent, line, column, mark):
    (found,) = diagnostics(STEP.replace("    level", " " * indent + "level"))
    assert found[:3] == (line, column, "RC006")
    assert "缩进与上一行的「name」不一致" in found[3] and mark in found[3]
    assert "双引号" not in found[3]


def test_a_deeper_key_under_a_key_that_opens_a_block_is_not_called_misaligned():
    found = diagnostics("steps:\n  - name: 受理\n    risks:\n       - 甲\n      - 乙\n")
    assert all("上一行的「risks」" not in message for *_, message in found)


@pytest.mark.parametrize("item, column, comment", [
    ("检查 #2 号车间", 12, "#2 号车间"),
    ("检查 # 2 号车间", 12, "# 2 号车间"),
])
def test_text_cut_by_a_comment_is_a_warning_at_the_hash(item, column, comment, tmp_path):
    (found,) = checked(STEP.replace("故意刁难申请人。", item), tmp_path)
    assert found[:3] == (5, column, "RC305")
    assert f"「{comment}」会被当作注释" in found[3] and f'"检查 {comment}"' in found[3]


@pytest.mark.parametrize("item", [
    '"检查 #2 号车间"',
    "检查#2号车间",
    "故意刁难申请人。  # 原文：故意刁难申请人",
    "故意刁难申请人。  # riskchart: ignore RC401 原文如此",
])
def test_meant_comments_and_quoted_hashes_pass(item, tmp_path):
    assert checked(STEP.replace("故意刁难申请人。", item), tmp_path) == []


def test_a_comment_after_a_key_value_or_an_empty_item_is_not_text_cut_short(tmp_path):
    assert checked(STEP.replace("    risks:", "    risks:  # 风险点").replace("level: 中", "level: 中  # 等级"),
                   tmp_path) == []
    assert checked(STEP.replace("故意刁难申请人。", "#"), tmp_path) == []
