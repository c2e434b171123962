"""click's own words (help headings, usage errors) come out in Chinese."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from riskchart.cli import main

COMMANDS = sorted(main.commands)
# English that click prints when a message is not translated.
_ENGLISH = re.compile(r"Usage|Options|Commands|Show this|Error|Invalid value|is not one of|No such|"
                      r"Did you mean|Try '|Missing|requires an argument|unexpected extra|\[OPTIONS\]|\[PATHS\]")


def run(*args: str):
    return CliRunner().invoke(main, list(args), prog_name="riskchart")


@pytest.mark.parametrize("args", [["--help"], *([name, "--help"] for name in COMMANDS)])
def test_every_help_page_is_chinese(args):
    result = run(*args)
    assert result.exit_code == 0
    assert "用法:" in result.output and "显示本帮助并退出。" in result.output
    assert not _ENGLISH.search(result.output), result.output


@pytest.mark.parametrize("args, words", [
    (["lint", "--format", "xlsx"], ["'--format' 的值无效", "'xlsx' 不是可选的值", "'text', 'json', 'github'"]),
    (["buil"], ["没有 'buil' 这个命令", "是否为 'build'？"]),
    (["lint", "--nope"], ["没有 '--nope' 这个选项"]),
    (["build", "-o"], ["选项 '-o' 后面要写值"]),
    (["build", "--jobs", "x"], ["'x' 不是有效的数字"]),
    (["stats", "--format"], ["后面要写值"]),
    ([], ["用法: riskchart [选项] 命令 [参数]..."]),
])
def test_usage_errors_are_chinese_with_exit_status_2(args, words):
    result = run(*args)
    assert result.exit_code == 2
    for word in words:
        assert word in result.output, result.output
    assert not _ENGLISH.search(result.output), result.output
