"""Build: turn a corpus folder into an index, re-reading and re-embedding only what changed.

One bad file never stops a build: it is skipped, with its reason in the report, and the
rest is indexed. Identical passage texts are embedded once.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import folder, packed
from .chunk import Chunk, Chunker, Context, contextualize
from .corpus import Skipped, corpus_files
from .embed import Embedder
from .errors import DiskFullError, IndexCorruptError, IndexMismatchError, IndexNotFoundError, QAError
from .index import Index, kept_files, write_index
from .lexical import Tokenizer, build_lexical
from .parsing import Unread, parse_all
from .passage_table import PassageTable
from .store import NewDocument, StoredDocument, is_server

log = logging.getLogger(__name__)

# Bumped whenever ingest or chunking changes what passages come out of the same files,
# so that `qa index` re-chunks an index made by an older version instead of keeping it.
PASSAGES_VERSION = 4
# Passage texts handed to the embedder at once: its vectors go straight into the index's array,
# so a million passages never hold a second copy (10k vectors are 15 MB).
EMBED_SLICE = 10_000
# A saved web page loses its furniture: the seed pages lose 2.6%, 7.5%, 11.4% and 39.6% of
# their characters, ordinary documents nothing. More than half is a page misjudged: warn.
DROPPED_WARN_SHARE = 0.5

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Cleaned:
    """A document read as a saved web page: how much of it was dropped as furniture."""

    file: str
    dropped: int  # non-space characters outside every kept paragraph
    share: float  # of the document's non-space characters

    @property
    def suspicious(self) -> bool:
        return self.share > DROPPED_WARN_SHARE


@dataclass(frozen=True)
class BuildReport:
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()  # files left out, with the reason
    cleaned: tuple[Cleaned, ...] = ()  # files read now that lost web-page furniture
    embedded: int = 0  # distinct passage texts whose vectors were computed, not reused
    passages: int = 0
    seconds: float = 0.0

    @property
    def touched(self) -> bool:
        return bool(self.added or self.changed or self.removed)


@dataclass(frozen=True)
class ChunkerSettings:
    """Everything that shapes the stored passages and their index entries."""

    size: int
    overlap: int
    context: Context
    tokenizer: Tokenizer
    method: Chunker = "sentence"
    boilerplate: bool = True
    accent_field: bool = True


def build_index(
    corpus: str | Path,
    path: str | Path,
    *,
    embedder: Embedder,
    chunker: ChunkerSettings,
    rebuild: bool = False,
    progress: Callable[[int, str], Progress] | None = None,
) -> BuildReport:
    """Bring the index at `path` (a folder, or a server store's URL) up to date with the corpus,
    embedding only new text.

    Unchanged files keep their passages and vectors; a changed file is re-chunked and
    only passages whose text is new are embedded. `progress(total, label)` returns a
    callback that is told how many passages were embedded after each batch.
    """
    if is_server(path):
        return _build_in_server(
            corpus, str(path), embedder=embedder, chunker=chunker, rebuild=rebuild, progress=progress
        )
    started = time.perf_counter()
    path = Path(path)
    found = corpus_files(corpus)
    folder.claim(path, corpus=Path(corpus))
    with folder.locked(path):
        old = None if rebuild else _reusable(path, embedder=embedder, chunker=chunker)
        old_hashes = {d.id: d.sha256 for d in old.documents.values()} if old else {}
        plan = _plan(found, old_hashes, old.manifest if old else {})
        if old and not plan.todo and len(plan.unchanged) == len(old_hashes):
            folder.collect_garbage(path, keep=kept_files(old.manifest))
            return BuildReport(
                unchanged=plan.unchanged,
                skipped=_reported(plan.skipped),
                passages=len(old.chunks),
                seconds=time.perf_counter() - started,
            )
        try:
            with PassageTable(path) as passages:
                documents = _collect(plan, old, parse_all(plan.todo, chunker), passages)
                texts = passages.texts(chunker.context)
                embedded = _embed(texts, old=old, embedder=embedder, progress=progress, folder=path)
                lexical = build_lexical(
                    texts, scheme=chunker.tokenizer, accent_field=chunker.accent_field, folder=path
                )
                manifest = write_index(
                    path,
                    documents=documents,
                    passages=passages,
                    keys=embedded.keys,
                    vectors=embedded.vectors,
                    lexical=lexical,
                    embedder=_embedder_json(embedder),
                    chunker=_chunker_json(chunker),
                    corpus=str(Path(corpus).resolve()),
                    skipped=plan.skipped_record(),
                )
        except OSError as err:
            if err.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            raise _disk_full(path) from None
        folder.collect_garbage(path, keep=kept_files(manifest))
        return plan.report(
            documents, old_hashes, embedded=embedded.count, passages=len(passages), started=started
        )


def _disk_full(path: Path) -> DiskFullError:
    """The error for a disk that filled up mid-build, once the files this build wrote are gone: the
    manifest on disk still names the previous index, which goes on answering."""
    try:
        previous = folder.read_manifest(path)
    except QAError:
        previous = None
    folder.collect_garbage(path, keep=kept_files(previous))
    kept = "the previous index is unchanged and still answers" if previous else "no index was written"
    return DiskFullError(
        f"the disk holding the index {path} is full ({shutil.disk_usage(path).free / 1e6:,.1f} MB free): "
        f"{kept}. Free some space (a build needs about twice the index's size while it runs) "
        "or put the index on another disk (--index / QA_INDEX), then build again"
    )


def _build_in_server(
    corpus: str | Path, location: str, *, embedder: Embedder, chunker: ChunkerSettings, rebuild, progress
) -> BuildReport:
    """The same update on a server store: only new and changed documents are written, and
    removed ones deleted; the others' points are not touched."""
    from .qdrant import QdrantStore  # the database client is loaded only by those who use it

    started = time.perf_counter()
    found = corpus_files(corpus)
    manifest = {
        "embedder": _embedder_json(embedder),
        "chunker": _chunker_json(chunker),
        "corpus": str(Path(corpus).resolve()),
    }
    store = QdrantStore.create(location, manifest=manifest, rebuild=rebuild)
    try:
        return _update_server(
            store, found, embedder=embedder, chunker=chunker, progress=progress, started=started
        )
    finally:
        store.close()


def _update_server(store, found, *, embedder: Embedder, chunker: ChunkerSettings, progress, started: float):
    old_hashes = {d.id: d.sha256 for d in store.documents.values()}
    plan = _plan(found, old_hashes, store.manifest)
    parsed = dict(parse_all(plan.todo, chunker))
    taken = [t for doc_id, _ in plan.todo if (t := _take(doc_id, parsed[doc_id], plan)) is not None]
    texts = [contextualize(c, context=chunker.context) for _, _, chunks in taken for c in chunks]
    embedded = _embed(texts, old=None, embedder=embedder, progress=progress, folder=None)
    new, at = [], 0
    for stored, text, chunks in taken:
        span = slice(at, at + len(chunks))
        new.append(
            NewDocument(
                stored,
                text,
                tuple(chunks),
                tuple(texts[span]),
                tuple(embedded.keys[span]),
                embedded.vectors[span],
            )
        )
        at += len(chunks)
    documents = {**{d: None for d in plan.unchanged}, **{n.stored.id: None for n in new}}
    removed = [d for d in old_hashes if d not in documents or d in {n.stored.id for n in new}]
    if new or removed or store.manifest.get("skipped") != plan.skipped_record():
        store.write(new, remove=removed, skipped=plan.skipped_record())
    return plan.report(documents, old_hashes, embedded=embedded.count, passages=len(store), started=started)


@dataclass
class _Plan:
    """What a build found in the corpus: file hashes, what is unchanged, what to read."""

    hashes: dict[str, str]
    skipped: list[Skipped]
    unchanged: tuple[str, ...]
    known_bad: dict[str, Skipped]
    todo: list[tuple[str, Path]]
    cleaned: list[Cleaned] = dataclasses.field(default_factory=list)
    retry: set[str] = dataclasses.field(default_factory=set)  # skipped for want of a tool: read again

    def skipped_record(self) -> dict[str, list[str]]:
        """id → [sha256, reason] of files left out, so an unchanged bad file is not read again."""
        kept = self.hashes.keys() - self.retry
        return {s.file: [self.hashes[s.file], s.reason] for s in self.skipped if s.file in kept}

    def report(self, documents, old_hashes, *, embedded: int, passages: int, started: float) -> BuildReport:
        return BuildReport(
            added=tuple(d for d in documents if d not in old_hashes),
            changed=tuple(d for d in documents if d in old_hashes and d not in self.unchanged),
            removed=tuple(d for d in old_hashes if d not in documents),
            unchanged=self.unchanged,
            skipped=_reported(self.skipped),
            cleaned=tuple(self.cleaned),
            embedded=embedded,
            passages=passages,
            seconds=time.perf_counter() - started,
        )


def _plan(found, old_hashes: dict[str, str], manifest: dict) -> _Plan:
    skipped = list(found.skipped)
    hashes = {}  # files are read again where they are parsed: a corpus need not fit in memory
    for doc_id, file in found.files.items():
        try:
            hashes[doc_id] = folder.checksum(file)  # in blocks: a file of gigabytes is not held
        except OSError as err:
            skipped.append(Skipped(doc_id, f"cannot read it: {err.strerror}"))
    unchanged = tuple(d for d in hashes if old_hashes.get(d) == hashes[d])
    # a file skipped last time and not changed since is skipped again without reading it
    known_bad = _known_bad(manifest, hashes)
    skipped += known_bad.values()
    todo = [(d, found.files[d]) for d in hashes if d not in unchanged and d not in known_bad]
    return _Plan(hashes, skipped, unchanged, known_bad, todo)


def _collect(plan: _Plan, old: Index | None, parsed, passages: PassageTable) -> dict[str, StoredDocument]:
    """The new index's documents in order, each one's text and passages added to `passages`: an
    unchanged one's from the old index, the others' as they are parsed."""
    documents = {}
    for doc_id in plan.hashes:
        if doc_id in plan.known_bad:
            continue
        if doc_id in plan.unchanged:
            stored, text = old.documents[doc_id], old.document_text(doc_id)
            chunks = (old.chunks[row] for row in old.rows_of([doc_id]))
        else:
            taken = _take(doc_id, next(parsed)[1], plan)  # `todo` is in this order
            if taken is None:
                continue
            stored, text, chunks = taken
        documents[doc_id] = stored
        passages.add(doc_id, stored.title, text, chunks)
    parsed.close()  # the worker processes end now, not with the build
    return documents


# A document that would give no passage, or only passages without a letter or digit (spaces,
# zero-width characters), answers nothing: it is reported with the files that could not be read.
_NO_TEXT = "no text to index: the file is empty or holds no letters or digits; add it once it has text"


def _take(doc_id: str, result, plan: _Plan) -> tuple[StoredDocument, str, list[Chunk]] | None:
    """A parsed document as stored, or None when it could not be read (recorded in `plan`)."""
    if isinstance(result, Unread):
        plan.skipped.append(result.skipped)
        if not result.lasting:
            plan.retry.add(doc_id)
        return None
    doc = result.document
    plan.hashes[doc_id] = result.sha256  # what was parsed, should the file have changed since
    if not result.chunks or not any(c.isalnum() for c in doc.text):
        plan.skipped.append(Skipped(doc_id, _NO_TEXT))
        return None
    if doc.dropped:
        total = sum(not c.isspace() for c in doc.text)
        plan.cleaned.append(Cleaned(doc_id, doc.dropped, doc.dropped / total))
        if plan.cleaned[-1].suspicious:
            log.warning(
                "%s: %.0f%% of its text was dropped as web-page furniture",
                doc_id,
                100 * plan.cleaned[-1].share,
            )
    stored = StoredDocument(doc_id, doc.title, result.sha256, format=doc.format, pages=doc.pages, ocr=doc.ocr)
    return stored, doc.text, result.chunks


def _embedder_json(embedder: Embedder) -> dict:
    return {"name": embedder.name, "segmented": embedder.segmented, "id": embedder.id, "dim": embedder.dim}


@dataclass(frozen=True)
class _Embedded:
    keys: list[bytes]  # SHA-1 of each passage's embedded text: identical texts share one vector
    vectors: np.ndarray
    count: int  # distinct texts embedded now (the rest reused)


def _embed(texts: Sequence[str], *, old: Index | None, embedder, progress, folder: Path | None) -> _Embedded:
    """Vectors for every passage text: reused from the old index, or computed once per distinct
    text, EMBED_SLICE texts at a time straight into the result (the engine uses every core). The
    result lives in a temporary file in `folder`, its pages let go after each slice."""
    keys = [hashlib.sha1(t.encode("utf-8")).hexdigest().encode() for t in texts]
    reuse = {bytes(key): row for row, key in enumerate(old.keys)} if old else {}
    vectors = packed.scratch((len(texts), embedder.dim), np.float32, folder=folder)
    kept = [(i, reuse[key]) for i, key in enumerate(keys) if key in reuse]
    if kept:
        at, rows = map(np.array, zip(*kept))
        order = np.argsort(rows)  # read the old memory-mapped vectors front to back
        vectors[at[order]] = old.vectors[rows[order]]
        packed.release(vectors)
    first: dict[bytes, int] = {}  # each new text's first passage
    for i, key in enumerate(keys):
        if key not in reuse:
            first.setdefault(key, i)
    if first:
        callback = progress(len(first), "embedding passages") if progress else None
        fresh = np.fromiter(first.values(), dtype=np.int64, count=len(first))
        for at in range(0, len(fresh), EMBED_SLICE):
            rows = fresh[at : at + EMBED_SLICE]
            vectors[rows] = embedder.embed_passages([texts[i] for i in rows], progress=callback)
            packed.release(vectors)
        copies = [(i, first[key]) for i, key in enumerate(keys) if key in first and first[key] != i]
        for at in range(0, len(copies), EMBED_SLICE):  # in row order: 10k rows written all over the
            to, source = map(np.array, zip(*copies[at : at + EMBED_SLICE]))  # array made it all resident
            vectors[to] = packed.take(vectors, source)
            packed.release(vectors)
    return _Embedded(keys, vectors, len(first))


def _known_bad(manifest: dict, hashes: dict[str, str]) -> dict[str, Skipped]:
    recorded = manifest.get("skipped")
    if not isinstance(recorded, dict):
        return {}
    return {
        doc_id: Skipped(doc_id, str(entry[1]))
        for doc_id, entry in recorded.items()
        if isinstance(entry, list) and len(entry) == 2 and hashes.get(doc_id) == entry[0]
    }


def _reported(skipped: list[Skipped]) -> tuple[Skipped, ...]:
    for s in skipped:
        log.warning("skipped %s: %s", s.file, s.reason)
    return tuple(skipped)


def _reusable(path: Path, *, embedder: Embedder, chunker: ChunkerSettings) -> Index | None:
    """The existing index, if its passages and vectors can be kept."""
    try:
        old = Index.load(path)
    except IndexNotFoundError:
        return None
    except (IndexMismatchError, IndexCorruptError) as err:
        log.warning("rebuilding the whole index: %s", err)
        return None
    if old.embedder_id != embedder.id or old.manifest["chunker"] != _chunker_json(chunker):
        log.warning("embedder or chunker settings changed: rebuilding the whole index")
        return None
    return old


def _chunker_json(chunker: ChunkerSettings) -> dict:
    return {**dataclasses.asdict(chunker), "passages_version": PASSAGES_VERSION}
