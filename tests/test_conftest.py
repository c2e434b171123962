"""The rule for external tools (conftest.py): a missing tool skips a test
locally and fails it when CI is set — never a silent pass."""

import os
import subprocess
import sys

import pytest
from conftest import TESTS, missing_tool_verdict, tool_missing


@pytest.fixture
def empty_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    return str(tmp_path)


def test_a_missing_tool_is_a_skip_locally_and_a_failure_in_ci(empty_path):
    assert tool_missing("dot") == "Graphviz (Debian package graphviz)"
    kind, reason = missing_tool_verdict(("dot",), {})
    assert kind == "skip" and "Graphviz" in reason
    kind, reason = missing_tool_verdict(("dot",), {"CI": "true"})
    assert kind == "fail" and "Graphviz" in reason and "CI" in reason


def test_tools_that_are_there_give_no_verdict(tmp_path, monkeypatch):
    program = tmp_path / "gs"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert tool_missing("gs") is None
    assert missing_tool_verdict(("gs",), {"CI": "true"}) is None
    assert missing_tool_verdict(("gs", "mutool"), {"CI": "true"})[0] == "fail"


def run_one_test(env_changes: dict) -> subprocess.CompletedProcess:
    """Run a test marked needs("dot") in a fresh pytest, with no programs on PATH."""
    env = {name: value for name, value in os.environ.items() if name != "CI"}
    env.update(PATH="/nonexistent", **env_changes)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
                           f"{TESTS / 'draw' / 'test_render.py'}::test_svg_keeps_text_as_text_with_font_fallbacks"],
                          capture_output=True, text=True, env=env, cwd=TESTS.parent)


def test_ci_without_dot_fails_loudly():
    local = run_one_test({})
    assert local.returncode == 0 and "1 skipped" in local.stdout and "Graphviz" in local.stdout
    ci = run_one_test({"CI": "true"})
    assert ci.returncode == 1 and "1 error" in ci.stdout  # failed in set-up
    assert "Graphviz (Debian package graphviz) is not installed, and CI must run every test" in ci.stdout
