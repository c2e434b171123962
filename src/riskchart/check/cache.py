"""Each chart file's own lint results, kept so that only changed files are
checked again.

A file's entry is found by a key: the SHA-256 of its bytes, its path, the
defaults that apply to it, the project's settings, the font file that
RC016 checks against, and the bytes of riskchart's own code (any change of
a rule, of the YAML handling or of the version makes every key new).  A hit
gives exactly what checking the file would: its diagnostics, its `riskchart:
ignore` lines, and the validated values from which its chart is built again.
The cross-file rules still run over every chart, cached or not.

A build also finds an entry without reading the file: it gives lint the
stamp key of each chart file it found settled (build/stamps.py: the same
stamps of the file and its _defaults.yaml files mean the same bytes), and
an entry is kept with the stamp key of the file it was last found for
(`stamp_key`, `by_stamp`).  At 4,000 charts, reading the files to make
their keys was a sixth of a second of a build that changed one.

The entries live in the output folder's cache folder (`lint-results.bin`,
with a journal of the latest changes beside it: cache_file.py), which
riskchart trusts for nothing: the file is a JSON index read with the
standard parser and the entries' texts as bytes, and carries an HMAC under
a secret kept in the user's private cache folder
(`~/.cache/riskchart/lint-cache.key`), so an entry written by anything
else — a hand edit, another user, a CI artifact — is not believed and the
files are checked as if there were no cache.  A damaged, foreign or
unreadable cache costs time, never a wrong or missing diagnostic.

A `ResultCache` also keeps the results it has seen in memory: `serve`
holds one for its whole session, so a save re-checks the saved file only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from .. import __version__, files
from ..model import Defaults, Position, ValuePath
from . import cache_file
from .cache_file import FILE_NAME, Stored
from .diagnostics import Diagnostic, Severity
from .packed import LazyPositions

__all__ = ["FILE_NAME", "MAX_ENTRIES", "FileStamps", "ResultCache", "Stored", "TextPositions", "canonical", "code_fingerprint",
           "decode_positions", "decode_results", "encode_positions", "encode_results", "installed_code",
           "signing_key"]
MAX_ENTRIES = 50_000  # files remembered; those seen by the latest run are kept first
_KEY_FILE = "lint-cache.key"


@dataclasses.dataclass(frozen=True)
class FileStamps:
    """What a build knows of the chart files before lint reads them: the
    stamp key of each it found settled (build/freshness.py), and whether a
    file still has the stamp that key was made from.  A file read by lint
    gets its key recorded with its entry only if it still has that stamp
    after the read: else the bytes read may be a later version's, and a
    stamp that came back (a restored snapshot) would find results of
    other bytes."""
    keys: Mapping[Path, str]
    unchanged: Callable[[Path], bool]


class ResultCache:
    """Results by file, in memory and (when `folder` is given) on disk."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._on_disk: cache_file.OnDisk | None = None
        self._memory: dict[str, tuple[Stored, Any]] = {}  # path → (its entry, what the caller made of it)
        self._new: dict[str, Stored] = {}
        self._seen: dict[str, Stored] = {}
        self.checked = 0  # files checked anew (their entries not found) since this cache was made

    def context(self, settings: object, font_key: str) -> str:
        """What every key of one run shares: code, settings, font."""
        return hashlib.sha256(f"{_code_fingerprint()}|{canonical(settings)}|{font_key}".encode()).hexdigest()

    @staticmethod
    def key(context: str, path: Path, defaults: Defaults | str, data: bytes) -> str:
        """`defaults`: the folder's Defaults, or their repr made once for all its files."""
        shown = defaults if isinstance(defaults, str) else repr(defaults)
        digest = hashlib.sha256(f"{context}|{path}|{shown}|".encode("utf-8", "surrogateescape"))
        digest.update(data)
        return digest.hexdigest()

    @staticmethod
    def stamp_key(context: str, path: Path, defaults: str, stamp: str) -> str:
        """A key made without reading the file: from the stamp key a build has
        of it (build/freshness.py: its stamp and its _defaults.yaml files',
        settled, so the same stamps mean the same bytes), instead of its bytes."""
        return hashlib.sha256(f"{context}|{path}|{defaults}|stamp|{stamp}".encode("utf-8", "surrogateescape")).hexdigest()

    def by_stamp(self, path: Path, stamped: str, on_disk: bool = True) -> tuple[Stored, Any] | None:
        """The entry (and what `keep` was given with it in this session, or
        None) recorded for this file under the stamp key `stamped`."""
        name = str(path)
        found = self._memory.get(name)
        if found is not None and found[0].stamped == stamped:
            return found
        stored = self._disk().entries.get(name) if on_disk else None
        return (stored, None) if stored is not None and stored.stamped == stamped else None

    def remembered(self, path: Path, key: str) -> tuple[Stored, Any] | None:
        """The entry and what `keep` was given with it for this file and key
        earlier in this session, or None."""
        found = self._memory.get(str(path))
        return found if found and found[0].key == key else None

    def stored(self, path: Path, key: str) -> Stored | None:
        found = self._disk().entries.get(str(path))
        return found if found is not None and found.key == key else None

    def _disk(self) -> cache_file.OnDisk:
        """The entries on disk, read once (the whole file and its journal)."""
        if self._on_disk is None:
            self._on_disk = cache_file.read(self.folder, signing_key() if self.folder else None)
        return self._on_disk

    def keep(self, path: Path, stored: Stored, made: Any) -> None:
        """Remember a file's entry (new or found) and what the caller made of it."""
        name = str(path)
        self._memory[name] = (stored, made)
        self._seen[name] = stored
        if self._on_disk is None or self._on_disk.entries.get(name) != stored:
            self._new[name] = stored

    def save(self) -> None:
        """Write the entries if any changed: a line of the changed ones added
        to the journal, or, when that has grown, the whole file made again of
        the ones this run used, then older ones up to MAX_ENTRIES.  Best
        effort: failing costs time only."""
        if not self._new or self.folder is None:
            self._new.clear()
            self._seen.clear()
            return
        on_disk, new, seen = self._disk(), dict(self._new), self._seen
        self._new, self._seen = {}, {}
        secret = signing_key()
        if secret is None:
            on_disk.entries.update(new)
            return
        line = cache_file.journal_line(new, on_disk.mac, secret) if on_disk.mac is not None else b""
        if not on_disk.compact_due(len(line)) and len(on_disk.entries) + len(new) <= MAX_ENTRIES:
            on_disk.entries.update(new)
            on_disk.journal += len(line)
            with contextlib.suppress(OSError):
                cache_file.append(self.folder, line)
            return
        entries = dict(seen)
        for name, stored in on_disk.entries.items():
            if len(entries) >= MAX_ENTRIES:
                break
            entries.setdefault(name, stored)
        entries.update(new)
        self._on_disk = cache_file.OnDisk(entries)
        with contextlib.suppress(OSError):
            self._on_disk = cache_file.write_whole(self.folder, entries, secret)


