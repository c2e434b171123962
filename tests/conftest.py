"""Shared helpers: write charts into a temporary folder and lint them."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from riskchart.config import Settings
from riskchart.lint import LintResult, lint_paths

TESTS = Path(__file__).resolve().parent
PROJECT = TESTS.parent
FIXTURES = TESTS / "fixtures"
CORPUS = FIXTURES / "lint"
HOSTILE = FIXTURES / "hostile"
CHARTS = PROJECT / "charts"

# A chart head (lines 1-3) and a clean workflow (lines 4-13) that gives no
# diagnostic; tests append or substitute lines and count positions from here.
HEAD = "id: 1\ncategory: 行政裁决\ntitle: 测试\n"
STEPS = (
    "steps:\n"
    "  - name: 申请\n"
    "  - name: 受理\n"
    "    level: 中\n"
    "    risks:\n"
    "      - 故意刁难申请人。\n"
    "    measures:\n"
    "      - 建立受理单制度。\n"
    "    owner: 受理人\n"
    "  - name: 办结\n"
)
CHART = HEAD + STEPS


def write_files(folder: Path, files: dict[str, str | bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        (folder / name).write_bytes(data)
    return folder


def lint_files(folder: Path, files: dict[str, str | bytes], settings: Settings | None = None) -> LintResult:
    """Lint a fresh folder holding `files`, with no project settings unless given."""
    write_files(folder, files)
    return lint_paths([folder], settings or Settings())


def found(result: LintResult) -> Counter:
    """(file name, line, column, code) of every diagnostic, as a multiset."""
    return Counter((Path(d.path).name, d.line, d.column, d.code) for d in result.diagnostics)


@pytest.fixture
def lint_text(tmp_path):
    """lint_text(text, name="01-a.yaml", **more_files) → LintResult."""
    counter = iter(range(1_000_000))

    def run(text: str | bytes, name: str = "01-a.yaml", files: dict | None = None,
            settings: Settings | None = None) -> LintResult:
        folder = tmp_path / f"charts{next(counter)}"
        return lint_files(folder, {name: text, **(files or {})}, settings)

    return run


@pytest.fixture(scope="session")
def built_set(tmp_path_factory) -> Path:
    """The folder of the 40 real charts built once for the whole session:
    SVG, PDF, index.html and booklet.pdf.  Read it; never change it."""
    from riskchart import render
    from riskchart.build import BuildOptions, build

    if shutil.which("dot") is None:
        pytest.skip("Graphviz (dot) is not installed")
    render.toolchain.cache_clear()
    out = tmp_path_factory.mktemp("set")
    report = build([CHARTS], BuildOptions(out=out, formats=("svg", "pdf")))
    assert report.ok, [o for o in report.outcomes if o.status == "failed"]
    return out


needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                     reason="pdftotext (poppler-utils) is not installed")


def squeeze(text: str) -> str:
    """Text without white space: line breaks are the renderer's, and a space
    where a line was broken is dropped."""
    return re.sub(r"\s+", "", text)


def pdf_text(path: Path) -> str:
    """The text of a PDF in drawing order, squeezed."""
    done = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True)
    return squeeze(done.stdout)
