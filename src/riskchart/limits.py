"""What the loader accepts.  Real charts stay far below every limit; the
limits exist so that a wrong or hostile file fails fast with a located
message instead of exhausting memory, time or the Graphviz label size.
README documents them; change both together."""

MAX_FILE_BYTES = 1024 * 1024   # real charts are under 10 KB
MAX_LINES = 5000               # real charts are under 150 lines
MAX_PROBLEMS = 100             # per file: past this, the rest of the file is not checked
MAX_FLOW_DEPTH = 20            # unclosed [ or { at any point of the file
MAX_INDENT = 200               # columns of leading spaces and - ? : per line
MAX_STEPS = 40                 # a workflow on one A4 page
MAX_ITEMS = 30                 # risks or measures of one step
MAX_TEXT = 500                 # characters of one item, title or name
MAX_NAME = 40                  # characters of a step name (wrapped in its box)
MAX_OWNERS = 10                # units or posts named as one step's or chart's owner
MAX_CODE = 40                  # characters of a power's code (职权编码)
MAX_BASIS = 20                 # legal bases (法律依据) of one power
MAX_EXITS = 4                  # branch exits of one step
MAX_SHORT_TEXT = 100           # characters of a time limit, an exit's condition or destination
