"""Pieces compressed apart, laid end to end in a ZIP archive that zipfile checks."""

import io
import os
import zipfile
import zlib

from riskchart.publish.deflated import crc_combine, deflate, joined, zip_archive


def test_pieces_compressed_apart_make_one_valid_stream():
    pieces = [os.urandom(70_000), b"", b"<row>" * 30_000, "中文".encode() * 5]
    whole = joined(deflate(p, level) for p, level in zip(pieces, (6, 1, 9, 0), strict=True))
    assert whole.crc == zlib.crc32(b"".join(pieces)) and whole.size == sum(map(len, pieces))
    archive = zipfile.ZipFile(io.BytesIO(zip_archive([("a.xml", whole), ("empty", joined([]))])))
    assert archive.testzip() is None
    assert archive.read("a.xml") == b"".join(pieces) and archive.read("empty") == b""


def test_crc_combine_is_zlibs():
    first, second = os.urandom(1000), os.urandom(200_000)
    assert crc_combine(zlib.crc32(first), zlib.crc32(second), len(second)) == zlib.crc32(first + second)
    assert crc_combine(zlib.crc32(first), zlib.crc32(b""), 0) == zlib.crc32(first)
