"""`riskchart serve`: build, serve the output folder, rebuild on every save.

The rooms:
  session.py  the watch-build-tell loop, the state the pages show, serve()
  watch.py    which files are watched, and when a group of saves has settled
  preview.py  a saved chart's SVG drawn before the build
  http.py     the output folder served read-only, the event stream
  pages.py    the chart pages and the live index page
"""

from .session import (
    PAGE_PREFIX,
    PREVIEW_PREFIX,
    ChartView,
    Live,
    Session,
    file_version,
    output_url,
    page_url,
    preview_url,
    serve,
)

__all__ = ["PAGE_PREFIX", "PREVIEW_PREFIX", "ChartView", "Live", "Session", "file_version", "output_url", "page_url",
           "preview_url", "serve"]
