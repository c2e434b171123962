"""Stage 2 — validate: nodes → values and positions, against schema kinds."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import CHART as CHART_TEXT
from hypothesis import given, settings
from hypothesis import strategies as st

from riskchart import limits
from riskchart.check.load import load_bytes
from riskchart.check.schema import CHART, DEFAULTS, Choice, Field, Integer, ListOf, Record, Text
from riskchart.check.validate import INVALID, Validated, validate

X = Path("x.yaml")


def check(text: str, record: Record = CHART) -> Validated:
    loaded = load_bytes(X, text.encode("utf-8"))
    assert loaded.diagnostics == (), loaded.diagnostics
    return validate(X, loaded.root, record)


def codes(checked: Validated) -> list[tuple[int, int, str]]:
    return [(d.line, d.column, d.code) for d in checked.diagnostics]


def one(checked: Validated):
    assert len(checked.diagnostics) == 1, checked.diagnostics
    return checked.diagnostics[0]


def record(kind, required=True) -> Record:
    return Record({"v": Field(kind, required=required), "other": Field(Text())},
                  synonyms={"值": "v"})


# ---------------------------------------------------------------- Text

@pytest.mark.parametrize("source, value", [
    ("v: 文字", "文字"),
    ('v: "yes"', "yes"),
    ("v: '1.10'", "1.10"),
    ("v: |\n  一行\n", "一行"),
    ("v: >-\n  折叠\n", "折叠"),
    ("v: 两行\n  折成一行\n", "两行 折成一行"),
    ("v: 测\u200b试", "测\u200b试"),
])
def test_text_right(source, value):
    checked = check(source, record(Text()))
    assert checked.diagnostics == ()
    assert checked.value == {"v": value}


@pytest.mark.parametrize("source, expected, words", [
    ("v: [a]", (1, 4, "RC104"), "应为文字"),
    ("v:\n  a: b", (2, 3, "RC104"), "而不是键值映射"),
    ("v: yes", (1, 4, "RC105"), "布尔值"),
    ("v: no", (1, 4, "RC105"), '"no"'),
    ("v: 1.10", (1, 4, "RC105"), "数字"),
    ("v: 2020-01-01", (1, 4, "RC105"), "日期"),
    ("v: 12:30", (1, 4, "RC105"), "请加引号"),
    ("v:", (1, 3, "RC106"), "不能为空"),
    ("v: ~", (1, 4, "RC106"), "不能为空"),
    ('v: ""', (1, 4, "RC106"), "不能为空"),
    ('v: "  "', (1, 4, "RC106"), "不能为空"),
    ("v: |\n  一\n  二\n", (1, 4, "RC104"), "多行"),
    ('v: "一\\n二"', (1, 4, "RC104"), "多行"),
    ("v: " + "字" * 11, (1, 4, "RC110"), "11 字"),
])
def test_text_wrong(source, expected, words):
    checked = check(source, record(Text(10)))
    d = one(checked)
    assert (d.line, d.column, d.code) == expected
    assert words in d.message
    assert checked.value["v"] is INVALID


def test_text_length_limit_is_inclusive():
    assert check("v: " + "字" * 10, record(Text(10))).diagnostics == ()


def test_digits_allowed_keeps_the_digits_as_text():
    checked = check("v: 0355", record(Text(digits_allowed=True)))
    assert checked.diagnostics == ()
    assert checked.value == {"v": "0355"}


def test_digits_allowed_still_refuses_other_numbers():
    d = one(check("v: 12:30", record(Text(digits_allowed=True))))
    assert d.code == "RC105"


@pytest.mark.parametrize("escape", ["\\x07", "\\0", "\\e", "\\t", "\\r", "\\N", "\\L", "\\P", "\\u2028",
                                    "\\ufeff", "\\uFFFE", "\\x85", "\\x1b"])
def test_control_characters_from_double_quoted_escapes(escape):
    checked = check(f'v: "测{escape}试"', record(Text()))
    d = one(checked)
    assert (d.line, d.column, d.code) == (1, 4, "RC004")
    assert checked.value["v"] is INVALID


@pytest.mark.parametrize("escape", ["\\\\", '\\"', "\\/", "\\x41", "\\u4e2d", "\\_", "\\ "])
def test_harmless_double_quoted_escapes(escape):
    assert check(f'v: "测{escape}试"', record(Text())).diagnostics == ()


# ---------------------------------------------------------------- Integer

@pytest.mark.parametrize("source, value", [("v: 1", 1), ("v: 40", 40), ("v: 07", 7), ("v: 08", 8), ("v: 9999", 9999)])
def test_integer_right(source, value):
    checked = check(source, record(Integer(1, 9999)))
    assert checked.diagnostics == ()
    assert checked.value == {"v": value}


@pytest.mark.parametrize("source, expected, words", [
    ("v: x", (1, 4, "RC104"), "应为整数"),
    ('v: "1"', (1, 4, "RC104"), "不要加引号"),
    ("v: '1'", (1, 4, "RC104"), "不要加引号"),
    ("v: 1.5", (1, 4, "RC104"), "「1.5」"),
    ("v: -1", (1, 4, "RC104"), "「-1」"),
    ("v: 0x1", (1, 4, "RC104"), "「0x1」"),
    ("v: 1_0", (1, 4, "RC104"), "「1_0」"),
    ("v: １", (1, 4, "RC104"), "「１」"),
    ("v: [1]", (1, 4, "RC104"), "列表"),
    ("v: 0", (1, 4, "RC107"), "1 到 9999"),
    ("v: 10000", (1, 4, "RC107"), "10000"),
])
def test_integer_wrong(source, expected, words):
    checked = check(source, record(Integer(1, 9999)))
    d = one(checked)
    assert (d.line, d.column, d.code) == expected
    assert words in d.message
    assert checked.value["v"] is INVALID


def test_integer_with_thousands_of_digits_is_out_of_range():
    d = one(check("v: " + "9" * 5000, record(Integer(1, 9999))))
    assert (d.line, d.column, d.code) == (1, 4, "RC107")


def test_empty_integer_is_rc106():
    d = one(check("v:", record(Integer(1, 9999))))
    assert (d.line, d.column, d.code) == (1, 3, "RC106")


# ---------------------------------------------------------------- Choice

def test_choice_right():
    checked = check("v: 中", record(Choice(("高", "中", "低"))))
    assert checked.diagnostics == ()
    assert checked.value == {"v": "中"}


@pytest.mark.parametrize("value, hint", [("很高", "是否为 高？"), ("高风险", "是否为 高？"), ("中等", "是否为 中？"),
                                         ("中高", None), ("high", None)])
def test_choice_wrong_with_suggestion(value, hint):
    d = one(check(f"v: {value}", record(Choice(("高", "中", "低")))))
    assert (d.line, d.column, d.code) == (1, 4, "RC107")
    assert f"「{value}」" in d.message
    assert "高、中、低" in d.message
    if hint:
        assert d.message.endswith(hint)
    else:
        assert "是否为" not in d.message


@pytest.mark.parametrize("source, code", [("v: no", "RC105"), ("v: [高]", "RC104"), ("v:", "RC106")])
def test_choice_checks_text_first(source, code):
    assert one(check(source, record(Choice(("高",))))).code == code


# ---------------------------------------------------------------- ListOf

def test_list_right():
    checked = check("v:\n  - 一\n  - 二\n", record(ListOf(Text(), 3)))
    assert checked.diagnostics == ()
    assert checked.value == {"v": ["一", "二"]}
    assert checked.positions[("v", 0)] == (2, 5)
    assert checked.positions[("v", 1)] == (3, 5)


@pytest.mark.parametrize("source, expected, words", [
    ("v:", (1, 3, "RC106"), "为空"),
    ("v: []", (1, 4, "RC106"), "空列表"),
    ("v: 一条", (1, 4, "RC104"), "应为列表"),
    ("v:\n  a: b", (2, 3, "RC104"), "键值映射"),
    ("v: [一, 二, 三, 四]", (1, 14, "RC109"), "4 条，超过上限 3 条"),
])
def test_list_wrong(source, expected, words):
    checked = check(source, record(ListOf(Text(), 3)))
    d = one(checked)
    assert (d.line, d.column, d.code) == expected
    assert words in d.message
    assert checked.value["v"] is INVALID


def test_list_items_are_each_validated():
    checked = check("v:\n  - 一\n  - [二]\n  - yes\n", record(ListOf(Text(), 5)))
    assert codes(checked) == [(3, 5, "RC104"), (4, 5, "RC105")]
    assert checked.value["v"] == ["一", INVALID, INVALID]


def _contains_invalid(value) -> bool:
    if value is INVALID:
        return True
    if isinstance(value, dict):
        return any(_contains_invalid(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_invalid(v) for v in value)
    return False


@settings(max_examples=300, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
                        ["id", "category", "title", "steps", "name", "level", "risks", "x"]), inner, max_size=4),
                    max_leaves=12))
def test_every_invalid_value_comes_with_a_diagnostic(document):
    # lint trusts this: a chart validated without diagnostics has no INVALID inside.
    # The converse does not hold: an unknown or repeated key is reported and dropped.
    root = yaml.compose(yaml.safe_dump({"id": 1, "category": "其他权力", "title": "x", "steps": document}))
    checked = validate(Path("01-x.yaml"), root, CHART)
    if _contains_invalid(checked.value):
        assert checked.diagnostics
    else:  # diagnostics without an INVALID value: only for what was dropped
        assert {d.code for d in checked.diagnostics} <= {"RC102", "RC108", "RC109"}


def test_too_many_items_are_not_walked():
    checked = check("v: [" + ", ".join(["yes"] * 50) + "]", record(ListOf(Text(), 3)))
    assert [d.code for d in checked.diagnostics] == ["RC109"]


# ---------------------------------------------------------------- Record

def test_record_right():
    checked = check("v: 一\nother: 二\n", record(Text()))
    assert checked.diagnostics == ()
    assert checked.value == {"v": "一", "other": "二"}


def test_record_missing_required():
    checked = check("other: 二\n", record(Text()))
    d = one(checked)
    assert (d.line, d.column, d.code) == (1, 1, "RC103")
    assert "缺少 v" in d.message
    assert checked.value["v"] is INVALID


def test_record_unknown_key_with_synonym():
    d = one(check("v: 一\n值: 二\n", record(Text())))
    assert (d.line, d.column, d.code) == (2, 1, "RC102")
    assert d.message == "未知键 值，是否为 v？"


def test_record_unknown_key_close_match():
    d = one(check("v: 一\nothr: 二\n", record(Text())))
    assert d.message == "未知键 othr，是否为 other？"


def test_record_unknown_key_lists_the_keys():
    d = one(check("v: 一\n完全不同: 二\n", record(Text())))
    assert d.message == "未知键 完全不同；可用的键：v、other"


def test_record_duplicate_key_names_the_first_line():
    checked = check("v: 一\nother: 二\nv: 三\n", record(Text()))
    d = one(checked)
    assert (d.line, d.column, d.code) == (3, 1, "RC108")
    assert "第 1 行" in d.message
    assert checked.value["v"] == "一"


def test_record_not_a_mapping():
    checked = check("v: [一]\n", Record({"v": Field(record(Text()))}))
    d = one(checked)
    assert (d.line, d.column, d.code) == (1, 4, "RC104")
    assert "应为键值映射" in d.message


def test_record_complex_key():
    d = one(check("v: 一\n? [a]\n: b\n", record(Text())))
    assert (d.line, d.column, d.code) == (2, 3, "RC102")


def test_top_level_must_be_a_mapping():
    for source, described in [("- a\n", "列表"), ("文字\n", "单个值「文字」")]:
        checked = check(source)
        d = one(checked)
        assert (d.line, d.column, d.code) == (1, 1, "RC101")
        assert described in d.message
        assert checked.value is INVALID


# ---------------------------------------------------------------- the chart record

def test_chart_value_and_positions():
    checked = check(CHART_TEXT)
    assert checked.diagnostics == ()
    assert checked.value["id"] == 1
    assert checked.value["steps"][1] == {"name": "受理", "level": "中", "risks": ["故意刁难申请人。"],
                                         "measures": ["建立受理单制度。"], "owner": "受理人"}
    p = checked.positions
    assert p[()] == (1, 1)
    assert p[("id",)] == (1, 5)
    assert p[("title",)] == (3, 8)
    assert p[("steps",)] == (5, 3)
    assert p[("steps", 0)] == (5, 5)
    assert p[("steps", 1)] == (6, 5)
    assert p[("steps", 1, "name")] == (6, 11)
    assert p[("steps", 1, "level")] == (7, 12)
    assert p[("steps", 1, "risks")] == (9, 7)
    assert p[("steps", 1, "risks", 0)] == (9, 9)
    assert p[("steps", 1, "measures", 0)] == (11, 9)
    assert p[("steps", 1, "owner")] == (12, 12)
    assert p[("steps", 2, "name")] == (13, 11)


def test_positions_count_characters_in_flow_style():
    checked = check("id: 1\ncategory: 行政裁决\ntitle: 测试\nsteps: [{name: 受理, level: 中, risks: [刁难, 超时]}]\n")
    assert checked.positions[("steps", 0, "risks", 1)] == (4, 42)
    assert checked.positions[("steps", 0, "level")] == (4, 27)


def test_positions_of_invalid_values_are_kept():
    checked = check("id: 1\ncategory: 行政裁决\ntitle: 测试\nsteps:\n  - name: 受理\n    risks: [yes]\n")
    assert codes(checked) == [(6, 13, "RC105")]
    assert checked.positions[("steps", 0, "risks", 0)] == (6, 13)


def test_labels_in_messages_name_the_step_and_item():
    checked = check("id: 1\ncategory: 行政裁决\ntitle: 测试\nsteps:\n  - name: 受理\n  - name: 审查\n"
                    "    risks:\n      - 一\n      - [二]\n")
    assert one(checked).message.startswith("steps 第 2 个环节 risks 第 2 条 应为文字")


def test_validation_does_not_stop_at_the_first_problem():
    checked = check("id: x\ncategory: 许可\ntitle: [a]\nstatus: done\nsteps:\n  - name: yes\n    level: 超高\n"
                    "    risk: [a]\n  - 环节\n")
    assert codes(checked) == [(1, 5, "RC104"), (2, 11, "RC107"), (3, 8, "RC104"), (4, 9, "RC107"),
                              (6, 11, "RC105"), (7, 12, "RC107"), (8, 5, "RC102"), (9, 5, "RC104")]


@pytest.mark.parametrize("key, suggestion", [("risk", "risks"), ("风险等级", "level"), ("风险点", "risks"),
                                             ("责任人", "owner"), ("meassures", "measures"), ("等级", "level")])
def test_step_key_suggestions(key, suggestion):
    d = one(check(f"id: 1\ncategory: 行政裁决\ntitle: 测试\nsteps:\n  - name: 受理\n    {key}: x\n"))
    assert (d.line, d.column, d.code) == (6, 5, "RC102")
    assert f"是否为 {suggestion}？" in d.message


@pytest.mark.parametrize("key, suggestion", [("name", "title"), ("职权名称", "title"), ("类别", "category"),
                                             ("流程", "steps"), ("电话", "phones"), ("step", "steps")])
def test_chart_key_suggestions(key, suggestion):
    d = next(d for d in check(f"id: 1\ncategory: 行政裁决\ntitle: 测试\n{key}: x\n").diagnostics if d.code == "RC102")
    assert f"是否为 {suggestion}？" in d.message


def test_step_limits():
    many = "".join(f"  - name: 环节{i}\n" for i in range(limits.MAX_STEPS + 1))
    d = one(check("id: 1\ncategory: 行政裁决\ntitle: 测试\nsteps:\n" + many))
    assert (d.line, d.column, d.code) == (5 + limits.MAX_STEPS, 5, "RC109")


def test_defaults_record():
    checked = check("department: 组织部\nphones:\n  service: 8583591\n", DEFAULTS)
    assert checked.diagnostics == ()
    assert checked.value == {"department": "组织部", "phones": {"service": "8583591"}}
    # a sub-folder's _defaults.yaml may change the phones only, staying in its parent's department
    assert check("phones:\n  supervision: 2032510\n", DEFAULTS).diagnostics == ()
    d = one(check("部门名称: 食品科\n", DEFAULTS))
    assert (d.code, d.line, d.column) == ("RC102", 1, 1)
    assert sorted(codes(check("phones: {}\n", DEFAULTS))) == [(1, 9, "RC106")]  # department is optional


def test_checking_a_file_stops_after_too_many_problems():
    text = "id: 1\ncategory: 行政裁决\ntitle: 标题\n" + "".join(f"k{n}: v\n" for n in range(limits.MAX_PROBLEMS * 3))
    checked = check(text)
    assert len(checked.diagnostics) == limits.MAX_PROBLEMS + 1
    *unknown, last = codes(checked)
    assert {code for _, _, code in unknown} == {"RC102"}
    assert last == (3 + limits.MAX_PROBLEMS, 1, "RC012")
