"""Documents: add files to the corpus of an index, remove them, list them.

A file added goes into the corpus folder the index was built from, under a safe name of
its own (never over another file), and the index is updated incrementally with the
settings it was built with. qa deletes only a file it added and that is unchanged since;
a user's own file that is removed stays on disk and is left out of the index (the corpus
record in `corpus.py`, which `qa index` honours too).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .build import BuildReport, ChunkerSettings, build_index
from .corpus import Record, documents_in, ours, read_record, record_locked, unstore, write_record
from .embed import Embedder
from .errors import CorpusError, DocumentNotFoundError, IndexMismatchError, UploadError
from .store import Store
from .uploads import Duplicate, Progress, Rejected, Stored, Upload, cannot_write, now, store_all


@dataclass(frozen=True)
class DocumentInfo:
    id: str  # its path relative to the corpus folder: what remove takes
    title: str
    file: str  # the file name as uploaded (files qa added), else the id
    format: str  # txt md docx doc pdf html
    pages: int  # 0 for formats without pages
    passages: int
    added: str  # ISO 8601 local time: when it was uploaded, else the file's mtime ("" if it is gone)
    size: int  # bytes of the original file
    uploaded: bool  # qa put the file in the corpus (remove deletes it); False: the user's own file
    ocr: bool


@dataclass(frozen=True)
class AddReport:
    added: tuple[DocumentInfo, ...]  # new documents, indexed and searchable now
    duplicates: tuple[Duplicate, ...]  # files whose bytes are already in the index: not added again
    rejected: tuple[Rejected, ...]  # not added, and why
    build: BuildReport


@dataclass(frozen=True)
class RemoveReport:
    removed: tuple[str, ...]
    missing: tuple[str, ...]  # ids that are not indexed documents (nothing done for them)
    build: BuildReport


def list_documents(index: Store) -> list[DocumentInfo]:
    """Every document of the index, ordered by id."""
    corpus = index.manifest.get("corpus")
    root = Path(corpus) if isinstance(corpus, str) else None
    record = read_record(root) if root and root.is_dir() else Record()
    counts = index.passage_counts()
    return [_info(index, doc_id, root, record, counts[doc_id]) for doc_id in sorted(index.documents)]


def add_documents(
    current: Callable[[], Store],
    files: Sequence[str | Path | Upload],
    *,
    embedder: Embedder,
    max_bytes: int,
    progress: Progress | None = None,
) -> AddReport:
    """Store the files in the corpus of the index `current()` serves, then update that index.

    A bad file is rejected with its reason and the others go in; bytes already in the
    index are reported as duplicates. A user's own file removed before comes back when
    its bytes are added again, and so does a corpus file the index does not hold (an add
    killed before its update stored it). Changes to one corpus are made one at a time.
    """
    if isinstance(files, str | Path | Upload):
        files = [files]
    if not files:
        raise UploadError("no files given; pass one or more files to add")
    index = current()
    root = _corpus_root(index, UploadError)
    chunker = _chunker(index)
    with ExitStack() as stack:
        try:
            stack.enter_context(record_locked(root))
        except CorpusError as err:
            raise UploadError(str(err)) from None
        before, index = read_record(root), current()  # as an add that held the lock left them
        batch = store_all(root, files, before, index.documents, max_bytes=max_bytes, progress=progress)
        if not batch.stored and not batch.restored and not batch.unindexed:
            return AddReport((), batch.duplicates, batch.rejected, _unchanged(index))
        try:
            write_record(root, batch.record)
        except OSError as err:
            unstore(root, batch.stored)
            raise cannot_write(root, err) from None
        try:
            build = build_index(
                root, index.location, embedder=embedder, chunker=chunker, progress=_bars(progress)
            )
        except BaseException:
            unstore(root, batch.stored)
            write_record(root, before)
            raise
        rejected = batch.rejected + _drop_unreadable(root, build, batch, before)
    index = current()
    record, counts = read_record(root), index.passage_counts()
    added = tuple(
        _info(index, doc_id, root, record, counts[doc_id])
        for doc_id in [*batch.stored, *batch.restored, *batch.unindexed]
        if doc_id in index.documents
    )
    return AddReport(added, batch.duplicates, rejected, build)


def remove_documents(current: Callable[[], Store], ids: Sequence[str], *, embedder: Embedder) -> RemoveReport:
    """Take documents out of the index: a file qa added is deleted, a user's own file is left out."""
    if isinstance(ids, str):
        ids = [ids]
    index = current()
    wanted = list(dict.fromkeys(ids))
    present = tuple(doc_id for doc_id in wanted if doc_id in index.documents)
    missing = tuple(doc_id for doc_id in wanted if doc_id not in index.documents)
    if not present:
        return RemoveReport((), missing, _unchanged(index))
    root = _corpus_root(index, CorpusError)
    chunker = _chunker(index)
    with record_locked(root):
        if not documents_in(root).keys() - set(present):
            raise CorpusError(
                f"removing {', '.join(present)} would leave no document in {root}, and an index needs "
                "at least one; add another document first"
            )
        record = read_record(root)
        uploaded, excluded = dict(record.uploaded), dict(record.excluded)
        doomed = []
        for doc_id in present:
            uploaded.pop(doc_id, None)
            if not (root / doc_id).exists():
                continue  # gone already: the update drops it
            if ours(root, record, doc_id):
                doomed.append(doc_id)
            else:  # the user's own file, or one of ours the user has changed since
                excluded[doc_id] = now()
        write_record(root, Record(uploaded, excluded))
        unstore(root, doomed)
        build = build_index(root, index.location, embedder=embedder, chunker=chunker)
    current()
    return RemoveReport(present, missing, build)


