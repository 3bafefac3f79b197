"""Arrays stored as plain files and memory-mapped back, nothing parsed or copied on load.

`put` writes several arrays one after another into one file (a `.npy` byte array, or raw bytes
such as a text file of terms), each starting at a multiple of ALIGN bytes, and returns where
each lies; `arrays` maps the file and gives each array as a view of its pages.

Files read a few scattered pieces at a time (passage texts, vectors) are read by position instead
(`Positioned`): a mapping counts in the resident set every page the kernel maps around each touch
(64 KB a read, whatever madvise says), and at 100k passages 200 dense questions made the whole
150 MB vector file resident; a read copies only what is asked from the page cache.

A build's large arrays (postings, vectors) live in unnamed temporary files for the same reason:
`scratch` gives a writable one, `take` reads scattered rows of one a region at a time, and
`release` and `put` let their pages go once they are done with.
"""

from __future__ import annotations

import io
import itertools
import math
import mmap
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from . import folder

ALIGN = 64  # bytes: every array of several bytes an item starts on a cache line
# Bytes of an array written at once: a memory-mapped array's pages are let go after each piece.
PIECE = 1 << 26


def npy(array: np.ndarray) -> Iterator[bytes | memoryview]:
    """The array as the pieces of a `.npy` file, its data not copied when float32 already."""
    array = np.ascontiguousarray(array, dtype=np.float32)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, np.lib.format.header_data_from_array_1_0(array))
    yield header.getvalue()
    yield from _released(array)


def scratch(shape: tuple[int, ...], dtype, *, folder: Path | None) -> np.ndarray:
    """A writable array whose pages are an unnamed temporary file's in `folder` (the system's when
    None): `release` lets them go, so a build's million vectors need not stay resident."""
    size = math.prod(shape) * np.dtype(dtype).itemsize
    if not size:
        return np.empty(shape, dtype=dtype)
    with tempfile.TemporaryFile(dir=folder) as file:
        os.posix_fallocate(file.fileno(), 0, size)  # a full disk fails here, not as SIGBUS on a write
        pages = _Scratch(file.fileno(), size)  # the mapping outlives the handle
    return np.frombuffer(pages, dtype=dtype).reshape(shape)


def release(array: np.ndarray) -> None:
    """Let go of the resident pages of a memory-mapped array (a scratch one, or one mapped read-only
    from a file); they are read again from the file when needed. Other arrays are left as they are."""
    pages = _mapping(array)
    if pages is not None:
        pages.madvise(mmap.MADV_DONTNEED)


