"""`riskchart diff` on the command line: output, -o, exit statuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from scripted import entered_repository, isolate_git

from riskchart.cli import main

pytestmark = pytest.mark.needs("git")


@pytest.fixture
def repository(tmp_path, monkeypatch):
    return entered_repository(tmp_path, monkeypatch)


def run(*arguments):
    return CliRunner().invoke(main, ["diff", *arguments], catch_exceptions=False)


def test_exit_status_is_zero_or_with_exit_code_one_when_there_are_changes(repository):
    assert run("v1", "v2").exit_code == 0
    assert run("v1", "v2", "--exit-code").exit_code == 1
    assert run("v2", "--exit-code").exit_code == 0  # the working tree is v2
    same = run("v2", "v2", "--exit-code")
    assert same.exit_code == 0 and same.output.endswith("）\n\n没有修订：5 张图未变。\n")


@pytest.mark.parametrize(("arguments", "message"), [
    (["nope"], "「nope」不是这个仓库中的版本"),
    (["v1", "nope"], "「nope」不是这个仓库中的版本"),
    (["--", "--output=x"], "「--output=x」不是版本"),
    (["v1", "v2", "../elsewhere"], "不在防控图文件夹"),
])
def test_a_bad_revision_or_path_exits_2_with_one_line(repository, arguments, message):
    result = CliRunner().invoke(main, ["diff", *arguments])
    assert result.exit_code == 2
    lines = result.output.strip().split("\n")
    assert len(lines) == 1 and lines[0].startswith("riskchart：错误：") and message in lines[0], result.output
    assert not (repository / "x").exists() and not (repository / "--output=x").exists()


def test_not_a_repository_exits_2(tmp_path, monkeypatch):
    isolate_git(monkeypatch)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    (tmp_path / "charts").mkdir()
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["diff", "HEAD"])
    assert result.exit_code == 2 and "不在 git 仓库中" in result.output


def test_output_files_in_each_format(repository, tmp_path):
    for name in ("text", "json", "html"):
        target = tmp_path / f"修订对照.{name}"
        result = run("v1", "v2", "--format", name, "-o", target)
        assert result.exit_code == 0 and f"已写入 {target}" in result.output
        assert target.read_text(encoding="utf-8").count("食品经营许可证核发") >= 1
    assert json.loads((tmp_path / "修订对照.json").read_text(encoding="utf-8"))["summary"]["changes"] == 20
    assert "\x1b" not in (tmp_path / "修订对照.text").read_text(encoding="utf-8")
    wrong = CliRunner().invoke(main, ["diff", "v1", "--format", "pdf"])
    assert wrong.exit_code == 2 and "可选格式：text、json、html、docx、xlsx" in wrong.output


def test_the_revision_tables_open_in_their_programs_and_bytes_never_go_to_the_screen(repository, tmp_path):
    import docx
    import openpyxl

    assert run("v1", "v2", "--format", "docx", "-o", tmp_path / "对照.docx").exit_code == 0
    assert run("v1", "v2", "--format", "xlsx", "-o", tmp_path / "对照.xlsx").exit_code == 0
    document = docx.Document(str(tmp_path / "对照.docx"))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    sheet = openpyxl.load_workbook(tmp_path / "对照.xlsx").active
    values = [str(value) for row in sheet.iter_rows(values_only=True) for value in row if value is not None]
    for found in (cells, values):
        assert "修订后" in found and "风险等级调整" in found
        assert any("食品经营许可证核发" in value for value in found)
    screen = CliRunner().invoke(main, ["diff", "v1", "v2", "--format", "xlsx"])
    assert screen.exit_code == 2 and "请用 -o 指定文件" in screen.output


@pytest.mark.needs("dot")
def test_redlines_are_drawn_for_the_changed_charts_that_still_exist_and_no_others(repository, tmp_path):
    summary = json.loads(run("v1", "v2", "--format", "json").output)
    changed = {c["new_file"].removesuffix(".yaml") for c in summary["charts"] if c["status"] != "removed"}
    assert changed and summary["summary"]["unchanged_charts"] >= 1
    result = run("v1", "v2", "--redline", tmp_path / "红线")
    assert result.exit_code == 0, result.output
    drawn = sorted(p.relative_to(tmp_path / "红线").as_posix() for p in (tmp_path / "红线").rglob("*.*"))
    assert drawn == sorted(f"{name}.{kind}" for name in changed for kind in ("pdf", "svg"))
    assert f"红线图：{len(drawn)} 个文件写入" in result.output


def test_as_a_real_process_the_working_tree_is_left_alone(repository):
    (repository / "charts" / "02-审批.yaml").write_text("id: 2\ntitle: [\n", encoding="utf-8")
    before = subprocess.run(["git", "status", "--porcelain", "--ignored"], capture_output=True, text=True).stdout
    done = subprocess.run([sys.executable, "-m", "riskchart", "diff", "v1", "--exit-code"], capture_output=True,
                          text=True, env={**os.environ, "NO_COLOR": ""}, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "新版本有 1 个错误，出错的图未比较：\n  charts/02-审批.yaml:3:1: error RC006" in done.stdout
    assert "\x1b" not in done.stdout  # a pipe: no colour
    assert subprocess.run(["git", "status", "--porcelain", "--ignored"], capture_output=True,
                          text=True).stdout == before
