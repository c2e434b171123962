"""A booklet patched (patch.py): after a chart's wording changed, the last
booklet gets that chart's new pages over its shared font, instead of being
made whole; and it is made whole whenever a patch could differ from that.

A patched booklet is checked as a reader sees it, against the booklet made
whole from the same charts (`build --force` into another folder): every
page rasterises the same (poppler), the text extracts the same, the
bookmarks name the same pages, and there is one font per typeface.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pikepdf
import pytest
from conftest import SEED_SAMPLE, copy_seed_charts
from test_pageprep import entries, font_programs, page_count, raster, text

from riskchart.build import BuildOptions, build
from riskchart.draw import render
from riskchart.publish import booklet, patch
from riskchart.publish.names import BOOKLET, CACHE

pytestmark = pytest.mark.needs("dot", "cjk-font", "pdftoppm", "pdftotext")

REWORDED = ("故意刁难申请人。", "故意刁难受理人。")  # in 01: every character is in the booklet already


@pytest.fixture
def charts(tmp_path) -> Path:
    return copy_seed_charts(tmp_path / "charts")


@pytest.fixture
def patches(monkeypatch) -> list[bool]:
    """Whether each booklet made was patched (True) or made whole (False)."""
    made: list[bool] = []
    patched = patch.patched
    monkeypatch.setattr(patch, "patched", lambda *a, **k: made.append((found := patched(*a, **k)) is not None)
                        or found)
    return made


def write_long_chart(folder: Path, steps: int = 14) -> Path:
    """A chart too long for one page (continued over three): its pages show
    windows of form XObjects, which hold the fonts (draw/pages.py)."""
    lines = ["id: 20", "category: 行政裁决", "title: 一项很长的职权", "steps:"]
    for step in range(1, steps + 1):
        lines += [f"  - name: 第{step}环节", "    level: 中", "    risks:"]
        lines += [f"      - 第{step}环节风险{n}，未按规定程序办理相关事项，存在优亲厚友、吃拿卡要的可能。" for n in (1, 2, 3, 4)]
        lines += ["    measures:"]
        lines += [f"      - 第{step}环节措施{n}，严格执行相关制度，加强内部监督检查和责任追究。" for n in (1, 2, 3, 4)]
        lines += ["    owner: 经办人"]
    path = folder / "20-一项很长的职权.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def built(charts: Path, out: Path, force: bool = False) -> Path:
    render.toolchain.cache_clear()
    assert build([charts], BuildOptions(out=out, formats=("pdf",), jobs=2, force=force)).ok
    return out


def reword(chart: Path, old: str, new: str) -> None:
    source = chart.read_text(encoding="utf-8")
    assert old in source
    chart.write_text(source.replace(old, new, 1), encoding="utf-8")


def bookmarks(pdf: Path) -> list[tuple[str, int]]:
    with pikepdf.open(pdf) as document, document.open_outline() as outline:
        pages = {page.objgen: number for number, page in enumerate(document.pages)}
        found = []
        pending = list(outline.root)
        while pending:
            item = pending.pop(0)
            found.append((item.title, pages[item.destination[0].objgen]))
            pending[:0] = item.children
        return found


def assert_in_the_page_tree(pdf: Path) -> None:
    """Every page names as its /Parent the node whose /Kids hold it, as the
    PDF standard requires (poppler and MuPDF draw a page without one; other
    readers and tools go up the tree from a page)."""
    with pikepdf.open(pdf) as document:
        pending = [document.Root.Pages]
        while pending:
            node = pending.pop()
            for kid in node.Kids:
                assert kid.get("/Parent") is not None and kid.Parent.objgen == node.objgen, kid.objgen
                if kid.Type == "/Pages":
                    pending.append(kid)


def assert_as_made_whole(book: Path, charts: Path, tmp_path: Path) -> None:
    """`book` reads, draws and bookmarks as the booklet made whole from `charts`."""
    assert_in_the_page_tree(book)
    whole = built(charts, tmp_path / "whole", force=True) / BOOKLET
    assert page_count(book) == page_count(whole)
    for number in range(1, page_count(whole) + 1):
        assert raster(book, number) == raster(whole, number), f"page {number}"
    assert text(book) == text(whole)
    assert bookmarks(book) == bookmarks(whole)
    assert font_programs(book) == 2


def test_a_reworded_chart_is_patched_and_reads_as_the_booklet_made_whole(charts, tmp_path, patches):
    out = built(charts, tmp_path / "out")
    before = (out / BOOKLET).read_bytes()
    (tmp_path / "before.pdf").write_bytes(before)
    reword(charts / SEED_SAMPLE[0], *REWORDED)
    built(charts, out)
    assert patches == [True]
    assert (out / BOOKLET).read_bytes() != before
    assert "故意刁难受理人" in text(out / BOOKLET) and "故意刁难受理人" not in text(tmp_path / "before.pdf")
    assert_as_made_whole(out / BOOKLET, charts, tmp_path)


def test_a_patch_reads_only_the_pdfs_changed_since_the_last_booklet(charts, tmp_path, patches, monkeypatch):
    """The others are the very files the last booklet was made from (the
    same stamp in its map): their pages and entries are known unread.  A PDF
    written again, even with the same bytes and modification time, is read."""
    from riskchart import files

    out = built(charts, tmp_path / "out")
    untouched = out / f"{SEED_SAMPLE[2].removesuffix('.yaml')}.pdf"
    rewritten = out / f"{SEED_SAMPLE[1].removesuffix('.yaml')}.pdf"
    times = rewritten.stat()
    rewritten.write_bytes(rewritten.read_bytes())  # the same bytes: a new change time
    os.utime(rewritten, ns=(times.st_atime_ns, times.st_mtime_ns))
    read: list[str] = []
    real_read = files.read_untrusted
    monkeypatch.setattr(files, "read_untrusted", lambda path, *a, **k: read.append(Path(path).name) or real_read(path, *a, **k))
    reword(charts / SEED_SAMPLE[0], *REWORDED)
    built(charts, out)
    assert patches == [True]
    assert f"{SEED_SAMPLE[0].removesuffix('.yaml')}.pdf" in read and rewritten.name in read
    assert untouched.name not in read
    monkeypatch.setattr(files, "read_untrusted", real_read)
    assert_as_made_whole(out / BOOKLET, charts, tmp_path)


def test_a_reworded_chart_of_several_pages_is_patched_page_by_page(tmp_path, patches):
    charts = copy_seed_charts(tmp_path / "charts", SEED_SAMPLE[1:2])
    long = write_long_chart(charts)
    out = built(charts, tmp_path / "out")
    assert page_count(out / BOOKLET) == 2 + 1 + 3  # cover, contents, the short chart, the long one's three pages
    reword(long, "第10环节风险2，未按规定程序办理相关事项，存在优亲厚友", "第10环节风险2，未按规定程序办理相关事项，存在厚亲优友")
    built(charts, out)
    assert patches == [True]
    assert "厚亲优友" in text(out / BOOKLET)
    assert_as_made_whole(out / BOOKLET, charts, tmp_path)


def test_a_patched_booklet_is_patched_again(charts, tmp_path, patches):
    out = built(charts, tmp_path / "out")
    for old, new in (REWORDED, REWORDED[::-1], REWORDED):
        reword(charts / SEED_SAMPLE[0], old, new)
        built(charts, out)
    assert patches == [True, True, True]
    assert_as_made_whole(out / BOOKLET, charts, tmp_path)


def test_the_unchanged_pages_fonts_stay_in_the_cache(charts, tmp_path, patches):
    out = built(charts, tmp_path / "out")
    reword(charts / SEED_SAMPLE[0], *REWORDED)
    built(charts, out)
    assert patches == [True]
    from riskchart.publish import pageprep

    assert {pageprep.entry_name(pdf.read_bytes()) for pdf in out.glob("[0-9]*.pdf")} <= entries(out)
    assert [p.name for p in (out / CACHE).iterdir() if patch.MAP.fullmatch(p.name)] == [patch.map_name(BOOKLET)]


def test_a_new_character_makes_the_booklet_whole(charts, tmp_path, patches):
    out = built(charts, tmp_path / "out")
    reword(charts / SEED_SAMPLE[0], "故意刁难申请人。", "故意刁难申请人鑫淼。")
    built(charts, out)
    assert patches == [False]
    assert "鑫淼" in text(out / BOOKLET)
    assert_as_made_whole(out / BOOKLET, charts, tmp_path)


def test_a_new_title_makes_the_booklet_whole(charts, tmp_path, patches):
    """The title is a bookmark (and a line of the contents)."""
    out = built(charts, tmp_path / "out")
    source = (charts / SEED_SAMPLE[2]).read_text(encoding="utf-8")
    (charts / SEED_SAMPLE[2]).write_text(re.sub(r"(?m)^title: .*$", "title: 劳动用工", source, count=1),
                                         encoding="utf-8")
    built(charts, out)
    assert patches == [False]
    assert "15. 劳动用工" in [title for title, _ in bookmarks(out / BOOKLET)]
    assert_as_made_whole(out / BOOKLET, charts, tmp_path)


def test_a_booklet_changed_since_it_was_written_is_made_whole(charts, tmp_path, patches):
    out = built(charts, tmp_path / "out")
    with pikepdf.open(out / BOOKLET, allow_overwriting_input=True) as document:
        document.pages[-1].Contents = document.make_stream(b"")  # someone blanked a page since
        document.save(out / BOOKLET)
    reword(charts / SEED_SAMPLE[0], *REWORDED)
    built(charts, out)
    assert patches == [False]
    assert_as_made_whole(out / BOOKLET, charts, tmp_path)


def test_force_makes_the_booklet_whole(charts, tmp_path, patches):
    out = built(charts, tmp_path / "out")
    reword(charts / SEED_SAMPLE[0], *REWORDED)
    built(charts, out, force=True)
    assert patches == []


def test_a_map_is_believed_only_as_written_for_its_booklet(charts, tmp_path):
    out = built(charts, tmp_path / "out")
    cache = out / CACHE
    found = patch.read_map(cache, BOOKLET)
    assert found is not None and found.digest == patch.digest((out / BOOKLET).read_bytes())
    assert [b.key[0] for b in found.blocks] == ["front"] * 2 + ["chart"] * len(SEED_SAMPLE)
    written = (cache / patch.map_name(BOOKLET)).read_bytes()
    shutil.copy(cache / patch.map_name(BOOKLET), cache / patch.map_name("科/booklet.pdf"))
    assert patch.read_map(cache, "科/booklet.pdf") is None  # another booklet's map
    assert b",1,null]" in written  # a cover's page count (a cover has no stamp)
    (cache / patch.map_name(BOOKLET)).write_bytes(written.replace(b",1,null]", b",2,null]", 1))
    assert patch.read_map(cache, BOOKLET) is None  # changed after it was signed
    (cache / patch.map_name(BOOKLET)).write_bytes(written[:-1])
    assert patch.read_map(cache, BOOKLET) is None


def test_a_patch_is_refused_unless_the_blocks_are_the_same(charts, tmp_path):
    out = built(charts, tmp_path / "out")
    last = patch.read_map(out / CACHE, BOOKLET)
    assert last is not None
    blocks = list(last.blocks)
    longer = [*blocks[:-1], patch.Block(blocks[-1].key, blocks[-1].entry, 2)]
    renamed = [*blocks[:-1], patch.Block((*blocks[-1].key[:-1], "15. 别的名字"), blocks[-1].entry, 1)]
    for other in (longer, renamed, blocks[:-1]):
        assert patch.patched(out / BOOKLET, last, last.title, other, {}) is None
    assert patch.patched(out / BOOKLET, last, "别的部门", blocks, {}) is None
    assert patch.patched(out / BOOKLET, last, last.title, blocks, {}) == (out / BOOKLET).read_bytes()
    # a block said to be changed that is not (or the other way round)
    assert patch.patched(out / BOOKLET, last, last.title, blocks, {len(blocks) - 1: (None, None)}) is None
    # a changed page with links: copied alone, their /P would be another PDF's page
    pdf_path = out / f"{blocks[-1].key[1]}.pdf"
    changed_blocks = [*blocks[:-1], patch.Block(blocks[-1].key, "another entry", 1)]
    with pikepdf.open(pdf_path) as pdf:
        from riskchart.publish import pageprep

        fonts = pageprep.prepare(pdf.pages)
        assert patch.patched(out / BOOKLET, last, last.title, changed_blocks, {len(blocks) - 1: (pdf, fonts)})
        pdf.pages[0].obj.Annots = pikepdf.Array([])
        assert patch.patched(out / BOOKLET, last, last.title, changed_blocks, {len(blocks) - 1: (pdf, fonts)}) is None


def test_a_patch_is_refused_for_a_page_font_it_cannot_put_over_the_shared_one(charts, tmp_path):
    """A font not as cairo writes them (a fallback font of another kind, say)
    or one written into the page's resources instead of as an object of its
    own stays the page's: the booklet would not have one font per typeface."""
    from riskchart.publish import pageprep

    out = built(charts, tmp_path / "out")
    last = patch.read_map(out / CACHE, BOOKLET)
    assert last is not None
    blocks = [*last.blocks[:-1], patch.Block(last.blocks[-1].key, "another entry", 1)]
    pdf_path = out / f"{blocks[-1].key[1]}.pdf"

    def patched(pdf: pikepdf.Pdf) -> bytes | None:
        return patch.patched(out / BOOKLET, last, last.title, blocks, {len(blocks) - 1: (pdf, pageprep.prepare(pdf.pages))})

    with pikepdf.open(pdf_path) as pdf:
        assert patched(pdf) is not None
        pdf.pages[0].Resources.Font["/F9"] = pdf.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica))
        assert patched(pdf) is None
    with pikepdf.open(pdf_path) as pdf:
        fonts = pdf.pages[0].Resources.Font
        key = next(iter(fonts.keys()))
        fonts[key] = pikepdf.Dictionary(dict(fonts[key].items()))
        assert patched(pdf) is None


