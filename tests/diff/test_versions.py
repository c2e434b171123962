"""diff_arguments / diff_revisions / diff_folders on the scripted repository."""

from __future__ import annotations

import shutil

import pytest
from scripted import CHART_B_V2, EXPECTED, entered_repository, git, isolate_git, write

from riskchart.config import find_project
from riskchart.diff import sources, versions
from riskchart.diff.versions import diff_arguments, diff_folders
from riskchart.errors import BadRevision, NoCharts, NotARepository, UsageProblem

pytestmark = pytest.mark.needs("git")


@pytest.fixture
def repository(tmp_path, monkeypatch):
    return entered_repository(tmp_path, monkeypatch)


def changes_by_chart(diff):
    return [(chart.id, list(chart.changes)) for chart in diff.charts]


def test_every_kind_of_change_between_two_revisions_comes_out_exactly(repository):
    diff = diff_arguments(find_project(repository), ["v1", "v2"])
    assert changes_by_chart(diff) == EXPECTED
    assert diff.unchanged == 1  # 04-不变.yaml, and it is not mentioned
    assert diff.old.label.startswith("v1（") and diff.new.label.startswith("v2（")
    assert not diff.old.diagnostics and not diff.new.diagnostics


def test_a_renamed_file_is_the_same_chart(repository):
    diff = diff_arguments(find_project(repository), ["v1", "v2"])
    renamed = next(chart for chart in diff.charts if chart.id == 3)
    assert (renamed.old_file, renamed.new_file, renamed.renamed) == ("03-旧名.yaml", "03-新名.yaml", True)
    assert renamed.old is not None and renamed.new is not None and renamed.new.title == "确认"


def test_the_working_tree_is_the_default_new_side(repository):
    write(repository, {"charts/02-审批.yaml": CHART_B_V2.replace("level: 高", "level: 低", 1)})
    diff = diff_arguments(find_project(repository), ["v2"])
    assert diff.new.label == versions.WORKING_TREE
    assert [(chart.id, len(chart.changes)) for chart in diff.charts] == [(2, 1)]
    change = diff.charts[0].changes[0]
    assert (change.kind, change.step, change.before, change.after) == ("level_changed", "受理", "高", "低")
    assert diff.unchanged == 4
    assert git(repository, "status", "--porcelain") == " M charts/02-审批.yaml\n"  # nothing else touched


def test_no_change_at_all(repository):
    diff = diff_arguments(find_project(repository), ["v2"])
    assert not diff and diff.charts == () and diff.unchanged == 5


def test_paths_narrow_the_comparison(repository):
    diff = diff_arguments(find_project(repository), ["v1", "v2", "charts/02-审批.yaml", "charts/03-新名.yaml"])
    assert [chart.id for chart in diff.charts] == [2, 3]
    # a path that is also the working tree: NEW is then the working tree
    assert [chart.id for chart in diff_arguments(find_project(repository), ["v1", "charts/06-新增.yaml"]).charts] == [6]


def test_unchanged_files_are_never_parsed(repository, monkeypatch):
    asked: list[str] = []
    read = sources.revision_source

    def recording(repository, revision):
        source = read(repository, revision)

        def load(names, font):
            asked.extend(names)
            return source.load(names, font)
        return sources.Source(source.label, source.charts, source.defaults, load)

    monkeypatch.setattr(versions, "revision_source", recording)
    diff_arguments(find_project(repository), ["v1", "v2"])
    assert "04-不变.yaml" not in asked
    assert sorted(set(asked)) == ["01-食品经营许可.yaml", "02-审批.yaml", "03-新名.yaml", "03-旧名.yaml",
                                  "05-删除.yaml", "06-新增.yaml", "_defaults.yaml"]


def test_a_changed_defaults_file_changes_every_chart_under_it(repository):
    write(repository, {"charts/_defaults.yaml": "department: 新的局\nphones:\n  service: \"1111111\"\n"
                                                "  supervision: \"2222222\"\n"})
    diff = diff_arguments(find_project(repository), ["v2"])
    assert [chart.id for chart in diff.charts] == [2, 3, 4, 6]  # chart 1 names its own department
    assert {(c.item, c.before, c.after) for chart in diff.charts for c in chart.changes} == {("部门", "测试局", "新的局")}


