"""Writing into out/: atomic replacement, no temporaries left by an
interrupt, and one build at a time per folder."""

import fcntl
import os
from pathlib import Path

import pytest

from riskchart import files
from riskchart.errors import LockTimeout, OutputNotWritable


def test_a_reader_of_the_old_file_never_sees_the_new_one_half_written(tmp_path):
    target = tmp_path / "a.svg"
    target.write_bytes(b"old content")
    with target.open("rb") as reader:  # e.g. a browser showing the chart while a build runs
        files.write_atomic(target, b"new content, longer than the old")
        assert reader.read() == b"old content"
    assert target.read_bytes() == b"new content, longer than the old"
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)
    assert [p.name for p in tmp_path.iterdir()] == ["a.svg"]


@pytest.mark.parametrize("moment", ["open", "fdopen", "replace"])
def test_an_interrupt_at_any_moment_leaves_no_temporary(tmp_path, monkeypatch, moment):
    # Ctrl-C raises KeyboardInterrupt between any two steps, even just after
    # the temporary file was created and before anything refers to it
    target = tmp_path / "a.pdf"
    target.write_bytes(b"old")
    real = getattr(os, moment)

    def then_interrupt(*args, **kwargs):
        result = real(*args, **kwargs)
        if moment == "fdopen":
            result.close()
        raise KeyboardInterrupt

    monkeypatch.setattr(os, moment, then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        files.write_atomic(target, b"new")
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["a.pdf"]
    assert target.read_bytes() == (b"new" if moment == "replace" else b"old")


def test_write_if_changed_keeps_an_unchanged_file_untouched(tmp_path):
    target = tmp_path / "index.html"
    assert files.write_if_changed(target, b"x") is True
    inode = target.stat().st_ino
    assert files.write_if_changed(target, b"x") is False
    assert target.stat().st_ino == inode
    assert files.write_if_changed(target, b"y") is True and target.read_bytes() == b"y"


def test_the_lock_excludes_a_second_build_while_held(tmp_path):
    def try_lock() -> bool:
        descriptor = os.open(tmp_path / ".riskchart.lock", os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
        finally:
            os.close(descriptor)

    with files.locked(tmp_path, timeout=5):  # a lock that never takes fails in seconds, not in ten minutes
        assert not try_lock()
    assert try_lock()  # released on leaving


def test_stale_temporaries_are_removed_and_finished_files_kept(tmp_path):
    (tmp_path / f"{files.TEMP_PREFIX}a.svg.x1{files.TEMP_SUFFIX}").write_bytes(b"half")  # as write_atomic names it
    (tmp_path / "a.svg").write_bytes(b"whole")
    files.remove_stale_temporaries(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["a.svg"]


# ------------------------------------------------------------------ each helper as its callers rely on it
# (in-process, so that mutation testing can tell which test covers which helper)

def test_write_new_never_replaces_a_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "riskchart.toml"
    assert files.write_new(target, b"first") is True
    assert target.read_bytes() == b"first"
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)
    assert files.write_new(target, b"second") is False
    assert target.read_bytes() == b"first"
    assert [p.name for p in target.parent.iterdir()] == ["riskchart.toml"]


def test_write_atomic_makes_missing_folders_and_replaces(tmp_path):
    target = tmp_path / "a" / "b" / "index.html"
    files.write_atomic(target, b"one")
    files.write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["index.html"]


def test_a_cache_entry_is_written_and_an_unwritable_one_is_no_error(tmp_path):
    files.write_cache(None, b"x")  # no cache folder: nothing happens
    entry = tmp_path / "fonts.json"
    files.write_cache(entry, b"{}")
    assert entry.read_bytes() == b"{}"
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    files.write_cache(blocker / "entry.json", b"{}")  # a file where the folder should be: only a miss
    assert blocker.read_bytes() == b""


def test_the_user_cache_folder_follows_xdg_and_defaults_to_home_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg" / "deeper"))  # made with its parents
    assert files.user_cache_folder() == tmp_path / "xdg" / "deeper" / "riskchart"
    assert files.user_cache_folder("templates") == tmp_path / "xdg" / "deeper" / "riskchart" / "templates"
    assert files.user_cache_folder("templates") == tmp_path / "xdg" / "deeper" / "riskchart" / "templates"  # again
    for folder in (tmp_path / "xdg" / "deeper" / "riskchart", tmp_path / "xdg" / "deeper" / "riskchart" / "templates"):
        assert folder.is_dir() and oct(folder.stat().st_mode & 0o777) == oct(0o700)
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert files.user_cache_folder("glyphs") == tmp_path / "home" / ".cache" / "riskchart" / "glyphs"
    monkeypatch.setenv("XDG_CACHE_HOME", "")  # empty counts as unset
    assert files.user_cache_folder() == tmp_path / "home" / ".cache" / "riskchart"


def test_no_user_cache_folder_when_relative_shared_foreign_or_blocked(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # would depend on the current folder
    assert files.user_cache_folder() is None
    assert not (tmp_path / "relative").exists()
    shared = tmp_path / "shared"
    (shared / "riskchart").mkdir(parents=True)
    (shared / "riskchart").chmod(0o750)  # others could plant entries
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared))
    assert files.user_cache_folder() is None
    (shared / "riskchart").chmod(0o700)
    (shared / "riskchart" / "templates").mkdir(mode=0o700)
    (shared / "riskchart" / "templates").chmod(0o701)
    assert files.user_cache_folder() == shared / "riskchart"
    assert files.user_cache_folder("templates") is None  # the named sub-folder is checked too
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "riskchart").write_bytes(b"")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert files.user_cache_folder() is None
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "mine"))
    monkeypatch.setattr(os, "getuid", lambda: os.geteuid() + 1)  # the folder belongs to someone else
    assert files.user_cache_folder() is None


