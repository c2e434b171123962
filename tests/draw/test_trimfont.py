"""dot draws with a trimmed copy of the chart font, made once per user and font."""

from __future__ import annotations

import array
import dataclasses
import hashlib
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pikepdf
import pytest

from riskchart import files
from riskchart.build import freshness
from riskchart.draw import fonts, glyphs, render, trimfont
from riskchart.draw.layout import chart_dot

pytestmark = pytest.mark.skipif(shutil.which("dot") is None or shutil.which("fc-match") is None,
                                reason="Graphviz or fontconfig is not installed")

FONT = "Noto Sans CJK SC"
OUTSIDE = "堃"  # not in GB 2312: drawn from the installed font
VARIANT = "礼\ufe00"  # a variation sequence with a glyph of its own (cmap format 14)


@pytest.fixture
def fresh_copies(tmp_path, monkeypatch):
    """No copies made yet: a user cache of its own, nothing remembered."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    trimfont.for_font.cache_clear()
    yield tmp_path / "cache" / "riskchart" / "trimmed-fonts"
    trimfont.for_font.cache_clear()


def picked(pattern: str, config: str) -> str:
    done = subprocess.run(["fc-match", "-f", "%{file}", pattern], capture_output=True, text=True, check=True,
                          env={**os.environ, "FONTCONFIG_FILE": config})
    return done.stdout


def test_the_character_set_is_gb2312_and_the_text_around_it():
    kept = trimfont.characters()
    # copies are found by trimfont.VERSION: a new set of characters needs a new version
    digest = hashlib.sha256(array.array("I", sorted(kept)).tobytes()).hexdigest()[:16]
    assert (trimfont.VERSION, digest) == (2, "c42d5f3cdd004914"), "characters() changed: raise trimfont.VERSION"
    assert {ord(c) for c in "如齄，。（）①Ⅱ→A~é"} <= kept
    assert ord(OUTSIDE) not in kept and 0x4DB5 not in kept
    assert 7400 < len(kept) < 8500


def test_copies_are_made_once_and_fontconfig_picks_them_before_the_installed_font(fresh_copies, monkeypatch):
    made = trimfont.for_font(FONT)
    assert made is not None
    folder = Path(made.config).parent
    assert sorted(p.name for p in folder.iterdir()) == ["bold.otf", "fonts.conf", "made.json", "regular.otf"]
    assert picked(FONT, made.config) == str(folder / "regular.otf")
    assert picked(f"{FONT}:weight=bold", made.config) == str(folder / "bold.otf")
    installed = fonts.resolve(FONT)
    assert installed is not None
    assert picked(f"{FONT}:charset={ord(OUTSIDE):x}", made.config) == installed.path
    assert all(os.path.getsize(folder / name) < installed.size / 4 for name in ("regular.otf", "bold.otf"))

    def never(*arguments):
        raise AssertionError("made again")

    monkeypatch.setattr(trimfont, "_make", never)
    trimfont.for_font.cache_clear()
    assert trimfont.for_font(FONT) == made


def test_a_copy_whose_face_changed_or_whose_file_is_short_is_made_again(fresh_copies):
    made = trimfont.for_font(FONT)
    assert made is not None
    record_file = Path(made.config).parent / "made.json"
    record = json.loads(record_file.read_text())
    assert trimfont._read(record_file.parent) == (True, made)
    record["faces"][1]["mtime_ns"] += 1
    record_file.write_text(json.dumps(record))
    assert trimfont._read(record_file.parent) == (False, None)
    record["faces"][1]["mtime_ns"] -= 1
    record_file.write_text(json.dumps(record))
    with (record_file.parent / "bold.otf").open("r+b") as copy:
        copy.truncate(1000)
    assert trimfont._read(record_file.parent) == (False, None)
    trimfont.for_font.cache_clear()
    again = trimfont.for_font(FONT)
    assert again == made and (record_file.parent / "bold.otf").stat().st_size > 1000


def test_a_font_that_cannot_be_trimmed_is_recorded_and_drawn_as_installed(fresh_copies, monkeypatch):
    monkeypatch.setattr(trimfont, "_trimmed_faces", lambda faces, family, staging: "全局子程序调用了局部子程序")
    assert trimfont.for_font(FONT) is None
    (record,) = fresh_copies.glob("*/made.json")
    assert json.loads(record.read_text())["trimmed"] is False
    assert "全局子程序调用了局部子程序" in json.loads(record.read_text())["why"]

    def never(*arguments):
        raise AssertionError("tried again")

    monkeypatch.setattr(trimfont, "_make", never)
    trimfont.for_font.cache_clear()
    assert trimfont.for_font(FONT) is None


def installed_truetype() -> fonts.FontFile:
    found = fonts.match("DejaVu Sans")
    if found is None or not found.face.path.endswith(".ttf"):
        pytest.skip("no TrueType font installed")
    return found.face


def test_the_trimming_process_says_when_a_font_cannot_be_trimmed(tmp_path):
    truetype = installed_truetype()
    why = trimfont._trimmed_faces({"regular": truetype}, "DejaVu Sans riskchart", tmp_path)
    assert "不是 CFF 字体" in why and truetype.path in why
    assert not (tmp_path / "regular.otf").exists()


@pytest.mark.parametrize("failure", ["too long", "crashed"])
def test_a_failure_that_says_nothing_of_the_font_is_not_recorded(fresh_copies, monkeypatch, failure):
    if failure == "too long":
        monkeypatch.setattr(trimfont, "TRIM_SECONDS", 0.01)
    else:
        monkeypatch.setattr(trimfont.sys, "executable", shutil.which("false"))
    assert trimfont.for_font(FONT) is None
    assert not list(fresh_copies.glob("*/made.json"))
    assert not list(fresh_copies.glob(".making-*"))  # the staging folder is gone too
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(fresh_copies.parent.parent))
    trimfont.for_font.cache_clear()
    assert trimfont.for_font(FONT) is not None


def test_copies_are_named_by_what_they_are_made_from(monkeypatch):
    face = fonts.resolve(FONT)
    assert face is not None
    bold = dataclasses.replace(face, path="/fonts/bold.ttc")

    def key(regular=face, bold=bold, system="/etc/fonts/fonts.conf", family=FONT):
        return trimfont._key(regular, bold, system, family)

    assert key() == key(family=FONT.upper())
    assert key() != key(system="/elsewhere/fonts.conf")  # written into the copies' fontconfig file
    assert key() != key(family="Noto Sans CJK")
    assert key() != key(regular=dataclasses.replace(face, mtime_ns=face.mtime_ns + 1))
    assert key() != key(bold=None) != key(bold=dataclasses.replace(bold, size=bold.size + 1))  # a bold face installed later
    before = key()
    monkeypatch.setattr(trimfont, "_font_tools", lambda: "another fontTools")
    assert key() != before


def test_a_bold_face_is_the_fonts_own_or_none(monkeypatch):
    regular = fonts.resolve(FONT)
    assert regular is not None

    def found(path, families):
        return fonts.Match(fonts.FontFile(path, 0, families[0], 1, 1), families)

    for answer, expected in ((found("/b.ttc", (FONT.lower(),)), "/b.ttc"),
                             (found("/b.ttc", ("noto sans cjk sc bold", FONT.lower())), "/b.ttc"),
                             (found(regular.path, (FONT.lower(),)), None),  # the regular itself: drawn bold
                             (found("/other.ttc", ("dejavu sans",)), None), (None, None)):
        monkeypatch.setattr(fonts, "match", lambda pattern, environment=None, answer=answer: answer)
        bold = trimfont._bold_face(FONT, dataclasses.replace(regular, index=0))
        assert (bold.path if bold else None) == expected


def test_the_fontconfig_file_is_well_formed_whatever_the_names():
    from xml.etree import ElementTree

    config = trimfont._config(Path("/tmp/a&b<c>"), "Font & Co", "Font & Co riskchart", "/etc/fonts/fonts.conf")
    root = ElementTree.fromstring(config.split("\n", 2)[2])  # after the XML and DOCTYPE lines
    assert root.find("dir").text == "/tmp/a&b<c>"
    assert root.find("match/test/string").text == "Font & Co"


def test_the_trimming_process_ignores_python_files_where_it_runs(tmp_path):
    truetype = installed_truetype()
    marker = tmp_path / "ran"
    (tmp_path / "json.py").write_text(f"open({str(marker)!r}, 'w').close()\n", encoding="utf-8")
    why = trimfont._trimmed_faces({"regular": truetype}, "DejaVu Sans riskchart", tmp_path)
    assert "不是 CFF 字体" in why
    assert not marker.exists()


def test_any_error_the_font_causes_is_recorded_and_no_memory_is_not(tmp_path, monkeypatch):
    face = fonts.resolve(FONT)
    assert face is not None
    arguments = [face.path, str(face.index), "X riskchart", str(tmp_path / "regular.otf")]

    def fails(error):
        def trimmed_face(face, family):
            raise error
        return trimmed_face

    monkeypatch.setattr(trimfont, "trimmed_face", fails(TypeError("a 16.16 operand")))
    assert trimfont.main(arguments) == trimfont._CANNOT_TRIM
    monkeypatch.setattr(trimfont, "trimmed_face", fails(RecursionError()))
    assert trimfont.main(arguments) == trimfont._CANNOT_TRIM
    monkeypatch.setattr(trimfont, "trimmed_face", fails(MemoryError()))
    with pytest.raises(MemoryError):
        trimfont.main(arguments)


def test_an_interrupted_making_is_cleared_by_the_next(fresh_copies):
    assert files.user_cache_folder("trimmed-fonts") == fresh_copies  # made as riskchart makes it (0700)
    left = fresh_copies / ".making-abc"
    (left / "deep").mkdir(parents=True)
    (left / "deep" / "regular.otf").write_bytes(b"half")
    assert trimfont.for_font(FONT) is not None
    assert not left.exists()


def test_without_a_user_cache_the_installed_font_is_drawn(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    trimfont.for_font.cache_clear()
    try:
        assert trimfont.for_font(FONT) is None
    finally:
        trimfont.for_font.cache_clear()


def chart_outputs(tools: render.Toolchain) -> dict[str, bytes]:
    from riskchart.model import Chart, Phones, Step

    chart = Chart(path=Path("01-x.yaml"), id=1, category="行政裁决", title="审核",
                  steps=(Step("受理", "高", (f"不如实填报——office ffi，{OUTSIDE}字。",),
                              (f"核对①，{VARIANT}。",), "受理人"),),
                  department="某部门", phones=Phones("1", "2"))
    return render.render(chart_dot(chart), ("svg", "pdf"), tools)


def raster(pdf: bytes, where: Path) -> bytes:
    where.write_bytes(pdf)
    return subprocess.run(["pdftoppm", "-r", "100", "-gray", str(where)], capture_output=True, check=True).stdout


def font_files(pdf: bytes) -> list[bytes]:
    with pikepdf.Pdf.open(io.BytesIO(pdf)) as document:
        return sorted(font.DescendantFonts[0].FontDescriptor.FontFile3.read_bytes() for font in glyphs._fonts(document))


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils is not installed")
def test_a_chart_drawn_with_the_copy_looks_exactly_as_with_the_installed_font(tmp_path):
    tools = render.toolchain(FONT)
    assert tools.trimmed is not None
    with_copy = chart_outputs(tools)
    installed = chart_outputs(dataclasses.replace(tools, trimmed=None))
    assert with_copy["svg"] == installed["svg"]  # measured and laid out alike
    assert font_files(with_copy["pdf"]) != font_files(installed["pdf"])  # the copy was drawn with
    # regular and bold from the copy, and the installed regular for the one character outside it
    assert len(font_files(with_copy["pdf"])) == 3 and len(font_files(installed["pdf"])) == 2
    assert raster(with_copy["pdf"], tmp_path / "copy.pdf") == raster(installed["pdf"], tmp_path / "installed.pdf")
    assert len(with_copy["pdf"]) < len(installed["pdf"])


def test_whether_dot_draws_with_a_copy_is_part_of_every_chart_fingerprint(monkeypatch):
    def inputs(found):
        monkeypatch.setattr(trimfont, "for_font", lambda font: found)
        freshness._static_inputs.cache_clear()
        return freshness._static_inputs(FONT, ("svg", "pdf"), "A4")

    try:
        one = trimfont.TrimmedFont("/x/fonts.conf", "one")
        assert inputs(one) != inputs(None) != inputs(trimfont.TrimmedFont("/x/fonts.conf", "two"))
        assert inputs(one) == inputs(trimfont.TrimmedFont("/y/fonts.conf", "one"))
    finally:
        freshness._static_inputs.cache_clear()
