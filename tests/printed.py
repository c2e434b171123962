"""What a printed PDF shows, read back the way a reader sees it: each
character's size on the page (MuPDF's structured text), page by page."""

from __future__ import annotations

import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PrintedPage:
    width: float
    height: float
    sizes: Counter[float]  # characters per font size (pt, 2 decimals)
    text: str               # the page's characters in reading order, lines joined without breaks
    top: float = 0.0        # the highest character's top, from the page's top edge

    @property
    def body(self) -> float:
        """The size most characters are printed at."""
        return self.sizes.most_common(1)[0][0]

    @property
    def smallest(self) -> float:
        return min(self.sizes)

    @property
    def largest(self) -> float:
        return max(self.sizes)


def printed_pages(pdf: Path | bytes) -> list[PrintedPage]:
    data = pdf if isinstance(pdf, bytes) else pdf.read_bytes()
    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:  # mutool reads no stdin
        file.write(data)
        file.flush()
        xml = subprocess.run(["mutool", "draw", "-F", "stext", "-o", "-", file.name],
                             capture_output=True, check=True).stdout
    pages = []
    for page in ET.fromstring(xml).iter("page"):
        sizes: Counter[float] = Counter()
        text = []
        tops = [float(line.get("bbox", "0 0 0 0").split()[1]) for line in page.iter("line")]
        for font in page.iter("font"):
            for char in font.iter("char"):
                if not char.get("c", "").isspace():
                    sizes[round(float(font.get("size", "0")), 2)] += 1
                text.append(char.get("c", ""))
        pages.append(PrintedPage(float(page.get("width", 0)), float(page.get("height", 0)), sizes, "".join(text),
                                 min(tops, default=0.0)))
    return pages
