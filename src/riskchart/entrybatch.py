"""Cache entries sealed under the user's key (an HMAC-SHA256 of their
bytes), as the output folder's cache folder holds them.

`sealed` and `unsealed_at` (and `opened_sealed` for a whole file): one
body after a head and its HMAC (a booklet's map, a PDF's fonts, the corpus
counts, the register's and index page's layouts, a line of the lint
journal).

A batch: the layout of the files that hold many entries (the lint
results: check/cache_file.py; the register's rows and the index page's
cards: publish/setcache.py).

A batch is `<HMAC> <length of the index> <length of the bytes>\\n`, a JSON
index `{key: [fields, [byte lengths]]}`, then every entry's byte strings
one after the other.  The HMAC (SHA-256, hex) is over the file's `magic`
(its kind and format) and the rest of the batch.  Reading parses only the
small index with the standard JSON parser and slices the bytes: nothing in
an entry is unescaped, and nothing is ever run.  A batch that is cut short,
changed, or sealed under another key is not opened.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from . import files

MAC_LENGTH = 64  # HMAC-SHA256 in hex
_LENGTH_DIGITS = 12
_HEAD = MAC_LENGTH + 2 * (1 + _LENGTH_DIGITS) + 1  # "<mac> <length of the index> <length of the bytes>\n"
_HEAD_PATTERN = re.compile(rb"[0-9a-f]{%d} [0-9]{%d} [0-9]{%d}\n" % (MAC_LENGTH, _LENGTH_DIGITS, _LENGTH_DIGITS))

# An entry as a batch holds it: its fields (JSON: numbers, texts, lists)
# and its byte strings.
Entry = tuple[Any, Sequence[bytes | memoryview]]


def sealed(head: bytes, body: bytes, secret: bytes, separator: bytes = b"") -> bytes:
    """A cache file's (or a line's) bytes: `head`, the body's HMAC-SHA256 (hex), `separator`, the body."""
    return head + hmac.new(secret, body, hashlib.sha256).hexdigest().encode("ascii") + separator + body


def unsealed_at(head: bytes, data: bytes, secret: bytes | None, separator: bytes = b"") -> int | None:
    """Where the body of `data` (made by `sealed`) starts, or None when it is
    not laid out so or its HMAC is not the one `secret` gives (another
    user's, changed, truncated)."""
    start = len(head) + MAC_LENGTH + len(separator)
    if secret is None or not data.startswith(head) or data[start - len(separator):start] != separator:
        return None
    mac = hmac.new(secret, memoryview(data)[start:], hashlib.sha256).hexdigest().encode("ascii")
    return start if hmac.compare_digest(mac, data[len(head):len(head) + MAC_LENGTH]) else None


def opened_sealed(path: Path, head: bytes, secret: bytes | None, most: int = files.UNTRUSTED_MOST_BYTES,
                  separator: bytes = b"") -> tuple[bytes, int] | None:
    """A file made by `sealed`, read as one riskchart trusts for nothing
    (files.read_untrusted): its bytes and where its body starts; None when
    it is missing, not a plain file, over `most` bytes, or not sealed with
    `secret` (None: no key, nothing is believed)."""
    if secret is None:
        return None
    try:
        data = files.read_untrusted(path, most)
    except OSError:
        return None
    start = unsealed_at(head, data, secret, separator)
    return None if start is None else (data, start)


def sealed_batch(secret: bytes, magic: bytes, entries: Mapping[str, Entry]) -> list[bytes | memoryview]:
    """One batch of entries, as the pieces to write one after the other (a
    batch of thousands of charts is tens of megabytes: never copied whole).
    Its first MAC_LENGTH bytes are its HMAC."""
    index: dict[str, Any] = {}
    blob: list[bytes | memoryview] = []
    for key, (fields, pieces) in entries.items():
        index[key] = [fields, [len(piece) for piece in pieces]]
        blob += pieces
    head = json.dumps(index, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    lengths = b" %0*d %0*d\n" % (_LENGTH_DIGITS, len(head), _LENGTH_DIGITS, sum(map(len, blob)))
    mac = hmac.new(secret, magic + lengths + head, hashlib.sha256)
    for piece in blob:
        mac.update(piece)
    return [mac.hexdigest().encode("ascii") + lengths, head, *blob]


def opened_batch(view: memoryview, at: int, seal: Any) -> tuple[bytes, memoryview, int] | None:
    """The batch at `at`: its index's text, its bytes and where it ends;
    None when it is not whole or not ours.  `seal`: an HMAC under the
    user's key already given the file's magic (copied, not changed)."""
    head = bytes(view[at:at + _HEAD])
    if len(head) != _HEAD or not _HEAD_PATTERN.fullmatch(head):
        return None
    index_length = int(head[MAC_LENGTH + 1:MAC_LENGTH + 1 + _LENGTH_DIGITS])
    blob_length = int(head[-1 - _LENGTH_DIGITS:-1])
    end = at + _HEAD + index_length + blob_length
    if end > len(view):
        return None
    mac = seal.copy()
    mac.update(view[at + MAC_LENGTH:end])
    if not hmac.compare_digest(mac.hexdigest().encode("ascii"), head[:MAC_LENGTH]):
        return None
    return bytes(view[at + _HEAD:at + _HEAD + index_length]), view[at + _HEAD + index_length:end], end


def batch_entries(index_text: bytes, blob: memoryview) -> list[tuple[str, Entry, int]]:
    """A batch's entries (key, entry, its bytes); none when its index is not
    what sealed_batch writes (the HMAC says riskchart wrote it, not which version)."""
    try:
        index = json.loads(index_text.decode("ascii"))
        found: list[tuple[str, Entry, int]] = []
        offset = 0
        for key, (fields, lengths) in index.items():
            pieces, start = [], offset
            for n in lengths:
                if type(n) is not int or n < 0:
                    return []
                pieces.append(blob[offset:offset + n])
                offset += n
            found.append((key, (fields, pieces), offset - start))
    except (ValueError, TypeError, AttributeError, RecursionError):  # UnicodeDecodeError too
        return []
    return found if offset == len(blob) else []