_keys: dict[tuple[str, str], bytes] = {}  # by where the user's cache is: read once per process


def signing_key() -> bytes | None:
    """The user's own key (made once, 0600) for the HMAC of every cache
    riskchart keeps in an output folder: lint results, the register's rows,
    the booklet's fonts (an entry per page: hence read once, not per call).
    None when there is no private cache folder: then nothing is kept on
    disk (and nothing is remembered, so a folder made later is used)."""
    where = (os.environ.get("XDG_CACHE_HOME", ""), os.path.expanduser("~"))
    if where not in _keys and (key := _read_signing_key()) is not None:
        _keys[where] = key
    return _keys.get(where)


def _read_signing_key() -> bytes | None:
    folder = files.user_cache_folder()
    if folder is None:
        return None
    path = folder / _KEY_FILE
    with contextlib.suppress(FileExistsError, OSError):
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(os.urandom(32).hex().encode("ascii"))
    try:
        secret = path.read_bytes()
    except OSError:
        return None
    return secret if len(secret) >= 32 else None


def canonical(value: object) -> str:
    """A text that is the same for equal settings in every process (a
    frozenset's repr follows string hashing, which differs per process)."""
    def plain(item: object) -> object:
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            return {f.name: plain(getattr(item, f.name)) for f in dataclasses.fields(item)}
        if isinstance(item, (frozenset, set)):
            return sorted(map(plain, item), key=repr)
        if isinstance(item, (list, tuple)):
            return [plain(i) for i in item]
        if isinstance(item, dict):
            return {str(k): plain(v) for k, v in item.items()}
        return item if isinstance(item, (str, int, float, bool, type(None))) else repr(item)

    return json.dumps(plain(value), ensure_ascii=True, sort_keys=True)


