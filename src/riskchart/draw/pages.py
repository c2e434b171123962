"""The drawing on paper: one page, or several when the chart is too tall.

dot draws a chart as one tall picture at its printed size (page.py).  If
it fits the page with the body at MIN_BODY_SIZE or more, it is put at the
top of the page, shrunk only as far as it must be.  Otherwise it goes onto
several pages at its printed size: cut between step bands (never through
one), each further page headed by the title with 「（续）」 and the column
titles, a ring marking where the workflow's line leaves one page and comes
back on the next, and 「第 k 页 / 共 n 页」 at the foot of every page.

Each page shows a window of the same drawing (a PDF form XObject, clipped),
so every sentence is printed exactly once; the title with 「（续）」 and the
page numbers come from a small second drawing (continuation.dot.j2) with
glyphs of its own.  Band positions come from dot's json0 output of the same
run, so nothing is laid out twice.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from typing import Any

from .. import style
from . import glyphs
from .page import Page

CONTINUED_TITLE_ROOM = 30   # the title with 「（续）」 at TITLE_FONT_SIZE, with its spacing
PAGE_NUMBER_ROOM = 14       # 「第 k 页 / 共 n 页」 in the bottom margin... and a little above it
CONNECTOR_ROOM = 14         # between a window and the ring marking the workflow's line going on
_BAND = re.compile(r"(?:risk|step|measure|risk_gap|measure_gap|flow|exits|spacer)_(\d+)")


@dataclass(frozen=True)
class Drawing:
    """Where things are in dot's picture, in its PDF coordinates (points, y up)."""
    width: float
    height: float
    bands: tuple[tuple[float, float], ...]  # (top, bottom) of each step's band, top to bottom
    titles: tuple[float, float]              # (top, bottom) of the column titles
    workflow_x: float                        # the workflow's line


_GRAPH_ATTRIBUTE = re.compile(rb'^  "(bb|pad)": "([^"]*)"', re.MULTILINE)  # the graph's, not its objects'


def size(layout_json: bytes) -> tuple[float, float]:
    """The drawing's width and height, as `drawing` finds them, from the
    graph's own attributes, which dot's json0 writes before its objects:
    most charts fit their page and need no more of the file than this."""
    head = layout_json.split(b'"objects"', 1)[0]
    found = {name.decode(): value.decode() for name, value in _GRAPH_ATTRIBUTE.findall(head)}
    return _size(found if "bb" in found else json.loads(layout_json))


def _size(graph: dict[str, Any]) -> tuple[float, float]:
    pad = float(graph.get("pad", 0)) * 72
    _, _, right, upper = (float(v) for v in str(graph.get("bb", "0,0,0,0")).split(","))
    return right + 2 * pad, upper + 2 * pad


def drawing(layout_json: bytes) -> Drawing | None:
    """The bands of a chart from dot's json0 output; None for a drawing without steps (a draft)."""
    graph = json.loads(layout_json)
    pad = float(graph.get("pad", 0)) * 72
    width, height = _size(graph)
    boxes: dict[int, list[tuple[float, float]]] = {}
    titles: list[tuple[float, float]] = []
    workflow_x = width / 2
    for node in graph.get("objects", ()):
        name, pos = node.get("name", ""), node.get("pos")
        if not isinstance(name, str) or not isinstance(pos, str):
            continue
        x, y = (float(v) + pad for v in pos.split(","))
        half = float(node.get("height", 0)) * 72 / 2
        if name.startswith("column_"):
            titles.append((y + half, y - half))
        band = _BAND.fullmatch(name)
        if band:
            boxes.setdefault(int(band[1]), []).append((y + half, y - half))
            if name == "step_0":
                workflow_x = x
    if not boxes or not titles:
        return None
    bands = tuple((max(t for t, _ in boxes[i]), min(b for _, b in boxes[i])) for i in sorted(boxes))
    return Drawing(width, height, bands, (max(t for t, _ in titles), min(b for _, b in titles)), workflow_x)


def one_page_scale(width: float, height: float, page: Page) -> float:
    return min(page.printable_width / width, page.printable_height / height, style.MAX_SCALE)


def continues(width: float, height: float, page: Page) -> bool:
    """Whether the drawing would print its body under MIN_BODY_SIZE on one page."""
    return style.FONT_SIZE * one_page_scale(width, height, page) < style.MIN_BODY_SIZE - 1e-9