def test_stale_temporaries_in_sub_folders_and_the_scratch_folder_are_removed(tmp_path):
    cache = tmp_path / ".cache"
    cache.mkdir()
    (cache / f"{files.TEMP_PREFIX}x.pdf.1{files.TEMP_SUFFIX}").write_bytes(b"half")
    (cache / "x.pdf").write_bytes(b"whole")
    (tmp_path / files.SCRATCH / "run").mkdir(parents=True)
    (tmp_path / files.SCRATCH / "run" / "in.dot").write_bytes(b"digraph{}")
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    elsewhere.mkdir()
    (elsewhere / f"{files.TEMP_PREFIX}theirs{files.TEMP_SUFFIX}").write_bytes(b"not ours")
    (tmp_path / f"{files.TEMP_PREFIX}link{files.TEMP_SUFFIX}").symlink_to(
        elsewhere / f"{files.TEMP_PREFIX}theirs{files.TEMP_SUFFIX}")
    (tmp_path / "linked").symlink_to(elsewhere)
    (tmp_path / f"{files.TEMP_PREFIX}folder{files.TEMP_SUFFIX}").mkdir()
    files.remove_stale_temporaries(tmp_path, "linked", ".cache")
    assert [p.name for p in cache.iterdir()] == ["x.pdf"]
    assert not (tmp_path / files.SCRATCH).exists()
    assert (elsewhere / f"{files.TEMP_PREFIX}theirs{files.TEMP_SUFFIX}").read_bytes() == b"not ours"
    assert (tmp_path / f"{files.TEMP_PREFIX}link{files.TEMP_SUFFIX}").is_symlink()
    assert (tmp_path / f"{files.TEMP_PREFIX}folder{files.TEMP_SUFFIX}").is_dir()


def test_a_scratch_folder_that_is_a_link_is_removed_not_followed(tmp_path):
    target = tmp_path / "target"
    (target / "keep").mkdir(parents=True)
    out = tmp_path / "out"
    out.mkdir()
    (out / files.SCRATCH).symlink_to(target)
    files.remove_stale_temporaries(out)
    assert not (out / files.SCRATCH).is_symlink() and (target / "keep").is_dir()


def test_the_scratch_folder_is_private_and_refused_when_not_a_folder(tmp_path):
    scratch = files.scratch_folder(tmp_path)
    assert scratch == tmp_path / files.SCRATCH
    assert oct(scratch.stat().st_mode & 0o777) == oct(0o700)
    assert files.scratch_folder(tmp_path) == scratch  # already there
    files.remove_scratch_folder(tmp_path)
    assert not scratch.exists()
    files.remove_scratch_folder(tmp_path)  # gone already: nothing to do
    (tmp_path / "elsewhere").mkdir()
    scratch.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputNotWritable, match="不是 riskchart 的临时文件夹"):
        files.scratch_folder(tmp_path)
    scratch.unlink()
    scratch.symlink_to(tmp_path / "missing")
    with pytest.raises(OutputNotWritable, match=f"{files.SCRATCH} 不是 riskchart 的临时文件夹：请删除它后重试"):
        files.scratch_folder(tmp_path)
    scratch.unlink()
    scratch.write_bytes(b"")  # a file of that name (once a FileExistsError traceback)
    with pytest.raises(OutputNotWritable, match="不是 riskchart 的临时文件夹"):
        files.scratch_folder(tmp_path)
    assert scratch.is_file()


