"""The JSON Schema says what the validator checks: same keys, types, enums, limits."""

from __future__ import annotations

import json
import re

import pytest

from riskchart import limits
from riskchart.check import schema
from riskchart.check.schema import (
    CHART,
    DEFAULTS,
    EXIT,
    PHONES,
    STEP,
    TIME_LIMIT,
    Choice,
    Integer,
    ListOf,
    OneOrMore,
    Record,
    Text,
    chart_record,
    json_schema,
)


def test_chart_schema_keys_and_required():
    s = json_schema(CHART)
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert s["type"] == "object"
    assert list(s["properties"]) == list(CHART.fields) == ["id", "category", "code", "title", "scope", "owner",
                                                            "risk_type", "basis", "time_limit", "status", "department",
                                                            "phones", "steps"]
    # a category is required only where the project's `require` says so
    assert s["required"] == [n for n, f in CHART.fields.items() if f.required] == ["id", "title"]
    strict = json_schema(chart_record(require=frozenset({"category"})))
    assert strict["required"] == ["id", "category", "title"]
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
    assert list(step["properties"]) == list(STEP.fields) == ["name", "time_limit", "level", "risks", "risk_type",
                                                             "measures", "owner", "note", "exits"]
    assert step["required"] == ["name"]
    assert step["additionalProperties"] is False
    assert "dependentRequired" not in step  # levels and owners are optional unless the project requires them
    strict = json_schema(chart_record(require=frozenset({"level", "owner"})))["properties"]["steps"]["items"]
    assert strict["dependentRequired"] == {"risks": ["level"], "measures": ["owner"]}
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
    assert s["required"] == []  # a sub-folder's _defaults.yaml may set phones only, inside its parent's department
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
    elif isinstance(kind, OneOrMore):  # one text, or a list of them
        one, many = node["anyOf"]
        _walk(kind.item, one)
        assert many["type"] == "array" and many["maxItems"] == kind.max_items
        _walk(kind.item, many["items"])
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


def test_power_list_keys():
    p = json_schema(CHART)["properties"]
    assert p["code"]["maxLength"] == limits.MAX_CODE and p["code"]["type"] == ["string", "integer"]
    assert p["basis"]["maxItems"] == limits.MAX_BASIS and p["basis"]["items"]["type"] == "string"
    assert list(p["time_limit"]["properties"]) == ["statutory", "promised"]
    assert p["time_limit"]["required"] == [] and p["time_limit"]["minProperties"] == 1
    step = p["steps"]["items"]["properties"]
    assert step["time_limit"]["maxLength"] == limits.MAX_SHORT_TEXT
    assert step["exits"]["maxItems"] == limits.MAX_EXITS
    assert step["exits"]["items"]["required"] == ["when", "to"]
    assert "minProperties" not in step["exits"]["items"]  # required keys already refuse {}


@pytest.mark.parametrize("record", [CHART, DEFAULTS, STEP, PHONES, TIME_LIMIT, EXIT])
def test_schema_mirrors_the_definitions(record):
    _walk(record, json_schema(record))


def test_schema_is_plain_json():
    s = json_schema(CHART)
    assert json.loads(json.dumps(s, ensure_ascii=False)) == s


@pytest.mark.parametrize("record", [CHART, STEP, PHONES, DEFAULTS, TIME_LIMIT, EXIT],
                         ids=["CHART", "STEP", "PHONES", "DEFAULTS", "TIME_LIMIT", "EXIT"])
def test_synonyms_point_at_real_keys(record):
    assert set(record.synonyms.values()) <= set(record.fields), record.description
    assert not set(record.synonyms) & set(record.fields)


def test_defaults_suggestion_is_a_key_of_defaults(tmp_path):
    from conftest import CHART as CHART_TEXT
    from conftest import lint_files

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


# ---------------------------------------------------------------- the schema against the lint corpus

CORPUS = __import__("pathlib").Path(__file__).parents[1] / "fixtures" / "lint"
# Codes the schema can express: structure, types, values, sizes.  (Duplicate
# keys vanish when YAML becomes data; anchors, tags, syntax and the rules
# that compare files are beyond any schema.)
_STRUCTURE = {"RC101", "RC102", "RC103", "RC104", "RC105", "RC106", "RC107", "RC109", "RC110"}
# Where lint judges the source text and the schema can only see the value
# YAML 1.1 made of it: an unquoted 08 is the string "08" (lint reads id 8);
# 0x10, 1_0 and +5 are integers, 2020-01-01 a date, 1:30 the number 90
# (lint asks for an integer written plainly, or for quotes).
_SCHEMA_SEES_ONLY_VALUES = {"id-zero-padded", "id-not-integer", "yaml11-owner-date", "yaml11-owner-timestamp",
                            "yaml11-phone-sexagesimal"}


