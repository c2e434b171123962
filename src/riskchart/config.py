"""Project settings from `[tool.riskchart]` in the nearest pyproject.toml.

    [tool.riskchart]
    disable = ["RC304"]          # rule codes switched off everywhere
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from .diagnostics import CODES
from .errors import EnvironmentProblem


# Checks that keep the model whole: with one of them off, a file with that
# fault would lint clean yet have no chart (structure, types, values), or
# reach a renderer or a publisher that cannot take it (a level or owner
# missing, a file name that is unsafe or collides).  They stay errors.
PROTECTED = frozenset(code for code in CODES if code < "RC200") | {"RC206", "RC207", "RC211", "RC212"}


@dataclass(frozen=True)
class Settings:
    disabled: frozenset[str] = frozenset()
    source: Path | None = None

    def enabled(self, code: str) -> bool:
        return code not in self.disabled


def find_settings(start: Path) -> Settings:
    start = start.resolve()
    for folder in (start, *start.parents) if start.is_dir() else start.parents:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return read_settings(candidate)
    return Settings()


def read_settings(path: Path) -> Settings:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise EnvironmentProblem(f"无法读取 {path}：{error}") from error
    tool = document.get("tool", {})
    table = tool.get("riskchart", {}) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        raise EnvironmentProblem(f"{path} 中的 [tool.riskchart] 应为一个表（table）")
    disabled = table.get("disable", [])
    if not isinstance(disabled, list) or not all(isinstance(code, str) for code in disabled):
        raise EnvironmentProblem(f'{path} 的 [tool.riskchart] disable 应为代码列表，如 disable = ["RC304"]')
    unknown = [code for code in disabled if code not in CODES]
    if unknown:
        raise EnvironmentProblem(f"{path} 的 [tool.riskchart] disable 中有未知代码：{'、'.join(unknown)}")
    protected = [code for code in disabled if code in PROTECTED]
    if protected:
        allowed = "、".join(sorted(set(CODES) - PROTECTED))
        raise EnvironmentProblem(
            f"{path} 的 [tool.riskchart] disable 中的 {'、'.join(protected)} 不能关闭：没有这些检查，"
            f"有问题的图会画不出来或被悄悄漏掉。可以关闭的代码：{allowed}")
    return Settings(frozenset(disabled), path)
