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

FONT_SIZE = 10
TITLE_FONT_SIZE = 17
DEPARTMENT_FONT_SIZE = 11
POWER_FONT_SIZE = 11.5
COLUMN_HEADER_FONT_SIZE = 10.5
FOOTER_FONT_SIZE = 9.5

SIDE_WIDTH = 215         # every risk box and every measure box
STEP_WIDTH = 96          # the workflow boxes in the middle
NUMBER_WIDTH = 16        # the column of item numbers inside a side box
CELL_PADDING = 3
# Columns of text per line, at FONT_SIZE, with room for padding and the number.
SIDE_COLUMNS = 37
STEP_COLUMNS = 14
HEADER_COLUMNS = 92
NODE_SEPARATION_INCH = 0.45
PAGE_WIDTH = round(2 * SIDE_WIDTH + STEP_WIDTH + 2 * 72 * 0.45)  # header spans the columns and the gaps between them

# Power-list keys: code, time limits and legal basis under the title; a step's
# time limit in its box; exits in a lane between the steps and the measures.
BASIS_FONT_SIZE = 10
BASIS_LABEL_WIDTH = 64   # 「法律依据：」 at POWER_FONT_SIZE, with padding
STEP_TIME_FONT_SIZE = 9
STEP_TIME_COLUMNS = 18   # at STEP_TIME_FONT_SIZE, inside a step box (96 pt less margins: 9 characters)
EXIT_WIDTH = 124         # the lane of exit boxes, only in charts that have exits
EXIT_SPACER = 4          # between the workflow's line and the exits, besides two node separations
EXIT_FONT_SIZE = 9.5
EXIT_WHEN_FONT_SIZE = 9
EXIT_COLUMNS = 23        # of an exit's destination, at EXIT_FONT_SIZE
EXIT_WHEN_COLUMNS = 26   # of an exit's condition, at EXIT_WHEN_FONT_SIZE
EXIT_FILL = "#f5f7fa"
EXIT_BORDER = "#7b8794"

RANK_SEPARATION_INCH = 0.22
GRAPH_PAD_INCH = 0.25

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
RISK_TYPE_FONT_SIZE = 8.5  # the risk type's tag on a risk box
NOTE_FONT_SIZE = 8.5       # a step's note, under its name

DRAFT_NOTICE = "本图待录入"
DRAFT_EXPLANATION = "原件为图片，尚未录入为数据；此页为占位页，不是正式防控图。"

COLUMN_TITLES = ("风险点等级及表现形式", "工作流程", "防控措施及责任人")

# A4 portrait in points, and the margin kept around a chart scaled onto it.
A4_WIDTH = 595
A4_HEIGHT = 842
A4_MARGIN = 28
A4_MAX_SCALE = 1.5  # a very small drawing is enlarged at most this much

DOT_TIMEOUT_SECONDS = 60  # per chart
LOCK_TIMEOUT_SECONDS = 600  # how long a build waits for another one into the same folder

# The booklet (风险防控图汇编): contents rows per page and title column width.
TOC_ROWS_PER_PAGE = 38
TOC_TITLE_WIDTH = 330
TOC_TITLE_COLUMNS = 62
