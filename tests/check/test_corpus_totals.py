"""RC401's and RC402's counts kept from one lint to the next: brought up to
date by the charts that changed, and whatever happens to them, lint says
what it says counting every chart afresh."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from riskchart.check import corpus_rules, corpus_totals
from riskchart.check.cache import FILE_NAME as RESULTS
from riskchart.check.cache import ResultCache
from riskchart.check.corpus_rules import KNOWN, Totals
from riskchart.config import Settings
from riskchart.lint import discover, lint_paths

ROOT = Path(__file__).resolve().parents[2]
CORPUS_CODES = {"RC401", "RC402"}


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "charts"
    shutil.copytree(ROOT / "charts", folder)
    return folder


@pytest.fixture
def afresh(monkeypatch):
    """How many times the totals were counted over every chart."""
    calls: list[int] = []
    real = corpus_totals.counted

    def counting(charts):
        calls.append(len(charts))
        return real(charts)

    monkeypatch.setattr(corpus_totals, "counted", counting)
    return calls


def linted_alike(corpus: Path, folder: Path) -> list:
    """Lint with a fresh cache reading `folder`: the same as without one; the corpus warnings."""
    plain = lint_paths([corpus], Settings(), jobs=1)
    cached = lint_paths([corpus], Settings(), jobs=1, cache=ResultCache(folder))
    assert cached.diagnostics == plain.diagnostics
    return [d for d in cached.diagnostics if d.code in CORPUS_CODES]


def reword(corpus: Path, prefix: str, old: str, new: str) -> None:
    (path,) = corpus.glob(f"{prefix}-*.yaml")
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_slip_made_and_undone_is_counted_from_the_changed_chart_alone(corpus, tmp_path, afresh):
    folder = tmp_path / "cache"
    assert linted_alike(corpus, folder) == []
    assert afresh == [len(discover([corpus]))] and (folder / corpus_totals.FILE_NAME).is_file()
    reword(corpus, "13", "未按承诺时限办理事项。", "朱按承诺时限办理事项。")
    reword(corpus, "33", "审核申报等级的上一级证书原件。", "鶐核申报等级的上一级证书原件。")
    assert [d.code for d in linted_alike(corpus, folder)] == ["RC401", "RC402"]
    reword(corpus, "13", "朱按承诺时限办理事项。", "未按承诺时限办理事项。")
    assert [d.code for d in linted_alike(corpus, folder)] == ["RC402"]
    reword(corpus, "33", "鶐核申报等级的上一级证书原件。", "审核申报等级的上一级证书原件。")
    assert linted_alike(corpus, folder) == []
    reword(corpus, "07", "执行回避制度。", "执行鶐避制度。")  # used twice now, as the one taken out no more
    reword(corpus, "08", "执行回避制度。", "执行鶐避制度。")
    odd = [d.message for d in linted_alike(corpus, folder) if d.code == "RC402"]
    assert len(odd) == 2 and all("仅出现 2 次" in message for message in odd)
    assert len(afresh) == 1, "the totals were counted afresh, not brought up to date"


def test_deleted_added_and_renamed_charts_count_as_counted_afresh(corpus, tmp_path, afresh):
    folder = tmp_path / "cache"
    reword(corpus, "13", "未按承诺时限办理事项。", "朱按承诺时限办理事项。")
    assert [d.code for d in linted_alike(corpus, folder)] == ["RC401"]
    (slipped,) = corpus.glob("13-*.yaml")
    slipped.rename(slipped.with_name("13-改名.yaml"))
    assert [d.code for d in linted_alike(corpus, folder)] == ["RC401"]
    copy = corpus / "41-副本.yaml"
    copy.write_text((corpus / "13-改名.yaml").read_text(encoding="utf-8").replace("id: 13", "id: 41"),
                    encoding="utf-8")
    assert [d.code for d in linted_alike(corpus, folder)] == ["RC401", "RC401"]  # the slip used twice
    (corpus / "13-改名.yaml").unlink()
    assert [d.code for d in linted_alike(corpus, folder)] == ["RC401"]
    assert len(afresh) == 1


@pytest.mark.parametrize("damage", ["garbage", "counts edited", "other secret", "entries gone"])
def test_damaged_or_foreign_totals_are_counted_afresh(corpus, tmp_path, afresh, damage, monkeypatch):
    folder = tmp_path / "cache"
    linted_alike(corpus, folder)
    path = folder / corpus_totals.FILE_NAME
    data = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"\x00\xff" * 100)
    elif damage == "counts edited":  # every count made large: the slip below would look common
        path.write_bytes(data.replace(b',1]', b',9]'))
        assert path.read_bytes() != data
    elif damage == "other secret":
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "another-user"))
    else:  # the old charts' entries, needed to take them out, are gone
        (folder / RESULTS).unlink()
    reword(corpus, "13", "未按承诺时限办理事项。", "朱按承诺时限办理事项。")
    assert [d.code for d in linted_alike(corpus, folder)] == ["RC401"]
    assert len(afresh) == 2, "damaged totals were believed"


@pytest.mark.parametrize("first", ["严格执行回避制度规定", "严格执行回避制度规则"])
def test_known_totals_in_another_order_meet_a_tie_as_the_corpus_does(first):
    """Of two phrases as used and as near, the one the charts use first is
    meant: kept totals are in no such order, so the corpus tells."""
    second = "严格执行回避制度规则" if first == "严格执行回避制度规定" else "严格执行回避制度规定"
    charts = made_up(*[[("受理", [phrase + "。"])] for phrase in (first, second) * 4],
                     [("受理", ["严格执行回避制度规簧。"])])
    counted = corpus_totals.counted(charts)
    backwards = Totals(charts, Counter(dict(reversed(counted.clauses.items()))), counted.characters)
    assert list(backwards.clauses) != list(counted.clauses)
    token = KNOWN.set(backwards)
    try:
        (found,) = list(corpus_rules.near_duplicate_phrase(charts))
    finally:
        KNOWN.reset(token)
    assert found.message.endswith(f"是否应为「{first}」？")
    assert [found] == list(corpus_rules.near_duplicate_phrase(charts))


def made_up(*steps_per_chart) -> list:
    """One chart per argument, each a list of (step name, risks)."""
    from riskchart.model import Chart, Phones, Step

    return [Chart(path=Path(f"{n:02d}-x.yaml"), id=n, category="行政检查", title=f"图{n}",
                  steps=tuple(Step(name, "中", tuple(risks), ("落实责任。",), "人") for name, risks in steps),
                  department="", phones=Phones())
            for n, steps in enumerate(steps_per_chart, 1)]


def test_a_new_chart_without_a_key_is_counted(corpus, tmp_path):
    """A file that changed while lint read it has no cache key (None): the
    kept totals cannot tell whether it is among their members, so the
    totals are counted afresh and include it."""
    folder = tmp_path / "cache"
    linted_alike(corpus, folder)
    charts = list(lint_paths([corpus], Settings(), jobs=1).charts)
    cache = ResultCache(folder)
    keys = {chart.path: f"key-{chart.path.name}" for chart in charts[:-1]}  # the last one: no key, and new to them
    corpus_totals.totals(charts[:-1], keys, cache)  # kept: every chart but the last
    found = corpus_totals.totals(charts, keys, ResultCache(folder))
    assert found.characters == corpus_totals.counted(charts).characters
    assert found.clauses == corpus_totals.counted(charts).clauses
