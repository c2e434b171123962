"""Diagnostics are values: every stage returns them, nothing raises them.

A diagnostic points into a file (1-based line and column, counted in
characters) and carries a stable code.  The registry below is the one list
of codes; README documents each of them and a test keeps the two in step.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a character offset in a file's text."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


@dataclass(frozen=True, order=True)
class Diagnostic:
    path: str
    line: int
    column: int
    code: str
    severity: Severity
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


@dataclass(frozen=True)
class Code:
    code: str
    severity: Severity
    summary: str


_E, _W = Severity.ERROR, Severity.WARNING

CODES: dict[str, Code] = {
    c.code: c
    for c in (
        # File and YAML level: the file could not be read as one chart.
        Code("RC001", _E, "文件无法读取"),
        Code("RC002", _E, "文件不是 UTF-8 编码"),
        Code("RC003", _E, "文件超过大小上限"),
        Code("RC004", _E, "含控制字符"),
        Code("RC005", _E, "含制表符（Tab）"),
        Code("RC006", _E, "YAML 语法错误"),
        Code("RC007", _E, "一个文件只能有一个 YAML 文档"),
        Code("RC008", _E, "文件为空"),
        Code("RC009", _E, "不支持锚点和别名（& 与 *）"),
        Code("RC010", _E, "嵌套过深"),
        Code("RC011", _E, "不支持 YAML 标签（!! 或 !）"),
        Code("RC012", _E, "问题过多，文件其余部分未检查"),
        Code("RC013", _E, "含改变文字显示顺序的双向控制字符"),
        Code("RC016", _E, "字体中没有这个字（表情符号、私用区字符等）"),
        # Structure: keys, types and values.
        Code("RC101", _E, "顶层必须是键值映射"),
        Code("RC102", _E, "未知的键"),
        Code("RC103", _E, "缺少必填的键"),
        Code("RC104", _E, "类型错误"),
        Code("RC105", _E, "YAML 把未加引号的值读成了数字、布尔值或日期"),
        Code("RC106", _E, "值为空"),
        Code("RC107", _E, "取值不在允许范围内"),
        Code("RC108", _E, "重复的键"),
        Code("RC109", _E, "条目数超过上限"),
        Code("RC110", _E, "文字超过长度上限"),
        # Meaning: one chart, and the charts together.
        Code("RC201", _E, "id 与文件名编号不一致"),
        Code("RC202", _W, "文件名不是「编号-简称.yaml」格式"),
        Code("RC203", _E, "id 在同一部门的多个文件中重复"),
        Code("RC204", _E, "职权名称在同一部门的多个文件中重复"),
        Code("RC205", _E, "同一图中环节名称重复"),
        Code("RC206", _E, "有风险点但没有风险等级"),
        Code("RC207", _E, "有防控措施但没有责任人"),
        Code("RC208", _W, "有风险等级但没有风险点"),
        Code("RC209", _W, "有责任人但没有防控措施"),
        Code("RC210", _E, "正式图没有任何环节"),
        Code("RC211", _E, "文件名或文件夹名含链接或命令行中不安全的字符"),
        Code("RC212", _E, "输出文件重名"),
        Code("RC213", _E, "职权编码在同一部门中重复"),
        # Style: likely slips that do not stop a build.
        Code("RC301", _W, "草稿图"),
        Code("RC302", _W, "条目以自己的序号开头"),
        Code("RC303", _W, "首尾有空格"),
        Code("RC304", _W, "有风险点却无防控措施，或反之"),
        Code("RC305", _W, "条目中「 #」后的文字被当作注释"),
        Code("RC306", _W, "未评定风险等级"),
        Code("RC307", _W, "防控措施没有责任人"),
        Code("RC308", _W, "未写职权类别"),
        Code("RC309", _W, "一个环节的风险点或防控措施一页排不下"),
        # Corpus: slips that show only when all charts are compared.
        Code("RC401", _W, "与常用语句仅差一两个字"),
        Code("RC402", _W, "罕见字，可能是乱码或误选"),
        Code("RC403", _W, "标点不规范"),
        Code("RC404", _W, "环节名称与同类图的常用写法不一致"),
    )
}


def make(path: str | Path, line: int, column: int, code: str, message: str) -> Diagnostic:
    """A diagnostic whose severity comes from the code registry."""
    return Diagnostic(str(path), line, column, code, CODES[code].severity, message)


def has_errors(diagnostics: Iterable[Diagnostic], *, strict: bool = False) -> bool:
    return any(d.is_error or strict for d in diagnostics)
