"""Line breaking by display width, with Chinese line-breaking rules."""

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from riskchart.draw.wrap import NO_LINE_END, NO_LINE_START, display_width, wrap

SENTENCE = "严格履行服务承诺制度，做到首问负责和一次性告知。政务公开，明确工作程序、时限等，按照项目核准规定办理。"


def test_widths_are_the_fonts_advance_widths_in_half_ems():
    assert display_width("受理") == 4
    assert display_width("→※") == 4  # full-width in the font, though "ambiguous" to Unicode
    assert 3 < display_width("ab1") < 3.6  # proportional Latin: a 563, b 579, 1 555 units of 1000
    assert display_width("W") > display_width("i") * 2


def test_without_the_font_widths_are_guessed(monkeypatch):
    from riskchart.draw import fonts
    from riskchart.draw import wrap as wrap_module

    monkeypatch.setattr(fonts, "metrics", lambda font: None)
    wrap_module.char_width.cache_clear()
    try:
        assert display_width("受理") == 4 and display_width("ab1") == 3 and display_width("W") == 1.5
    finally:
        monkeypatch.undo()
        wrap_module.char_width.cache_clear()


@pytest.mark.parametrize("columns", [6, 10, 12, 20, 34, 35])
def test_lines_fit_and_keep_every_character(columns):
    lines = wrap(SENTENCE, columns)
    assert "".join(lines) == SENTENCE
    assert all(display_width(line) <= columns for line in lines)


@pytest.mark.parametrize("columns", [6, 10, 12, 20, 34])
def test_no_line_starts_with_closing_punctuation(columns):
    for line in wrap(SENTENCE, columns)[1:]:
        assert line[0] not in NO_LINE_START, line


def test_closing_punctuation_carries_the_previous_character_down():
    # 10 columns hold five CJK characters; "，" would start line 2.
    assert wrap("严格履行制，度", 10) == ["严格履行", "制，度"]


def test_opening_punctuation_does_not_end_a_line():
    lines = wrap("依照规定办理《山西省办法》", 14)
    assert all(line[-1] not in NO_LINE_END for line in lines)
    assert "".join(lines) == "依照规定办理《山西省办法》"


def test_latin_words_stay_whole_when_they_fit():
    lines = wrap("请访问 example.org 查看", 14)
    assert any("example.org" in line for line in lines)


def test_overlong_word_is_cut_and_empty_text_gives_one_line():
    lines = wrap("x" * 25, 10)
    assert lines == ["x" * 10, "x" * 10, "x" * 5]
    assert wrap("", 10) == [""]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=120),
       st.integers(min_value=6, max_value=40))
@example("000000\u0e5c.00K", 6)  # carrying "\u0e5c" before ".00K" (no line starts with ".") overflowed the next line
@example('0000000"! 00000²I', 9)  # 9.000000000000002 columns: rounding, not overflow
@example("甲乙\u3000丙丁", 6)  # only ASCII spaces are dropped at a break: the ideographic space stays
def test_wrap_never_loses_text_or_overflows(text, columns):
    lines = wrap(text, columns)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    for line in lines:
        # A line may exceed the width only when one character alone is wider.
        # (widths are sums of floats: a line summed in another order may exceed by a rounding error)
        assert display_width(line) <= columns + 1e-9 or len(line) == 1


def test_wide_latin_letters_count_one_and_a_half_without_the_font(monkeypatch):
    # the guess when the font is not installed (with it, each letter has its own width):
    # capitals are wider than digits and small letters in the CJK font
    from riskchart.draw import fonts
    from riskchart.draw import wrap as wrap_module

    monkeypatch.setattr(fonts, "metrics", lambda font: None)
    wrap_module.char_width.cache_clear()
    try:
        assert display_width("M") == display_width("A") == display_width("w") == 1.5
        assert display_width("a1i") == 3
        assert wrap("MMMM", 5) == ["MMM", "M"]
    finally:
        monkeypatch.undo()
        wrap_module.char_width.cache_clear()  # the real widths again for the tests after this one


def test_a_broken_line_keeps_no_trailing_space():
    assert wrap("ab  cd  ef", 4) == ["ab", "cd", "ef"]
    assert wrap("甲乙 丙丁", 5) == ["甲乙", "丙丁"]
    assert wrap("甲乙  ", 10) == ["甲乙"]


