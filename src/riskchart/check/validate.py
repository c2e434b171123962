"""Stage 2 — validate: a YAML node tree → plain Python values, checked
against the definitions in `schema`, with the position of every value.

The walk never stops at the first problem: it reports each one at the node
it concerns and goes on with the rest, so one run shows everything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .. import limits
from ..model import Position, ValuePath
from .characters import BIDI_CONTROLS, is_invisible
from .diagnostics import Diagnostic, make
from .load import CONTROL_CHARACTERS, bidi_message
from .schema import Choice, Integer, Kind, ListOf, OneOrMore, Record, Text

_TAG = "tag:yaml.org,2002:"
_STR = _TAG + "str"
_NULL = _TAG + "null"
_DECIMAL = re.compile(r"[0-9]+")
_TAB_OR_CR = re.compile("[\t\r]")
_ESCAPED_HIDDEN = re.compile(f"{CONTROL_CHARACTERS.pattern}|{_TAB_OR_CR.pattern}|{BIDI_CONTROLS.pattern}")
_READ_AS = {
    _TAG + "bool": "布尔值（是/否）",
    _TAG + "int": "数字",
    _TAG + "float": "数字",
    _TAG + "timestamp": "日期",
    _TAG + "null": "空值",
}
_KIND_NAMES = {Text: "文字", Integer: "整数", Choice: "文字", ListOf: "列表", OneOrMore: "文字或列表", Record: "键值映射"}


class _Invalid:
    """Stands for a value that failed validation; later checks skip it."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID = _Invalid()


@dataclass(frozen=True)
class Validated:
    value: object
    positions: dict[ValuePath, Position]
    diagnostics: tuple[Diagnostic, ...]


class _TooManyProblems(Exception):
    pass


def validate(path: Path, root: yaml.Node, record: Record) -> Validated:
    walker = _Walker(path)
    try:
        return _validate(walker, root, record)
    except _TooManyProblems:
        last = walker.diagnostics[-1]
        walker.diagnostics.append(make(path, last.line, last.column, "RC012",
            f"这个文件的问题超过 {limits.MAX_PROBLEMS} 个，其余部分不再检查：请先改正上面的问题"))
        return Validated(INVALID, walker.positions, tuple(walker.diagnostics))


def _validate(walker: _Walker, root: yaml.Node, record: Record) -> Validated:
    if not isinstance(root, yaml.MappingNode):
        walker.report(root, "RC101",
            f"文件顶层应为键值映射（id: …、title: … 这样的行），而不是{_describe(root)}")
        return Validated(INVALID, walker.positions, tuple(walker.diagnostics))
    value = walker.walk(root, record, ())
    return Validated(value, walker.positions, tuple(walker.diagnostics))


