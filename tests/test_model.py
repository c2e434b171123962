"""Stage 3 — model: frozen dataclasses built from validated values."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import MappingProxyType

import pytest
from conftest import STEPS, lint_files

from riskchart.model import (
    Chart,
    Defaults,
    Department,
    Exit,
    Phones,
    Step,
    TimeLimit,
    build_chart,
    merge_defaults,
    sort_key,
)


def chart(tmp_path, text, defaults=None, name="01-a.yaml") -> Chart:
    files = {name: text}
    if defaults is not None:
        files["_defaults.yaml"] = defaults
    result = lint_files(tmp_path, files)
    assert [d for d in result.diagnostics if d.is_error] == []
    (only,) = result.charts
    return only


def make(category="行政裁决", id=1, **more) -> Chart:
    return Chart(path=Path(f"{id:02d}-a.yaml"), id=id, category=category, title="测试", steps=(),
                 department="", phones=Phones(), **more)


@pytest.mark.parametrize("category, id, heading", [
    ("行政裁决", 1, "权力运行廉政风险防控图<行政裁决类1>"),
    ("行政给付", 4, "权力运行廉政风险防控图<行政给付类4>"),
    ("行政检查", 6, "权力运行廉政风险防控图<行政检查类6>"),
    ("行政强制", 9, "权力运行廉政风险防控图<行政强制类9>"),
    ("行政确认", 11, "权力运行廉政风险防控图<行政确认类11>"),
    ("其他权力", 15, "权力运行廉政风险防控图<其他权力15>"),
])
def test_heading(category, id, heading):
    assert make(category, id).heading == heading


def test_built_chart(tmp_path):
    c = chart(tmp_path, "id: 1\ncategory: 行政裁决\ntitle: 调解仲裁\n" + STEPS, name="01-调解仲裁.yaml")
    assert c.id == 1 and c.category == "行政裁决" and c.title == "调解仲裁"
    assert c.stem == "01-调解仲裁"
    assert c.heading == "权力运行廉政风险防控图<行政裁决类1>"
    assert c.steps == (
        Step("申请"),
        Step("受理", "中", ("故意刁难申请人。",), ("建立受理单制度。",), "受理人"),
        Step("办结"),
    )
    assert isinstance(c.steps[1].risks, tuple)
    assert c.draft is False
    assert c.risk_count() == 1 and c.risk_count("中") == 1 and c.risk_count("高") == 0


DEFAULTS = 'department: 组织和人力资源部\nphones:\n  service: "8583591"\n  supervision: "2032510"\n'


def test_defaults_fill_in(tmp_path):
    c = chart(tmp_path, "id: 1\ncategory: 行政裁决\ntitle: 测试\n" + STEPS, DEFAULTS)
    assert c.department == "组织和人力资源部"
    assert c.phones == Phones("8583591", "2032510")


def test_chart_overrides_defaults(tmp_path):
    c = chart(tmp_path, "id: 1\ncategory: 行政裁决\ntitle: 测试\ndepartment: 社会保险中心\n"
              'phones:\n  service: "1111111"\n  supervision: 2222222\n' + STEPS, DEFAULTS)
    assert c.department == "社会保险中心"
    assert c.phones == Phones("1111111", "2222222")


def test_chart_overrides_one_phone_and_keeps_the_other(tmp_path):
    c = chart(tmp_path, 'id: 1\ncategory: 行政裁决\ntitle: 测试\nphones:\n  service: "1111111"\n' + STEPS, DEFAULTS)
    assert c.phones == Phones("1111111", "2032510")
    assert c.department == "组织和人力资源部"


def test_no_defaults_file(tmp_path):
    c = chart(tmp_path, "id: 1\ncategory: 行政裁决\ntitle: 测试\n" + STEPS)
    assert c.department == "" and c.phones == Phones()


def test_broken_defaults_are_not_used(tmp_path):
    result = lint_files(tmp_path, {"_defaults.yaml": "department: [组织部]\n",
                                   "01-a.yaml": "id: 1\ncategory: 行政裁决\ntitle: 测试\n" + STEPS})
    assert [(Path(d.path).name, d.code) for d in result.diagnostics] == [("_defaults.yaml", "RC104")]
    assert result.charts == ()  # every chart under it fails, rather than lose its department


def test_defaults_apply_per_folder(tmp_path):
    text = "id: {0}\ncategory: 行政裁决\ntitle: 测试{0}\n" + STEPS
    lint_files(tmp_path / "a", {"_defaults.yaml": "department: 甲部门\n", "01-a.yaml": text.format(1)})
    lint_files(tmp_path / "b", {"_defaults.yaml": "department: 乙部门\n", "02-b.yaml": text.format(2)})
    from riskchart.config import Settings
    from riskchart.lint import lint_paths
    result = lint_paths([tmp_path / "a", tmp_path / "b"], Settings())
    assert [(c.id, c.department) for c in result.charts] == [(1, "甲部门"), (2, "乙部门")]


def test_draft(tmp_path):
    c = chart(tmp_path, "id: 4\ncategory: 行政给付\ntitle: 失业保险待遇给付\nstatus: draft\n", name="04-a.yaml")
    assert c.draft is True and c.steps == ()
    assert c.heading == "权力运行廉政风险防控图<行政给付类4>"


@pytest.mark.parametrize("value, attribute", [
    (make(), "title"), (make(), "steps"), (Step("受理"), "risks"), (Phones(), "service"), (Defaults(), "department"),
    (make(), "code"), (make(), "basis"), (TimeLimit(), "promised"), (Exit("甲", "乙"), "to"), (Step("受理"), "exits"),
])
def test_dataclasses_are_frozen(value, attribute):
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, attribute, "x")


def test_built_chart_is_deeply_immutable(tmp_path):
    c = chart(tmp_path, "id: 1\ncategory: 行政裁决\ntitle: 测试\n" + STEPS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.steps[1].owner = "别人"
    with pytest.raises(TypeError):
        c.positions[("title",)] = (9, 9)
    with pytest.raises(AttributeError):
        c.steps[1].risks.append("x")
    assert isinstance(c.positions, MappingProxyType)


def test_where_falls_back_to_the_nearest_enclosing_position(tmp_path):
    c = chart(tmp_path, "id: 1\ncategory: 行政裁决\ntitle: 测试\n" + STEPS)
    assert c.where("steps", 1, "risks", 0) == (9, 9)
    assert c.where("steps", 1, "risks", 7) == (9, 7)      # no such item: the list
    assert c.where("steps", 0, "owner") == (5, 5)         # no owner: the step
    assert c.where("status") == (1, 1)                     # nothing: the file
    assert make().where("title") == (1, 1)


def test_positions_do_not_affect_equality(tmp_path):
    a = make(positions=MappingProxyType({("title",): (3, 8)}))
    assert a == make()


def test_merge_defaults():
    assert merge_defaults(Defaults(), None, "") == Defaults()
    top = merge_defaults(Defaults(), {"department": "部", "phones": {"service": "1"}}, "")
    assert top == Defaults("部", Phones("1", ""), "", Department("", "部", Phones("1", "")))
    # a sub-folder's phones merge key by key; without a department it stays in its parent's
    below = merge_defaults(top, {"phones": {"supervision": "2"}}, "科")
    assert below == Defaults("部", Phones("1", "2"), "科", top.unit)
    # naming a department starts one, in that folder
    office = merge_defaults(below, {"department": "食品科"}, "科/食品")
    assert office.unit == Department("科/食品", "食品科", Phones("1", "2")) and office.department == "食品科"


def test_build_chart_directly():
    values = {"id": 3, "category": "行政检查", "title": "检查", "steps": [{"name": "受理"}], "status": "draft"}
    c = build_chart(Path("03-a.yaml"), values, {("id",): (1, 5)}, Defaults("部", Phones("1", "2")))
    assert c.steps == (Step("受理"),) and c.draft and c.department == "部" and c.phones == Phones("1", "2")
    assert c.where("id") == (1, 5)




def test_sort_key_orders_by_id_then_path():
    charts = [make(id=10), make(id=2), make(id=1)]
    assert [c.id for c in sorted(charts, key=sort_key)] == [1, 2, 10]


POWER_LIST = """id: 7
category: 行政许可
code: 140403-XK-0007
title: 食品经营许可
basis:
  - 《中华人民共和国食品安全法》第三十五条
  - 《食品经营许可和备案管理办法》第十条