def document_file(index: Store, doc_id: str) -> Path:
    """The original file of an indexed document, never a path outside its corpus folder."""
    if doc_id not in index.documents:
        raise DocumentNotFoundError(
            f"{doc_id!r} is not a document of the index at {index.location}; "
            f"see its documents with: qa list {index.option}"
        )
    root = _corpus_root(index, DocumentNotFoundError)
    file = root / doc_id
    real = file.resolve()
    if not real.is_relative_to(root.resolve()) or not real.is_file():
        raise DocumentNotFoundError(
            f"the file of {doc_id!r} is no longer in the corpus folder {root}; "
            f"update the index with: qa index --corpus {root} {index.option}"
        )
    return file


def _drop_unreadable(root: Path, build: BuildReport, batch: Stored, before: Record) -> tuple[Rejected, ...]:
    """Files of the batch the update could not read: qa's own go again (those a killed add left too),
    the user's are left out again, or left as they were when the index did not hold them."""
    reasons = {s.file: s.reason for s in build.skipped}
    names = {**batch.stored, **batch.restored, **batch.unindexed}
    unread = [doc_id for doc_id in names if doc_id in reasons]
    if not unread:
        return ()
    mine = [d for d in unread if d in batch.stored or (d in batch.unindexed and ours(root, before, d))]
    theirs = [d for d in unread if d in batch.restored]
    unstore(root, mine)
    uploaded = {d: entry for d, entry in batch.record.uploaded.items() if d not in mine}
    excluded = {**batch.record.excluded, **{d: before.excluded[d] for d in theirs}}
    write_record(root, Record(uploaded, excluded))
    return tuple(Rejected(names[d], "unreadable", reasons[d]) for d in unread)


def _info(index: Store, doc_id: str, root: Path | None, record: Record, passages: int) -> DocumentInfo:
    stored = index.documents[doc_id]
    entry = record.uploaded.get(doc_id)
    uploaded = entry is not None and entry.sha256 == stored.sha256
    try:
        if root is None:
            raise FileNotFoundError(doc_id)
        info = (root / doc_id).stat()
        size, changed = info.st_size, _iso(info.st_mtime)
    except OSError:
        size, changed = 0, ""
    return DocumentInfo(
        id=doc_id,
        title=stored.title,
        file=entry.file if entry and uploaded else doc_id,
        format=stored.format,
        pages=len(stored.pages),
        passages=passages,
        added=entry.added if entry and uploaded else changed,
        size=size,
        uploaded=uploaded,
        ocr=stored.ocr,
    )


def _corpus_root(index: Store, error: type[Exception]) -> Path:
    corpus = index.manifest.get("corpus")
    if not isinstance(corpus, str) or not Path(corpus).is_dir():
        raise error(
            f"the corpus folder of the index at {index.location} ({corpus}) is not there; documents are "
            f"added, removed and served only from it: rebuild with qa index --corpus DIR {index.option}"
        )
    return Path(corpus)


def _chunker(index: Store) -> ChunkerSettings:
    """The settings the index was built with, so that an update re-chunks nothing already there."""
    recorded = index.manifest["chunker"]
    names = {f.name for f in dataclasses.fields(ChunkerSettings)}
    try:
        return ChunkerSettings(**{k: v for k, v in recorded.items() if k in names})
    except TypeError:
        raise IndexMismatchError(
            f"the index at {index.location} does not record how it was chunked; rebuild it with: "
            f"qa index --rebuild --corpus {index.manifest.get('corpus') or 'DIR'} {index.option}"
        ) from None


def _bars(progress: Progress | None):
    """The build's progress (a bar per step, told increments) as calls of `progress(done, total, label)`."""
    if progress is None:
        return None

    def open_bar(total: int, label: str) -> Callable[[int], None]:
        done = 0
        progress(done, total, label)

        def advance(n: int) -> None:
            nonlocal done
            done += n
            progress(done, total, label)

        return advance

    return open_bar


def _unchanged(index: Store) -> BuildReport:
    return BuildReport(unchanged=tuple(index.documents), passages=len(index))


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")
