"""Which charts are up to date: each chart's fingerprint covers its file,
its folder's _defaults.yaml, the templates, the rendering code, the font
and the formats.  Like git's index, the manifest records each chart file's
stamp (stamps.py) with its fingerprint and each output's size and time, so
that a build with nothing to do reads no chart and opens no output."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .. import __version__, files
from ..departments import defaults_files
from ..draw import fonts, templatefiles, trimfont
from ..errors import LockTimeout, OutputNotWritable
from . import stamps
from .manifest import Manifest, _read_manifest, _write_manifest
from .options import BuildOptions, _name, _out_name

# Code whose change changes the drawing; its bytes are part of every fingerprint.  The code
# that makes the font's trimmed copy is in the copy's key (trimfont._key), which is too.
_RENDERING_MODULES = ("draw/layout.py", "draw/page.py", "draw/pages.py", "draw/render.py", "draw/glyphs.py",
                      "draw/cffread.py", "draw/fonts.py", "draw/wrap.py", "draw/raster.py", "style.py", "model.py")


def _to_draw(manifest: Manifest, fingerprints: dict[Path, str], chart_files: list[Path],
             options: BuildOptions) -> list[Path]:
    """The given charts that are not up to date (every one with --force)."""
    return [p for p in chart_files if options.force or not _is_fresh(manifest, p, fingerprints[p], options)]


def _all_fresh(manifest: Manifest, fingerprints: dict[Path, str], to_draw: list[Path], options: BuildOptions) -> bool:
    """No given chart is to be drawn (`to_draw`, from _to_draw) and the whole
    set is up to date (`fingerprints` are the whole project's)."""
    if options.force or to_draw or _stale_entries(manifest, list(fingerprints), options):
        return False
    from ..publish import setstamp  # the set's fingerprint: not for a build that draws a chart first

    return not options.publish or setstamp.is_fresh(manifest, fingerprints, options)


def _fingerprints(paths: list[Path], options: BuildOptions,
                  manifest: Manifest) -> tuple[dict[Path, str], dict[Path, str], dict[Path, str], Looked]:
    """Every chart's fingerprint, the stamp key of each chart whose files
    have settled (stamps.py), those of these keys the manifest does not
    have, and the stamps its files had before they were read (`Looked`,
    for `written_since`).  A chart whose stamp key is the one the
    manifest recorded keeps its recorded fingerprint unread: the key covers
    the stamps of the chart file and of its _defaults.yaml files, and all
    that the fingerprint covers besides files.  Each _defaults.yaml is read
    once (thousands of charts share a few), each folder resolved once."""
    _real_folder.cache_clear()  # folders and links may have changed since the last build of this process
    _out_name.cache_clear()
    looked_at = stamps.now_ns()  # before the first stat: see stamps.settled
    context = _fingerprint_context(options)
    shared: dict[Path, bytes] = {}
    # each folder's _defaults.yaml files and their stamps (None: racy), by the folder's name as given:
    # a Path made for each chart (path.parent) would be hashed anew each time
    folders: dict[str, str | None] = {}
    fingerprints, keys, new = {}, {}, {}
    looked = Looked({}, {}, {})
    unsettled_defaults: set[str] = set()
    recorded = manifest["charts"]
    for path in paths:
        own = stamps.file_stamp(path)
        folder = os.path.dirname(str(path))
        looked.charts[path] = (own, folder)
        if folder not in folders:
            chain = [(str(d), stamps.file_stamp(d)) for d in defaults_files(path, options.settings.charts)]
            looked.defaults[folder] = chain
            racy = [name for name, s in chain if not stamps.settled(s, looked_at)]
            unsettled_defaults.update(racy)
            folders[folder] = None if racy else f"{context}|{chain}"
        key = None
        if own is not None and stamps.settled(own, looked_at) and folders[folder] is not None:
            key = hashlib.sha256(f"{folders[folder]}|{own}".encode("utf-8", "surrogateescape")).hexdigest()
            keys[path] = key
        entry = recorded.get(_name(path, options))
        if key is not None and entry is not None and entry.get("stamp") == key:
            fingerprints[path] = entry["fingerprint"]
        else:
            chart_bytes = _contents(path)
            fingerprints[path] = _fingerprint(path, options, shared, chart_bytes)
            if key is not None:
                new[path] = key
            if not stamps.settled(own, looked_at):
                looked.racy[str(path)] = hashlib.sha256(chart_bytes).digest()
    for defaults, contents in shared.items():
        if str(defaults) in unsettled_defaults:
            looked.racy[str(defaults)] = hashlib.sha256(contents).digest()
    return fingerprints, keys, new, looked


@dataclass(frozen=True)
class Looked:
    """The stamps of the charts' files (and of each folder's _defaults.yaml
    files) taken before the build read them; and, of those whose stamp was
    racy (stamps.py), the SHA-256 of the bytes the fingerprint was made of."""
    charts: dict[Path, tuple[stamps.Stamp | None, str]]  # path → (its stamp, its folder)
    defaults: dict[str, list[tuple[str, stamps.Stamp | None]]]  # folder → its _defaults.yaml files' stamps
    racy: dict[str, bytes]  # file name → digest of the bytes fingerprinted


def written_since(looked: Looked, paths: Collection[Path]) -> list[Path]:
    """The charts among `paths` whose file, or a _defaults.yaml above it, has
    been written since the build looked: its stamp changed (a write changes
    the change time, which no program can set back) or, for a file changed
    within the clock tick the build looked in (same stamp), its bytes did.
    Lint may have read either version: the fingerprint taken before is not
    known to describe what was drawn."""
    def moved(name: str, stamp: stamps.Stamp | None) -> bool:
        if stamps.file_stamp(name) != stamp:
            return True
        racy = looked.racy.get(name)
        return racy is not None and hashlib.sha256(_contents(Path(name))).digest() != racy

    moved_folders = {folder for folder, chain in looked.defaults.items() if any(moved(*entry) for entry in chain)}
    return [path for path in paths if path in looked.charts
            and (looked.charts[path][1] in moved_folders or moved(str(path), looked.charts[path][0]))]


def unmatched_fingerprint() -> str:
    """A fingerprint no file gives and no build repeats: a chart recorded
    with it is drawn again, and the set's caches never find its entries again."""
    return f"written-during-a-build:{os.urandom(16).hex()}"


def _fingerprint_context(options: BuildOptions) -> str:
    """All that a chart's fingerprint covers besides its files' bytes."""
    return hashlib.sha256(repr((_static_inputs(options.font, options.formats, options.page.key),
                                sorted(options.settings.disabled), options.settings.categories, options.dpi,
                                options.settings.levels, sorted(options.settings.require),
                                options.settings.risk_types)).encode("utf-8", "surrogateescape")).hexdigest()


def _refresh_stamps(manifest: Manifest, fingerprints: dict[Path, str], stamp_keys: dict[Path, str],
                    options: BuildOptions) -> bool:
    """Record the stamps of charts found up to date by reading them (touched,
    not changed; or settled since), and of their whole outputs where the
    manifest has none (written by an older riskchart): the next build need
    neither read nor open them.  True when an entry changed."""
    refreshed = False
    for path, key in stamp_keys.items():
        entry = manifest["charts"].get(_name(path, options))
        if entry is None or entry["fingerprint"] != fingerprints[path]:
            continue
        if entry.get("stamp") != key:
            entry["stamp"] = key
            refreshed = True
        written = entry.setdefault("written", {})
        for output in entry["outputs"]:
            if output not in written and _complete(options.out, output):
                size_and_time = stamps.output_stamp(files.inside(options.out, output))
                if size_and_time is not None:
                    written[output] = size_and_time
                    refreshed = True
    return refreshed


def _write_stamps_if_free(fingerprints: dict[Path, str], stamp_keys: dict[Path, str],
                          options: BuildOptions) -> None:
    """`_refresh_stamps` into the manifest for a build with nothing else to
    do, if no other build holds the output folder (never waiting for one)."""
    with contextlib.suppress(LockTimeout, OutputNotWritable, OSError), files.locked(options.out, timeout=0):
        manifest = _read_manifest(options.out)  # as the build before us may have left it
        if _refresh_stamps(manifest, fingerprints, stamp_keys, options):
            _write_manifest(options.out, manifest)


def _fingerprint(path: Path, options: BuildOptions, shared: dict[Path, bytes] | None = None,
                 chart_bytes: bytes | None = None) -> str:
    """`chart_bytes`: the chart file's bytes, when the caller has read them."""
    digest = hashlib.sha256()
    digest.update(_static_inputs(options.font, options.formats, options.page.key).encode())
    # the settings decide whether a chart passes lint: a code switched on, a category dropped
    digest.update(f"{sorted(options.settings.disabled)}|{options.settings.categories}".encode())
    if "png" in options.formats:
        digest.update(f"|dpi={options.dpi}".encode())
    digest.update(_contents(path) if chart_bytes is None else chart_bytes)
    for defaults in defaults_files(path, options.settings.charts):  # every folder's, down to the chart's
        if shared is None or defaults not in shared:
            contents = _contents(defaults)
            if shared is None:
                digest.update(contents)
                continue
            shared[defaults] = contents
        digest.update(shared[defaults])
    # colours and legend; and the risk types lint accepts
    digest.update(repr((options.settings.levels, sorted(options.settings.require), options.settings.risk_types)).encode())
    return digest.hexdigest()


def _contents(path: Path) -> bytes:
    """A file's bytes (never more than the size limit + 1, never waiting on a
    FIFO); a missing or unreadable one gets a fingerprint of its own, and
    lint then says what is wrong with it."""
    try:
        from ..check.load import read_chart_bytes

        return read_chart_bytes(path) if path.exists() else b"\0absent"
    except OSError:
        return b"\0unreadable"


@cache
def _static_inputs(font: str, formats: tuple[str, ...], page: str) -> str:
    """What every chart's output depends on besides its own files: its
    template (the set's templates are the publish stage's), the drawing
    code and the font file fontconfig resolves (path, size, mtime)."""
    font_file = fonts.resolve(font)  # restoring or changing the installed font redraws
    trimmed = trimfont.for_font(font)  # and so does drawing with its trimmed copy or without
    digest = hashlib.sha256(f"{__version__}|{font}|{font_file.key if font_file else '-'}|"
                            f"{trimmed.key if trimmed else '-'}|{','.join(formats)}|{page}".encode())
    folder = templatefiles.template_folder()
    digest.update((folder / templatefiles.CHART_TEMPLATE).read_bytes())
    digest.update((folder / templatefiles.CONTINUATION_TEMPLATE).read_bytes())
    package = Path(__file__).parent.parent  # riskchart/
    for module in _RENDERING_MODULES:
        digest.update((package / module).read_bytes())
    return digest.hexdigest()


def _is_fresh(manifest: Manifest, path: Path, fingerprint: str, options: BuildOptions) -> bool:
    entry = manifest["charts"].get(_name(path, options))
    if not entry or entry["fingerprint"] != fingerprint or entry["source"] != _resolved(path):
        return False
    out, written = os.fspath(options.out), entry.get("written", {})  # once: asked of thousands of charts
    return all(_complete(out, name, written.get(name)) for name in entry["outputs"])


def _resolved(path: Path) -> str:
    """str(path.resolve()), with the folder's real path found once per build."""
    if os.path.islink(path):
        return str(path.resolve())
    folder, name = os.path.split(str(path))
    return os.path.join(_real_folder(folder or "."), name)


@functools.lru_cache(maxsize=1024)
def _real_folder(folder: str) -> str:
    return os.path.realpath(folder)


def _complete(out: Path | str, name: str, written: list[int] | None = None) -> bool:
    """An output is whole when it is as big and as old as the build that
    wrote it recorded (`written`), or when it looks whole."""
    if written is not None and "/" not in name and stamps.output_stamp(f"{out}/{name}") == written:
        return True  # a name straight in out/ (checked when the manifest was read): no folder on the way
    try:
        target = files.inside(Path(out), name)
    except OSError:
        return False
    return (written is not None and stamps.output_stamp(target) == written) or files.looks_complete(target)


def _stale_entries(manifest: Manifest, project_files: list[Path], options: BuildOptions) -> list[str]:
    """Charts built before whose source is gone or renamed."""
    current = {_name(p, options) for p in project_files}
    return [name for name, entry in manifest["charts"].items()
            if name not in current and not Path(entry["source"]).exists()]
