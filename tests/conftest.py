"""Shared helpers: write charts into a temporary folder and lint them."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import os
import re
import shutil
import signal
import subprocess
import threading
from collections import Counter
from pathlib import Path

import pytest

from riskchart.config import Settings
from riskchart.lint import LintResult, lint_paths

TESTS = Path(__file__).resolve().parent
PROJECT = TESTS.parent
FIXTURES = TESTS / "fixtures"
CORPUS = FIXTURES / "lint"
HOSTILE = FIXTURES / "hostile"
CHARTS = PROJECT / "charts"

# A chart head (lines 1-3) and a clean workflow (lines 4-13) that gives no
# diagnostic; tests append or substitute lines and count positions from here.
HEAD = "id: 1\ncategory: 行政裁决\ntitle: 测试\n"
STEPS = (
    "steps:\n"
    "  - name: 申请\n"
    "  - name: 受理\n"
    "    level: 中\n"
    "    risks:\n"
    "      - 故意刁难申请人。\n"
    "    measures:\n"
    "      - 建立受理单制度。\n"
    "    owner: 受理人\n"
    "  - name: 办结\n"
)
CHART = HEAD + STEPS

# Names a chart file may have on disk: lint refuses most of them (RC211),
# yet the page links them safely (a failing chart's old outputs stay listed).
HOSTILE_STEMS = ("javascript:alert(document.domain)", "01-a#b", "02-50%25", "03-a?b=1", "04-a b", "05-中文（全角）、顿号",
                 "06-" + os.fsdecode(b"\xff\xfe"), "..", "08-..%2F..", "07-a&amp;b\"<i>")


def write_files(folder: Path, files: dict[str, str | bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        (folder / name).parent.mkdir(parents=True, exist_ok=True)  # "食品科/01-a.yaml": a department folder
        (folder / name).write_bytes(data)
    return folder


# Three seed charts of different shapes (and the department's _defaults.yaml):
# enough for a real build in a test, fast enough to build often.
SEED_SAMPLE = ("01-劳动人事争议调解仲裁.yaml", "04-失业保险待遇给付.yaml", "15-劳动用工备案.yaml")


def tamper_set_cache(path: Path, damage: str, monkeypatch, other_user: Path) -> None:
    """Damage a set cache file of three charts' entries (publish/setcache.py)
    the way `damage` says: "key changed" (chart 1's entry under chart 2's
    key, the MAC left as it was), "byte flipped", "truncated", or "another
    user's key" (the file read under another user's key, kept in `other_user`)."""
    data = path.read_bytes()
    keys = re.findall(rb'"([0-9a-f]{64})":', data)
    assert len(keys) == 3
    if damage == "key changed":
        path.write_bytes(data.replace(keys[1], keys[0]).replace(keys[0], keys[1], 1))
    elif damage == "byte flipped":
        path.write_bytes(data[:-10] + bytes([data[-10] ^ 1]) + data[-9:])
    elif damage == "truncated":
        path.write_bytes(data[:len(data) // 2])
    else:
        assert damage == "another user's key", damage
        monkeypatch.setenv("XDG_CACHE_HOME", str(other_user))


@pytest.fixture
def lint_corpus(tmp_path: Path) -> Path:
    """A copy of every good and bad lint fixture, one project, to change (the lint cache's tests)."""
    shutil.copytree(CORPUS, tmp_path / "corpus", symlinks=True)
    return tmp_path / "corpus"


@pytest.fixture
def checked_files(monkeypatch) -> list[Path]:
    """The files lint really checks (not taken from a cache), as it checks them."""
    from riskchart import lint

    counted: list[Path] = []
    real = lint._checked

    def counting(path, *args, **kwargs):
        counted.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(lint, "_checked", counting)
    return counted


def copy_seed_charts(folder: Path, names: tuple[str, ...] = SEED_SAMPLE) -> Path:
    """Copy seed charts (and _defaults.yaml) from the repository's charts/ into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in (*names, "_defaults.yaml"):
        shutil.copy(TESTS.parent / "charts" / name, folder / name)
    return folder


def lint_files(folder: Path, files: dict[str, str | bytes], settings: Settings | None = None) -> LintResult:
    """Lint a fresh folder holding `files`, with no project settings unless given."""
    write_files(folder, files)
    return lint_paths([folder], settings or Settings())


def found(result: LintResult) -> Counter:
    """(file name, line, column, code) of every diagnostic, as a multiset."""
    return Counter((Path(d.path).name, d.line, d.column, d.code) for d in result.diagnostics)


@pytest.fixture(autouse=True)
def private_user_cache(tmp_path_factory, monkeypatch):
    """Builds keep compiled templates in $XDG_CACHE_HOME: one for the test
    session, never the user's own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))


@pytest.fixture
def lint_text(tmp_path):
    """lint_text(text, name="01-a.yaml", **more_files) → LintResult."""
    counter = iter(range(1_000_000))

    def run(text: str | bytes, name: str = "01-a.yaml", files: dict | None = None,
            settings: Settings | None = None) -> LintResult:
        folder = tmp_path / f"charts{next(counter)}"
        return lint_files(folder, {name: text, **(files or {})}, settings)

    return run


# ---------------------------------------------------------------- external tools
#
# A test that uses a program or font outside Python says so with
# `@pytest.mark.needs("dot", "pdftotext")`.  Locally a missing tool skips the
# test with the reason; when the environment variable CI is set it fails it,
# so a CI machine without Graphviz cannot pass by skipping half the suite.

TOOLS = {
    # name: (what to install, programs of which one must be on PATH)
    "dot": ("Graphviz (Debian package graphviz)", ("dot",)),
    "pdftotext": ("pdftotext (Debian package poppler-utils)", ("pdftotext",)),
    "pdfinfo": ("pdfinfo (Debian package poppler-utils)", ("pdfinfo",)),
    "pdffonts": ("pdffonts (Debian package poppler-utils)", ("pdffonts",)),
    "pdftoppm": ("pdftoppm (Debian package poppler-utils)", ("pdftoppm",)),
    "mutool": ("mutool (Debian package mupdf-tools)", ("mutool",)),
    "gs": ("Ghostscript (Debian package ghostscript)", ("gs",)),
    "chromium": ("Chromium (Debian package chromium)", ("chromium", "chromium-browser")),
    "chromedriver": ("chromedriver (Debian package chromium-driver)", ("chromedriver",)),
    "cjk-font": ("a Chinese font (Debian package fonts-noto-cjk)", ()),
    "git": ("git (Debian package git)", ("git",)),
    "soffice": ("LibreOffice (Debian packages libreoffice-writer-nogui, libreoffice-calc-nogui)", ("soffice",)),
}


def _has_cjk_font() -> bool:
    if shutil.which("fc-list") is None:
        return False
    listed = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True).stdout
    return bool(listed.strip())