time_limit:
  statutory: 二十个工作日
  promised: 十个工作日
steps:
  - name: 受理
    time_limit: 当场或五个工作日内
    exits:
      - when: 材料不齐全或不符合法定形式
        to: 一次性告知需要补正的全部内容
      - when: 不属于本部门职权范围
        to: 不予受理，告知向有关部门申请
  - name: 决定
"""


def test_power_list_keys_reach_the_model(tmp_path):
    c = chart(tmp_path, POWER_LIST, name="07-a.yaml")
    assert c.code == "140403-XK-0007"
    assert c.basis == ("《中华人民共和国食品安全法》第三十五条", "《食品经营许可和备案管理办法》第十条")
    assert c.time_limit == TimeLimit("二十个工作日", "十个工作日")
    assert c.steps[0].time_limit == "当场或五个工作日内"
    assert c.steps[0].exits == (Exit("材料不齐全或不符合法定形式", "一次性告知需要补正的全部内容"),
                                Exit("不属于本部门职权范围", "不予受理，告知向有关部门申请"))
    assert c.steps[1] == Step("决定") and c.has_exits
    assert c.where("steps", 0, "exits", 1, "to") == (18, 13)
    assert c.where("basis", 1) == (7, 5)


def test_a_chart_without_the_power_list_keys_has_none_of_them(tmp_path):
    c = chart(tmp_path, "id: 1\ncategory: 行政裁决\ntitle: 测试\n" + STEPS)
    assert (c.code, c.basis, c.time_limit, c.has_exits) == (None, (), TimeLimit(), False)
    assert not c.time_limit and c.time_limit.text == ""
    assert all(s.time_limit is None and s.exits == () for s in c.steps)


def test_a_numeric_code_keeps_its_digits(tmp_path):
    c = chart(tmp_path, "id: 1\ncategory: 行政裁决\ncode: 0014040300\ntitle: 测试\n" + STEPS)
    assert c.code == "0014040300"


@pytest.mark.parametrize("statutory, promised, text", [
    ("二十个工作日", "十个工作日", "法定二十个工作日，承诺十个工作日"),
    ("二十个工作日", "", "法定二十个工作日"),
    ("", "十个工作日", "承诺十个工作日"),
])
def test_time_limit_text_names_what_is_given(statutory, promised, text):
    assert TimeLimit(statutory, promised).text == text and TimeLimit(statutory, promised)
