"""Writing into out/: atomic replacement, no temporaries left by an
interrupt, and one build at a time per folder."""

import fcntl
import os

import pytest

from riskchart import files


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

    with files.locked(tmp_path):
        assert not try_lock()
    assert try_lock()  # released on leaving


def test_stale_temporaries_are_removed_and_finished_files_kept(tmp_path):
    (tmp_path / f"{files.TEMP_PREFIX}a.svg.x1{files.TEMP_SUFFIX}").write_bytes(b"half")  # as write_atomic names it
    (tmp_path / "a.svg").write_bytes(b"whole")
    files.remove_stale_temporaries(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["a.svg"]