def tool_missing(name: str) -> str | None:
    """What to install when `name` is missing, or None when it is there."""
    what, programs = TOOLS[name]
    present = _has_cjk_font() if name == "cjk-font" else any(shutil.which(p) for p in programs)
    return None if present else what


def missing_tool_verdict(names: tuple[str, ...], environ) -> tuple[str, str] | None:
    """("fail" or "skip", reason) for the first missing tool, or None."""
    for name in names:
        what = tool_missing(name)
        if what:
            if environ.get("CI"):
                return "fail", f"{what} is not installed, and CI must run every test (CI is set)"
            return "skip", f"{what} is not installed"
    return None


def pytest_configure(config):
    """Tests stop the riskchart processes they start with Ctrl-C (SIGINT).  A
    shell without job control starts a background command (`make test &` in
    a script) with SIGINT ignored, every program inherits that, and those
    processes would ignore the Ctrl-C and fail the tests: give the test
    processes, and so what they start, the default handler back."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        with contextlib.suppress(ValueError):  # pytest run by a program outside its main thread
            signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_runtest_setup(item):
    names = tuple(name for mark in item.iter_markers("needs") for name in mark.args)
    verdict = missing_tool_verdict(names, os.environ)
    if verdict:
        kind, reason = verdict
        if kind == "fail":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


# mutmut's own names for the runs that are not one mutant's (stats, forced fail, clean run...)
_MUTMUT_RUNS = {"", "stats", "fail", "list_all_tests", "mutant_generation"}


def pytest_collection_modifyitems(config, items):
    """Under `make mutation`, run a mutant's tests quickest first, as mutmut
    itself does when it forks each mutant from its main process: with
    process_isolation = "forkserver" it passes them in no order, and a
    mutant is killed at its first failing test (-x), so a slow build test
    that happens to run first costs minutes on a mutant a 0.1 s test kills.
    The same tests run either way; a survivor runs them all."""
    if os.environ.get("MUTANT_UNDER_TEST", "") in _MUTMUT_RUNS:
        return
    import json

    try:
        durations = json.loads(Path("mutmut-stats.json").read_text(encoding="utf-8"))["duration_by_test"]
    except (OSError, ValueError, KeyError):
        return
    items.sort(key=lambda item: durations.get(item.nodeid, float("inf")))


def made_once(request, tmp_path_factory, name: str, make) -> Path:
    """The folder `name`, filled by make(folder) once per test run.

    `make test` runs the tests in worker processes (pytest-xdist), and each
    would make its own copy of a session fixture; so the folder is in the
    run's temporary folder, which the workers share, and a lock makes the
    first worker fill it while another that needs it waits.  A worker whose
    make() failed leaves no mark, and the next one tries again (and fails
    its own tests the same way)."""
    base = tmp_path_factory.getbasetemp()
    # a worker's own folder is in the run's (xdist sets workerinput on a worker
    # only; its environment variables also reach a pytest that a test starts)
    shared = base.parent if hasattr(request.config, "workerinput") else base
    folder, made = shared / name, shared / f"{name}.made"
    with open(shared / f"{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not made.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            made.touch()
    return folder


needs_dot = pytest.mark.needs("dot")
needs_pdftotext = pytest.mark.needs("pdftotext")


@pytest.fixture(scope="session")
def built_set(request, tmp_path_factory) -> Path:
    """The folder of the 40 real charts built once for the whole session:
    SVG, PDF, index.html, booklet.pdf and .docx, the register as .csv and
    .xlsx.  Read it; never change it."""
    from riskchart.build import BuildOptions, build
    from riskchart.config import find_settings
    from riskchart.draw import render

    verdict = missing_tool_verdict(("dot", "cjk-font", "mutool"), os.environ)
    if verdict:
        (pytest.fail if verdict[0] == "fail" else pytest.skip)(verdict[1])
    render.toolchain.cache_clear()

    def make(out: Path) -> None:
        # with the Word booklet, which a project asks for (word_booklet = true)
        settings = dataclasses.replace(find_settings(CHARTS), word_booklet=True)
        report = build([CHARTS], BuildOptions(out=out, formats=("svg", "pdf"), settings=settings))
        assert report.ok, [o for o in report.outcomes if o.status == "failed"]

    return made_once(request, tmp_path_factory, "set", make)


OFFICE_TIMEOUT = 600  # seconds for one LibreOffice run: it starts slowly and converts serially


@pytest.fixture(scope="session")
def office_conversions(request, built_set, tmp_path_factory) -> dict[str, Path]:
    """The set's office files as LibreOffice reads them, converted once for
    the session (each LibreOffice start costs seconds): "<name>.pdf" for
    every .xlsx and .docx in the built set, "risk-register.csv" (UTF-8), and
    "set", the built set's folder."""
    verdict = missing_tool_verdict(("soffice",), os.environ)
    if verdict:
        (pytest.fail if verdict[0] == "fail" else pytest.skip)(verdict[1])
    documents = sorted(str(p) for p in built_set.iterdir() if p.suffix in (".xlsx", ".docx"))
    # Pictures are written into the PDF at 75 dpi: the tests look at pages,
    # text and where the pictures are inked (at 30 dpi), and LibreOffice
    # re-encoding the booklet's forty 300 dpi pictures losslessly took 18 s
    # of CPU (10 s this way); the .docx it reads is the built one unchanged.
    to_pdf = 'pdf:writer_pdf_Export:{"ReduceImageResolution":{"type":"boolean","value":"true"},' \
             '"MaxImageResolution":{"type":"long","value":"75"}}'

    def convert(work: Path) -> None:
        # its own profile and HOME: LibreOffice fails silently without a writable one
        profile = ["-env:UserInstallation=" + (work / "profile").as_uri()]
        environment = {**os.environ, "HOME": str(work)}
        for target in (to_pdf, "csv:Text - txt - csv (StarCalc):44,34,76,1"):
            sources = documents if target == to_pdf else [d for d in documents if d.endswith(".xlsx")]
            subprocess.run(["soffice", *profile, "--headless", "--convert-to", target, "--outdir",
                            str(work / "converted"), *sources],
                           env=environment, capture_output=True, timeout=OFFICE_TIMEOUT, check=True)

    work = made_once(request, tmp_path_factory, "office", convert)
    found: dict[str, Path] = {p.name: p for p in (work / "converted").iterdir()}
    return {**found, "set": built_set}




