"""The chart format, defined once.

`validate` walks YAML nodes against these definitions and `json_schema`
turns the same definitions into the JSON Schema that editors use, so the
linter and the editor can never disagree about a key or a type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from .. import limits
from .characters import invisible_ranges

# The national 权力清单 types ("9+X") and two that local lists add; a project
# replaces or extends the list in riskchart.toml.  Index and booklet follow its order.
CATEGORIES = ("行政许可", "行政处罚", "行政强制", "行政征收", "行政给付", "行政检查", "行政确认", "行政奖励",
              "行政裁决", "其他行政权力", "其他权力", "公共服务")
LEVELS = ("高", "中", "低")
# The standard types of 廉政风险; a project replaces the list with `risk_types`.
RISK_TYPES = ("思想道德", "岗位职责", "制度机制", "业务流程", "外部环境")
# What `require` in riskchart.toml may make compulsory; without it each is only a warning.
REQUIRABLE = ("level", "owner", "category")
UNCATEGORISED = "未分类"  # where a chart without a category is listed
UNGRADED = "未评定"  # where risks whose level the department did not assess are counted
STATUSES = ("draft",)


@dataclass(frozen=True)
class Text:
    max_length: int = limits.MAX_TEXT
    # Phone numbers are digits; YAML reads them as integers, which is harmless.
    digits_allowed: bool = False
    description: str = ""


@dataclass(frozen=True)
class Integer:
    minimum: int
    maximum: int
    description: str = ""


@dataclass(frozen=True)
class Choice:
    values: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class ListOf:
    item: Kind
    max_items: int
    description: str = ""


@dataclass(frozen=True)
class OneOrMore:
    """One text, or a list of them (several units or posts for one step)."""
    item: Text
    max_items: int
    description: str = ""


@dataclass(frozen=True)
class Field:
    kind: Kind
    required: bool = False


@dataclass(frozen=True)
class Record:
    fields: dict[str, Field]
    description: str = ""
    # Words people type instead of a key, to suggest the right one.
    synonyms: dict[str, str] = field(default_factory=dict)
    # keys that another key makes compulsory, as in JSON Schema's dependentRequired
    dependent: dict[str, list[str]] = field(default_factory=dict)


Kind = Text | Integer | Choice | ListOf | OneOrMore | Record  # what a value must be


PHONES = Record(
    {
        "service": Field(Text(40, digits_allowed=True, description="服务电话")),
        "supervision": Field(Text(40, digits_allowed=True, description="监管电话")),
    },
    description="服务电话与监管电话",
    synonyms={"服务电话": "service", "监管电话": "supervision"},
)

TIME_LIMIT = Record(
    {
        "statutory": Field(Text(limits.MAX_SHORT_TEXT, description="法定时限，如 二十个工作日")),
        "promised": Field(Text(limits.MAX_SHORT_TEXT, description="承诺时限，如 十个工作日")),
    },
    description="办理时限（法定时限与承诺时限）",
    synonyms={"法定": "statutory", "法定时限": "statutory", "法定期限": "statutory",
              "承诺": "promised", "承诺时限": "promised", "承诺期限": "promised"},
)

EXIT = Record(
    {
        "when": Field(Text(limits.MAX_SHORT_TEXT, description="离开主流程的情形，如 材料不齐全或不符合法定形式"),
                      required=True),
        "to": Field(Text(limits.MAX_SHORT_TEXT, description="去向，如 一次性告知需要补正的全部内容"), required=True),
    },
    description="流程的一个分支出口",
    synonyms={"情形": "when", "条件": "when", "如果": "when", "if": "when",
              "去向": "to", "结果": "to", "处理": "to", "then": "to"},
)

_OWNER = OneOrMore(Text(100, description="一个责任人、岗位或单位"), limits.MAX_OWNERS,
                   description="责任人、责任岗位或责任单位；几个时写成列表，图上以「、」连接")


@cache
def step_record(levels: tuple[str, ...] = LEVELS, risk_types: tuple[str, ...] = RISK_TYPES,
                require: frozenset[str] = frozenset()) -> Record:
    """A step of the workflow, with a project's level scale and risk types."""
    scale = "、".join(levels)
    return Record(
        {
            "name": Field(Text(limits.MAX_NAME, description="环节名称，如 受理、审查、决定"), required=True),
            "time_limit": Field(Text(limits.MAX_SHORT_TEXT, description="本环节的办理时限，如 当场或五个工作日内")),
            "level": Field(Choice(levels, description=f"风险等级：{scale}"
                                  + ("；有风险点时必填" if "level" in require else "；部门未评定时不写"))),
            "risks": Field(ListOf(Text(description="一条风险点，不写序号"), limits.MAX_ITEMS,
                                  description="风险点及表现形式")),
            "risk_type": Field(Choice(risk_types, description="风险类型：" + "、".join(risk_types))),
            "measures": Field(ListOf(Text(description="一条防控措施，不写序号"), limits.MAX_ITEMS,
                                     description="防控措施")),
            "owner": Field(_OWNER),
            "note": Field(Text(limits.MAX_SHORT_TEXT, description="环节旁的简短备注")),
            "exits": Field(ListOf(EXIT, limits.MAX_EXITS, description="除进入下一环节外，流程从本环节离开的分支")),
        },
        description="工作流程中的一个环节",
        synonyms={
            "名称": "name", "环节": "name", "step": "name",
            "等级": "level", "风险等级": "level",
            "风险": "risks", "风险点": "risks", "risk": "risks",
            "措施": "measures", "防控措施": "measures", "measure": "measures",
            "责任人": "owner", "责任主体": "owner", "owners": "owner", "责任单位": "owner", "责任处室": "owner",
            "责任岗位": "owner", "岗位": "owner",
            "时限": "time_limit", "办理时限": "time_limit", "期限": "time_limit",
            "分支": "exits", "去向": "exits", "出口": "exits", "branch": "exits", "branches": "exits",
            "next": "exits",
            "备注": "note", "说明": "note", "注": "note", "remark": "note",
            "风险类型": "risk_type", "风险类别": "risk_type", "type": "risk_type",
        },
        dependent={key: [needed] for key, needed in (("risks", "level"), ("measures", "owner"))
                   if needed in require},
    )