def take(array: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`array[rows]`, read in row order PIECE bytes of `array` at a time, its pages let go after
    each: the kernel maps 64 KB around each row read from a mapped file, so a few rows spread over
    it made all of it resident (the training sample of a million vectors, 1.5 GB)."""
    order = np.argsort(rows, kind="stable")
    ordered = rows[order]
    out = np.empty((len(rows), *array.shape[1:]), dtype=array.dtype)
    span = max(1, PIECE // max(1, array[:1].nbytes))  # rows a piece
    bounds = np.searchsorted(ordered, np.arange(0, len(array) + span, span))
    for low, high in itertools.pairwise(bounds):
        if high > low:
            out[order[low:high]] = array[ordered[low:high]]
            release(array)
    return out


class _Scratch(mmap.mmap):
    """A shared, writable file mapping made by `scratch`: what it holds is the file's, so letting its
    pages go loses nothing, unlike a private copy-on-write mapping's."""


def put(path: Path, role: str, suffix: str, arrays: dict, layout: dict, *, header: bool):
    """Write `arrays` one after another into one file (a `.npy` byte array when `header`), each
    at a multiple of ALIGN bytes, and record in `layout[role]` where each lies in the file."""
    places, at = {}, 0
    for name, array in arrays.items():
        at += -at % ALIGN if array.dtype.itemsize > 1 else 0
        places[name] = [array.dtype.str, list(array.shape), at]
        at += array.nbytes
    head = io.BytesIO()
    if header:  # its length is a multiple of 64: the arrays stay aligned
        np.lib.format.write_array_header_1_0(head, {"descr": "|u1", "fortran_order": False, "shape": (at,)})
    for place in places.values():
        place[2] += len(head.getvalue())
    layout[role] = places
    return folder.put(path, role, suffix, _pieces(head.getvalue(), arrays, places))


def _pieces(head: bytes, arrays: dict, places: dict) -> Iterator[bytes | memoryview]:
    """The file's bytes, a piece at a time, never joined."""
    yield head
    at = len(head)
    for name, array in arrays.items():
        yield bytes(places[name][2] - at)
        yield from _released(array)
        at = places[name][2] + array.nbytes


def _released(array: np.ndarray) -> Iterator[memoryview]:
    """The array's bytes, PIECE at a time. A memory-mapped array (the postings a build wrote to disk)
    has each piece's pages let go once it is written: a mapping counts every page it has read in the
    resident set, and at a million passages the postings are gigabytes."""
    raw, pages = _raw(array), _mapping(array)
    first = np.frombuffer(pages, dtype=np.uint8).ctypes.data if pages is not None else 0
    for at in range(0, len(raw), PIECE):
        piece = raw[at : at + PIECE]
        yield memoryview(piece)
        if pages is not None:
            offset = piece.ctypes.data - first
            page = offset - offset % mmap.PAGESIZE
            pages.madvise(mmap.MADV_DONTNEED, page, offset + len(piece) - page)


def _mapping(array: np.ndarray) -> mmap.mmap | None:
    """The file mapping an array's memory belongs to, if its pages can be let go: a scratch one, or
    one mapped read-only (a writable private mapping's pages could hold changes)."""
    base = array
    while isinstance(base, np.ndarray):
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    if isinstance(base, _Scratch) or (isinstance(base, mmap.mmap) and memoryview(base).readonly):
        return base
    return None


def _raw(array: np.ndarray) -> np.ndarray:
    """The array's bytes, without copying a contiguous one (empty arrays included)."""
    return np.ascontiguousarray(array).reshape(-1).view(np.uint8)


def _views(blob: np.ndarray, places: dict) -> dict[str, np.ndarray]:
    """The arrays `put` wrote, as views of the bytes."""
    out = {}
    for name, (dtype, shape, at) in places.items():
        dtype = np.dtype(dtype)
        out[name] = blob[at : at + dtype.itemsize * math.prod(shape)].view(dtype).reshape(shape)
    return out


def mapped(file: Path) -> np.ndarray:
    """A file's bytes, memory-mapped, as a plain array: slicing a `np.memmap` costs microseconds."""
    size = file.stat().st_size  # an empty file cannot be mapped
    return np.memmap(file, dtype=np.uint8, mode="r").view(np.ndarray) if size else np.empty(0, np.uint8)


def arrays(file: Path, places: dict) -> dict[str, np.ndarray]:
    """The arrays `put` wrote into `file`, memory-mapped."""
    return _views(mapped(file), places)


class Positioned:
    """A file read by position (pread): bytes, or rows of a matrix stored from `offset`."""

    def __init__(self, file: Path, *, offset: int = 0, row: int = 0) -> None:
        # kept open, as a mapping would be: a later build may delete the file meanwhile
        self._file = open(file, "rb", buffering=0)  # noqa: SIM115
        self.offset, self.row = offset, row

    def read(self, start: int, size: int) -> bytes:
        return os.pread(self._file.fileno(), size, self.offset + start)

    def rows(self, rows: np.ndarray, dtype: np.dtype, width: int) -> np.ndarray:
        """The given rows (sorted, for the disk's sake), one read each."""
        out = np.empty((len(rows), width), dtype=dtype)
        fd, offset, size = self._file.fileno(), self.offset, self.row
        for i, row in enumerate(rows.tolist()):
            if os.preadv(fd, [out[i]], offset + row * size) != size:
                raise EOFError(f"{self._file.name} ends before row {row}")
        return out
