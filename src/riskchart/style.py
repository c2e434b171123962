"""Every Graphviz setting and drawing dimension, in one place.

Sizes are in points (1/72 inch) unless the name says otherwise.  The
template reads these through `layout`; nothing else hard-codes a colour,
a font size or a width.
"""

DEFAULT_FONT = "Noto Sans CJK SC"
FORMATS = ("svg", "pdf", "png", "dot")  # what build can write
DEFAULT_FORMATS = ("svg", "pdf")
# booklet.docx: the 公文 conventions, 仿宋 for text and 黑体 for headings (riskchart.toml can change them)
DOCX_FONT = "仿宋"
DOCX_HEADING_FONT = "黑体"
DEFAULT_DPI = 150  # PNG: the A4 page at this resolution (1240 px wide); --dpi changes it
# SVG names its font; a viewer without Noto falls back along this list.
SVG_FONT_FALLBACKS = ("Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei",
                      "PingFang SC", "SimHei", "sans-serif")

# Type sizes as printed: a chart is laid out at these sizes for its page
# (page.py), so the PDF shows them unscaled — body 9 pt (小五), nothing
# under it, so a tall chart scaled to MIN_BODY_SIZE keeps everything at 7 pt
# (over the 6.5 pt floor).  Whole points: Graphviz 2.43 with pango draws
# 8.5 pt as 8 and 10.5 as 10.
FONT_SIZE = 9
TITLE_FONT_SIZE = 15
DEPARTMENT_FONT_SIZE = 10
POWER_FONT_SIZE = 10
COLUMN_HEADER_FONT_SIZE = 10
FOOTER_FONT_SIZE = 9

# Column widths follow from the page's printable width (page.py); these are
# the fixed parts.  Sizes in points.
STEP_WIDTH = 88          # the workflow boxes in the middle, on an A4 portrait page
STEP_WIDTH_WIDE = 110    # on a page over 700 pt wide (A3, landscape)
NUMBER_WIDTH = 16        # the column of item numbers inside a side box
CELL_PADDING = 3
NODE_SEPARATION_INCH = 0.3

# Power-list keys: code, time limits and legal basis under the title; a step's
# time limit in its box; exits in a lane between the steps and the measures.
BASIS_FONT_SIZE = 9
BASIS_LABEL_WIDTH = 60   # 「法律依据：」 at POWER_FONT_SIZE, with padding
STEP_TIME_FONT_SIZE = 9
EXIT_WIDTH = 110         # the lane of exit boxes, only in charts that have exits
EXIT_WIDTH_WIDE = 140
EXIT_SPACER = 4          # between the workflow's line and the exits, besides two node separations
EXIT_FONT_SIZE = 9
EXIT_WHEN_FONT_SIZE = 9
EXIT_FILL = "#f5f7fa"
EXIT_BORDER = "#7b8794"

RANK_SEPARATION_INCH = 0.15
GRAPH_PAD_INCH = 0.05  # the page's margin is round the drawing already

INK = "#1f2933"
MUTED = "#52606d"
BOX_BORDER = "#3e4c59"
STEP_FILL = "#e8eef5"
HEADER_FILL = "#d9e2ec"
CONNECTOR = "#7b8794"

# Level colours differ in lightness too, so grey-scale print keeps them apart:
# 高 dark red with white text, 中 orange, 低 pale green.
LEVEL_STYLES = {
    "高": {"fill": "#b71c1c", "text": "#ffffff", "border": "#7f0000"},
    "中": {"fill": "#f59e0b", "text": "#1f2933", "border": "#b45309"},
    "低": {"fill": "#cdebd0", "text": "#1b4d20", "border": "#2e7d32"},
}
LEVEL_ORDER = ("高", "中", "低")
# A project's own scale (riskchart.toml `levels`, highest first) takes its colours
# from this palette by rank, spread over it: three levels get 高/中/低's colours
# above, two the darkest and the palest.  Lightness (luma) rises step by step,
# so every scale stays apart in grey-scale print.
LEVEL_PALETTE = (
    LEVEL_STYLES["高"],
    {"fill": "#d9480f", "text": "#ffffff", "border": "#9a3412"},
    LEVEL_STYLES["中"],
    {"fill": "#f6c453", "text": "#1f2933", "border": "#a16207"},
    LEVEL_STYLES["低"],
)
# A risk box whose level the department did not assess: no level row, a neutral border.
UNGRADED_BORDER = "#7b8794"
UNGRADED_LEGEND = "未评定"
# Redline drawings (riskchart diff --redline): new or changed in blue, a colour no level uses; removed in purple
REDLINE = "#1d4ed8"
REDLINE_FILL = "#dbeafe"
REDLINE_DELETED = "#86198f"
REDLINE_PEN_WIDTH = 2.4
REDLINE_LEGEND = "修订标记："
RISK_TYPE_FONT_SIZE = 8.5  # the risk type's tag on a risk box
NOTE_FONT_SIZE = 8.5       # a step's note, under its name

DRAFT_NOTICE = "本图待录入"
DRAFT_EXPLANATION = "原件为图片，尚未录入为数据；此页为占位页，不是正式防控图。"

COLUMN_TITLES = ("风险点等级及表现形式", "工作流程", "防控措施及责任人")

# The page (page.py): the margin kept round a chart, and the body size under
# which a tall chart continues on another page rather than shrink further.
PAGE_MARGIN = 28
MIN_BODY_SIZE = 7
MAX_SCALE = 1  # laid out at its printed size: a short chart is never enlarged

# The booklet's cover (cover.dot.j2) is as wide as an A4 page less its padding.
A4_WIDTH = 595

DOT_TIMEOUT_SECONDS = 60  # per chart
LOCK_TIMEOUT_SECONDS = 600  # how long a build waits for another one into the same folder

# The booklet (风险防控图汇编): contents rows per page and title column width.
TOC_ROWS_PER_PAGE = 38
# A booklet of more pages is not made (a person must be able to download and print it):
# a project that large gets one booklet per department folder instead.
BOOKLET_MAX_PAGES = 500
# A build keeps its charts' booklet pages and fonts in memory while dot draws (about 1 MB a
# chart: joined pages and fonts) only for a set of up to this many charts; a larger set's
# booklet reads them back from out/ after the last chart, so that memory stays flat.
BOOKLET_AHEAD_MAX_CHARTS = 100
TOC_TITLE_WIDTH = 330
TOC_TITLE_COLUMNS = 62
