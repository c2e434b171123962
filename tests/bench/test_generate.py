"""The benchmark's synthetic charts are valid, reproducible and in range.

Not a timing test: 20 charts, well under a second.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
import yaml

from riskchart import config
from riskchart.lint import lint_paths

_spec = importlib.util.spec_from_file_location("riskchart_bench_generate", Path(__file__).with_name("generate.py"))
gen = sys.modules.setdefault(_spec.name, importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(gen)   # registered first: dataclasses look their module up

COUNT = 20


def _load(path: Path):
    """yaml.safe_load, with the C loader when PyYAML has it."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def seed1(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("seed1")
    written = gen.generate(folder, COUNT, seed=1)
    assert len(written) == COUNT
    return folder


def test_lint_clean(seed1):
    # Settings() enables every rule, whatever a pyproject.toml might disable.
    result = lint_paths([seed1], config.Settings())
    assert [f"{d.path}:{d.line}:{d.column} {d.code} {d.message}" for d in result.diagnostics] == []
    assert len(result.charts) == COUNT


def test_same_seed_same_bytes_other_seed_differs(seed1, tmp_path):
    again, other = tmp_path / "again", tmp_path / "other"
    gen.generate(again, COUNT, seed=1)
    gen.generate(other, COUNT, seed=2)
    assert _files(again) == _files(seed1)
    assert _files(other).keys() == _files(seed1).keys()          # same names: NNNN-合成N.yaml
    charts = {name: data for name, data in _files(other).items() if not name.startswith("_")}
    assert all(data != _files(seed1)[name] for name, data in charts.items())


def test_ranges_names_and_titles(seed1):
    names = sorted(p.name for p in seed1.glob("*.yaml"))
    assert "_defaults.yaml" in names
    titles = set()
    for name in (n for n in names if not n.startswith("_")):
        chart = _load(seed1 / name)
        assert re.fullmatch(r"(\d{4})-合成(\d+)\.yaml", name)
        assert int(name[:4]) == chart["id"] == int(name.split("合成")[1].split(".")[0])
        titles.add(chart["title"])
        assert gen.MIN_STEPS <= len(chart["steps"]) <= gen.MAX_STEPS
        assert sum(bool(step.get("risks")) for step in chart["steps"]) >= 2
        for step in chart["steps"]:
            for kind in ("risks", "measures"):
                if kind in step:
                    assert gen.MIN_ITEMS <= len(step[kind]) <= gen.MAX_ITEMS
                    for item in step[kind]:
                        assert isinstance(item, str) and gen.MIN_CHARS <= len(item) <= gen.MAX_CHARS, item
            if step.get("risks"):
                assert step["level"] in ("高", "中", "低") and step["measures"] and step["owner"]
    assert len(titles) == COUNT


def test_vocabulary_comes_from_the_real_charts():
    vocab = gen.vocabulary()
    real_steps = set()
    for path in gen.REAL_CHARTS.glob("[0-9]*.yaml"):
        chart = _load(path)
        real_steps |= {step["name"] for step in chart.get("steps") or ()}
    assert set(vocab.step_names) == real_steps
    assert "受理人" in vocab.owners and len(vocab.risk_clauses) > 50 and len(vocab.measure_clauses) > 50