def test_the_scratch_folder_is_kept_while_it_holds_files(tmp_path):
    scratch = files.scratch_folder(tmp_path)
    (scratch / "in.dot").write_bytes(b"")
    files.remove_scratch_folder(tmp_path)  # another run still draws there
    assert (scratch / "in.dot").exists()


@pytest.mark.parametrize("name, data, whole", [
    ("a.pdf", b"%PDF-1.5\n" + b"x" * 2000 + b"\n%%EOF\n", True),
    ("a.PDF", b"%PDF-1.5\n" + b"x" * 2000 + b"\n%%EOF\n", True),
    ("a.pdf", b"%PDF-1.5\n%%EOF\n" + b"x" * 2000, False),  # the end marker only near the start: cut off
    ("a.pdf", b"%PDF-1.5\n" + b"x" * 1015 + b"%%EOF", True),  # the marker just inside the last 1024 bytes
    ("a.pdf", b"%PDF-1.5\n" + b"x" * 2000, False),
    ("a.pdf", b"x%PDF-1.5\n%%EOF", False),
    ("a.pdf", b"", False),
    ("a.svg", b"<svg>" + b" " * 3000 + b"</svg>\n", True),
    ("a.svg", b"<svg>" + b" " * 3000, False),
    ("a.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 40 + b"IEND\xaeB`\x82", True),
    ("a.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, False),
    ("a.png", b"GIF89a" + b"IEND", False),
    ("a.txt", b"anything", True),
    ("a.txt", b"", False),
    ("a.txt", b"x", True),  # one byte is not empty
    ("a.svg", b"</svg>", True),
])
def test_an_output_looks_complete_only_with_its_formats_start_and_end(tmp_path, name, data, whole):
    path = tmp_path / name
    path.write_bytes(data)
    assert files.looks_complete(path) is whole


def test_a_missing_or_unreadable_output_does_not_look_complete(tmp_path):
    assert files.looks_complete(tmp_path / "missing.pdf") is False
    (tmp_path / "folder.svg").mkdir()
    assert files.looks_complete(tmp_path / "folder.svg") is False


def test_a_second_locker_hears_who_holds_the_lock_then_waits_or_gives_up(tmp_path):
    heard: list[str] = []
    with files.locked(tmp_path, timeout=5):
        assert (tmp_path / files.LOCK).read_text() == f"{os.getpid()}\n"
        with pytest.raises(LockTimeout) as raised, files.locked(tmp_path, timeout=0.3, waiting=heard.append):
            pass
    assert heard == [f"进程 {os.getpid()}"]
    message = raised.value.message
    assert message.startswith("等待 0.3 秒后，另一个 build（进程 ") and str(tmp_path) in message
    assert "--lock-timeout" in message
    with files.locked(tmp_path, timeout=0.3, waiting=heard.append):
        pass  # free again: no waiting
    assert len(heard) == 1


@pytest.mark.parametrize("content", [b"garbage\n", b"\xff\xfe12\n"])
def test_a_lock_file_without_a_process_id_names_no_process(tmp_path, content):
    (tmp_path / files.LOCK).write_bytes(content)
    descriptor = os.open(tmp_path / files.LOCK, os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        heard: list[str] = []
        with pytest.raises(LockTimeout, match="进程号未知"), files.locked(tmp_path, timeout=0, waiting=heard.append):
            pass
        assert heard == ["进程号未知"]
    finally:
        os.close(descriptor)


def test_a_lock_is_taken_once_its_holder_lets_go(tmp_path):
    descriptor = os.open(tmp_path / files.LOCK, os.O_RDWR | os.O_CREAT)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    os.write(descriptor, b"4242\n")
    heard: list[str] = []

    def waiting(holder: str) -> None:
        heard.append(holder)
        os.close(descriptor)  # the other build finishes while this one waits

    with files.locked(tmp_path, timeout=5, waiting=waiting):
        assert (tmp_path / files.LOCK).read_text() == f"{os.getpid()}\n"
    assert heard == ["进程 4242"]


def test_an_output_folder_that_cannot_be_made_is_one_clear_error(tmp_path):
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(OutputNotWritable, match="无法使用输出文件夹"), files.locked(tmp_path / "file" / "out"):
        pass


def test_a_lock_file_that_cannot_be_read_names_no_process(tmp_path, monkeypatch):
    descriptor = os.open(tmp_path / files.LOCK, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)

        def unreadable(*args):
            raise OSError("I/O error")

        monkeypatch.setattr(os, "pread", unreadable)
        heard: list[str] = []
        with pytest.raises(LockTimeout), files.locked(tmp_path, timeout=0, waiting=heard.append):
            pass
        assert heard == ["进程号未知"]
    finally:
        os.close(descriptor)


def test_the_end_marker_counts_within_the_last_1024_bytes_as_pdf_readers_look_for_it(tmp_path):
    path = tmp_path / "a.pdf"
    path.write_bytes(b"%PDF-1.5\n" + b"x" * 2000 + b"%%EOF" + b"\n" * 1019)  # starts 1024 bytes before the end
    assert files.looks_complete(path)
    path.write_bytes(b"%PDF-1.5\n" + b"x" * 2000 + b"%%EOF" + b"\n" * 1020)  # one byte further away
    assert not files.looks_complete(path)


def test_a_leftover_that_cannot_be_removed_does_not_stop_the_clean_up(tmp_path, monkeypatch):
    (tmp_path / f"{files.TEMP_PREFIX}a.svg.1{files.TEMP_SUFFIX}").write_bytes(b"half")
    (tmp_path / files.SCRATCH).symlink_to(tmp_path / "elsewhere")

    def refused(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(Path, "unlink", refused)
    files.remove_stale_temporaries(tmp_path)  # no traceback: the build goes on
    monkeypatch.undo()
    (tmp_path / files.SCRATCH).unlink()
    (tmp_path / files.SCRATCH / "run").mkdir(parents=True)
    monkeypatch.setattr(os, "rmdir", refused)
    files.remove_stale_temporaries(tmp_path)


@pytest.mark.parametrize("made", ["a", "a/b"])
@pytest.mark.parametrize("kind", ["link", "file"])
def test_inside_refuses_a_link_or_a_file_at_any_folder_on_the_way(tmp_path, made, kind):
    out = tmp_path / "out"
    (out / made).parent.mkdir(parents=True)
    if kind == "link":
        (tmp_path / "elsewhere").mkdir()
        (out / made).symlink_to(tmp_path / "elsewhere")
    else:
        (out / made).write_text("x")
    with pytest.raises(OSError, match="是链接或文件"):
        files.inside(out, "a/b/01-x.svg")


def test_inside_gives_the_path_through_real_folders_or_none_yet(tmp_path):
    (tmp_path / "a").mkdir()
    assert files.inside(tmp_path, "a/b/01-x.svg") == tmp_path / "a" / "b" / "01-x.svg"
    assert files.inside(tmp_path, "01-x.svg") == tmp_path / "01-x.svg"
    for name in ("/etc/passwd", "a/../../x", "a//x", "./x"):
        with pytest.raises(OSError, match="不是输出文件夹中的名字"):
            files.inside(tmp_path, name)


def test_a_staged_file_moved_into_place_is_readable_and_never_executable(tmp_path):
    # dot and MuPDF write the staged files with whatever mode they like; what
    # lands in out/ is rw-r--r-- like every other output, never executable
    staged = tmp_path / "stage" / "a.pdf"
    staged.parent.mkdir()
    staged.write_bytes(b"%PDF-1.7 staged")
    staged.chmod(0o755)
    target = tmp_path / "out" / "sub" / "a.pdf"
    files.move_into_place(staged, target)
    assert target.read_bytes() == b"%PDF-1.7 staged" and not staged.exists()
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)


def test_a_file_read_back_from_out_must_be_a_regular_file_and_not_too_large(tmp_path):
    """out/ is anyone's: a FIFO is refused at once (not waited on), a device
    through a link is refused, and a sparse file far larger than the limit is
    refused without being read into memory."""
    from riskchart.files import read_untrusted

    (tmp_path / "ok").write_bytes(b"12345")
    assert read_untrusted(tmp_path / "ok", 5) == b"12345"
    with pytest.raises(OSError):
        read_untrusted(tmp_path / "ok", 4)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(OSError):
        read_untrusted(tmp_path / "fifo")
    (tmp_path / "zero").symlink_to("/dev/zero")
    with pytest.raises(OSError):
        read_untrusted(tmp_path / "zero")
    with open(tmp_path / "sparse", "wb") as sparse:
        sparse.truncate(200 << 30)
    with pytest.raises(OSError):
        read_untrusted(tmp_path / "sparse")
