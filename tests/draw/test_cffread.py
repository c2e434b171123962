"""CFF structures read in place (the embedded subsets' INDEXes and DICTs)."""

from __future__ import annotations

import pytest

from riskchart.draw import cffread


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_an_index_reads_its_offsets_whatever_their_size(size):
    items = [b"a", b"bc" * 40, b"", b"d" * (300 if size > 1 else 3)]
    offsets = [1]
    for item in items:
        offsets.append(offsets[-1] + len(item))

    def index() -> cffread.Index:
        return cffread.Index(len(items).to_bytes(2, "big") + bytes([size])
                             + b"".join(o.to_bytes(size, "big") for o in offsets) + b"".join(items), 0)

    assert index().offsets() == offsets
    assert [index().item(n) for n in range(len(items))] == items
    assert index().every_item() == items
    assert index().each([3, 0, 3, 1]) == [items[3], items[0], items[3], items[1]]
    assert index().each([0, 4]) is None and index().each([-1]) is None