def test_a_booklet_larger_than_a_chart_file_may_be_is_patched(charts, tmp_path):
    """A large project's booklet is over a megabyte (the 40 seed charts' is
    0.7 MB); it is read whole, not cut at a chart file's limit."""
    import random

    from riskchart import limits
    from riskchart.publish import pageprep

    out = built(charts, tmp_path / "out")
    last = patch.read_map(out / CACHE, BOOKLET)
    assert last is not None
    large = tmp_path / "large.pdf"
    with pikepdf.open(out / BOOKLET) as document:  # as large as a project's of some 60 charts
        document.Root.Padding = document.make_stream(random.Random(0).randbytes(limits.MAX_FILE_BYTES))
        document.save(large)
    assert large.stat().st_size > limits.MAX_FILE_BYTES
    mapped = patch.BookletMap(last.title, patch.digest(large.read_bytes()), last.blocks)
    blocks = [*last.blocks[:-1], patch.Block(last.blocks[-1].key, "another entry", 1)]
    with pikepdf.open(out / f"{blocks[-1].key[1]}.pdf") as pdf:
        made = patch.patched(large, mapped, last.title, blocks, {len(blocks) - 1: (pdf, pageprep.prepare(pdf.pages))})
    assert made is not None and len(made) > limits.MAX_FILE_BYTES


