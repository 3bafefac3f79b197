"""Corpus: which files of a folder are documents, and which are skipped and why.

A folder a user points at can hold anything: links to elsewhere, files the process
may not read, names that are not valid UTF-8, formats we do not read. Each such file
is reported with its reason and left out; it never stops the others from being read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import CorpusError
from .readers import SUFFIXES


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
    is never read, indexed or served; a link cycle is never walked twice.
    """
    root = Path(folder)
    if not root.is_dir():
        raise CorpusError(
            f"corpus folder {str(root)!r} does not exist; pass --corpus DIR with your documents"
        )
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
            problem = _problem(path, root, real_root)
            if problem:
                skipped.append(Skipped(_shown(path, root), problem))
                continue
            files[path.relative_to(root).as_posix()] = path
    if not files:
        why = f" ({len(skipped)} skipped: {skipped[0].file}: {skipped[0].reason})" if skipped else ""
        raise CorpusError(
            f"no readable documents ({' '.join(SUFFIXES)}) under {str(root)!r}{why}; "
            "add documents or pass --corpus DIR"
        )
    ordered = dict(sorted(files.items(), key=lambda item: item[0].split("/")))  # as sorted paths
    return CorpusFiles(root, ordered, tuple(skipped))


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
