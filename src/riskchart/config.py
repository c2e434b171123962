"""The project: its root, its settings file and what the settings say.

A project is the folder holding `riskchart.toml` (or a `pyproject.toml`
with a `[tool.riskchart]` table), found by walking up from where the
command starts, like git or ruff.  It is computed once per command and
handed down; no later stage looks for it again.

    # riskchart.toml
    charts = "charts"            # the charts folder, relative to the project root
    out = "out"                  # the output folder
    font = "Noto Sans CJK SC"
    formats = ["svg", "pdf"]
    categories = ["行政许可", …]  # replaces the default list of categories
    extra_categories = ["…"]     # or: adds to it
    disable = ["RC304"]          # rule codes switched off everywhere
    docx_font = "仿宋"            # booklet.docx: body text
    docx_heading_font = "黑体"    # booklet.docx: titles and headings
    levels = ["高", "中", "低"]    # the level scale, highest first
    require = ["level", "owner"] # absent levels, owners or categories are errors, not warnings
    risk_types = ["岗位职责", …] # the allowed risk types
    page = "A4"                  # or "A3": the paper charts, booklet and PNG are laid out for
    orientation = "portrait"     # or "landscape"

Unknown keys and wrong types are errors at their line, with a suggestion.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, overload

from .check.diagnostics import CODES, position
from .check.schema import CATEGORIES, LEVELS, REQUIRABLE, RISK_TYPES, Record, chart_record
from .draw.page import A4_PORTRAIT, ORIENTATIONS, SIZES, Page
from .errors import EnvironmentProblem
from .style import DEFAULT_FONT, DEFAULT_FORMATS, DOCX_FONT, DOCX_HEADING_FONT, FORMATS, LEVEL_PALETTE

PROJECT_FILE = "riskchart.toml"
# Checks that keep the model whole: with one of them off, a file with that
# fault would lint clean yet have no chart (structure, types, values), or
# reach a renderer or a publisher that cannot take it (a level or owner
# missing, a file name that is unsafe or collides).  They stay errors.
PROTECTED = frozenset(code for code in CODES if code < "RC200") | {"RC206", "RC207", "RC211", "RC212"}
# Absent levels and owners: RC206/RC207 (errors) under `require`, else RC306/RC307
# (warnings); an absent category: RC103 under `require` (the schema), else RC308.
_REQUIRED_BY = {"RC206": "level", "RC207": "owner"}
_WARNED_UNLESS_REQUIRED = {"RC306": "level", "RC307": "owner", "RC308": "category"}
_KEYS = ("charts", "out", "font", "formats", "categories", "extra_categories", "disable", "levels", "require",
         "risk_types", "page", "orientation", "docx_font", "docx_heading_font", "word_booklet")
_SYNONYMS = {"类别": "categories", "字体": "font", "格式": "formats", "输出": "out", "图": "charts",
             "ignore": "disable", "output": "out", "category": "categories", "format": "formats",
             "风险等级": "levels", "等级": "levels", "level": "levels", "必填": "require", "required": "require",
             "风险类型": "risk_types", "risk_type": "risk_types",
             "纸张": "page", "方向": "orientation", "paper": "page", "size": "page", "landscape": "orientation"}


@dataclass(frozen=True)
class Settings:
    """What lint needs: the codes switched off, the allowed categories and
    the font the charts are drawn in (RC016: characters it lacks)."""

    disabled: frozenset[str] = frozenset()
    source: Path | None = None
    categories: tuple[str, ...] = CATEGORIES
    font: str = DEFAULT_FONT
    # The project's charts folder: the top of its department tree.  None: each
    # file stands alone with its own folder's _defaults.yaml (see departments.py).
    charts: Path | None = None
    docx_fonts: tuple[str, str] = (DOCX_FONT, DOCX_HEADING_FONT)  # booklet.docx: body text, headings
    # booklet.docx is asked for: its 300 dpi pictures cost more than the rest of a clean build
    word_booklet: bool = False
    levels: tuple[str, ...] = LEVELS  # the level scale, highest first
    require: frozenset[str] = frozenset()  # of REQUIRABLE: absent, an error rather than a warning
    risk_types: tuple[str, ...] = RISK_TYPES

    def enabled(self, code: str) -> bool:
        if code in _REQUIRED_BY:  # an error only where the project requires the key ...
            return _REQUIRED_BY[code] in self.require
        if code in _WARNED_UNLESS_REQUIRED:  # ... and a warning only where it does not
            return _WARNED_UNLESS_REQUIRED[code] not in self.require and code not in self.disabled
        return code not in self.disabled

    def chart_format(self) -> Record:
        """The chart format these settings ask for."""
        return chart_record(self.categories, self.levels, self.risk_types, self.require)


@dataclass(frozen=True)
class Project:
    root: Path
    config_file: Path | None
    charts: Path
    out: Path
    font: str
    formats: tuple[str, ...]
    settings: Settings
    page: Page = A4_PORTRAIT


def find_project(start: Path) -> Project:
    """The project that `start` (a file or folder) belongs to; without a
    settings file anywhere above it, the folder itself with the defaults."""
    start = start.resolve()
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, *folder.parents):
        config = candidate / PROJECT_FILE
        if config.is_file():
            return _project(candidate, config, _table(config, in_pyproject=False))
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file():
            table = _table(pyproject, in_pyproject=True)
            if table is not None:
                return _project(candidate, pyproject, table)
    return _project(folder, None, {})


def find_settings(start: Path) -> Settings:
    return find_project(start).settings


def read_settings(path: Path) -> Settings:
    """The settings of one settings file (riskchart.toml or pyproject.toml)."""
    table = _table(path, in_pyproject=path.name != PROJECT_FILE) or {}
    return _project(path.parent, path, table).settings


@overload
def _table(path: Path, *, in_pyproject: Literal[False]) -> dict[str, Any]: ...


@overload
def _table(path: Path, *, in_pyproject: bool) -> dict[str, Any] | None: ...


def _table(path: Path, *, in_pyproject: bool) -> dict[str, Any] | None:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except tomllib.TOMLDecodeError as error:
        at = re.search(r"\(at line (\d+), column (\d+)\)", str(error))
        where = f"{at[1]}:{at[2]}" if at else "1:1"
        raise EnvironmentProblem(
            f"{path}:{where}: 设置文件的 TOML 语法错误（{str(error).split(' (at ')[0]}）：文字要加双引号，"
            '如 font = "黑体"；中文键名也要加引号') from error
    except (OSError, UnicodeDecodeError) as error:
        raise EnvironmentProblem(f"无法读取 {path}：{error}") from error
    if not in_pyproject:
        return document
    tool = document.get("tool", {})
    if not isinstance(tool, dict) or "riskchart" not in tool:
        return None
    if not isinstance(tool["riskchart"], dict):
        raise EnvironmentProblem(f"{path} 中的 [tool.riskchart] 应为一个表（table）")
    return tool["riskchart"]


def _project(root: Path, config: Path | None, table: dict[str, Any]) -> Project:
    checker = _Checker(config, table)
    categories = checker.names("categories") or CATEGORIES
    categories = tuple(dict.fromkeys(categories + checker.names("extra_categories")))
    disabled = checker.codes()
    formats = checker.choices("formats", FORMATS) or DEFAULT_FORMATS
    font = checker.font()
    charts = root / checker.folder("charts", "charts")
    project = Project(
        root=root,
        config_file=config,
        charts=charts,
        out=root / checker.folder("out", "out"),
        font=font,
        formats=formats,
        page=checker.page(),
        settings=Settings(frozenset(disabled), config, categories, font, charts,
                          (checker.font("docx_font", DOCX_FONT), checker.font("docx_heading_font", DOCX_HEADING_FONT)),
                          checker.flag("word_booklet"),
                          levels=checker.scale("levels", LEVELS, '["一级", "二级", "三级"]', len(LEVEL_PALETTE)),
                          require=checker.require(),
                          risk_types=checker.scale("risk_types", RISK_TYPES, '["岗位职责", "业务流程"]', 20)),
    )
    checker.finish()
    return project


def is_font_name(value: str) -> bool:
    """A font name riskchart can hand to Graphviz: not blank, and without
    the characters that would end or escape a DOT attribute or HTML label."""
    return bool(value.strip()) and not any(c in value for c in '"\\<>&\n')


class _Checker:
    """Reads typed values out of the settings table, collecting every
    problem with the line it is on, then reports them together."""

    def __init__(self, path: Path | None, table: dict[str, Any]) -> None:
        self.path, self.table = path, table
        self.problems: list[str] = []
        self.section = "[tool.riskchart] " if path and path.name == "pyproject.toml" else ""
        for key in table:
            if key not in _KEYS:
                import difflib  # only for a misspelt key

                guess = _SYNONYMS.get(key) or next(iter(difflib.get_close_matches(key, _KEYS, n=1, cutoff=0.6)), None)
                self.problem(key, f"未知的设置项 {key}" + (f"，是否为 {guess}？" if guess else
                                                          f"；可用的设置项：{'、'.join(_KEYS)}"))

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{self.path}:{self._line(key)}: {self.section}{message}")

    @functools.cached_property
    def text(self) -> str:
        """The settings file's text, read again only to locate a problem."""
        return self.path.read_text(encoding="utf-8-sig") if self.path else ""

    def _line(self, key: str) -> str:
        found = re.search(rf'^[ \t]*(?P<key>{re.escape(key)}|"{re.escape(key)}")[ \t]*=', self.text, re.MULTILINE)
        if not found:
            return "1:1"
        line, column = position(self.text, found.start("key"))
        return f"{line}:{column}"

    def strings(self, key: str, example: str) -> tuple[str, ...]:
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.problem(key, f"{key} 应为文字列表，如 {key} = {example}")
            return ()
        return tuple(v.strip() for v in value)

    def names(self, key: str) -> tuple[str, ...]:
        names = self.strings(key, '["行政许可", "行政处罚"]')
        if key in self.table and not names and isinstance(self.table[key], list):
            self.problem(key, f"{key} 不能为空列表：不写这一项即用默认的类别")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            self.problem(key, f"{key} 中「{'、'.join(repeated)}」重复")
        return names

    def codes(self) -> tuple[str, ...]:
        codes = self.strings("disable", '["RC304"]')
        unknown = [c for c in codes if c not in CODES]
        if unknown:
            self.problem("disable", f"disable 中有未知代码：{'、'.join(unknown)}")
        protected = [c for c in codes if c in PROTECTED]
        if protected:
            allowed = "、".join(sorted(set(CODES) - PROTECTED))
            self.problem("disable", f"disable 中的 {'、'.join(protected)} 不能关闭：没有这些检查，"
                                    f"有问题的图会画不出来或被悄悄漏掉。可以关闭的代码：{allowed}")
        return codes

    def scale(self, key: str, default: tuple[str, ...], example: str, most: int) -> tuple[str, ...]:
        """A list of names where order matters (levels: highest first)."""
        if key not in self.table:
            return default
        names = self.strings(key, example)
        if isinstance(self.table[key], list) and not names:
            self.problem(key, f"{key} 不能为空列表：不写这一项即用默认的 {'、'.join(default)}")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            self.problem(key, f"{key} 中「{'、'.join(repeated)}」重复")
        if len(names) > most:
            self.problem(key, f"{key} 最多 {most} 项，而不是 {len(names)} 项")
        long = [n for n in names if len(n) > 10 or not is_font_name(n)]
        if long:
            self.problem(key, f"{key} 中的「{'、'.join(long)}」过长或含引号、尖括号：每项不超过 10 个字")
        return names if names and not repeated and not long and len(names) <= most else default

    def require(self) -> frozenset[str]:
        values = self.strings("require", '["level", "owner"]')
        wrong = [v for v in values if v not in REQUIRABLE]
        if wrong:
            self.problem("require", f"require 中的 {'、'.join(wrong)} 不能要求；可用：{'、'.join(REQUIRABLE)}"
                                    "（level 风险等级、owner 责任人、category 职权类别）")
        return frozenset(v for v in values if v in REQUIRABLE)

    def choices(self, key: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
        values = self.strings(key, '["svg", "pdf"]')
        wrong = [v for v in values if v not in allowed]
        if wrong:
            self.problem(key, f"{key} 中的 {'、'.join(wrong)} 不是可用的格式；可用：{'、'.join(allowed)}")
        return tuple(v for v in dict.fromkeys(values) if v in allowed)

    def folder(self, key: str, default: str) -> str:
        value = self.table.get(key, default)
        if not isinstance(value, str) or not value.strip() or "\0" in value:
            self.problem(key, f'{key} 应为文件夹路径（相对于项目根目录），如 {key} = "{default}"')
            return default
        return value

    def font(self, key: str = "font", default: str = DEFAULT_FONT) -> str:
        value = self.table.get(key, default)
        if not isinstance(value, str) or not is_font_name(value):
            self.problem(key, f'字体名称应为文字，不能为空，也不能含引号、反斜杠或尖括号，如 {key} = "{default}"')
            return default
        return value.strip()

    def flag(self, key: str) -> bool:
        value = self.table.get(key, False)
        if not isinstance(value, bool):
            self.problem(key, f"{key} 应为 true 或 false（不加引号），如 {key} = true")
            return False
        return value

    def page(self) -> Page:
        size = self.table.get("page", "A4")
        if not isinstance(size, str) or size not in SIZES:
            self.problem("page", f'page 应为 {"、".join(f"{chr(34)}{s}{chr(34)}" for s in SIZES)} 之一，如 page = "A3"')
            size = "A4"
        orientation = self.table.get("orientation", "portrait")
        if not isinstance(orientation, str) or orientation not in ORIENTATIONS:
            self.problem("orientation", 'orientation 应为 "portrait"（纵向）或 "landscape"（横向）')
            orientation = "portrait"
        return Page(size, orientation == "landscape")

    def finish(self) -> None:
        if self.problems:
            raise EnvironmentProblem("设置有误：\n" + "\n".join(self.problems))