def cuts(plan: Drawing, page: Page) -> list[float]:
    """Where each page's window ends (drawing y, top to bottom; the last is 0),
    greedily: as many whole bands as the page holds."""
    scale = min(1.0, page.printable_width / plan.width)
    first_room = (page.printable_height - PAGE_NUMBER_ROOM - CONNECTOR_ROOM) / scale
    titles_height = plan.titles[0] - plan.titles[1] + 4
    later_room = (page.printable_height - PAGE_NUMBER_ROOM - 2 * CONNECTOR_ROOM - CONTINUED_TITLE_ROOM) / scale \
        - titles_height
    # a page may end between two bands, half way across the gap
    between = [(plan.bands[i][1] + plan.bands[i + 1][0]) / 2 for i in range(len(plan.bands) - 1)]
    ends: list[float] = []
    top, room = plan.height, first_room
    while top > room + CONNECTOR_ROOM / scale:  # the rest, footer included, does not fit: cut
        fitting = [y for y in between if y < top and top - y <= room]
        if not fitting:
            below = [y for y in between if y < top]
            if not below:
                break  # one band taller than a page: the last page is shrunk to hold it
            fitting = [below[0]]  # one band taller than a page: that page is shrunk to hold it
        ends.append(min(fitting))
        top, room = ends[-1], later_room
    ends.append(0.0)
    return ends


def on_pages(pdf: bytes, plan: Drawing, ends: list[float], header_pdf: bytes, header_boxes: dict[str, tuple[float, float, float, float]],
             page: Page) -> bytes:
    """The drawing in windows, one a page (see the module's description)."""
    import pikepdf

    scale = min(1.0, page.printable_width / plan.width)
    with pikepdf.Pdf.open(io.BytesIO(pdf)) as drawn, pikepdf.Pdf.open(io.BytesIO(header_pdf)) as header, \
            pikepdf.Pdf.new() as document:
        glyphs.repair_fonts(drawn)
        glyphs.repair_fonts(header)
        window = _windows(document, drawn, plan.width, plan.height)
        words = _windows(document, header, *(float(v) for v in header.pages[0].MediaBox[2:]))
        titles, continued = window(*reversed(plan.titles)), words(*_span(header_boxes["title"]))
        top = plan.height
        for number, end in enumerate(ends, 1):
            ops = _window_ops(plan, top, end, number, len(ends), header_boxes, scale, page)
            document.add_blank_page(page_size=(page.width, page.height))
            sheet = document.pages[-1]
            forms = pikepdf.Dictionary(D=window(end, top), N=words(*_span(header_boxes[f"page_{number}"])))
            if number > 1:
                forms.T, forms.C = titles, continued
            sheet.Resources = pikepdf.Dictionary(XObject=forms)
            sheet.Contents = document.make_stream("\n".join(ops).encode())
            top = end
        buffer = io.BytesIO()
        document.save(buffer)
    return buffer.getvalue()


def _span(box: tuple[float, float, float, float]) -> tuple[float, float]:
    return box[1], box[3]


def _windows(document: Any, source: Any, width: float, height: float) -> Any:
    """A maker of forms in `document` that each show the one page of `source`
    with only the text whose baseline lies between `low` and `high`.

    The page is parsed, and each operation's baseline found and written
    back to bytes, once: a window then only picks operations (a chart
    continued over five pages makes six or more windows of one drawing)."""
    import pikepdf

    operations = pikepdf.parse_content_stream(source.pages[0])
    baselines = _baselines(operations)
    encoded = [pikepdf.unparse_content_stream([operation]) for operation in operations]
    resources = document.copy_foreign(source.pages[0].Resources)

    def window(low: float, high: float) -> Any:
        kept = (code for code, y in zip(encoded, baselines, strict=True) if y is None or low - 0.5 <= y <= high + 0.5)
        form = pikepdf.Stream(document, b"\n".join(kept))  # as unparse_content_stream joins them
        form.Type, form.Subtype = pikepdf.Name.XObject, pikepdf.Name.Form
        form.BBox = pikepdf.Array([0, 0, width, height])
        form.Resources = resources
        return form

    return window


def _baselines(operations: list[Any]) -> list[float | None]:
    """The page y of the baseline of each text-showing operation, None for
    the others: a window keeps the text whose baseline lies inside it, so
    that each sentence is on one page only, for search, copying and screen
    readers as well as for the eye.  Follows cm (with q/Q), Tm, Td and TD;
    cairo writes no T*."""
    found: list[float | None] = []
    ctm, saved = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0), []
    line = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    for operation in operations:
        # by attribute: unpacking each operation as a pair is most of this loop's time
        name = str(operation.operator)
        y = None
        if name == "q":
            saved.append(ctm)
        elif name == "Q" and saved:
            ctm = saved.pop()
        elif name == "cm":
            ctm = _multiply(tuple(float(v) for v in operation.operands), ctm)
        elif name == "BT":
            line = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
        elif name == "Tm":
            line = tuple(float(v) for v in operation.operands)  # type: ignore[assignment]
        elif name in ("Td", "TD"):
            tx, ty = (float(v) for v in operation.operands)
            a, b, c, d, e, f = line
            line = (a, b, c, d, e + tx * a + ty * c, f + tx * b + ty * d)
        elif name in ("Tj", "TJ", "'", '"'):
            y = line[4] * ctm[1] + line[5] * ctm[3] + ctm[5]
        found.append(y)
    return found


