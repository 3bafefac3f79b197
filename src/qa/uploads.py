"""Uploads: the files of one add taken into the corpus folder, before the index is updated.

Each file is checked (its type, size, emptiness), compared with what the corpus already holds
by its bytes, and stored under a safe name of its own (`corpus.store`), never over another file.
A write that fails removes again what this batch stored.
"""

from __future__ import annotations

import errno
import hashlib
import re
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePath
from typing import Literal

from .corpus import Contents, Record, Uploaded, safe_name, store, unstore
from .errors import DiskFullError, UploadError
from .readers import SUFFIXES
from .text import nfc

MIB = 1 << 20

Progress = Callable[[int, int, str], None]  # (done, total, what is being done)
RejectKind = Literal["type", "size", "empty", "unreadable"]


@dataclass(frozen=True)
class Upload:
    name: str  # the file name the user gave; any folder part is ignored
    data: bytes


@dataclass(frozen=True)
class Rejected:
    file: str  # the name as given
    kind: RejectKind
    reason: str  # says what happened and how to fix it


@dataclass(frozen=True)
class Duplicate:
    file: str  # the name as given
    id: str  # the document with the same bytes


@dataclass(frozen=True)
class Stored:
    """What storing a batch of files did, before the index is updated."""

    stored: dict[str, str]  # id → the name as given, of files written now
    restored: dict[str, str]  # id → the name as given, of the user's files no longer left out
    unindexed: dict[str, str]  # id → the name as given, of corpus files the index did not hold
    duplicates: tuple[Duplicate, ...]
    rejected: tuple[Rejected, ...]
    record: Record  # the corpus record with these changes


def store_all(
    root: Path, files, record: Record, indexed, *, max_bytes: int, progress: Progress | None
) -> Stored:
    """Each file rejected, found already there (indexed, unindexed or left out) or stored anew;
    on a write error, what this batch stored is removed again and the error says so."""
    uploaded, excluded = dict(record.uploaded), dict(record.excluded)
    contents = Contents(root, indexed)
    stored, restored, unindexed, duplicates, rejected = {}, {}, {}, [], []  # as in Stored
    try:
        for done, item in enumerate(files, 1):
            raw = item.name if isinstance(item, Upload) else str(item)
            # the file is named from the raw name: a byte shown as \udcff would be cut at its "\"
            name, given = re.split(r"[/\\]", raw)[-1], _shown(raw)
            data = _take(item, name, given, max_bytes)
            if isinstance(data, Rejected):
                rejected.append(data)
            elif (same := contents.find(data)) is not None:
                duplicates.append(Duplicate(given, same))
            elif (left := contents.find_unindexed(data)) is not None:  # the update indexes it
                contents.include(left, data)
                unindexed[left] = given
            elif (back := contents.find_excluded(data)) is not None:
                del excluded[back]
                contents.include(back, data)
                restored[back] = given
            else:
                doc_id = store(root, safe_name(name), data)
                uploaded[doc_id] = Uploaded(_shown(name), hashlib.sha256(data).hexdigest(), now())
                contents.include(doc_id, data)
                stored[doc_id] = given
            if progress:
                progress(done, len(files), "storing files")
    except OSError as err:
        unstore(root, stored)
        raise cannot_write(root, err) from None
    record = Record(uploaded, excluded)
    return Stored(stored, restored, unindexed, tuple(duplicates), tuple(rejected), record)


def _take(item: str | Path | Upload, name: str, given: str, max_bytes: int) -> bytes | Rejected:
    """The file's bytes, or why it is rejected (nothing too big is read)."""
    suffix = PurePath(safe_name(name)).suffix
    if suffix not in SUFFIXES:
        what = f"{suffix} files" if suffix else "a file without a suffix"
        return Rejected(given, "type", f"qa cannot read {what}; add {' '.join(SUFFIXES)} files")
    try:
        if isinstance(item, Upload):
            size = len(item.data)
        else:
            info = Path(item).stat()
            if not stat.S_ISREG(info.st_mode):
                return Rejected(given, "unreadable", "not a file; give the path of a document")
            size = info.st_size
        if size == 0:
            return Rejected(given, "empty", "the file is empty; add it once it has content")
        if size > max_bytes:
            return Rejected(
                given,
                "size",
                f"{size / MIB:.1f} MiB is over the limit of {max_bytes / MIB:g} MiB a file; "
                "split it, or raise the limit with QA_MAX_UPLOAD_MB",
            )
        return item.data if isinstance(item, Upload) else Path(item).read_bytes()
    except OSError as err:
        return Rejected(given, "unreadable", f"cannot read it ({err.strerror}); check the path")


def cannot_write(root: Path, err: OSError) -> DiskFullError | UploadError:
    """The error for a file or the record that could not be written, once what this add stored is gone."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        free = shutil.disk_usage(root).free / 1e6
        return DiskFullError(
            f"the disk holding the corpus folder {root} is full ({free:,.1f} MB free): nothing was "
            "added. Free some space, then add the files again"
        )
    return UploadError(
        f"cannot write to the corpus folder {root} ({err.strerror}); make it writable for the user "
        "running qa, then add the files again"
    )


def _shown(name: str) -> str:
    """A name for reports and the record: undecodable bytes of a file name shown escaped, never
    raising; in NFC, as all text from ingest on, whatever form the user's system gave."""
    return nfc(name.encode("utf-8", "backslashreplace").decode("utf-8"))


def now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")
