"""`riskchart init`: a project that lints clean and builds at once, and
never a file overwritten."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from riskchart.cli import main
from riskchart.config import find_project
from riskchart.lint import lint_paths
from riskchart.scaffold import SCAFFOLD, init_project


def test_init_writes_every_scaffold_file(tmp_path):
    made = init_project(tmp_path / "新项目")
    assert made.written == tuple(SCAFFOLD) and made.skipped == ()
    for name in SCAFFOLD:
        assert (tmp_path / "新项目" / name).is_file()
    assert "/out/" in (tmp_path / "新项目" / ".gitignore").read_text(encoding="utf-8")


def test_the_new_project_lints_without_any_diagnostic(tmp_path):
    init_project(tmp_path)
    project = find_project(tmp_path / "charts")
    assert project.root == tmp_path.resolve() and project.config_file == tmp_path.resolve() / "riskchart.toml"
    result = lint_paths([project.charts], project.settings)
    assert result.diagnostics == ()
    (chart,) = result.charts
    assert chart.category == "行政许可" and chart.department == "某某县市场监督管理局"


def test_init_never_overwrites_and_says_what_it_skipped(tmp_path):
    (tmp_path / "charts").mkdir()
    (tmp_path / "README.md").write_text("我们自己的说明\n", encoding="utf-8")
    (tmp_path / "charts" / "_defaults.yaml").write_text("department: 本局\n", encoding="utf-8")
    (tmp_path / ".gitignore").symlink_to(tmp_path / "nowhere")
    result = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert result.exit_code == 0
    for kept in ("README.md", "charts/_defaults.yaml", ".gitignore"):
        assert f"跳过  {tmp_path / kept}（已存在，未改动）" in result.stderr
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == "我们自己的说明\n"
    assert (tmp_path / "charts" / "_defaults.yaml").read_text(encoding="utf-8") == "department: 本局\n"
    assert (tmp_path / ".gitignore").is_symlink() and not (tmp_path / "nowhere").exists()
    assert f"新建  {tmp_path / 'riskchart.toml'}" in result.stderr
    again = init_project(tmp_path)
    assert again.written == () and set(again.skipped) == set(SCAFFOLD)
    assert not list(tmp_path.rglob("*.tmp"))


def test_init_into_a_file_is_one_message_with_exit_2(tmp_path):
    (tmp_path / "file").write_text("", encoding="utf-8")
    result = CliRunner().invoke(main, ["init", str(tmp_path / "file")])
    assert result.exit_code == 2 and "Traceback" not in result.output


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")
def test_init_then_build_gives_a_chart_at_once(tmp_path, monkeypatch):
    init_project(tmp_path)
    monkeypatch.chdir(tmp_path / "charts")
    result = CliRunner().invoke(main, ["build", "-q"])
    assert result.exit_code == 0, result.output
    for name in ("01-示例职权.svg", "01-示例职权.pdf", "index.html", "booklet.pdf", "risk-register.csv"):
        assert (tmp_path / "out" / name).is_file()
    assert not (tmp_path / "charts" / "out").exists()