def _multiply(m: tuple[float, ...], n: tuple[float, ...]) -> tuple[float, float, float, float, float, float]:
    """The PDF matrix product m × n (m applied first)."""
    a, b, c, d, e, f = m
    p, q, r, s, t, u = n
    return (a * p + b * r, a * q + b * s, c * p + d * r, c * q + d * s, e * p + f * r + t, e * q + f * s + u)


def _window_ops(plan: Drawing, top: float, end: float, number: int, count: int,
                header_boxes: dict[str, tuple[float, float, float, float]], scale: float, page: Page) -> list[str]:
    """PDF operators of one page: its headings, its window of the drawing, the rings and its number."""
    left = (page.width - plan.width * scale) / 2
    cursor = page.height - style.PAGE_MARGIN
    ops: list[str] = []
    if number > 1:
        box = header_boxes["title"]
        cursor -= (CONTINUED_TITLE_ROOM - (box[3] - box[1])) / 2
        ops += _place("C", box, (page.width - (box[2] - box[0])) / 2, cursor, 1.0)
        cursor -= CONTINUED_TITLE_ROOM - (CONTINUED_TITLE_ROOM - (box[3] - box[1])) / 2
        titles = (0.0, plan.titles[1] - 2, plan.width, plan.titles[0] + 2)
        ops += _place("T", titles, left, cursor, scale)
        cursor -= (titles[3] - titles[1]) * scale + CONNECTOR_ROOM
        ops += _ring(left + plan.workflow_x * scale, cursor + CONNECTOR_ROOM / 2)
    # the window itself: from `top` down to `end`
    room = cursor - style.PAGE_MARGIN - PAGE_NUMBER_ROOM - (CONNECTOR_ROOM if number < count else 0)
    fit = min(scale, room / (top - end)) if top > end else scale
    shift = (plan.width * (scale - fit)) / 2
    ops += _place("D", (0.0, end, plan.width, top), left + shift, cursor, fit)
    cursor -= (top - end) * fit
    if number < count:
        ops += _ring(left + shift + plan.workflow_x * fit, cursor - CONNECTOR_ROOM / 2)
    box = header_boxes[f"page_{number}"]
    ops += _place("N", box, (page.width - (box[2] - box[0])) / 2, style.PAGE_MARGIN - 4, 1.0)
    return ops


def _place(form: str, box: tuple[float, float, float, float], x: float, top: float, scale: float) -> list[str]:
    """Draw the part `box` (left, bottom, right, top in the form's space) of `form` with its
    top-left corner at (x, top) on the page, `scale` times its size, clipped to that part."""
    left, bottom, right, upper = box
    width, height = (right - left) * scale, (upper - bottom) * scale
    dx, dy = x - left * scale, top - upper * scale
    return ["q", f"{x:.3f} {top - height:.3f} {width:.3f} {height:.3f} re W n",
            f"{scale:.6f} 0 0 {scale:.6f} {dx:.3f} {dy:.3f} cm", f"/{form} Do", "Q"]


def _ring(x: float, y: float) -> list[str]:
    """A small ring on the workflow's line: the flow goes on from here on the next page
    (an off-page connector), drawn as four Bézier arcs."""
    r, k = 4.5, 4.5 * 0.5523
    ink = " ".join(f"{int(style.INK[i:i + 2], 16) / 255:.3f}" for i in (1, 3, 5))
    return ["q", f"{ink} RG 1 1 1 rg 1.2 w",
            f"{x + r:.3f} {y:.3f} m",
            f"{x + r:.3f} {y + k:.3f} {x + k:.3f} {y + r:.3f} {x:.3f} {y + r:.3f} c",
            f"{x - k:.3f} {y + r:.3f} {x - r:.3f} {y + k:.3f} {x - r:.3f} {y:.3f} c",
            f"{x - r:.3f} {y - k:.3f} {x - k:.3f} {y - r:.3f} {x:.3f} {y - r:.3f} c",
            f"{x + k:.3f} {y - r:.3f} {x + r:.3f} {y - k:.3f} {x + r:.3f} {y:.3f} c",
            "b", f"{ink} rg {x - 1.6:.3f} {y - 1.6:.3f} 3.2 3.2 re f", "Q"]


def header_boxes(layout_json: bytes) -> dict[str, tuple[float, float, float, float]]:
    """The parts of the continuation drawing by node name: (left, bottom, right, top)."""
    graph: dict[str, Any] = json.loads(layout_json)
    pad = float(graph.get("pad", 0)) * 72
    boxes = {}
    for node in graph.get("objects", ()):
        if isinstance(node.get("pos"), str):
            x, y = (float(v) + pad for v in node["pos"].split(","))
            w, h = float(node.get("width", 0)) * 36, float(node.get("height", 0)) * 36
            boxes[str(node.get("name"))] = (x - w, y - h, x + w, y + h)
    return boxes