def _as_json(path):
    """The file as an editor's schema check sees it, or None where YAML itself
    refuses it (the editor then shows that error instead)."""
    import yaml

    try:
        return json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8-sig")), default=str))
    except (yaml.YAMLError, ValueError, TypeError):
        return None


def _expected(case):
    lines = (case / "expected.txt").read_text(encoding="utf-8").splitlines() if (case / "expected.txt").exists() else []
    return [line.split()[:2] for line in lines if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="module")
def validator():
    """Draft 2020-12 with ECMA-262 patterns, as editors (and check-jsonschema)
    apply them: Python's re lets `$` match before a final newline, ECMA does not."""
    return _ecma_validator(json_schema(CHART))


def _ecma_validator(schema):
    import jsonschema
    import regress

    def ecma_pattern(checker, pattern, instance, schema):
        if isinstance(instance, str) and regress.Regex(pattern).find(instance) is None:
            yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")

    ecma = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": ecma_pattern})
    return ecma(schema)


def _for_case(case, validator):
    """A case with its own pyproject.toml gets its project's schema (levels, require)."""
    from riskchart.config import read_settings

    own = case / "pyproject.toml"
    return _ecma_validator(json_schema(read_settings(own).chart_format())) if own.exists() else validator


def test_a_real_validator_accepts_every_good_chart_of_the_corpus(validator):
    checked = 0
    for case in sorted((CORPUS / "good").iterdir()):
        if case.name in _SCHEMA_SEES_ONLY_VALUES:
            continue
        for chart in sorted(case.glob("[0-9]*.y*ml")):
            errors = [e.message for e in _for_case(case, validator).iter_errors(_as_json(chart))]
            assert errors == [], f"{case.name}/{chart.name}: {errors}"
            checked += 1
    assert checked > 20


def test_a_real_validator_rejects_every_structurally_bad_chart_of_the_corpus(validator):
    checked = 0
    for case in sorted((CORPUS / "bad").iterdir()):
        expected = _expected(case)
        codes = {code for _, code in expected}
        if not codes or not codes <= _STRUCTURE or case.name in _SCHEMA_SEES_ONLY_VALUES:
            continue
        for name in sorted({where.split(":")[0] for where, _ in expected}):
            data = _as_json(case / name)
            assert data is None or not _for_case(case, validator).is_valid(data), f"{case.name}/{name} ({', '.join(sorted(codes))})"
            checked += 1
    assert checked > 40


def test_a_block_scalar_title_that_lint_accepts_passes_the_schema(validator):
    assert validator.is_valid({"id": 1, "category": "行政裁决", "title": "劳动用工备案\n", "status": "draft"})
    assert not validator.is_valid({"id": 1, "category": "行政裁决", "title": "劳动\n用工\n", "status": "draft"})


def test_a_real_validator_knows_the_power_list_keys(validator):
    chart = {"id": 7, "category": "行政许可", "code": "140403-XK-0007", "title": "食品经营许可",
             "basis": ["《中华人民共和国食品安全法》第三十五条"],
             "time_limit": {"statutory": "二十个工作日", "promised": "十个工作日"},
             "steps": [{"name": "受理", "time_limit": "当场", "exits": [{"when": "材料不齐全", "to": "一次性告知补正"}]}]}
    assert validator.is_valid(chart)
    for broken in ({"time_limit": {}}, {"time_limit": {"法定": "二十日"}}, {"basis": []}, {"basis": "《法》第一条"},
                   {"code": ""}, {"code": "x" * (limits.MAX_CODE + 1)},
                   {"steps": [{"name": "受理", "exits": [{"when": "材料不齐全"}]}]},
                   {"steps": [{"name": "受理", "exits": [{"when": "材料不齐全", "to": "告\n知"}]}]},
                   {"steps": [{"name": "受理", "time_limit": ["当场"]}]}):
        assert not validator.is_valid(chart | broken), broken
