"""A CID-keyed CFF font with only some outlines, and no subroutines.

Every glyph keeps its number (the font's other tables, which name glyphs
by number, stay valid as they are); a glyph not kept becomes a bare
`endchar`.  Each kept outline has its subroutine calls replaced by the
subroutines' own code (desubroutinized), and the font keeps no
subroutines at all.  cairo's work per subset grows with the subroutines of
the whole font (tens of thousands in Noto Sans CJK), and without any cairo
also no longer writes the broken outline of 「如」 it writes when it
subsets the installed font (README, 「字形检查」).  The
copies are about as large as with the subroutines kept (4.4 MB against
4.2 MB for Noto Sans CJK SC Regular), since only the subroutines shared by
many outlines were worth keeping.

Outlines are interpreted with fontTools' charstring decompiler, which
knows where a hint mask's bytes end; a font this module does not expect
(a subroutine called with a computed number, a hint mask whose length
depends on the glyph calling it, an outline that is not CID-keyed) raises
NotTrimmable.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .cffmerge import Operator, _index, _rebuilt, _tokens, laid_out
from .cffread import CHARSET, FDARRAY, FDSELECT, PRIVATE, ROS, SUBRS, Bytes, Cff, Index, read_dict

_ENDCHAR = b"\x0e"
_CALLS = frozenset({"callsubr", "callgsubr"})


class NotTrimmable(Exception):
    """The font is not one this module knows how to trim."""


def bias(count: int) -> int:
    """The number added to a call's operand (Type 2 charstrings, §4.7)."""
    return 107 if count < 1240 else 1131 if count < 33900 else 32768