def test_the_booklet_is_not_joined_ahead_when_it_will_be_patched(charts, tmp_path, monkeypatch, patches):
    out = built(charts, tmp_path / "out")
    joined = []
    join_ahead = booklet.join_ahead
    monkeypatch.setattr(booklet, "join_ahead", lambda *a, **k: joined.append(1) or join_ahead(*a, **k))
    reword(charts / SEED_SAMPLE[0], *REWORDED)
    built(charts, out)
    assert patches == [True] and joined == []
    (out / CACHE / patch.map_name(BOOKLET)).unlink()  # no map: the booklet is made whole, pages joined ahead
    reword(charts / SEED_SAMPLE[0], *REWORDED[::-1])
    built(charts, out)
    assert patches == [True] and joined == [1]


def test_every_booklet_of_a_project_of_departments_is_patched_as_made_whole(tmp_path, patches):
    """The whole booklet (department → category → chart) and each department's."""
    from test_departments import FIXTURE, build_project

    project = tmp_path / "project"
    shutil.copytree(FIXTURE, project)
    out, whole = project / "out", tmp_path / "whole"
    assert build_project(project, "-q").exit_code == 0
    reword(project / "charts" / "食品科" / "01-食品经营许可.yaml", "对申请材料不全的申请予以受理。",
           "对申请材料不全的申请以予受理。")
    assert build_project(project, "-q").exit_code == 0
    assert patches == [True, True, True]  # the whole booklet and each department's (特设科's unchanged: as it was)
    assert build_project(project, "-q", "--force", "-o", str(whole)).exit_code == 0
    for name in (BOOKLET, "食品科/booklet.pdf", "特设科/booklet.pdf"):
        assert page_count(out / name) == page_count(whole / name)
        for number in range(1, page_count(whole / name) + 1):
            assert raster(out / name, number) == raster(whole / name, number), f"{name} page {number}"
        assert text(out / name) == text(whole / name) and bookmarks(out / name) == bookmarks(whole / name)
        assert font_programs(out / name) == 2
    assert "以予受理" in text(out / "食品科/booklet.pdf") and "以予受理" not in text(out / "特设科/booklet.pdf")


