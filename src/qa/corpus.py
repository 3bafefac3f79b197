"""Corpus: which files of a folder are documents, and which are skipped and why.

A folder a user points at can hold anything: links to elsewhere, files the process
may not read, names that are not valid UTF-8, formats we do not read. Each such file
is reported with its reason and left out; it never stops the others from being read.

The folder also holds qa's record of what it did there (`.qa-documents.json`): the files
it added, and the user's own files the user removed from the index. Those stay on disk
and are left out of every build, `qa index` included, until they are added again. Files
qa adds are written under safe names of their own, never over a file that is there.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import itertools
import json
import logging
import os
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from . import folder as index_folder
from .errors import CorpusError
from .readers import SUFFIXES
from .text import nfc

log = logging.getLogger(__name__)

RECORD = ".qa-documents.json"
RECORD_LOCK = ".qa-documents.lock"
DAMAGED_RECORD = ".qa-documents.damaged.json"
RECORD_VERSION = 1
# Linux allows 255 bytes in a file name; 200 leaves room for " (12)" before the suffix.
MAX_NAME_BYTES = 200
FALLBACK_STEM = "tài liệu"  # the name of a file whose given name keeps no usable character
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,10}$")
_RESERVED = frozenset('/\\:*?"<>|')  # folder separators, and what Windows forbids (a corpus on a share)
_DROPPED = ("Cc", "Cf")  # control and invisible format characters
_UNDECODABLE = "Cs"  # lone surrogates: the bytes of a name that are not UTF-8
# what a store or a record write (`folder.atomic_write`) killed mid-way leaves behind
_TEMPORARY = re.compile(rf"^\.qa-upload-[0-9a-f]{{16}}\.tmp$|^\.{re.escape(RECORD)}\.[\w-]+\.tmp$")


@dataclass(frozen=True)
class Skipped:
    """A file left out of the index, and why."""

    file: str  # its path relative to the corpus folder (undecodable bytes shown escaped)
    reason: str


@dataclass(frozen=True)
class CorpusFiles:
    root: Path
    files: dict[str, Path]  # document id (path relative to the root, "/"-separated) → file
    skipped: tuple[Skipped, ...]


def corpus_files(folder: str | Path) -> CorpusFiles:
    """The documents under `folder` by id, and the files skipped with their reasons.

    Links are followed only while they stay inside the folder, so a link to /etc/passwd
    is never read, indexed or served; a link cycle is never walked twice. Files the user
    removed from the index (the record's exclusions) are left out without a word.
    """
    root = Path(folder)
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise CorpusError(f"corpus folder {str(root)!r} {what}; pass --corpus DIR with your documents")
    excluded = read_record(root).excluded
    real_root = root.resolve()
    files: dict[str, Path] = {}
    skipped: list[Skipped] = []
    seen_dirs: set[Path] = set()
    for top, dirs, names in os.walk(
        root, followlinks=True, onerror=lambda err: _unreadable(err, root, skipped)
    ):
        here = Path(top)
        real_here = here.resolve()
        if real_here in seen_dirs or not real_here.is_relative_to(real_root):
            if real_here not in seen_dirs:
                skipped.append(Skipped(_shown(here, root), "a link to a folder outside the corpus"))
            dirs[:] = []  # a folder read already (a link cycle, an alias) is not read twice
            continue
        seen_dirs.add(real_here)
        dirs.sort()
        for name in sorted(names):
            path = here / name
            if name.startswith("."):  # hidden files: qa's own records, editors' and systems' files
                continue
            if excluded and _shown(path, root) in excluded:
                continue
            problem = _problem(path, root, real_root)
            if problem:
                skipped.append(Skipped(_shown(path, root), problem))
                continue
            files[path.relative_to(root).as_posix()] = path
    _drop_aliases(files, skipped)
    if not files:
        why = f" ({len(skipped)} skipped: {skipped[0].file}: {skipped[0].reason})" if skipped else ""
        raise CorpusError(
            f"no readable documents ({' '.join(SUFFIXES)}) under {str(root)!r}{why}; "
            "add documents or pass --corpus DIR"
        )
    ordered = dict(sorted(files.items(), key=lambda item: item[0].split("/")))  # as sorted paths
    return CorpusFiles(root, ordered, tuple(skipped))


def _drop_aliases(files: dict[str, Path], skipped: list[Skipped]) -> None:
    """A link to another document of the corpus goes: that document is indexed once, by its name."""
    links = {doc_id for doc_id, path in files.items() if path.is_symlink()}
    if not links:
        return
    named = {path.resolve(): doc_id for doc_id, path in files.items() if doc_id not in links}
    for doc_id in sorted(links):
        target = files[doc_id].resolve()
        if (same := named.setdefault(target, doc_id)) != doc_id:
            skipped.append(Skipped(doc_id, f"a link to {same}, which is indexed under its own name"))
            del files[doc_id]


def _problem(path: Path, root: Path, real_root: Path) -> str | None:
    """Why this file cannot be a document, or None when it is fine."""
    if path.suffix.lower() not in SUFFIXES:
        return f"{path.suffix or 'no suffix'}: not a format qa reads ({' '.join(SUFFIXES)})"
    try:
        path.relative_to(root).as_posix().encode("utf-8")
    except UnicodeEncodeError:
        return "its name is not valid UTF-8; rename it"
    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(real_root):
            return "a link to a file outside the corpus"
        if not target.exists():
            return "a broken link"
    if not path.is_file():
        return "not a regular file"
    if not os.access(path, os.R_OK):
        return "permission denied; make it readable (chmod a+r)"
    return None


def _shown(path: Path, root: Path) -> str:
    """A path for messages: relative to the corpus, undecodable bytes escaped, never raising."""
    try:
        shown = path.relative_to(root).as_posix()
    except ValueError:
        shown = str(path)
    return shown.encode("utf-8", "backslashreplace").decode("utf-8")


def _unreadable(err: OSError, root: Path, skipped: list[Skipped]) -> None:
    skipped.append(Skipped(_shown(Path(err.filename or "?"), root), f"cannot open folder: {err.strerror}"))


@dataclass(frozen=True)
class Uploaded:
    """A file qa put into the corpus: only such a file is ever deleted by qa, and only unchanged."""

    file: str  # the name the user gave it
    sha256: str  # its bytes when qa wrote it
    added: str  # ISO 8601 local time


@dataclass(frozen=True)
class Record:
    """What qa did in a corpus folder: files it added (by id), user files removed from the index."""

    uploaded: Mapping[str, Uploaded] = field(default_factory=dict)
    excluded: Mapping[str, str] = field(default_factory=dict)  # id → when it was removed (ISO 8601)


_UPLOADED_KEYS = tuple(f.name for f in dataclasses.fields(Uploaded))


def read_record(root: Path) -> Record:
    """The corpus folder's record; a missing one is empty, a damaged one is logged and read as empty.

    An empty record is the safe reading: files qa added are then treated as the user's
    own (never deleted), and removed files come back into the index (never lost).
    """
    raw, problem = _raw_record(root / RECORD)
    if problem:
        log.warning("ignoring the record %s (%s): every file there is taken as yours", root / RECORD, problem)
    uploaded, excluded = {}, {}
    for doc_id, entry in _entries(raw, "uploaded", root):
        if isinstance(entry, dict) and all(isinstance(entry.get(k), str) for k in _UPLOADED_KEYS):
            uploaded[doc_id] = Uploaded(*(entry[k] for k in _UPLOADED_KEYS))
        else:
            log.warning("ignoring the record's entry for %r: qa treats that file as yours", doc_id)
    for doc_id, when in _entries(raw, "excluded", root):
        excluded[doc_id] = when if isinstance(when, str) else ""
    return Record(uploaded, excluded)


def _raw_record(file: Path) -> tuple[dict, str | None]:
    """The record's JSON object ({} when there is none), and what is wrong with it if it is damaged."""
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, None
    except (OSError, ValueError) as err:
        return {}, str(err)
    return (raw, None) if isinstance(raw, dict) else ({}, "not a JSON object")


def _entries(raw: dict, key: str, root: Path) -> list[tuple[str, object]]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        log.warning("ignoring %r of the record %s: not a JSON object", key, root / RECORD)
        return []
    return list(value.items())


def write_record(root: Path, record: Record) -> None:
    """Replace the record in one rename: a crash leaves the old record or the new, never half.

    A record that cannot be read is kept beside it as `.qa-documents.damaged.json`, so
    hand edits that went wrong can still be looked at.
    """
    file = root / RECORD
    if _raw_record(file)[1]:
        os.replace(file, root / DAMAGED_RECORD)
    data = {
        "version": RECORD_VERSION,
        "uploaded": {doc_id: dataclasses.asdict(e) for doc_id, e in sorted(record.uploaded.items())},
        "excluded": dict(sorted(record.excluded.items())),
    }
    index_folder.atomic_write(file, json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8"))


@contextmanager
def record_locked(root: Path) -> Iterator[None]:
    """One change (add or remove, with its index update) at a time per corpus folder.

    What a change killed mid-write left behind is cleared first: with the lock held,
    no one else is writing.
    """
    try:
        lock = open(root / RECORD_LOCK, "a")  # noqa: SIM115 (held until the change is done)
    except OSError as err:
        raise CorpusError(
            f"cannot write to the corpus folder {root} ({err.strerror}); "
            "make it writable for the user running qa"
        ) from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            for entry in os.scandir(root):
                if _TEMPORARY.match(entry.name) and entry.is_file(follow_symlinks=False):
                    Path(entry.path).unlink(missing_ok=True)
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def safe_name(name: str) -> str:
    """A name to create in the corpus folder for a file the user named `name`.

    Folder parts, control, invisible and reserved characters, and leading dots and dashes
    go; a byte that is not UTF-8 becomes "_" (dropped, it could turn "a.t\\xffxt" into a .txt);
    Vietnamese letters stay (NFC); the suffix is lower-cased; the UTF-8 length is bounded.
    """
    base = re.split(r"[/\\]", name)[-1]
    kept = "".join(
        "_" if unicodedata.category(c) == _UNDECODABLE else c
        for c in base
        if c not in _RESERVED and unicodedata.category(c) not in _DROPPED
    )
    kept = " ".join(nfc(kept).split()).rstrip(". ")  # "báo cáo.pdf." is a .pdf, as Windows sees it
    match = _SUFFIX.search(kept)
    suffix = match.group().lower() if match else ""
    stem = (kept[: match.start()] if match else kept).strip(". -")
    stem = stem.encode("utf-8")[: MAX_NAME_BYTES - len(suffix)].decode("utf-8", "ignore").rstrip(". -")
    if not suffix and (cut := _SUFFIX.search(stem)):  # cutting made a suffix out of what was none
        stem = f"{stem[: cut.start()]}_{stem[cut.start() + 1 :]}"
    return (stem or FALLBACK_STEM) + suffix


def store(root: Path, name: str, data: bytes) -> str:
    """Write `data` as `name` in the folder, or "name (2)", "name (3)"… when taken: never over a file.

    The bytes go to a hidden temporary file first, then are linked to their name, which
    fails rather than replace a file that is there: readers see the whole file or none.
    """
    temp = root / f".qa-upload-{secrets.token_hex(8)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        suffix = PurePath(name).suffix
        for n in itertools.count(1):
            target = name if n == 1 else f"{name[: len(name) - len(suffix)]} ({n}){suffix}"
            try:
                os.link(temp, root / target)
            except FileExistsError:
                continue
            log.info("stored %s in %s", target, root)
            return target
    finally:
        temp.unlink(missing_ok=True)
    raise AssertionError("unreachable")


def unstore(root: Path, doc_ids: Iterable[str]) -> None:
    """Delete files qa stored: ones this change stored itself, or found to be `ours`."""
    for doc_id in doc_ids:
        (root / doc_id).unlink(missing_ok=True)


def ours(root: Path, record: Record, doc_id: str) -> bool:
    """qa put the file in the corpus and it is unchanged since: the only kind qa may delete."""
    entry = record.uploaded.get(doc_id)
    return entry is not None and checksum(root / doc_id) == entry.sha256


def documents_in(root: Path) -> dict[str, Path]:
    """The documents of the corpus folder by id; none (not an error) when none is left."""
    try:
        return corpus_files(root).files
    except CorpusError:
        return {}


class Contents:
    """The corpus's files and excluded files by size, each hashed only when a file of its size asks,
    and which of them the index holds (`indexed`; by default all)."""

    def __init__(self, root: Path, indexed: Iterable[str] | None = None):
        listed = documents_in(root)
        real_root = root.resolve()
        excluded = read_record(root).excluded
        inside = [(d, root / d) for d in excluded if (root / d).resolve().is_relative_to(real_root)]
        self._files, self._excluded = _by_size(listed.items()), _by_size(inside)
        self._hashes: dict[str, str | None] = {}
        self._indexed = set(listed if indexed is None else indexed)

    def find(self, data: bytes) -> str | None:
        """The id of a document of the index with these bytes."""
        return self._match(self._files, data, self._indexed.__contains__)

    def find_unindexed(self, data: bytes) -> str | None:
        """The id of a corpus file with these bytes that the index does not hold: one an add killed
        before its index update stored, or one the index could not read."""
        return self._match(self._files, data, lambda doc_id: doc_id not in self._indexed)

    def find_excluded(self, data: bytes) -> str | None:
        """The id of a file left out of the index with these bytes."""
        return self._match(self._excluded, data, lambda doc_id: True)

    def include(self, doc_id: str, data: bytes) -> None:
        """A document of the index from now on: later files with its bytes are its duplicates."""
        self._files.setdefault(len(data), []).append((doc_id, None))
        self._hashes[doc_id] = hashlib.sha256(data).hexdigest()
        self._indexed.add(doc_id)

    def _match(
        self, files: dict[int, list[tuple[str, Path | None]]], data: bytes, wanted: Callable[[str], bool]
    ) -> str | None:
        candidates = [(doc_id, file) for doc_id, file in files.get(len(data), []) if wanted(doc_id)]
        sha = hashlib.sha256(data).hexdigest() if candidates else None
        for doc_id, file in candidates:
            if doc_id not in self._hashes:
                self._hashes[doc_id] = checksum(file)
            if self._hashes[doc_id] == sha:
                return doc_id
        return None


def checksum(file: Path | None) -> str | None:
    """The SHA-256 of a file, or None when it cannot be read."""
    try:
        return index_folder.checksum(file) if file else None
    except OSError:
        return None


def _by_size(files: Iterable[tuple[str, Path]]) -> dict[int, list[tuple[str, Path | None]]]:
    sizes: dict[int, list[tuple[str, Path | None]]] = {}
    for doc_id, file in files:
        try:
            if file.is_file():
                sizes.setdefault(file.stat().st_size, []).append((doc_id, file))
        except OSError:
            continue
    return sizes
