"""The text format: what a clerk reads in a terminal or a file."""

from __future__ import annotations

import click
import pytest
from formats_fixture import hostile_diff
from scripted import isolate_git, make_repository

from riskchart.config import find_project
from riskchart.diff.as_text import render_text
from riskchart.diff.versions import diff_arguments

EXPECTED_CHART_2 = """\
测试局 第 2 号 审批（02-审批.yaml）
  ~ 受理 · 环节顺序：第 2 个环节 → 第 1 个环节
  ~ 受理 · 风险等级：中 → 高
  ~ 受理 · 责任人：受理人 → 受理岗
  ~ 受理 · 风险点2：不按规定程序{+和时限+}受理。
  - 受理 · 防控措施2：实行一次性告知。
  + 受理 · 防控措施2：推行网上受理，全程留痕。
  ~ 复核 · 环节名称：审核 → 复核
  - 公示 · 环节：公示
      风险等级：低
      风险点1：公示不及时。
      防控措施1：按时公示。
      责任人：办理人
  + 集体讨论 · 环节：集体讨论
      风险等级：高
      风险点1：议而不决。
      防控措施1：实行票决制。
      责任人：分管领导
"""
SUMMARY = ("5 张图有修订（新增 1 张，删除 1 张，修改 3 张），1 张未变；共 20 处修订：新增职权 1，删除职权 1，项目修改 6，"
           "新增环节 1，删除环节 1，环节更名 1，环节顺序调整 1，风险等级调整 1，新增条目 3，删除条目 1，修改表述 2，责任人变更 1。")


@pytest.fixture(scope="module")
def scripted_diff(tmp_path_factory):
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate_git(monkeypatch)
        repository = make_repository(tmp_path_factory.mktemp("text") / "仓库")
        monkeypatch.chdir(repository)
        return diff_arguments(find_project(repository), ["v1", "v2"])


@pytest.mark.needs("git")
def test_plain_text_groups_by_chart_and_ends_with_the_summary(scripted_diff):
    text = render_text(scripted_diff)
    assert "\x1b" not in text
    blocks = text.split("\n\n")
    assert blocks[0].startswith("旧版本：v1（") and "\n新版本：v2（" in blocks[0]
    assert blocks[2] + "\n" == EXPECTED_CHART_2
    assert blocks[3] == "测试局 第 3 号 确认（03-旧名.yaml → 03-新名.yaml）\n  + 审查 · 风险点1：收受申请人财物。"
    assert blocks[4:6] == ["测试局 第 5 号 要删除的图（05-删除.yaml）\n  - 职权：要删除的图",
                           "测试局 第 6 号 新增的图（06-新增.yaml）\n  + 职权：新增的图"]
    assert blocks[-1] == SUMMARY + "\n"
    assert "不变的图" not in text


@pytest.mark.needs("git")
def test_colour_marks_removed_and_added_text_instead_of_brackets(scripted_diff):
    text = render_text(scripted_diff, color=True)
    assert "{+" not in text and "[-" not in text
    assert "不按规定程序" + click.style("和时限", fg="green", underline=True) + "受理。" in text
    assert click.style("中", fg="red") + " → " + click.style("高", fg="green") in text
    assert click.unstyle(text) == render_text(scripted_diff).replace("{+", "").replace("+}", "")


def test_nothing_in_a_chart_can_drive_the_terminal():
    for color in (False, True):
        text = click.unstyle(render_text(hostile_diff(), color=color))
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
        assert "\\x1b[2J\\x1b]0;title\\x07" in text and "\\u202e" in text and "<b>受理</b>\\x1b[5m" in text
    assert "新版本有" not in render_text(hostile_diff())
    assert "旧版本有 1 个错误，出错的图未比较：\n  charts/\\x1b[2J<i>.yaml:1:1: error RC006" in render_text(hostile_diff())


def test_no_change():
    from riskchart.diff.changes import Diff, Side

    assert render_text(Diff(Side("v1"), Side("工作区"), (), 40)).endswith("\n\n没有修订：40 张图未变。\n")
