"""Arrays stored as plain files and memory-mapped back, nothing parsed or copied on load.

`put` writes several arrays one after another into one file (a `.npy` byte array, or raw bytes
such as a text file of terms), each starting at a multiple of ALIGN bytes, and returns where
each lies; `arrays` maps the file and gives each array as a view of its pages.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from . import folder

ALIGN = 64  # bytes: every array of several bytes an item starts on a cache line


def npy(array: np.ndarray) -> bytes:
    """The array as a `.npy` file, copied once."""
    array = np.ascontiguousarray(array, dtype=np.float32)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, np.lib.format.header_data_from_array_1_0(array))
    return b"".join([header.getvalue(), _raw(array)])


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
    pieces, end = [head.getvalue()], 0
    for name, array in arrays.items():
        pieces += [bytes(places[name][2] - end), _raw(array)]
        end = places[name][2] + array.nbytes
        places[name][2] += len(pieces[0])
    layout[role] = places
    return folder.put(path, role, suffix, b"".join(pieces))


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