def test_a_booklet_whose_fonts_were_not_shared_is_made_whole(charts, tmp_path, patches, monkeypatch):
    """fontshare.py leaves every page's own fonts when sharing fails: such a booklet is not patched."""
    from riskchart.publish import fontshare

    share_fonts = fontshare.share_fonts
    monkeypatch.setattr(fontshare, "share_fonts", lambda *a, **k: False)
    out = built(charts, tmp_path / "out")
    assert font_programs(out / BOOKLET) > 2
    monkeypatch.setattr(fontshare, "share_fonts", share_fonts)
    reword(charts / SEED_SAMPLE[0], *REWORDED)
    built(charts, out)
    assert patches == [False]
    assert_as_made_whole(out / BOOKLET, charts, tmp_path)


def test_a_map_written_by_other_code_is_not_used(charts, tmp_path, monkeypatch, patches):
    """Another version of riskchart, or of the code that joins the pages, wrote it: the booklet is made whole."""
    out = built(charts, tmp_path / "out")
    assert patch.read_map(out / CACHE, BOOKLET) is not None
    monkeypatch.setattr(patch, "_code", lambda: "another version")
    assert patch.read_map(out / CACHE, BOOKLET) is None
    reword(charts / SEED_SAMPLE[0], *REWORDED)
    built(charts, out)
    assert patches == []  # no map of this code's: not even tried


def test_a_booklet_with_a_character_outside_the_trimmed_font_is_patched(charts, tmp_path, patches):
    """A character the trimmed copy of the font lacks brings in the installed
    font under the same name (draw/trimfont.py): the booklet has two shared
    regular fonts of one name, told apart by their subroutines, and a
    reworded chart is still patched over the right one."""
    reword(charts / SEED_SAMPLE[0], "title: ", "title: 王堃")  # the chart reworded below: both fonts on its page
    out = built(charts, tmp_path / "out")
    assert font_programs(out / BOOKLET) == 3
    reword(charts / SEED_SAMPLE[0], *REWORDED)
    built(charts, out)
    assert patches == [True]
    whole = built(charts, tmp_path / "whole", force=True) / BOOKLET
    assert page_count(out / BOOKLET) == page_count(whole)
    for number in range(1, page_count(whole) + 1):
        assert raster(out / BOOKLET, number) == raster(whole, number), f"page {number}"
    assert text(out / BOOKLET) == text(whole) and "王堃" in text(whole)
    assert font_programs(out / BOOKLET) == 3