def squeeze(text: str) -> str:
    """Text without white space: line breaks are the renderer's, and a space
    where a line was broken is dropped."""
    return re.sub(r"\s+", "", text)


def pdf_text(path: Path) -> str:
    """The text of a PDF in drawing order, squeezed."""
    done = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True)
    return squeeze(done.stdout)


@contextlib.contextmanager
def fifo(path: Path):
    """A FIFO at `path`, with a helper that opens and closes its writing end
    whenever a reader waits: code that wrongly reads the FIFO then sees an
    empty file and fails its test instead of hanging the suite."""
    os.mkfifo(path)
    done = threading.Event()

    def release_readers():
        while not done.is_set():
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError as error:  # ENXIO: nobody is reading
                if error.errno != errno.ENXIO:
                    raise
            done.wait(0.01)

    helper = threading.Thread(target=release_readers, daemon=True)
    helper.start()
    try:
        yield path
    finally:
        done.set()
        helper.join()


def headless_chromium(profile: Path, width: int, height: int):
    """Debian's Chromium driven by Selenium, as the index and serve tests use
    it (the caller quits it); its profile in `profile`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", f"--window-size={width},{height}",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver") or "chromedriver"), options=options)


def dot_crashing_on(word: str, folder: Path, monkeypatch) -> None:
    """Put first on PATH a `dot` that fails ("Error: simulated crash") on any
    DOT file containing `word` and runs the real one otherwise; the caller
    clears render.toolchain's cache so the build finds it."""
    folder.mkdir()
    (folder / "dot").write_text(
        f'#!/bin/sh\nfor a in "$@"; do case $a in *.dot) if grep -q "{word}" "$a"; then '
        f'echo "Error: simulated crash" >&2; exit 1; fi;; esac; done\nexec {shutil.which("dot")} "$@"\n')
    (folder / "dot").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")
