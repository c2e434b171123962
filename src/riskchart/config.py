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
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get("riskchart", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise EnvironmentProblem(f"无法读取 {path} 中的 [tool.riskchart] 设置：{error}") from error
    disabled = table.get("disable", [])
    unknown = [code for code in disabled if code not in CODES]
    if not isinstance(disabled, list) or unknown:
        raise EnvironmentProblem(
            f"{path} 的 [tool.riskchart] disable 应为规则代码列表，未知代码：{'、'.join(map(str, unknown))}")
    return Settings(frozenset(disabled), path)
