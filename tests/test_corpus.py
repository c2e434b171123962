"""The fixture corpus: every folder under fixtures/lint/{good,bad} is one case.

bad/<case>/expected.txt lists every diagnostic the folder must give, one
`FILE:LINE:COL CODE` a line; the diagnostics found must equal that list
exactly (as a multiset), so a missing and an extra diagnostic both fail.
Text after the code is a fragment the message must contain there
(`01-a.yaml:6:5 RC102 是否为 risks？`).
good/<case>/ must give no error; its optional expected.txt lists the
warnings it must give, and no others.  `# xfail: reason` in expected.txt
marks a case that shows a known bug (strict: it must still fail).

A folder may hold its own pyproject.toml; otherwise the case is linted
without project settings, so the project's own [tool.riskchart] never
changes what a case gives.
"""

from __future__ import annotations

import re
import time
import warnings
from collections import Counter
from pathlib import Path

import pytest
from conftest import CORPUS, HOSTILE, found

from riskchart import limits
from riskchart.config import Settings
from riskchart.lint import lint_paths

_LINE = re.compile(r"(?P<file>[^:#]+):(?P<line>[0-9]+):(?P<column>[0-9]+)\s+(?P<code>RC[0-9]{3})(?:\s+(?P<words>.+))?")
SLOW_SECONDS = 2.0


def read_expected(folder: Path) -> tuple[Counter, list[tuple[tuple, str]], str | None]:
    """(diagnostics as a multiset, message fragments by place, xfail reason)."""
    expected: Counter = Counter()
    fragments: list[tuple[tuple, str]] = []
    xfail = None
    path = folder / "expected.txt"
    if not path.exists():
        return expected, fragments, None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = raw.strip()
        if text.startswith("#"):
            if text[1:].strip().startswith("xfail:"):
                xfail = text[1:].strip()[len("xfail:"):].strip()
            continue
        text = text.split(" #", 1)[0].strip()
        if not text:
            continue
        match = _LINE.fullmatch(text)
        assert match, f"{path}:{number}: not FILE:LINE:COL CODE: {raw!r}"
        key = (match["file"], int(match["line"]), int(match["column"]), match["code"])
        expected[key] += 1
        if match["words"]:
            fragments.append((key, match["words"]))
    return expected, fragments, xfail


def assert_messages(result, fragments) -> None:
    for (file_name, line, column, code), words in fragments:
        messages = [d.message for d in result.diagnostics
                    if (Path(d.path).name, d.line, d.column, d.code) == (file_name, line, column, code)]
        assert any(words in m for m in messages), f"{file_name}:{line}:{column} {code}: {words!r} not in {messages}"


def cases(kind: str):
    params = []
    for folder in sorted((CORPUS / kind).iterdir()):
        if not folder.is_dir():
            continue
        *_, xfail = read_expected(folder)
        marks = [pytest.mark.xfail(reason=xfail, strict=True)] if xfail else []
        params.append(pytest.param(folder, id=folder.name, marks=marks))
    return params


def lint_case(folder: Path):
    settings = None if (folder / "pyproject.toml").exists() else Settings()
    started = time.perf_counter()
    result = lint_paths([folder], settings)
    elapsed = time.perf_counter() - started
    if elapsed > SLOW_SECONDS:  # a slow case is a bug; report it, do not fail on timing
        warnings.warn(f"SLOW lint case {folder.name}: {elapsed:.2f} s", stacklevel=2)
    return result


@pytest.mark.parametrize("folder", cases("bad"))
def test_bad_case(folder):
    expected, fragments, _ = read_expected(folder)
    assert expected, f"{folder.name}: a bad case needs an expected.txt with at least one line"
    result = lint_case(folder)
    assert found(result) == expected
    assert_messages(result, fragments)


@pytest.mark.parametrize("folder", cases("good"))
def test_good_case(folder):
    expected, fragments, _ = read_expected(folder)
    result = lint_case(folder)
    errors = [d for d in result.diagnostics if d.is_error]
    assert errors == []
    assert found(result) == expected
    assert_messages(result, fragments)
    assert all(code.startswith("RC") for *_, code in expected)
    # every chart file of a good case builds
    assert len(result.charts) == len(result.files)


def test_corpus_is_large_enough():
    assert len(cases("bad")) >= 40
    assert len(cases("good")) >= 10


def test_every_bad_case_names_files_that_exist():
    for folder in (CORPUS / "bad").iterdir():
        expected, _, _ = read_expected(folder)
        for file_name, *_ in expected:
            assert (folder / file_name).is_file(), f"{folder.name}: {file_name}"


def test_hostile_text_lints_clean():
    result = lint_paths([HOSTILE], Settings())
    assert result.diagnostics == ()
    assert len(result.charts) == len(result.files) >= 2


def test_file_over_size_limit(tmp_path):
    """RC003 before the file is even read; generated here, not committed."""
    big = tmp_path / "01-big.yaml"
    padding = "# " + "x" * (limits.MAX_FILE_BYTES) + "\n"
    big.write_text("id: 1\ncategory: 行政裁决\ntitle: 测试\n" + padding, encoding="utf-8")
    result = lint_paths([tmp_path], Settings())
    assert found(result) == Counter({("01-big.yaml", 1, 1, "RC003"): 1})
    assert f"{big.stat().st_size:,}" in result.diagnostics[0].message
    assert f"{limits.MAX_FILE_BYTES:,}" in result.diagnostics[0].message


def test_file_exactly_at_size_limit_is_read(tmp_path):
    chart = "id: 1\ncategory: 行政裁决\ntitle: 测试\nsteps:\n  - name: 申请\n"
    padding = limits.MAX_FILE_BYTES - len(chart.encode()) - 3
    (tmp_path / "01-a.yaml").write_text(chart + "# " + "x" * padding + "\n", encoding="utf-8")
    assert (tmp_path / "01-a.yaml").stat().st_size == limits.MAX_FILE_BYTES
    result = lint_paths([tmp_path], Settings())
    assert result.diagnostics == ()
