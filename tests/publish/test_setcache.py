"""The file the set's per-chart caches keep their entries in: a log of
sealed batches, appended to while most of it is in use, written anew when
not; read up to its first batch that is not whole or not the user's own."""

import os

from riskchart.publish.setcache import EntryFile

MAGIC = b"riskchart test entries 1\n"


def entries(*names: str, size: int = 100) -> dict:
    return {name: ([name, len(name)], [name.encode() * size, b"\0" + name.encode()]) for name in names}


def plain(found: dict) -> dict:
    return {key: (fields, [bytes(piece) for piece in pieces]) for key, (fields, pieces) in found.items()}


def saved(path, used: dict, new) -> EntryFile:
    file = EntryFile(path, MAGIC)
    file.read()
    file.save(used, new)
    return file


def test_entries_come_back_as_they_were_saved(tmp_path):
    path = tmp_path / "entries.bin"
    saved(path, entries("a", "b", "c"), {"a", "b", "c"})
    assert plain(EntryFile(path, MAGIC).read()) == entries("a", "b", "c")


def test_a_new_entry_is_appended_and_the_latest_entry_of_a_key_is_read(tmp_path):
    path = tmp_path / "entries.bin"
    saved(path, entries("a", "b", "c"), {"a", "b", "c"})
    before, inode = path.read_bytes(), path.stat().st_ino
    changed = {**entries("a", "c"), **entries("b", size=101), **entries("d")}
    saved(path, changed, {"b", "d"})
    assert path.read_bytes().startswith(before) and path.stat().st_ino == inode
    assert plain(EntryFile(path, MAGIC).read()) == changed


def test_a_file_mostly_of_entries_no_longer_used_is_written_anew(tmp_path):
    path = tmp_path / "entries.bin"
    saved(path, entries("a", "b", "c", "d", size=1000), {"a", "b", "c", "d"})
    size = path.stat().st_size
    saved(path, {**entries("a", size=1000), **entries("e")}, {"e"})  # b, c, d gone: most of the file
    assert path.stat().st_size < size
    assert plain(EntryFile(path, MAGIC).read()) == {**entries("a", size=1000), **entries("e")}
    smaller = path.stat().st_size
    saved(path, {**entries("a", size=1000), **entries("e", "f")}, {"f"})  # nothing gone: appended
    assert path.stat().st_size > smaller
    assert plain(EntryFile(path, MAGIC).read()) == {**entries("a", size=1000), **entries("e", "f")}


def test_a_bad_batch_ends_the_reading_and_the_next_save_writes_the_file_anew(tmp_path):
    path = tmp_path / "entries.bin"
    saved(path, entries("a", "b", "c"), {"a", "b", "c"})
    first = path.stat().st_size
    saved(path, entries("a", "b", "c", "d"), {"d"})
    data = path.read_bytes()
    path.write_bytes(data[:-5] + bytes([data[-5] ^ 1]) + data[-4:])  # in the appended batch
    file = EntryFile(path, MAGIC)
    assert plain(file.read()) == entries("a", "b", "c")
    file.save(entries("a", "b", "c", "d"), {"d"})
    assert path.read_bytes()[:first] != data[:first] or path.stat().st_size != len(data)
    assert plain(EntryFile(path, MAGIC).read()) == entries("a", "b", "c", "d")


def test_another_kind_of_file_is_not_read(tmp_path):
    path = tmp_path / "entries.bin"
    saved(path, entries("a"), {"a"})
    assert EntryFile(path, b"riskchart other entries 1\n").read() == {}
    path.write_bytes(MAGIC + b"not a batch\n")
    assert EntryFile(path, MAGIC).read() == {}


def test_a_link_put_in_the_files_place_is_not_appended_through(tmp_path):
    """out/ may hold anything: a link where the cache was must not make
    riskchart write into the file it points to."""
    path = tmp_path / "entries.bin"
    file = saved(path, entries("a", "b", "c"), {"a", "b", "c"})
    victim = tmp_path / "victim.bin"
    victim.write_bytes(path.read_bytes())
    file = EntryFile(path, MAGIC)
    file.read()
    os.unlink(path)
    os.symlink(victim, path)
    file.save(entries("a", "b", "c", "d"), {"d"})
    assert victim.read_bytes() != b"" and not path.is_symlink()
    assert len(victim.read_bytes()) < path.stat().st_size  # written anew in its place, the target untouched
    assert plain(EntryFile(path, MAGIC).read()) == entries("a", "b", "c", "d")
