"""Formatters for diagnostics, chosen by name from `FORMATTERS`.

Paths, messages and source lines may hold control characters (a key
written as "\\e]0;…\\a", a file name with ESC): every format shows them
as escapes, so printing a diagnostic can never drive the terminal.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterable, Mapping

from .characters import printable, unprintable_beyond_c0
from .diagnostics import Diagnostic

Formatter = Callable[[list[Diagnostic], Mapping[str, str]], str]


def terminal_width(text: str) -> int:
    """Columns a terminal gives the text: East Asian wide and full-width take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def format_text(diagnostics: list[Diagnostic], sources: Mapping[str, str]) -> str:
    """`path:line:col: error CODE message`, then the line and a caret."""
    out = []
    lines_of: dict[str, list[str]] = {}
    for d in diagnostics:
        out.append(printable(f"{d.path}:{d.line}:{d.column}: {d.severity.value} {d.code} {d.message}"))
        text = sources.get(d.path)
        if text is None:
            continue
        if d.path not in lines_of:
            lines_of[d.path] = text.split("\n")
        lines = lines_of[d.path]
        if 0 < d.line <= len(lines) and lines[d.line - 1].strip():
            source_line = lines[d.line - 1][:160]
            gutter = " " * len(str(d.line))
            out.append(f" {d.line} | {printable(source_line)}")
            out.append(f" {gutter} | {' ' * terminal_width(printable(source_line[: d.column - 1]))}^")
    return "\n".join(out) + ("\n" if out else "")


def format_json(diagnostics: list[Diagnostic], sources: Mapping[str, str]) -> str:
    rows = [
        {"path": d.path, "line": d.line, "column": d.column, "code": d.code,
         "severity": d.severity.value, "message": d.message}
        for d in diagnostics
    ]
    # json.dumps escapes C0 controls but not DEL, C1, bidi controls or the
    # surrogates of an undecodable file name: escape those too (same data).
    text = json.dumps(rows, ensure_ascii=False, indent=2)
    return unprintable_beyond_c0().sub(lambda c: f"\\u{ord(c.group()):04x}", text) + "\n"


def _escape_data(text: str) -> str:
    return printable(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(diagnostics: list[Diagnostic], sources: Mapping[str, str]) -> str:
    """GitHub Actions workflow commands: annotations on the pull request."""
    out = []
    for d in diagnostics:
        level = "error" if d.is_error else "warning"
        out.append(
            f"::{level} file={_escape_property(d.path)},line={d.line},col={d.column},"
            f"title={_escape_property(d.code)}::{_escape_data(d.message)}")
    return "\n".join(out) + ("\n" if out else "")


FORMATTERS: dict[str, Formatter] = {
    "text": format_text,
    "json": format_json,
    "github": format_github,
}


def summary(diagnostics: Iterable[Diagnostic], files: int) -> str:
    diagnostics = list(diagnostics)
    errors = sum(d.is_error for d in diagnostics)
    warnings = len(diagnostics) - errors
    if not diagnostics:
        return f"检查了 {files} 个文件，没有发现问题。"
    return f"检查了 {files} 个文件：{errors} 个错误，{warnings} 个警告。"
