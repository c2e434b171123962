"""The JSON format, parsed back: the stable shape README documents."""

from __future__ import annotations

import json

import pytest
from formats_fixture import hostile_diff
from scripted import EXPECTED, isolate_git, make_repository

from riskchart.config import find_project
from riskchart.diff.as_json import render_json
from riskchart.diff.versions import diff_arguments


@pytest.mark.needs("git")
def test_the_scripted_changes_parse_back_exactly(tmp_path, monkeypatch):
    isolate_git(monkeypatch)
    repository = make_repository(tmp_path / "仓库")
    monkeypatch.chdir(repository)
    document = json.loads(render_json(diff_arguments(find_project(repository), ["v1", "v2"])))
    assert document["version"] == 1
    assert document["old"]["label"].startswith("v1（") and document["old"]["diagnostics"] == []
    assert {k: v for k, v in document["summary"].items() if k != "text"} == {
        "changed_charts": 5, "added_charts": 1, "removed_charts": 1, "unchanged_charts": 1, "changes": 20,
        "by_kind": {"chart_added": 1, "chart_removed": 1, "field_changed": 6, "item_added": 3, "item_removed": 1,
                    "item_reworded": 2, "level_changed": 1, "owner_changed": 1, "step_added": 1, "step_moved": 1,
                    "step_removed": 1, "step_renamed": 1}}
    found = [(chart["id"], [(c["kind"], c["step"], c["item"], c["before"], c["after"],
                             None if c["old_path"] is None else tuple(c["old_path"]),
                             None if c["new_path"] is None else tuple(c["new_path"])) for c in chart["changes"]])
             for chart in document["charts"]]
    assert found == [(id, [(c.kind, c.step, c.item, c.before, c.after, c.old_path, c.new_path) for c in changes])
                     for id, changes in EXPECTED]
    renamed = document["charts"][2]
    assert (renamed["status"], renamed["old_file"], renamed["new_file"]) == ("changed", "03-旧名.yaml", "03-新名.yaml")
    assert [chart["status"] for chart in document["charts"][3:]] == ["removed", "added"]
    assert document["charts"][1]["changes"][3]["note"] == "修改表述"


def test_hostile_text_is_escaped_yet_the_same_data():
    text = render_json(hostile_diff())
    assert "\x1b" not in text and "\u202e" not in text and "\\u202e" in text
    document = json.loads(text)
    assert document["charts"][0]["department"] == "局\u202e"
    assert document["charts"][0]["changes"][1]["after"].startswith("<img src=x")
    assert document["old"]["errors"] == 1 and document["old"]["diagnostics"][0]["code"] == "RC006"