def test_a_side_failing_lint_is_reported_and_diffed_as_far_as_it_loads(repository):
    write(repository, {"charts/02-审批.yaml": CHART_B_V2.replace("level: 高", "level: 很高", 1),
                       "charts/03-新名.yaml": "id: 3\ntitle: [\n"})
    diff = diff_arguments(find_project(repository), ["v1"])
    assert diff.new.errors == 2
    assert sorted((d.path, d.code) for d in diff.new.diagnostics if d.is_error) == [
        ("charts/02-审批.yaml", "RC107"), ("charts/03-新名.yaml", "RC006")]
    # the two broken charts are not compared (not shown as removed); the rest are
    assert [chart.id for chart in diff.charts] == [1, 5, 6]


def test_a_revision_failing_lint_names_its_files_by_revision(repository):
    write(repository, {"charts/02-审批.yaml": "id: 2\ntitle: [\n"})
    git(repository, "commit", "-q", "-am", "broken")
    diff = diff_arguments(find_project(repository), ["HEAD", "v2"])
    assert [(d.path, d.code) for d in diff.old.diagnostics] == [("HEAD:charts/02-审批.yaml", "RC006")]
    assert diff.charts == ()


@pytest.mark.parametrize(("revision", "message"), [
    ("nope", "不是这个仓库中的版本"), ("v1:charts", "不是这个仓库中的版本"), ("v1..v2", "不是这个仓库中的版本"),
    ("--output=x", "不能以 - 开头"), ("-p", "不能以 - 开头"), ("", "不是版本")])
def test_a_bad_revision_is_refused(repository, revision, message):
    with pytest.raises(BadRevision, match=message):
        diff_arguments(find_project(repository), [revision])
    assert not (repository / "x").exists()


def test_outside_a_repository(tmp_path, monkeypatch):
    isolate_git(monkeypatch)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    (tmp_path / "项目" / "charts").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "项目")
    with pytest.raises(NotARepository, match="不在 git 仓库中"):
        diff_arguments(find_project(tmp_path / "项目"), ["HEAD~1"])


def test_a_path_outside_the_charts_folder_is_refused(repository):
    with pytest.raises(NoCharts, match="不在防控图文件夹"):
        diff_arguments(find_project(repository), ["v1", "v2", "README.md"])


def test_two_folders(repository, tmp_path):
    old = tmp_path / "旧"
    git(repository, "worktree", "add", "-q", str(old), "v1")
    diff = diff_folders(old / "charts", repository / "charts", find_project(repository).settings)
    assert changes_by_chart(diff) == EXPECTED
    assert diff.old.label == str(old / "charts")
    with pytest.raises(UsageProblem, match="两个文件夹"):
        diff_arguments(find_project(repository), [str(old / "charts"), "v2"])
    shutil.rmtree(old)


def test_each_folder_is_checked_with_its_own_projects_settings(tmp_path, monkeypatch):
    chart = "id: 1\ncategory: 特别类\ntitle: 图\nsteps:\n  - name: 申请\n"
    write(tmp_path / "旧", {"riskchart.toml": 'charts = "charts"\n', "charts/01-图.yaml": chart.replace("特别类", "行政许可")})
    write(tmp_path / "新", {"riskchart.toml": 'extra_categories = ["特别类"]\n', "charts/01-图.yaml": chart})
    monkeypatch.chdir(tmp_path / "旧")  # the project of the current folder does not know 特别类
    diff = diff_arguments(find_project(tmp_path / "旧"), [str(tmp_path / "旧" / "charts"), str(tmp_path / "新" / "charts")])
    assert not diff.new.diagnostics
    assert [(c.item, c.before, c.after) for chart in diff.charts for c in chart.changes] == [("职权类别", "行政许可", "特别类")]
