"""`riskchart init`: a new project that lints clean and builds at once.

Files come from `templates/init/` (package data); an existing file is never
overwritten, so running init again, or in a folder that already holds part
of a project, only adds what is missing and says what it left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import files
from .draw import templatefiles

# Where each scaffold file goes, relative to the project folder.  Stored
# without leading dots so that packaging tools keep them.
SCAFFOLD = {
    "riskchart.toml": "riskchart.toml",
    "charts/_defaults.yaml": "_defaults.yaml",
    "charts/01-示例职权.yaml": "example-chart.yaml",
    ".gitignore": "gitignore",
    ".pre-commit-config.yaml": "pre-commit-config.yaml",
    ".github/workflows/riskchart.yml": "github-workflow.yml",
    "README.md": "README.md",
}


@dataclass(frozen=True)
class Scaffolded:
    written: tuple[str, ...]
    skipped: tuple[str, ...]


def init_project(folder: Path) -> Scaffolded:
    """Write the scaffold into `folder`, keeping every file already there."""
    source = templatefiles.template_folder() / "init"
    written, skipped = [], []
    for target, name in SCAFFOLD.items():
        path = folder / target
        if files.write_new(path, (source / name).read_bytes()):
            written.append(target)
        else:
            skipped.append(target)
    return Scaffolded(tuple(written), tuple(skipped))
