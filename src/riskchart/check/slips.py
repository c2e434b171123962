"""Slips of the hand in YAML typed by a clerk, recognised in the text.

PyYAML reports these at the wrong place or in the wrong words: a full-width
colon after a key is an error on the *next* line ("缺少“: ”"), a key one
space too deep is "不能出现“: ”" with advice about quotes, and ` #` inside
an item silently cuts the sentence.  Each function here looks at the text
itself and says what the clerk typed, at the character where it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .diagnostics import Diagnostic, make, position

# `title：…` or `- name：…`: an ASCII key followed by a full-width colon.
_FULL_WIDTH_COLON = re.compile(r"^(?P<lead>[ ]*(?:-[ ]+)?)(?P<key>[A-Za-z_][A-Za-z0-9_]*)[ ]*(?P<colon>：)",
                               re.MULTILINE)
# Full-width spaces (U+3000) among the spaces that indent a line.
_FULL_WIDTH_INDENT = re.compile(r"^[ ]*\u3000[ \u3000]*", re.MULTILINE)
_KEY_LINE = re.compile(r"^(?P<indent>[ ]*)(?P<dash>(?:-[ ]+)*)(?P<key>[^\s#'\"\-][^:#]*?):(?:[ ]|$)")
# Comments that are meant: riskchart directives and transcription notes.
_MEANT_COMMENT = re.compile(r"#\s*(?:riskchart:|原文)")
# Text, one space (perhaps a full-width one too), then a comment that is not meant.
_MAYBE_CUT = re.compile(r"\S \u3000?#(?!\s*(?:riskchart:|原文))")


def typed_slips(path: Path, text: str) -> list[Diagnostic]:
    """Full-width colons after keys and full-width spaces in indentation.

    Both make the YAML mean something else (or nothing), so they are
    errors found before the parser runs.
    """
    found: list[Diagnostic] = []
    if "：" not in text and "\u3000" not in text:  # the usual file, decided by two scans in C
        return found
    for colon in _FULL_WIDTH_COLON.finditer(text) if "：" in text else ():
        line, column = position(text, colon.start("colon"))
        found.append(make(path, line, column, "RC006",
            f"全角冒号「：」：键名 {colon['key']} 后要用半角冒号加空格，写成「{colon['key']}: 」"))
    for indent in _FULL_WIDTH_INDENT.finditer(text) if "\u3000" in text else ():
        line, column = position(text, indent.group().index("\u3000") + indent.start())
        found.append(make(path, line, column, "RC006",
            "缩进中有全角空格（U+3000）：缩进只能用半角空格，请删除后用半角空格对齐"))
    return found


def explain_indentation(text: str, line: int) -> str | None:
    """Why a YAML syntax error at `line` (1-based) is an indentation slip.

    A key line indented differently from the key line above it, by one or
    two spaces and not by the step into a new block, is a key that was
    meant to stand level with that line's key.  PyYAML marks either the
    misplaced line or the one after it, so both are looked at.
    """
    lines = text.split("\n")
    for candidate in (line, line - 1):
        this, above = _key_line(lines, candidate), _key_line(lines, _line_above(lines, candidate))
        if not this or not above:
            continue
        if this.dash and above.dash and this.dash != above.dash and abs(this.dash - above.dash) <= 2:
            return (f"列表的“- ”缩进与上一行不一致：上一行的“- ”在第 {above.dash} 列，这一行在第 {this.dash} 列；"
                    "同一列表的“- ”必须左对齐")
        shift = this.column - above.column
        if shift and abs(shift) <= 2 and not (above.opens_block and shift > 0):
            return (f"缩进与上一行的「{above.key}」不一致：上一行的键在第 {above.column} 列，"
                    f"这一行在第 {this.column} 列；同一层的键必须左对齐")
    return None


@dataclass(frozen=True)
class _KeyLine:
    key: str
    column: int         # 1-based column of the key (after any "- ")
    dash: int           # 1-based column of the "- " before the key, 0 if none
    opens_block: bool   # nothing follows the colon: the next lines are its value


def _key_line(lines: list[str], number: int) -> _KeyLine | None:
    if not 1 <= number <= len(lines):
        return None
    match = _KEY_LINE.match(lines[number - 1])
    if not match:
        return None
    value = lines[number - 1][match.end():].split(" #")[0].strip()
    indent = len(match["indent"])
    return _KeyLine(match["key"].strip(), indent + len(match["dash"]) + 1,
                    indent + 1 if match["dash"] else 0, not value)


def _line_above(lines: list[str], number: int) -> int:
    """The nearest line above `number` with content (comments and blank lines skipped), or 0."""
    for above in range(number - 1, 0, -1):
        stripped = lines[above - 1].strip()
        if stripped and not stripped.startswith("#"):
            return above
    return 0


def cut_by_comments(path: Path, text: str, root: yaml.Node) -> list[Diagnostic]:
    """List items whose sentence runs on after ` #`: YAML reads the rest of
    the line as a comment, so it would silently be missing from the chart.
    Comments that are directives (`# riskchart: …`) or transcription notes
    (`# 原文…`) are meant and pass."""
    if not _MAYBE_CUT.search(text):  # most files: no "text #comment" at all, so no walk
        return []
    found = []
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            stack.extend(value for _, value in node.value)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                if isinstance(item, yaml.ScalarNode):
                    problem = _cut_item(path, text, item)
                    if problem:
                        found.append(problem)
                else:
                    stack.append(item)
    return sorted(found)


def _cut_item(path: Path, text: str, item: yaml.ScalarNode) -> Diagnostic | None:
    if item.style or item.start_mark.line != item.end_mark.line or not item.value:
        return None  # quoted or block text keeps its #; the C composer gives plain style as ""
    end = item.end_mark.index
    line_end = text.find("\n", end)
    rest = text[end:line_end if line_end >= 0 else len(text)]
    if not rest.startswith(" #") and not rest.startswith(" \u3000#"):
        return None
    comment = rest.lstrip(" \u3000")
    if _MEANT_COMMENT.match(comment):
        return None
    line, column = item.end_mark.line + 1, item.end_mark.column + 2
    return make(path, line, column, "RC305",
        f"「{comment}」会被当作注释，不会印在图上：条目文字中含「 #」时，"
        f"请用双引号把整条括起来，如 - \"{item.value} {comment}\"")
