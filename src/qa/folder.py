"""The index folder on disk: what qa may write there, delete there, and trust there.

An index folder holds only files qa wrote: `manifest.json`, data files named
`<role>-<sha256 prefix>.<ext>`, a `.lock` and the marker `.qa-index`. qa writes into a
folder only if it is new, empty or already marked as an index, and never inside or
around the corpus; it deletes only data files of its own naming that neither the
current manifest nor the one before it name, so readers of the previous manifest
still find their files, and a build killed after the swap is cleaned up by the next.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from .errors import IndexCorruptError, IndexLocationError, IndexMismatchError, IndexNotFoundError

MANIFEST = "manifest.json"
MARKER = ".qa-index"
LOCK = ".lock"
FORMAT_VERSION = 3
ROLES = ("texts", "catalog", "chunks", "dense", "vectors", "lexical", "vocabulary")
_DATA = re.compile(rf"(?:{'|'.join(ROLES)})-[0-9a-f]{{16}}\.(?:txt|json|npz|npy|faiss)")
_OWN = re.compile(rf"^(?:{_DATA.pattern})$")
# what `atomic_write` leaves behind when killed mid-write
_TEMP = re.compile(rf"^\.(?:{re.escape(MANIFEST)}|{re.escape(MARKER)}|{_DATA.pattern})\.[\w-]+\.tmp$")
_MANIFEST_SHAPE = {
    "format_version": int,
    "embedder": dict,
    "chunker": dict,
    "dense": dict,
    "documents": dict,
    "files": dict,
    "checksums": dict,
}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Index files get the permissions of any file the user creates (mkstemp alone gives 0600,
# so an index built by one account could not be served by another).
_FILE_MODE = 0o666 & ~_umask()


class Stamp(NamedTuple):
    """Identifies one version of the manifest: a rebuild replaces the file, changing all three."""

    inode: int
    mtime_ns: int
    size: int


def stamp(path: Path) -> Stamp | None:
    try:
        st = os.stat(path / MANIFEST)
    except OSError:
        return None
    return Stamp(st.st_ino, st.st_mtime_ns, st.st_size)


def rebuild_hint(path: Path, corpus: str | None = None) -> str:
    return f"qa index --rebuild --corpus {corpus or 'YOUR_CORPUS'} --index {path}"


def read_manifest(path: Path) -> dict:
    """The manifest, checked for its version and shape; a clear error for anything else."""
    file = path / MANIFEST
    if path.exists() and not path.is_dir():
        raise IndexNotFoundError(f"{str(path)!r} is a file, not an index folder; pass --index FOLDER")
    if not file.is_file():
        raise IndexNotFoundError(
            f"no index at {str(path)!r}; build one with: qa index --corpus YOUR_CORPUS --index NEW_FOLDER"
        )
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise IndexCorruptError(
            f"cannot read {file} ({err}); rebuild the index with: {rebuild_hint(path)}"
        ) from None
    if not isinstance(manifest, dict):
        raise IndexCorruptError(f"{file} is not an index manifest; rebuild with: {rebuild_hint(path)}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index at {str(path)!r} has format version {manifest.get('format_version')}, this "
            f"version of qa reads {FORMAT_VERSION}; rebuild it with: "
            f"{rebuild_hint(path, manifest.get('corpus'))}"
        )
    hint = rebuild_hint(path, manifest.get("corpus") if isinstance(manifest.get("corpus"), str) else None)
    for key, kind in _MANIFEST_SHAPE.items():
        if not isinstance(manifest.get(key), kind):
            raise IndexCorruptError(f"{file} is damaged ({key!r} missing or wrong); rebuild with: {hint}")
    files, checksums = manifest["files"], manifest["checksums"]
    if set(files) != set(ROLES) or not all(
        isinstance(name, str) and _OWN.match(name) and isinstance(checksums.get(name), str)
        for name in files.values()
    ):
        raise IndexCorruptError(f"{file} is damaged (its file list is wrong); rebuild with: {hint}")
    if not all(
        isinstance(manifest["embedder"].get(k), t) for k, t in (("id", str), ("name", str), ("dim", int))
    ):
        raise IndexCorruptError(f"{file} is damaged (its embedder is wrong); rebuild with: {hint}")
    return manifest


def is_index(path: Path) -> bool:
    """A folder qa made: marked, or holding a manifest of ours (an index older than the marker)."""
    if (path / MARKER).is_file():
        return True
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    # another tool's manifest.json can have these keys too: only ours names files of our naming
    files = manifest.get("files") if isinstance(manifest, dict) else None
    return (
        isinstance(manifest.get("format_version"), int)
        and isinstance(files, dict)
        and set(files) == set(ROLES)
        and all(isinstance(name, str) and _OWN.match(name) for name in files.values())
    )


def claim(path: Path, *, corpus: Path) -> None:
    """Make `path` an index folder, or refuse before any work when that could harm the user's files."""
    if path.exists() and not path.is_dir():
        raise IndexLocationError(f"{str(path)!r} is a file; pass --index with a new folder or an index")
    folder, root = path.resolve(), corpus.resolve()
    if folder == root or folder.is_relative_to(root) or root.is_relative_to(folder):
        raise IndexLocationError(
            f"the index folder {str(path)!r} and the corpus folder {str(corpus)!r} overlap; "
            "keep the index outside the corpus, e.g. --index index next to the corpus folder"
        )
    if path.is_dir() and not is_index(path):
        others = sorted(e.name for e in os.scandir(path) if e.name not in (LOCK, MARKER))
        if others:
            raise IndexLocationError(
                f"{str(path)!r} holds files that are not a qa index ({', '.join(others[:3])}"
                f"{', …' if len(others) > 3 else ''}); qa writes only into a new or empty folder or "
                "an existing index: pass --index NEW_FOLDER"
            )
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not (path / MARKER).is_file():
            atomic_write(path / MARKER, b"qa index folder: qa writes and deletes files here.\n")
        else:  # prove the folder is writable before hours of embedding, not after
            with tempfile.NamedTemporaryFile(dir=path, prefix=f".{MARKER}.", suffix=".tmp"):
                pass
    except OSError as err:
        raise IndexLocationError(
            f"cannot write to the index folder {str(path)!r} ({err.strerror}); "
            "choose a folder you can write to with --index"
        ) from None


