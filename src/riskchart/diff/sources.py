"""The two sides of a diff: the chart files of a git revision, of the
working tree, or of a folder, each as charts-relative name → object id.

A git revision is read with `git ls-tree` and `git cat-file --batch`: no
checkout, nothing written, the working tree untouched.  Files on disk get
the object id git would give them, so a file equal on both sides is known
by its id alone and never parsed.  Every git run has a time limit; a
revision that looks like an option is refused before git sees it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .. import limits
from ..check.diagnostics import make
from ..check.load import LoadedFile, load_bytes, load_file, read_chart_bytes
from ..config import Settings
from ..departments import CHART_SUFFIXES, DEFAULTS_FILE, discover
from ..errors import BadRevision, GitFailed, NotARepository

GIT_TIMEOUT_SECONDS = 60
# Pathspecs are file names, never patterns; no lock is taken on the index.
_GIT_ENVIRONMENT = {"GIT_LITERAL_PATHSPECS": "1", "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
_REGULAR_FILE_MODES = ("100644", "100755")


@dataclass(frozen=True)
class Source:
    """One side's files under its charts folder ("/"-separated names relative
    to it): chart files and _defaults.yaml files, each with its object id."""

    label: str
    charts: dict[str, str]
    defaults: dict[str, str]
    # The named files loaded (check/load.py) in the given font, each under the
    # name it goes by in diagnostics and Chart.path (e.g. "v1.0:charts/01-a.yaml").
    load: Callable[[Sequence[str], str], dict[str, LoadedFile]] = field(repr=False)
    settings: Settings | None = None  # its own project's, for a folder of another project; None: the project's


def is_chart_name(name: str) -> bool:
    """Whether a charts-relative name is a chart file lint would find (see departments.discover)."""
    *folders, last = name.split("/")
    return (last.lower().endswith(CHART_SUFFIXES) and not last.startswith(("_", "."))
            and not any(part.startswith(("_", ".")) for part in folders))


def _is_defaults_name(name: str) -> bool:
    *folders, last = name.split("/")
    return last == DEFAULTS_FILE and not any(part.startswith(("_", ".")) for part in folders)


# ---------------------------------------------------------------- files on disk

def folder_source(folder: Path, label: str, object_format: str = "sha1", settings: Settings | None = None) -> Source:
    """The charts under a folder as they are on disk now (the working tree, or a folder given)."""
    files = discover([folder])  # NoCharts (status 2) when the folder does not exist
    contents: dict[str, bytes | None] = {}
    for path in files:
        contents[_relative(path, folder)] = _read(path)
    folders = {name.rpartition("/")[0] for name in contents}
    for name in _defaults_chain_names(folders):
        path = folder / name
        if path.is_file():
            contents[name] = _read(path)
    ids = {name: _object_id(data, object_format, name) for name, data in contents.items()}

    def load(names: Sequence[str], font: str) -> dict[str, LoadedFile]:
        loaded = {}
        for name in names:
            data = contents[name]
            fits = data is not None and len(data) <= limits.MAX_FILE_BYTES
            # a file that could not be read, or is too large, is loaded again to say why, with its size
            loaded[name] = load_bytes(folder / name, data, font) if fits and data is not None else \
                load_file(folder / name, font)
        return loaded

    return Source(label, {n: i for n, i in ids.items() if is_chart_name(n)},
                  {n: i for n, i in ids.items() if _is_defaults_name(n)}, load, settings)


def _relative(path: Path, folder: Path) -> str:
    return "/".join(path.relative_to(folder).parts) if path != folder else path.name


def _read(path: Path) -> bytes | None:
    try:
        return read_chart_bytes(path)
    except OSError:
        return None  # loading it again reports why (RC001)


def _defaults_chain_names(folders: Iterable[str]) -> set[str]:
    """Every _defaults.yaml name that applies to a chart in one of these folders."""
    names = set()
    for folder in folders:
        parts = folder.split("/") if folder else []
        for depth in range(len(parts) + 1):
            names.add("/".join([*parts[:depth], DEFAULTS_FILE]))
    return names


def defaults_chain(name: str) -> list[str]:
    """The _defaults.yaml names that apply to a chart, outermost first."""
    parts = name.split("/")[:-1]
    return ["/".join([*parts[:depth], DEFAULTS_FILE]) for depth in range(len(parts) + 1)]


def _object_id(data: bytes | None, object_format: str, name: str) -> str:
    if data is None:
        return f"unreadable:{name}"  # equal to nothing: the file is loaded and its error reported
    digest = hashlib.sha256() if object_format == "sha256" else hashlib.sha1()
    digest.update(b"blob %d\0" % len(data))
    digest.update(data)
    return digest.hexdigest()


# ---------------------------------------------------------------- git

@dataclass(frozen=True)
class Repository:
    root: Path
    charts: str  # the charts folder relative to root, "/"-separated; "" when it is the root

    def git(self, *arguments: str, stdin: bytes | None = None) -> bytes:
        """git's output; GitFailed when it fails, is missing or takes too long."""
        return _git(self.root, arguments, stdin)

    @property
    def object_format(self) -> str:
        try:
            return self.git("rev-parse", "--show-object-format").decode().strip() or "sha1"
        except GitFailed:
            return "sha1"