STEP = step_record()


@cache
def chart_record(categories: tuple[str, ...] = CATEGORIES, levels: tuple[str, ...] = LEVELS,
                 risk_types: tuple[str, ...] = RISK_TYPES, require: frozenset[str] = frozenset()) -> Record:
    """The chart format with a project's categories, level scale, risk
    types and `require` (the keys it makes compulsory)."""
    return Record(
        {
            "id": Field(Integer(1, 9999, description="图的编号，与文件名前的数字一致"), required=True),
            "category": Field(Choice(categories, description="职权类别" + (
                "" if "category" in require else f"；不写时列入「{UNCATEGORISED}」")), required="category" in require),
            "code": Field(Text(limits.MAX_CODE, digits_allowed=True,
                               description="职权编码，如 140403-XK-0007；同一部门中不重复")),
            "title": Field(Text(200, description="职权名称"), required=True),
            "scope": Field(Text(limits.MAX_TEXT, description="适用范围，印在标题下")),
            "owner": Field(_OWNER),
            "risk_type": Field(Choice(risk_types, description="各环节风险点默认的风险类型")),
            "basis": Field(ListOf(Text(description="一条法律依据：法规名称和具体条款，不写序号"), limits.MAX_BASIS,
                                  description="法律依据，按先后顺序")),
            "time_limit": Field(TIME_LIMIT),
            "status": Field(Choice(STATUSES, description="draft 表示尚未录入完成的草稿图")),
            "department": Field(Text(100, description="部门名称；不写则用 _defaults.yaml 中的")),
            "phones": Field(PHONES),
            "steps": Field(ListOf(step_record(levels, risk_types, require), limits.MAX_STEPS,
                                  description="工作流程，按先后顺序")),
        },
        description="一张权力运行廉政风险防控图",
        synonyms={
            "编号": "id", "序号": "id", "类别": "category", "类型": "category",
            "职权名称": "title", "名称": "title", "权力名称": "title", "name": "title",
            "状态": "status", "部门": "department", "电话": "phones",
            "流程": "steps", "工作流程": "steps", "环节": "steps", "step": "steps",
            "编码": "code", "职权编码": "code", "权力编码": "code", "事项编码": "code",
            "法律依据": "basis", "依据": "basis", "设定依据": "basis", "实施依据": "basis",
            "时限": "time_limit", "办理时限": "time_limit", "期限": "time_limit",
            "法定时限": "time_limit", "承诺时限": "time_limit",
            "适用范围": "scope", "范围": "scope",
            "责任单位": "owner", "责任处室": "owner", "责任科室": "owner", "责任人": "owner",
            "风险类型": "risk_type", "风险类别": "risk_type",
        },
    )