def atomic_write(target: Path, data: bytes) -> None:
    """Write a whole file or nothing: a crash leaves the old file (or none), never half of one."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), _FILE_MODE)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def put(path: Path, role: str, suffix: str, pieces: Iterable[bytes | memoryview]) -> tuple[str, str]:
    """Write a data file named by its content, from `pieces` written one after another (never joined
    in memory: at a million passages they are gigabytes); an existing one is kept only if intact.
    Written under a temporary name and renamed, as `atomic_write` does."""
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=path, prefix=f".{role}-{'0' * 16}{suffix}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), _FILE_MODE)
            for piece in pieces:
                digest.update(piece)
                f.write(piece)
            f.flush()
            os.fsync(f.fileno())
        sha = digest.hexdigest()
        name = f"{role}-{sha[:16]}{suffix}"
        if (path / name).is_file() and checksum(path / name) == sha:
            Path(tmp).unlink()
        else:
            os.replace(tmp, path / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return name, sha


def checksum(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, name: str, sha: str, *, corpus: str | None = None) -> None:
    file = path / name
    if not file.is_file():
        raise FileNotFoundError(file)  # the caller retries on a newer manifest before giving up
    if checksum(file) != sha:
        raise IndexCorruptError(
            f"index file {file} does not match its checksum; rebuild with: {rebuild_hint(path, corpus)}"
        )


def collect_garbage(path: Path, *, keep: set[str]) -> None:
    """Delete this folder's own data and temporary files that no kept manifest names."""
    for entry in os.scandir(path):
        if entry.name in keep or not (_OWN.match(entry.name) or _TEMP.match(entry.name)):
            continue
        if entry.is_file(follow_symlinks=False):
            Path(entry.path).unlink(missing_ok=True)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """One build at a time per index folder; readers need no lock."""
    with open(path / LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
