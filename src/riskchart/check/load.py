"""Stage 1 — load: bytes on disk → one YAML node tree with positions.

Everything that can go wrong before the structure is looked at is caught
here and returned as diagnostics: file type, size, encoding, control
characters, tabs, bidi controls, nesting, syntax, several documents, tags
and aliases.  PyYAML's C composer
is used for speed (it keeps line and column marks); because it recurses in
C and is quadratic on deep flow nesting, nesting is bounded by a text scan
before any YAML parser sees the file.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import limits, style
from ..draw import fonts
from . import slips
from .characters import BIDI_CONTROLS, code_point
from .diagnostics import Diagnostic, make, position

_Loader: type[yaml.SafeLoader | yaml.CSafeLoader]
try:  # the C loader composes about ten times faster and keeps marks
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

# C0 controls other than tab and newline, DEL, C1 controls (NEL is a YAML
# line break), the Unicode line separators, a BOM inside the text and the
# noncharacters YAML refuses; tab and CR have checks of their own.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")
_BRACKETS = re.compile(r"[\[\]{}]")
_DEEP_LINE = re.compile(rf"^[ \-?:]{{{limits.MAX_INDENT + 1}}}", re.MULTILINE)
# What may stand before a node's content: an anchor (&name) and a tag (!x).
_NODE_PROPERTIES = re.compile(r"(?P<anchor>&\S+)?\s*(?P<tag>![^\s]*)?")


@dataclass(frozen=True)
class LoadedFile:
    """A file read as YAML: its text and root node, or the reasons it is not."""

    path: Path
    text: str | None
    root: yaml.Node | None
    diagnostics: tuple[Diagnostic, ...]


class NotARegularFile(OSError):
    """A FIFO, device, socket or folder where a chart file was expected."""


_SPECIAL_KINDS = ((stat.S_ISDIR, "文件夹"), (stat.S_ISFIFO, "命名管道（FIFO）"), (stat.S_ISCHR, "字符设备"),
                  (stat.S_ISBLK, "块设备"), (stat.S_ISSOCK, "套接字"))


def _refuse_special(mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = next((name for is_kind, name in _SPECIAL_KINDS if is_kind(mode)), "特殊文件")
        raise NotARegularFile(f"这是{kind}，不是普通文件；防控图必须是普通的 .yaml 文件")


def read_chart_bytes(path: Path, limit: int = limits.MAX_FILE_BYTES) -> bytes:
    """The bytes of a chart file, at most `limit` + 1 of them (enough to tell
    that it is too large).

    Only a regular file is opened: reading a FIFO waits for a writer forever
    and a device such as /dev/zero never ends.  The type is checked before
    opening and again on the open file, which is opened without waiting, in
    case the name was replaced in between.  Raises OSError (NotARegularFile
    with a reason in Chinese).
    """
    _refuse_special(os.stat(path).st_mode)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    descriptor = os.open(path, flags)
    try:
        _refuse_special(os.fstat(descriptor).st_mode)
        chunks, wanted = [], limit + 1
        while wanted > 0:
            chunk = os.read(descriptor, min(wanted, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            wanted -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(descriptor)


def load_file(path: Path, font: str = style.DEFAULT_FONT) -> LoadedFile:
    try:
        data = read_chart_bytes(path)
    except OSError as error:
        return _failed(path, make(path, 1, 1, "RC001", f"无法读取文件：{_reason(error)}"))
    if len(data) > limits.MAX_FILE_BYTES:
        size = max(_size(path), len(data))
        return _failed(path, make(path, 1, 1, "RC003",
            f"文件有 {size:,} 字节，超过上限 {limits.MAX_FILE_BYTES:,} 字节；"
            "一张防控图通常不到 10 KB，请检查是否选错了文件"))
    return load_bytes(path, data, font)


def _reason(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return "文件不存在（也可能是指向不存在文件的链接）"
    if isinstance(error, PermissionError):
        return "没有读取权限"
    return error.strerror or str(error)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def source_text(path: Path) -> str | None:
    """The text of a file as the loader sees it, or None if it has none."""
    try:
        data = read_chart_bytes(path)
    except OSError:
        return None
    if len(data) > limits.MAX_FILE_BYTES:
        return None
    text, problem = _decode(path, data)
    return None if problem and problem.code == "RC002" else text


def load_bytes(path: Path, data: bytes, font: str = style.DEFAULT_FONT) -> LoadedFile:
    """Text → nodes; `font` is the one the charts are drawn in (RC016 checks it has every character)."""
    if len(data) > limits.MAX_FILE_BYTES:
        return _failed(path, make(path, 1, 1, "RC003",
            f"文件有 {len(data):,} 字节，超过上限 {limits.MAX_FILE_BYTES:,} 字节"))
    text, problem = _decode(path, data)
    if problem:
        return _failed(path, problem)
    problem = _check_length(path, text) or _check_characters(path, text) or _check_nesting(path, text)
    if problem:
        return LoadedFile(path, text, None, (problem,))
    reordering = _check_bidi(path, text)
    if reordering:
        return LoadedFile(path, text, None, reordering)
    typed = slips.typed_slips(path, text)
    if typed:  # the parser would misread these, and report them a line late
        return LoadedFile(path, text, None, tuple(typed))
    root, problems = _compose(path, text)
    return LoadedFile(path, text, root, tuple(problems) + tuple(_check_font_coverage(path, text, font)))


def _failed(path: Path, diagnostic: Diagnostic) -> LoadedFile:
    return LoadedFile(path, None, None, (diagnostic,))


def _decode(path: Path, data: bytes) -> tuple[str, Diagnostic | None]:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        good = data[: error.start].decode("utf-8")
        line, column = position(good, len(good))
        hint = "（看起来是 GBK/GB2312 编码）" if _looks_like_gbk(data) else ""
        return "", make(path, line, column, "RC002",
            f"文件不是 UTF-8 编码{hint}：请在编辑器中选择“另存为”，编码选 UTF-8 后保存")
    if not text.strip():
        return text, make(path, 1, 1, "RC008", "文件为空：一张防控图至少需要 id、category、title 和 steps")
    return text.replace("\r\n", "\n"), None


def _looks_like_gbk(data: bytes) -> bool:
    try:
        data.decode("gb18030")
    except UnicodeDecodeError:
        return False
    return True


def _check_length(path: Path, text: str) -> Diagnostic | None:
    lines = text.count("\n") + 1
    if lines > limits.MAX_LINES:
        return make(path, limits.MAX_LINES + 1, 1, "RC003",
                    f"文件有 {lines:,} 行，超过上限 {limits.MAX_LINES:,} 行；一张防控图通常不到 150 行")
    return None


def _check_characters(path: Path, text: str) -> Diagnostic | None:
    found = CONTROL_CHARACTERS.search(text)
    if found:
        line, column = position(text, found.start())
        return make(path, line, column, "RC004",
            f"含不可见的控制字符 U+{ord(found.group()):04X}，请删除（常见于从网页或 Word 复制的文字）")
    if "\r" in text:
        line, column = position(text, text.index("\r"))
        return make(path, line, column, "RC004", "含单独的回车符（CR），请用编辑器把换行符统一为 LF 或 CRLF")
    tab = text.find("\t")
    if tab >= 0:
        line, column = position(text, tab)
        return make(path, line, column, "RC005", "含制表符（Tab）：YAML 缩进只能用空格，请把 Tab 换成空格")
    return None


def _check_bidi(path: Path, text: str) -> tuple[Diagnostic, ...]:
    """Each bidi control, comments included: they make a line display in
    another order than it is read (the "Trojan Source" trick)."""
    if not BIDI_CONTROLS.search(text):
        return ()
    found: list[Diagnostic] = []
    for match in BIDI_CONTROLS.finditer(text):
        if len(found) == limits.MAX_PROBLEMS:
            break
        line, column = position(text, match.start())
        found.append(make(path, line, column, "RC013", bidi_message(match.group())))
    return tuple(found)


def bidi_message(character: str) -> str:
    return (f"含双向控制字符 {code_point(character)}：它让这一行显示的顺序与实际内容不同，"
            "请删除（常见于从网页复制的文字）")


def _check_font_coverage(path: Path, text: str, font: str = style.DEFAULT_FONT) -> list[Diagnostic]:
    """Every character the chart font cannot draw (it would print as an
    empty box), at its place; whole-line comments are never drawn."""
    lacking = fonts.lacking(font, set(text))
    if not lacking:
        return []
    found = []
    for offset, char in enumerate(text):
        if char in lacking:
            line, column = position(text, offset)
            if not text.split("\n", line)[line - 1].lstrip().startswith("#"):
                found.append(make(path, line, column, "RC016",
                                  f"字体「{font}」中没有{fonts.describe(char)}，生成的图上会是空白或方框；"
                                  "请删除或改用常用字"))
    return found


def _check_nesting(path: Path, text: str) -> Diagnostic | None:
    """Bound nesting by the text alone, so no parser ever recurses deeply.

    Flow brackets are counted everywhere (quoted text included: a chart
    never needs twenty unclosed brackets); block nesting needs indentation
    or a leading `- `/`? `/`: ` per level, so the leading run bounds it.
    """
    if "[" in text or "{" in text:
        depth = 0
        for found in _BRACKETS.finditer(text):
            depth = depth + 1 if found.group() in "[{" else max(depth - 1, 0)
            if depth > limits.MAX_FLOW_DEPTH:
                line, column = position(text, found.start())
                return make(path, line, column, "RC010", f"方括号或花括号嵌套超过 {limits.MAX_FLOW_DEPTH} 层")
    deep = _DEEP_LINE.search(text)
    if deep:
        line, _ = position(text, deep.start())
        return make(path, line, limits.MAX_INDENT + 1, "RC010",
                    f"缩进或列表符号超过 {limits.MAX_INDENT} 列，嵌套过深")
    return None


def _compose(path: Path, text: str) -> tuple[yaml.Node | None, list[Diagnostic]]:
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.composer.ComposerError as error:
        if "expected a single document" in str(error):
            mark = error.problem_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            return None, [make(path, line, column, "RC007",
                "一个文件只能写一张图：删除第二个“---”及其后的内容，或拆成两个文件")]
        return None, [_syntax(path, text, error)]
    except yaml.YAMLError as error:
        return None, [_syntax(path, text, error)]
    finally:
        loader.dispose()
    if root is None or (isinstance(root, yaml.ScalarNode) and root.tag.endswith(":null") and not root.value):
        return None, [make(path, 1, 1, "RC008", "文件只有注释或“---”，没有内容")]
    return root, _check_nodes(path, text, root)


def _syntax(path: Path, text: str, error: yaml.YAMLError) -> Diagnostic:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return make(path, line, column, "RC006",
                "YAML 语法错误：" + (slips.explain_indentation(text, line) or _explain(error)))


_EXPLANATIONS = (
    ("mapping values are not allowed",
     "这里不能出现“: ”。如果文字本身含冒号加空格，请用双引号把整段文字括起来"),
    ("could not find expected ':'", "缺少“: ”，或者上一行的引号没有闭合"),
    ("did not find expected key", "缩进不一致：同一层的键必须左对齐"),
    ("did not find expected '-' indicator", "列表缩进不一致：同一列表的“- ”必须左对齐"),
    ("found undefined tag handle", "不支持 YAML 标签"),
    ("found unexpected end of stream", "文件在引号或括号闭合之前就结束了"),
    ("found character that cannot start any token",
     "这个字符不能出现在开头（如 @、`、%）；请用双引号把整段文字括起来"),
    ("found unknown escape character", "双引号内的反斜杠 \\ 需要写成 \\\\，或改用单引号"),
    ("did not find expected ',' or ']'", "方括号 [ ] 没有闭合，或其中的文字含逗号：请用双引号括起来"),
    ("did not find expected ',' or '}'", "花括号 { } 没有闭合，或其中的文字含逗号：请用双引号括起来"),
    ("found unexpected ':'", "冒号位置不对：文字中的冒号后如有空格，请用双引号把整段文字括起来"),
    ("while scanning a quoted scalar", "引号没有闭合"),
    ("while scanning an alias", "星号 * 开头会被当作别名：请用双引号把整段文字括起来"),
    ("while scanning an anchor", "& 开头会被当作锚点：请用双引号把整段文字括起来"),
    ("expected <block end>, but found", "缩进不一致：这一行比上面同一层的行缩进得多或少"),
    ("expected alphabetic or numeric character", "这里的 * 或 & 会被当作别名或锚点：请用双引号把整段文字括起来"),
)


def _explain(error: yaml.YAMLError) -> str:
    problem = getattr(error, "problem", None) or str(error)
    for english, chinese in _EXPLANATIONS:
        if english in problem:
            return chinese
    return problem


def _check_nodes(path: Path, text: str, root: yaml.Node) -> list[Diagnostic]:
    """Reject anchors, aliases and explicit tags: shared objects or code.

    The composer has already resolved them, so they are recognised by the
    text at each node's start.  The walk stops at the first anchor, which
    also keeps an alias bomb from being expanded.
    """
    problems: list[Diagnostic] = []
    if "&" not in text and "!" not in text:  # neither an anchor nor a tag can be written
        return problems
    stack = [root]
    while stack:
        node = stack.pop()
        found = _NODE_PROPERTIES.match(text, node.start_mark.index)
        if found and found.group("anchor"):
            mark = node.start_mark
            return [*problems, make(path, mark.line + 1, mark.column + 1, "RC009",
                "不支持锚点和别名（& 与 *）：请把要重复的文字直接写出来")]
        if found and found.group("tag"):
            mark = node.start_mark
            problems.append(make(path, mark.line + 1, mark.column + 1, "RC011",
                f"不支持 YAML 标签 {found.group('tag')}：防控图里只能写文字、数字和列表"))
            continue
        # Children go on the stack last-first, so nodes come off in document order.
        if isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))
        elif isinstance(node, yaml.MappingNode):
            for key, value in reversed(node.value):
                stack.extend((value, key))
    return problems
