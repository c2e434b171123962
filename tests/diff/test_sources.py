"""sources: the files of a side, their object ids, and loading them."""

from __future__ import annotations

import pytest
from scripted import git, isolate_git, make_repository, write

from riskchart import limits
from riskchart.diff import sources
from riskchart.diff.sources import defaults_chain, find_repository, folder_source, is_chart_name, revision_source


def test_chart_names_are_those_lint_finds():
    assert is_chart_name("01-a.yaml") and is_chart_name("食品科/01-a.YML")
    assert not any(map(is_chart_name, ["_defaults.yaml", ".01-a.yaml", "_草稿/01-a.yaml", ".git/x.yaml", "a.txt"]))
    assert defaults_chain("食品科/检验股/01-a.yaml") == ["_defaults.yaml", "食品科/_defaults.yaml",
                                                   "食品科/检验股/_defaults.yaml"]


@pytest.mark.needs("git")
def test_files_on_disk_get_the_object_ids_git_gives_them(tmp_path, monkeypatch):
    isolate_git(monkeypatch)
    repository = make_repository(tmp_path / "仓库")
    committed = revision_source(find_repository(repository / "charts"), "v2")
    on_disk = folder_source(repository / "charts", "工作区")
    assert on_disk.charts == committed.charts and on_disk.defaults == committed.defaults
    assert sorted(committed.charts) == ["01-食品经营许可.yaml", "02-审批.yaml", "03-新名.yaml", "04-不变.yaml",
                                        "06-新增.yaml"]
    assert committed.label == f"v2（{git(repository, 'rev-parse', '--short=7', 'v2').strip()}）"


@pytest.mark.needs("git")
def test_a_huge_file_in_a_revision_is_refused_without_being_read(tmp_path, monkeypatch):
    isolate_git(monkeypatch)
    repository = make_repository(tmp_path / "仓库")
    write(repository, {"charts/07-大.yaml": "#" * (limits.MAX_FILE_BYTES + 1)})
    git(repository, "add", "-A")
    git(repository, "commit", "-q", "-m", "huge")
    source = revision_source(find_repository(repository / "charts"), "HEAD")
    read = sources._cat_blobs
    asked: list[str] = []
    monkeypatch.setattr(sources, "_cat_blobs", lambda repository, ids: asked.extend(ids) or read(repository, ids))
    loaded = source.load(["07-大.yaml", "04-不变.yaml"], "Noto Sans CJK SC")
    assert asked == [source.charts["04-不变.yaml"]]
    assert [(d.path, d.code) for d in loaded["07-大.yaml"].diagnostics] == [("HEAD:charts/07-大.yaml", "RC003")]
    assert loaded["04-不变.yaml"].root is not None and not loaded["04-不变.yaml"].diagnostics
