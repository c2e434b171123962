"""The JSON Schema says what the validator checks: same keys, types, enums, limits."""

from __future__ import annotations

import json
import re

import pytest

from riskchart import limits, schema
from riskchart.schema import CHART, DEFAULTS, PHONES, STEP, Choice, Integer, ListOf, Record, Text, json_schema


def test_chart_schema_keys_and_required():
    s = json_schema(CHART)
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert s["type"] == "object"
    assert list(s["properties"]) == list(CHART.fields) == ["id", "category", "title", "status", "department",
                                                            "phones", "steps"]
    assert s["required"] == [n for n, f in CHART.fields.items() if f.required] == ["id", "category", "title"]
    assert s["additionalProperties"] is False
    assert s["title"] == CHART.description


def test_enums_are_the_schema_choices():
    p = json_schema(CHART)["properties"]
    assert p["category"]["enum"] == list(schema.CATEGORIES) == [
        "行政许可", "行政处罚", "行政强制", "行政征收", "行政给付", "行政检查", "行政确认", "行政奖励", "行政裁决",
        "其他行政权力", "其他权力", "公共服务"]
    assert p["status"]["enum"] == list(schema.STATUSES) == ["draft"]
    step = p["steps"]["items"]
    assert step["properties"]["level"]["enum"] == list(schema.LEVELS) == ["高", "中", "低"]


def test_steps_schema():
    steps = json_schema(CHART)["properties"]["steps"]
    assert steps["type"] == "array"
    assert steps["minItems"] == 1 and steps["maxItems"] == limits.MAX_STEPS
    step = steps["items"]
    assert list(step["properties"]) == list(STEP.fields) == ["name", "level", "risks", "measures", "owner"]
    assert step["required"] == ["name"]
    assert step["additionalProperties"] is False
    assert step["dependentRequired"] == {"risks": ["level"], "measures": ["owner"]}
    for kind in ("risks", "measures"):
        assert step["properties"][kind]["maxItems"] == limits.MAX_ITEMS
        assert step["properties"][kind]["items"]["maxLength"] == limits.MAX_TEXT
    assert step["properties"]["name"]["maxLength"] == limits.MAX_NAME


def test_id_is_an_integer_with_its_range():
    p = json_schema(CHART)["properties"]["id"]
    kind = CHART.fields["id"].kind
    assert p["type"] == "integer"
    assert (p["minimum"], p["maximum"]) == (kind.minimum, kind.maximum) == (1, 9999)


def test_text_fields_refuse_empty_and_blank():
    p = json_schema(CHART)["properties"]
    for name in ("title", "department"):
        assert p[name]["type"] == "string"
        assert p[name]["minLength"] == 1
        pattern = re.compile(p[name]["pattern"])  # simple enough to mean the same in ECMA and Python
        assert pattern.search("劳动用工备案") and pattern.search(" 前后有空格 ")
        assert not any(pattern.search(bad) for bad in ("", "   ", "第一行\n第二行", "a\tb"))
        assert p[name]["maxLength"] == CHART.fields[name].kind.max_length


def test_phones_accept_digits():
    phones = json_schema(CHART)["properties"]["phones"]
    assert list(phones["properties"]) == list(PHONES.fields) == ["service", "supervision"]
    assert phones["properties"]["service"]["type"] == ["string", "integer"]
    assert phones["required"] == []


def test_draft_may_leave_out_steps():
    s = json_schema(CHART)
    assert s["if"] == {"not": {"required": ["status"]}}
    assert s["then"] == {"required": ["steps"]}


def test_defaults_schema():
    s = json_schema(DEFAULTS)
    assert list(s["properties"]) == ["department", "phones"]
    assert s["required"] == ["department"]
    assert "if" not in s
    assert s["title"] == DEFAULTS.description


def _walk(kind, node):
    """Every kind in the definitions has its JSON Schema counterpart, recursively."""
    if isinstance(kind, Record):
        assert node["type"] == "object" and set(node["properties"]) == set(kind.fields)
        assert node["required"] == [n for n, f in kind.fields.items() if f.required]
        for name, f in kind.fields.items():
            _walk(f.kind, node["properties"][name])
    elif isinstance(kind, ListOf):
        assert node["type"] == "array" and node["maxItems"] == kind.max_items
        _walk(kind.item, node["items"])
    elif isinstance(kind, Choice):
        assert node["enum"] == list(kind.values)
    elif isinstance(kind, Integer):
        assert (node["type"], node["minimum"], node["maximum"]) == ("integer", kind.minimum, kind.maximum)
    elif isinstance(kind, Text):
        if kind.digits_allowed:
            assert node["type"] == ["string", "integer"]
        else:
            assert (node["type"], node["maxLength"]) == ("string", kind.max_length)
    else:  # pragma: no cover
        pytest.fail(f"unknown kind {kind!r}")


@pytest.mark.parametrize("record", [CHART, DEFAULTS, STEP, PHONES])
def test_schema_mirrors_the_definitions(record):
    _walk(record, json_schema(record))


def test_schema_is_plain_json():
    s = json_schema(CHART)
    assert json.loads(json.dumps(s, ensure_ascii=False)) == s


@pytest.mark.parametrize("record", [CHART, STEP, PHONES, DEFAULTS],
                         ids=["CHART", "STEP", "PHONES", "DEFAULTS"])
def test_synonyms_point_at_real_keys(record):
    assert set(record.synonyms.values()) <= set(record.fields), record.description
    assert not set(record.synonyms) & set(record.fields)


def test_defaults_suggestion_is_a_key_of_defaults(tmp_path):
    from conftest import CHART as CHART_TEXT, lint_files

    result = lint_files(tmp_path, {"_defaults.yaml": 'department: 组织部\n服务电话: "8583591"\n', "01-a.yaml": CHART_TEXT})
    (d,) = result.diagnostics
    assert (d.line, d.column, d.code) == (2, 1, "RC102")
    suggested = d.message.split("是否为 ")[1].rstrip("？")
    assert suggested in DEFAULTS.fields


def test_phone_numbers_may_be_digits_but_not_empty():
    phones = json_schema(CHART)["properties"]["phones"]["properties"]
    for name in ("service", "supervision"):
        assert phones[name]["type"] == ["string", "integer"]
        assert phones[name]["minLength"] == 1 and phones[name]["minimum"] == 0