def _pos(node: yaml.Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "列表"
    if isinstance(node, yaml.MappingNode):
        return "键值映射"
    return f"单个值「{node.value}」"


def _colon_in_text(node: yaml.Node) -> bool:
    """A list item `- 依据: 《…》` written as text: YAML made it a mapping of one pair."""
    if not isinstance(node, yaml.MappingNode) or len(node.value) != 1:
        return False
    key, value = node.value[0]
    return isinstance(key, yaml.ScalarNode) and isinstance(value, yaml.ScalarNode) \
        and key.start_mark.line == value.end_mark.line


def _label(where: ValuePath) -> str:
    """A path like ('steps', 2, 'risks', 0) as 第 3 个环节的 risks 第 1 条."""
    parts = []
    for index, part in enumerate(where):
        if isinstance(part, int):
            parent = where[index - 1] if index else ""
            noun = "个环节" if parent == "steps" else "条"
            parts.append(f"第 {part + 1} {noun}")
        else:
            parts.append(part)
    return " ".join(parts) or "文件"


class _Walker:
    def __init__(self, path: Path):
        self.path = path
        self.positions: dict[ValuePath, Position] = {}
        self.diagnostics: list[Diagnostic] = []

    def report(self, node: yaml.Node, code: str, message: str) -> None:
        line, column = _pos(node)
        self.diagnostics.append(make(self.path, line, column, code, message))
        if len(self.diagnostics) >= limits.MAX_PROBLEMS:
            raise _TooManyProblems

    def walk(self, node: yaml.Node, kind: Kind, where: ValuePath) -> Any:
        """The node's value as the schema wants it, or INVALID."""
        mark = node.start_mark
        self.positions[where] = (mark.line + 1, mark.column + 1)
        if isinstance(kind, Record):
            return self.record(node, kind, where)
        if isinstance(kind, ListOf):
            return self.list_of(node, kind, where)
        if isinstance(kind, OneOrMore):
            if isinstance(node, yaml.SequenceNode):
                return self.list_of(node, ListOf(kind.item, kind.max_items, kind.description), where)
            return self.text(node, kind.item, where)
        if isinstance(kind, Integer):
            return self.integer(node, kind, where)
        if isinstance(kind, Choice):
            return self.choice(node, kind, where)
        return self.text(node, kind, where)

    def record(self, node: yaml.Node, kind: Record, where: ValuePath) -> Any:
        if _is_null(node) or (where and isinstance(node, yaml.MappingNode) and not node.value):
            self.report(node, "RC106", f"{_label(where)} 为空：{kind.description}{_least(kind)}")
            return INVALID
        if not isinstance(node, yaml.MappingNode):
            self.report(node, "RC104", f"{_label(where)} 应为键值映射，而不是{_describe(node)}")
            return INVALID
        values: dict[str, object] = {}
        first_seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is None:
                self.report(key_node, "RC102", f"{_label(where)} 的键必须是简单的文字")
                continue
            if key in first_seen:
                line, _ = _pos(first_seen[key])
                self.report(key_node, "RC108", f"键 {key} 重复（第 {line} 行已有）：后一个会覆盖前一个，请删除其一")
                continue
            first_seen[key] = key_node
            field = kind.fields.get(key)
            if field is None:
                self.report(key_node, "RC102", _unknown_key(key, kind))
                continue
            values[key] = self.walk(value_node, field.kind, (*where, key))
        for name, field in kind.fields.items():
            if field.required and name not in first_seen:
                described = getattr(field.kind, "description", "")
                self.report(node, "RC103", f"{_label(where)} 缺少 {name}（{described}）")
                values[name] = INVALID
        return values

    def list_of(self, node: yaml.Node, kind: ListOf, where: ValuePath) -> Any:
        if _is_null(node):
            self.report(node, "RC106", f"{where[-1]} 为空：在下面逐条写“- 内容”，或删除这一行")
            return INVALID
        if not isinstance(node, yaml.SequenceNode):
            self.report(node, "RC104",
                f"{where[-1]} 应为列表：每条另起一行，以“- ”开头，而不是{_describe(node)}")
            return INVALID
        if not node.value:
            self.report(node, "RC106", f"{where[-1]} 是空列表：请写入内容，或删除这一行")
            return INVALID
        if len(node.value) > kind.max_items:
            self.report(node.value[kind.max_items], "RC109",
                f"{where[-1]} 有 {len(node.value)} 条，超过上限 {kind.max_items} 条")
            return INVALID
        return [self.walk(item, kind.item, (*where, index)) for index, item in enumerate(node.value)]

    def integer(self, node: yaml.Node, kind: Integer, where: ValuePath) -> Any:
        if _is_null(node):
            self.report(node, "RC106", f"{_label(where)} 不能为空")
            return INVALID
        plain = isinstance(node, yaml.ScalarNode) and not node.style
        if not plain or not _DECIMAL.fullmatch(node.value):
            shown = node.value if isinstance(node, yaml.ScalarNode) else _describe(node)
            hint = "，不要加引号" if isinstance(node, yaml.ScalarNode) and node.style else ""
            self.report(node, "RC104", f"{_label(where)} 应为整数{hint}，而不是「{shown}」")
            return INVALID
        # Compare digits before converting: a number of thousands of digits
        # is out of range and would not convert.
        number = int(node.value, 10) if len(node.value.lstrip("0")) <= len(str(kind.maximum)) else None
        if number is None or not kind.minimum <= number <= kind.maximum:
            shown = number if number is not None else f"{node.value[:12]}…（{len(node.value)} 位数）"
            self.report(node, "RC107", f"{_label(where)} 应在 {kind.minimum} 到 {kind.maximum} 之间，而不是 {shown}")
            return INVALID
        return number

    def choice(self, node: yaml.Node, kind: Choice, where: ValuePath) -> Any:
        text = self.text(node, Text(), where)
        if text is INVALID:
            return INVALID
        if text not in kind.values:
            allowed = "、".join(kind.values)
            guess = [v for v in kind.values if v in text]
            hint = f"，是否为 {guess[0]}？" if len(guess) == 1 else ""
            self.report(node, "RC107", f"{_label(where)} 须为 {allowed} 之一，而不是「{text}」{hint}")
            return INVALID
        return text

    def text(self, node: yaml.Node, kind: Text, where: ValuePath) -> Any:
        if isinstance(where[-1], int) and _colon_in_text(node):
            key, value = node.value[0]
            self.report(node, "RC104",
                f"{_label(where)} 中的「: 」（冒号加空格）使这条文字被读成了键值对：请用双引号把整条括起来，"
                f"如 \"{key.value}: {value.value}\"")
            return INVALID
        if not isinstance(node, yaml.ScalarNode):
            self.report(node, "RC104", f"{_label(where)} 应为文字，而不是{_describe(node)}")
            return INVALID
        is_text = node.tag == _STR
        if (is_text and not node.value.strip()) or _is_null(node):
            self.report(node, "RC106", f"{_label(where)} 不能为空")
            return INVALID
        if not is_text and not node.style:
            if kind.digits_allowed and _DECIMAL.fullmatch(node.value):
                return node.value
            read_as = _READ_AS.get(node.tag, "非文字")
            self.report(node, "RC105",
                f"{_label(where)} 应为文字，但 YAML 把「{node.value}」读成了{read_as}；"
                f"请加引号：\"{node.value}\"")
            return INVALID
        value = node.value.rstrip("\n") if node.style in ("|", ">") else node.value
        # Escapes in double quotes ("\e", "\t", "\x00", "\u202e") reach here as real
        # characters; one search finds either kind, since nearly every text has neither.
        if _ESCAPED_HIDDEN.search(value):
            hidden = CONTROL_CHARACTERS.search(value) or _TAB_OR_CR.search(value)
            if hidden:
                self.report(node, "RC004",
                    f"{_label(where)} 含不可见的控制字符 U+{ord(hidden.group()):04X}（可能来自转义写法），请删除")
                return INVALID
            reordering = BIDI_CONTROLS.search(value)
            if reordering:
                self.report(node, "RC013", f"{_label(where)} {bidi_message(reordering.group())}")
                return INVALID
        if is_invisible(value):
            self.report(node, "RC106", f"{_label(where)} 只含不可见字符（如零宽空格），看起来有字其实为空：请删除后重新输入")
            return INVALID
        if "\n" in value:
            self.report(node, "RC104", f"{_label(where)} 不能分成多行：长文字会按栏宽自动换行")
            return INVALID
        if len(value) > kind.max_length:
            self.report(node, "RC110",
                f"{_label(where)} 有 {len(value):,} 字，超过上限 {kind.max_length} 字")
            return INVALID
        return value


def _least(kind: Record) -> str:
    """What an empty record must at least say: its required keys, or one of its keys."""
    required = [n for n, f in kind.fields.items() if f.required]
    if required:
        return "至少要写 " + "、".join(required)
    return "至少要写其中一项：" + "、".join(kind.fields) + "；或删除这一行"


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL and not node.style


def _unknown_key(key: str, kind: Record) -> str:
    import difflib  # only for a misspelt key

    known = list(kind.fields)
    guess = kind.synonyms.get(key) or next(iter(difflib.get_close_matches(key, known, n=1, cutoff=0.6)), None)
    hint = f"，是否为 {guess}？" if guess else f"；可用的键：{'、'.join(known)}"
    return f"未知键 {key}{hint}"