@pytest.mark.parametrize("text, columns, word", [("额度为 1.25 万元", 9, "1.25"), ("见 v1.2.3 版", 7, "v1.2.3"),
                                                  ("查 a_b-c/d 表", 9, "a_b-c/d")])
def test_numbers_and_versions_with_dots_stay_whole(text, columns, word):
    assert word in wrap(text, columns)[1]


# ------------------------------------------------------------------ exact breaks (each pins one rule)

MONO = "Noto Sans Mono CJK SC"  # every Latin letter exactly one column: widths differ from the default font


def test_a_line_may_fill_its_columns_exactly():
    assert wrap("一二三四五六", 6) == ["一二三", "四五六"]


def test_a_letter_x_at_the_end_of_a_line_is_kept():
    assert wrap("甲乙丙X丁戊", 8) == ["甲乙丙X", "丁戊"]
    assert wrap("甲乙X", 10) == ["甲乙X"]


def test_a_character_carried_before_closing_punctuation_leaves_the_first_of_two_behind():
    # "，" may not start line 2, so "乙" goes down with it; "甲" stays: a line is never emptied
    assert wrap("甲乙，丙", 4) == ["甲", "乙，", "丙"]


def test_opening_punctuation_and_the_character_after_it_go_down_together_in_order():
    # "（" may not end line 1 and "，" may not start line 2: both "（" and "戊" are carried,
    # and the carried width counts when filling line 2
    assert wrap("甲乙丙（戊，己庚", 10) == ["甲乙丙", "（戊，己庚"]


@pytest.mark.needs("cjk-font")
def test_a_word_as_wide_as_the_line_is_not_cut():
    assert wrap("甲 abcdefghij", 10, MONO) == ["甲", "abcdefghij"]


@pytest.mark.needs("cjk-font")
@pytest.mark.parametrize("text, columns, lines", [
    ("WWWWW WWWW", 10, ["WWWWW WWWW"]),  # 17.6 columns in the default font
    ("甲 WWWWWWWW", 10, ["甲", "WWWWWWWW"]),  # a word that fits is moved down whole, not cut
    ("甲乙丙丁WW，WWWWWW", 10, ["甲乙丙丁", "WW，WWWWWW"]),  # the carried "WW" measured in the chart font
])
def test_lines_are_measured_in_the_chart_font(text, columns, lines):
    assert wrap(text, columns, MONO) == lines


@pytest.mark.needs("cjk-font")
def test_the_old_line_is_never_emptied_to_carry_a_character():
    assert wrap("iiiiiiii，", 9, MONO) == ["iiiiiiii", "，"]


def test_the_width_limit_wins_over_the_line_breaking_rules():
    # "（" may not end a line, but carried down with "W.W" the next line would be wider than 6
    assert wrap("11 1（W.W", 6) == ["11 1（", "W.W"]


def test_a_space_that_would_start_a_line_is_dropped():
    assert wrap("甲乙丙 丁", 6) == ["甲乙丙", "丁"]


def test_a_two_letter_word_wider_than_the_line_is_cut():
    assert wrap("WW", 3) == ["W", "W"]  # 3.5 columns in the default font


def test_carrying_a_character_before_a_closing_mark_measures_it_in_the_chart_font(monkeypatch):
    # In a font whose characters are one column wide, 「丙。」 fits a line of three:
    # 丙 goes down with the full stop rather than leaving 。 to start a line.
    from riskchart.draw import fonts
    from riskchart.draw import wrap as wrap_module

    class OneColumnEach:
        def columns(self, char: str) -> float:
            return 1

    monkeypatch.setattr(fonts, "metrics", lambda font: OneColumnEach() if font == "Narrow" else None)
    wrap_module.char_width.cache_clear()
    try:
        assert wrap("甲乙丙。", 3, "Narrow") == ["甲乙", "丙。"]
    finally:
        monkeypatch.undo()
        wrap_module.char_width.cache_clear()


def test_only_the_spaces_wrapping_leaves_are_trimmed_from_the_last_line():
    # the last line is trimmed like every other: of ASCII spaces only; a
    # full-width space the author typed (RC303 warns about it) is drawn
    assert wrap("受理 ", 10) == ["受理"]
    assert wrap("受理\u3000", 10) == ["受理\u3000"]