def _git(where: Path, arguments: Sequence[str], stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(where), *arguments], input=stdin, capture_output=True,
                              timeout=GIT_TIMEOUT_SECONDS, env={**os.environ, **_GIT_ENVIRONMENT}, check=False)
    except FileNotFoundError:
        raise GitFailed("未找到 git：比较版本需要安装 git（Debian 软件包 git）；比较两个文件夹不需要") from None
    except subprocess.TimeoutExpired:
        raise GitFailed(f"git {arguments[0]} 在 {GIT_TIMEOUT_SECONDS} 秒内没有完成，已停止") from None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitFailed(f"git {arguments[0]} 失败：{reason[-1] if reason else f'退出状态 {done.returncode}'}")
    return done.stdout


def find_repository(charts: Path) -> Repository:
    """The git repository holding the project's charts folder."""
    start = charts if charts.is_dir() else charts.parent
    while not start.is_dir() and start != start.parent:
        start = start.parent
    try:
        top = _git(start, ["rev-parse", "--show-toplevel"]).decode("utf-8", "surrogateescape").strip()
    except GitFailed as problem:
        if "未找到 git" in problem.message:
            raise
        raise NotARepository(f"{charts} 不在 git 仓库中：比较版本需要 git 仓库；也可以比较两个文件夹"
                             "（riskchart diff 旧文件夹 新文件夹）") from None
    root = Path(top).resolve()
    resolved = charts.resolve()
    if not resolved.is_relative_to(root):
        raise NotARepository(f"防控图文件夹 {charts} 不在 git 仓库 {root} 中")
    return Repository(root, "/".join(resolved.relative_to(root).parts))


def commit_of(repository: Repository, revision: str) -> str:
    """The commit a revision names; BadRevision for anything else (and for
    anything git could read as an option)."""
    if not revision or revision.startswith("-") or any(c in revision for c in "\0\n\r"):
        raise BadRevision(f"「{revision}」不是版本：版本是提交号、标签或分支名（如 HEAD~1、v1.0），不能以 - 开头")
    try:
        return repository.git("rev-parse", "--verify", "--quiet", "--end-of-options",
                              f"{revision}^{{commit}}").decode().strip()
    except GitFailed:
        raise BadRevision(f"「{revision}」不是这个仓库中的版本（提交号、标签或分支名，如 HEAD~1、v1.0）") from None


def revision_source(repository: Repository, revision: str) -> Source:
    """The charts folder as it was committed in `revision`."""
    commit = commit_of(repository, revision)
    listing = repository.git("ls-tree", "-r", "-z", "--long", commit, "--", *([repository.charts] if repository.charts else []))
    prefix = f"{repository.charts}/" if repository.charts else ""
    ids: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, raw_name = entry.partition(b"\t")
        mode, kind, object_id, size = meta.decode().split()
        name = raw_name.decode("utf-8", "surrogateescape")
        if kind == "blob" and mode in _REGULAR_FILE_MODES and name.startswith(prefix):
            ids[name[len(prefix):]] = object_id
            sizes[name[len(prefix):]] = int(size)

    def load(names: Sequence[str], font: str) -> dict[str, LoadedFile]:
        fitting = [n for n in names if sizes[n] <= limits.MAX_FILE_BYTES]  # a huge blob is never read
        contents = dict(zip(fitting, _cat_blobs(repository, [ids[n] for n in fitting]), strict=True))
        loaded = {}
        for name in names:
            path = Path(f"{revision}:{prefix}{name}")
            data = contents.get(name)
            if data is None:
                too_large = sizes[name] > limits.MAX_FILE_BYTES
                loaded[name] = LoadedFile(path, None, None, (make(
                    path, 1, 1, "RC003" if too_large else "RC001",
                    f"文件有 {sizes[name]:,} 字节，超过上限 {limits.MAX_FILE_BYTES:,} 字节" if too_large
                    else "无法从 git 读取文件"),))
            else:
                loaded[name] = load_bytes(path, data, font)
        return loaded

    return Source(f"{revision}（{commit[:7]}）", {n: i for n, i in ids.items() if is_chart_name(n)},
                  {n: i for n, i in ids.items() if _is_defaults_name(n)}, load)


def _cat_blobs(repository: Repository, object_ids: list[str]) -> list[bytes | None]:
    """The contents of blobs, in one `git cat-file --batch` run."""
    if not object_ids:
        return []
    output = repository.git("cat-file", "--batch", stdin="".join(f"{i}\n" for i in object_ids).encode())
    contents: list[bytes | None] = []
    at = 0
    for _ in object_ids:
        header_end = output.index(b"\n", at)
        header = output[at:header_end].split(b" ")
        if len(header) != 3:  # "<id> missing"
            contents.append(None)
            at = header_end + 1
            continue
        size = int(header[2])
        contents.append(output[header_end + 1:header_end + 1 + size])
        at = header_end + 1 + size + 1
    return contents
