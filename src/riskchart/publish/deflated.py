"""A ZIP archive (an .xlsx is one) put together from pieces compressed ahead.

Each piece is raw deflate data from a compressor of its own, flushed to a
byte boundary and not final (Z_SYNC_FLUSH), so it refers to nothing before
it: pieces laid end to end, closed by an empty final block, are one valid
deflate stream.  A chart's rows are compressed once, when they change, and
a register of thousands of charts is written without compressing its tens
of megabytes of XML again.  The stream's CRC-32 is combined from the
pieces' (zlib's crc32_combine, which Python's zlib does not offer), with
each piece's factor kept with it: thousands of pieces join without a pass
over their length.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

LEVEL = 6  # zlib's default, as zipfile and XlsxWriter use: pieces are compressed once, so size matters more
_FINAL_BLOCK = b"\x03\x00"  # an empty fixed-Huffman block with BFINAL set: ends the stream
_DOS_DATE = (1 << 5) | 1  # 1980-01-01, time 00:00: the same register gives the same bytes
_LOCAL_HEADER = 30  # a local file header's bytes before the member's name
_LIMIT = 0xFFFF_FFFF  # without ZIP64 (a register of hundreds of thousands of charts)


@dataclass(frozen=True)
class Deflated:
    """Raw deflate data, byte-aligned and not final, with the CRC-32 and the
    length of the bytes it holds."""
    data: bytes
    crc: int
    size: int
    shift: int = -1  # zeros_shift(size) when known (kept with a chart's rows): -1, reckoned when needed


def deflate(data: bytes, level: int = LEVEL) -> Deflated:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    return Deflated(compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH), zlib.crc32(data), len(data),
                    zeros_shift(len(data)))


# CRC-32 arithmetic as zlib 1.2.12 does it (crc32.c: multmodp, x2nmodp): a
# CRC is a polynomial over GF(2) in reflected bit order, and appending n
# bytes multiplies the CRC so far by x^(8n) modulo the CRC's polynomial.
_POLY = 0xEDB88320


def _multmodp(a: int, b: int) -> int:
    """a × b modulo the CRC polynomial (both reflected, 32 bits)."""
    a &= 0xFFFF_FFFF
    if not a:
        return 0  # the loop below ends at a's lowest bit: it must have one
    m, product = 1 << 31, 0
    while True:
        if a & m:
            product ^= b
            if not a & (m - 1):
                return product
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1


def _powers() -> list[int]:
    """x^(2^k) modulo the polynomial, k = 0 … 31."""
    powers = [1 << 30]  # x^1
    for _ in range(31):
        powers.append(_multmodp(powers[-1], powers[-1]))
    return powers


_X_2_TO_THE = _powers()


def zeros_shift(size: int) -> int:
    """x^(8 × size) modulo the polynomial: what a CRC is multiplied by when
    `size` bytes follow (crc_combine); a few dozen steps, whatever the size."""
    product, k = 1 << 31, 3  # x^0; and 8 = 2^3
    while size:
        if size & 1:
            product = _multmodp(_X_2_TO_THE[k & 31], product)
        size >>= 1
        k += 1
    return product


def crc_combine(first: int, second: int, second_size: int, shift: int = -1) -> int:
    """The CRC-32 of A + B from crc(A), crc(B) and len(B) (`shift`: zeros_shift(len(B)) when known)."""
    return _multmodp(shift if shift >= 0 else zeros_shift(second_size), first) ^ second


def joined(pieces: Iterable[Deflated]) -> Deflated:
    """The pieces as one (still not final) stream."""
    data: list[bytes] = []
    crc = size = 0
    for piece in pieces:
        data.append(piece.data)
        crc = crc_combine(crc, piece.crc, piece.size, piece.shift) if size else piece.crc
        size += piece.size
    return Deflated(b"".join(data), crc, size)


def member_data_at(members: Sequence[tuple[str, Deflated]], number: int) -> int:
    """Where zip_archive(members) holds the compressed data of member `number`
    (after the members before it and its own local header)."""
    before = sum(_LOCAL_HEADER + len(name) + len(member.data) + len(_FINAL_BLOCK) for name, member in members[:number])
    return before + _LOCAL_HEADER + len(members[number][0])


def zip_archive(members: Sequence[tuple[str, Deflated]]) -> bytes:
    """A ZIP file of these members (ASCII names), each a finished deflate stream."""
    chunks: list[bytes] = []
    directory: list[bytes] = []
    offset = 0
    for name, member in members:
        data = member.data + _FINAL_BLOCK
        if member.size > _LIMIT or offset + len(data) > _LIMIT:
            raise ValueError("register too large for a ZIP file without ZIP64")
        encoded = name.encode("ascii")
        fields = (20, 0, zlib.DEFLATED, 0, _DOS_DATE, member.crc, len(data), member.size, len(encoded))
        header = struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields, 0) + encoded
        directory.append(struct.pack("<IH", 0x02014B50, 20) + struct.pack("<HHHHHIIIH", *fields)
                         + struct.pack("<HHHHII", 0, 0, 0, 0, 0, offset) + encoded)
        chunks += [header, data]
        offset += len(header) + len(data)
    listing = b"".join(directory)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(listing), offset, 0)
    return b"".join([*chunks, listing, end])
