"""The pre-commit hook this repository offers: triggered by chart files only,
and then linting the whole folder (the cross-file rules need every chart)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

HOOKS = Path(__file__).resolve().parents[1] / ".pre-commit-hooks.yaml"


@pytest.fixture(scope="module")
def hook():
    (only,) = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    return only


@pytest.mark.parametrize("path", ["charts/01-劳动人事争议调解仲裁.yaml", "charts/_defaults.yaml", "charts/食品科/02-x.yml"])
def test_chart_files_trigger_the_hook(hook, path):
    assert re.search(hook["files"], path)


@pytest.mark.parametrize("path", [".pre-commit-config.yaml", ".github/workflows/lint.yml", "docker-compose.yaml",
                                  "docs/charts/example.yaml", "mkdocs.yml"])
def test_other_yaml_files_do_not(hook, path):
    assert not re.search(hook["files"], path)


def test_the_hook_lints_the_folder_not_the_changed_files(hook):
    assert hook["pass_filenames"] is False
    assert hook["entry"] == "riskchart lint"