CHART = chart_record()


DEFAULTS = Record(
    {
        "department": Field(Text(100, description="部门名称；写了它的文件夹自成一个部门，图从 1 编号")),
        "phones": Field(PHONES),
    },
    description="本文件夹及其子文件夹中的防控图共用的部门名称与电话（如 charts/_defaults.yaml），"
                "子文件夹的 _defaults.yaml 覆盖上级的",
    # 服务电话 and 监管电话 belong under phones, not at the top.
    synonyms={"部门": "department", "电话": "phones", "服务电话": "phones", "监管电话": "phones"},
)


def json_schema(record: Record = CHART) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a record, for editors."""
    schema = _json(record)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = record.description
    if "steps" in record.fields and "status" in record.fields:  # a chart: drafts may leave out steps
        schema["if"] = {"not": {"required": ["status"]}}
        schema["then"] = {"required": ["steps"]}
    return schema


def _json(kind: Kind) -> dict[str, Any]:
    if isinstance(kind, Record):
        steps_rules = {"dependentRequired": kind.dependent} if kind.dependent else {}
        required = [name for name, f in kind.fields.items() if f.required]
        return {
            "type": "object",
            "description": kind.description,
            "properties": {name: _json(f.kind) for name, f in kind.fields.items()},
            "required": required,
            "additionalProperties": False,
            **steps_rules,
            # lint calls an empty mapping (`time_limit: {}`) empty, like an empty list
            **({} if required else {"minProperties": 1}),
        }
    if isinstance(kind, OneOrMore):
        return {"description": kind.description,
                "anyOf": [_json(kind.item), _json(ListOf(kind.item, kind.max_items, kind.description))]}
    if isinstance(kind, ListOf):
        return {"type": "array", "description": kind.description, "items": _json(kind.item),
                "minItems": 1, "maxItems": kind.max_items}
    if isinstance(kind, Choice):
        return {"enum": list(kind.values), "description": kind.description}
    if isinstance(kind, Integer):
        return {"type": "integer", "minimum": kind.minimum, "maximum": kind.maximum,
                "description": kind.description}
    if isinstance(kind, Text):
        # one line, not blank; phone numbers may also be written as bare digits
        text = {"type": ["string", "integer"] if kind.digits_allowed else "string",
                "description": kind.description, "minLength": 1, "maxLength": kind.max_length,
                # a block scalar (`title: |`) of one line ends in a newline, which lint accepts
                # and at least one character that shows: not blank, not zero-width
                "pattern": rf"^[^\n\r\t]*[^\s{invisible_ranges()}][^\n\r\t]*\n?$"}
        return text | ({"minimum": 0} if kind.digits_allowed else {})
    raise TypeError(kind)  # pragma: no cover - every kind is handled above