def installed_code() -> str:
    """The fingerprint of the riskchart that runs (`code_fingerprint`), made once per process."""
    return _code_fingerprint()


@cache
def _code_fingerprint() -> str:
    return code_fingerprint(Path(__file__).resolve().parent.parent)


def code_fingerprint(package: Path) -> str:
    """riskchart's own code (every module: rules, YAML handling, model …),
    its version, PyYAML's and Python's: a change in any makes every key new."""
    digest = hashlib.sha256(f"{__version__}|{yaml.__version__}|{sys.version}".encode())
    modules = []  # each as its path's parts below `package`: os.walk, as pathlib's rglob costs milliseconds more
    for folder, _, names in os.walk(package):
        below = os.path.relpath(folder, package)
        parts = () if below == os.curdir else tuple(below.split(os.sep))
        modules += [(*parts, name) for name in names if name.endswith(".py")]
    for parts in sorted(modules):  # the order of sorted(package.rglob("*.py"))
        digest.update("/".join(parts).encode())
        digest.update(package.joinpath(*parts).read_bytes())
    return digest.hexdigest()


# ------------------------------------------------------- entries as JSON

def encode_results(path: Path, diagnostics: tuple[Diagnostic, ...], exemptions: dict[int, set[str]],
                   values: object) -> bytes | None:
    """A file's results as an entry's JSON in UTF-8, or None when they cannot
    be kept exactly (a diagnostic about another file; a text not in UTF-8)."""
    name = str(path)
    if any(d.path != name for d in diagnostics):
        return None
    try:
        text = json.dumps({"d": [[d.line, d.column, d.code, d.severity.value, d.message] for d in diagnostics],
                           "x": sorted([line, sorted(codes)] for line, codes in exemptions.items()),
                           "v": values}, ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError):
        return None


def decode_results(path: Path, text: bytes) -> tuple[tuple[Diagnostic, ...], dict[int, set[str]], Any]:
    """Raises ValueError, TypeError or KeyError on an entry this module did not write."""
    found = json.loads(text.decode("utf-8"))  # decoded first: json's own decoding of bytes is slower
    name = str(path)
    diagnostics = tuple(Diagnostic(name, int(line), int(column), str(code), Severity(severity), str(message))
                        for line, column, code, severity, message in found["d"])
    exemptions = {int(line): set(map(str, codes)) for line, codes in found["x"]}
    return diagnostics, exemptions, found["v"]


_KEY_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def encode_positions(positions: Mapping[ValuePath, Position]) -> str | None:
    """`steps.1.risks.0=12,9;…`: no quotes, so the cache file stays small
    and fast to read; None when a key is not a plain name (never in a
    valid chart: its keys are the format's)."""
    parts = []
    for path, (line, column) in positions.items():
        if not all(isinstance(p, int) or _KEY_PART.fullmatch(p) for p in path):
            return None
        parts.append(f"{'.'.join(map(str, path))}={line},{column}")
    return ";".join(parts)


def decode_positions(text: str) -> dict[ValuePath, Position]:
    table: dict[ValuePath, Position] = {}
    for item in text.split(";") if text else ():
        path, _, place = item.partition("=")
        line, _, column = place.partition(",")
        key = tuple(int(p) if p.isdigit() else p for p in path.split(".")) if path else ()
        table[key] = (int(line), int(column))
    return table


class TextPositions(LazyPositions):
    """A chart's positions kept as their text (`encode_positions`), decoded the first time a
    diagnostic asks for one.  Small to pickle, so worker processes send them back this way too."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text
        self._table = None

    def _decoded(self) -> dict[ValuePath, Position]:
        return decode_positions(self.text)

    def __getstate__(self) -> str:
        return self.text

    def __setstate__(self, text: str) -> None:
        self.text, self._table = text, None