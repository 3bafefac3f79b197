"""Arrays written into the index a piece at a time: a memory-mapped one does not become resident."""

from __future__ import annotations

import numpy as np

from qa import packed


def resident_file_kb() -> int:
    """This process's resident pages that belong to mapped files."""
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("RssFile:")).split()[1])


def test_writing_a_memory_mapped_array_lets_its_pages_go(tmp_path):
    """The postings a build wrote to disk are copied into the index without being read into the
    resident set (128 MB here, written in pieces of 64 MB), and the copy is exact."""
    source = tmp_path / "postings.bin"
    np.arange(32 << 20, dtype=np.int32).tofile(source)
    array = packed.mapped(source).view(np.int32)
    (tmp_path / "index").mkdir()
    before, layout = resident_file_kb(), {}
    name, _ = packed.put(tmp_path / "index", "lexical", ".npy", {"rows": array}, layout, header=True)
    grown = resident_file_kb() - before
    assert grown < 32 * 1024, f"{grown} KB of the mapped array stayed resident"
    copy = packed.arrays(tmp_path / "index" / name, layout["lexical"])["rows"]
    assert np.array_equal(copy[::4099], np.arange(0, 32 << 20, 4099, dtype=np.int32))


def test_a_scratch_array_keeps_its_values_when_its_pages_are_let_go(tmp_path):
    """A build's vectors are written into a scratch array: released, its 128 MB leave the resident set
    and are read back intact from its temporary file, which has no name in the folder."""
    before = resident_file_kb()
    array = packed.scratch((32 << 20,), np.int32, folder=tmp_path)
    array[:] = np.arange(32 << 20, dtype=np.int32)
    assert resident_file_kb() - before > 96 * 1024
    packed.release(array)
    assert resident_file_kb() - before < 32 * 1024
    assert np.array_equal(array[::4099], np.arange(0, 32 << 20, 4099, dtype=np.int32))
    assert list(tmp_path.iterdir()) == []


def test_rows_spread_over_a_scratch_array_are_taken_without_making_it_resident(tmp_path):
    """A training sample of a build's vectors: one row in 64 of a 128 MB array (1 KB rows). Read
    plainly, the kernel maps 64 KB around each row and all 128 MB become resident."""
    array = packed.scratch((1 << 17, 256), np.float32, folder=tmp_path)
    array[:, 0] = np.arange(1 << 17)
    packed.release(array)
    before = resident_file_kb()
    rows = np.arange(0, 1 << 17, 64)
    taken = packed.take(array, rows)
    assert resident_file_kb() - before < 32 * 1024
    assert np.array_equal(taken[:, 0], rows)