class _Subroutines:
    """One subroutine INDEX as the decompiler sees it: each item is one
    charstring object, so that its decompiled program (with its hint
    masks' lengths, known only in a glyph's context) is kept."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self.used: dict[int, Any] = {}

    def __len__(self) -> int:
        return self.index.count

    def __getitem__(self, number: int) -> Any:
        from fontTools.misc.psCharStrings import T2CharString

        found = self.used.get(number)
        if found is None:
            if not 0 <= number < self.index.count:
                raise NotTrimmable(f"调用了不存在的子程序 {number}")
            found = self.used[number] = T2CharString(bytecode=self.index.item(number))
        return found


def trimmed(data: Bytes, keep: Iterable[int]) -> bytes:
    """The CFF font `data` with only the outlines of glyphs `keep` (glyph 0,
    .notdef, always), each with its subroutines inlined."""
    from fontTools.misc.psCharStrings import SimpleT2Decompiler, T2CharString

    cff = Cff(data)
    if not cff.cid_keyed or FDARRAY not in cff.top or FDSELECT not in cff.top:
        raise NotTrimmable("不是 CID 字体")
    glyph_count = len(cff.charstrings)
    kept = sorted({0, *(number for number in keep if 0 <= number < glyph_count)})
    global_subrs = _Subroutines(cff.global_subrs)
    local_subrs = [_Subroutines(font_dict.subrs) for font_dict in cff.font_dicts]
    outlines: dict[int, Any] = {}
    decompiler = _decompiler_class(SimpleT2Decompiler)
    for number in kept:
        font_dict = cff.font_dict_of[number]
        outline = T2CharString(bytecode=cff.charstrings.item(number))
        decompiler(local_subrs[font_dict], global_subrs, cff.font_dicts[font_dict]).execute(outline)
        outlines[number] = outline
    items = [_ENDCHAR] * glyph_count
    for number, outline in outlines.items():
        local = local_subrs[cff.font_dict_of[number]]
        items[number] = _compiled(_flattened(outline.program, global_subrs, local))
    return _laid_out(cff, _index(items))


def _decompiler_class(base: Any) -> Any:
    """fontTools' decompiler, checking every hint mask's length: a subroutine
    is decompiled once, its masks read with the length the stems declared
    before its first call gave them, and a later call after another number
    of stems would need another length."""

    class Decompiler(base):  # type: ignore[misc]
        def op_hintmask(self, index: int) -> tuple[bytes, int]:
            try:  # fontTools asserts the length itself, unless Python runs with -O
                mask, index = super().op_hintmask(index)
            except AssertionError:
                mask = b""
            if len(mask) != self.hintMaskBytes:
                raise NotTrimmable("同一个子程序在提示数不同的字形中被调用")
            return mask, index

        op_cntrmask = op_hintmask

    return Decompiler


def _flattened(program: list[Any], global_subrs: _Subroutines, local_subrs: _Subroutines) -> list[Any]:
    """The outline's program with every subroutine call replaced by the
    subroutine's own program (without its `return`; a subroutine's
    `endchar` ends the outline)."""
    flat: list[Any] = []
    for token in program:
        if token not in _CALLS:
            flat.append(token)
            continue
        number = flat.pop() if flat else None
        if not isinstance(number, int) or isinstance(number, bool):
            raise NotTrimmable("子程序编号不是常数")
        subrs = global_subrs if token == "callgsubr" else local_subrs
        called = subrs.used.get(number + bias(len(subrs)))
        if called is None or called.program is None:
            raise NotTrimmable(f"子程序 {number} 没有被解读")
        body = _flattened(called.program, global_subrs, local_subrs)
        if body and body[-1] == "return":
            body.pop()
        flat.extend(body)
        if body and body[-1] == "endchar":
            break
    return flat


def _compiled(program: list[Any]) -> bytes:
    from fontTools.misc.psCharStrings import T2CharString

    outline = T2CharString(program=program)
    outline.compile()
    return bytes(outline.bytecode)


def _laid_out(cff: Cff, charstrings: bytes) -> bytes:
    """The font of the original's parts (cffmerge.laid_out), with `charstrings`,
    no global subroutines, and each font dict's Private DICT without its Subrs."""
    data = cff.data
    names = Index(data, data[2])
    tops = Index(data, names.end)
    strings = Index(data, tops.end)
    head = bytes(data[:tops.start])
    top_tokens = _tokens(data, tops.base + tops._offset(0), tops.base + tops._offset(1))
    if ROS not in {operator for operator, _ in top_tokens}:
        raise NotTrimmable("不是 CID 字体")
    charset_at, fd_select_at = int(cff.top[CHARSET][-1]), int(cff.top[FDSELECT][-1])
    charset = bytes(data[charset_at:_charset_end(data, charset_at, len(cff.charstrings))])
    fd_select = bytes(data[fd_select_at:_fd_select_end(data, fd_select_at, len(cff.charstrings))])
    font_dicts = Index(data, int(cff.top[FDARRAY][-1]))
    dict_tokens: list[list[tuple[Operator, bytes]]] = []
    privates: list[bytes] = []
    for number in range(len(font_dicts)):
        start, end = font_dicts.base + font_dicts._offset(number), font_dicts.base + font_dicts._offset(number + 1)
        dict_tokens.append(_tokens(data, start, end))
        size, at = (int(value) for value in read_dict(data, start, end)[PRIVATE])
        privates.append(b"".join(raw for operator, raw in _tokens(data, at, at + size) if operator != SUBRS))

    def top(offsets: dict[Operator, list[int]]) -> bytes:
        return _index([_rebuilt(top_tokens, offsets)])

    def fd_dict(number: int, private_size: int, private_offset: int) -> bytes:
        return _rebuilt(dict_tokens[number], {PRIVATE: [private_size, private_offset]})

    return laid_out(head, top, strings.stored() + _index([]), charset, fd_select, charstrings, fd_dict,
                    [(private, b"") for private in privates])


def _charset_end(data: Bytes, at: int, glyphs: int) -> int:
    kind, at, seen = data[at], at + 1, 1
    if kind == 0:
        return at + 2 * (glyphs - 1)
    while seen < glyphs:
        left = data[at + 2] if kind == 1 else int.from_bytes(data[at + 2:at + 4], "big")
        seen += left + 1
        at += 3 if kind == 1 else 4
    return at


def _fd_select_end(data: Bytes, at: int, glyphs: int) -> int:
    if data[at] == 0:
        return at + 1 + glyphs
    if data[at] != 3:
        raise NotTrimmable(f"FDSelect 格式 {data[at]}")
    ranges = int.from_bytes(data[at + 1:at + 3], "big")
    return at + 3 + 3 * ranges + 2
