"""Build: turn a corpus folder into an index, re-reading and re-embedding only what changed.

One bad file never stops a build: it is skipped, with its reason in the report, and the
rest is indexed. Identical passage texts are embedded once.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import folder
from .chunk import Chunk, Chunker, Context, chunk_document, contextualize
from .corpus import Skipped, corpus_files
from .embed import Embedder
from .errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError, MissingToolError, QAError
from .index import Index, StoredDocument, kept_files, write_index
from .ingest import Document, parse_document
from .lexical import Tokenizer, build_lexical
from .readers import extract
from .text import count_words

log = logging.getLogger(__name__)

# Bumped whenever ingest or chunking changes what passages come out of the same files,
# so that `qa index` re-chunks an index made by an older version instead of keeping it.
PASSAGES_VERSION = 3
PARALLEL_FROM = 50  # documents per worker process below which parsing stays in-process
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


@dataclass(frozen=True)
class _Parsed:
    document: Document
    chunks: list[Chunk]
    sha256: str  # of the bytes parsed


@dataclass(frozen=True)
class _Unread:
    """A file that could not be read now; `lasting` when only changing the file can help."""

    skipped: Skipped
    lasting: bool = True


def build_index(
    corpus: str | Path,
    path: str | Path,
    *,
    embedder: Embedder,
    chunker: ChunkerSettings,
    rebuild: bool = False,
    progress: Callable[[int, str], Progress] | None = None,
) -> BuildReport:
    """Bring the index at `path` up to date with the corpus, embedding only new text.

    Unchanged files keep their passages and vectors; a changed file is re-chunked and
    only passages whose text is new are embedded. `progress(total, label)` returns a
    callback that is told how many passages were embedded after each batch.
    """
    started = time.perf_counter()
    path = Path(path)
    found = corpus_files(corpus)
    folder.claim(path, corpus=Path(corpus))
    with folder.locked(path):
        skipped = list(found.skipped)
        hashes = {}  # files are read again where they are parsed: a corpus need not fit in memory
        for doc_id, file in found.files.items():
            try:
                hashes[doc_id] = hashlib.sha256(file.read_bytes()).hexdigest()
            except OSError as err:
                skipped.append(Skipped(doc_id, f"cannot read it: {err.strerror}"))
        old = None if rebuild else _reusable(path, embedder=embedder, chunker=chunker)
        old_hashes = {d.id: d.sha256 for d in old.documents.values()} if old else {}
        unchanged = tuple(d for d in hashes if old_hashes.get(d) == hashes[d])
        # a file skipped last time and not changed since is skipped again without reading it
        known_bad = _known_bad(old.manifest if old else {}, hashes)
        skipped += known_bad.values()
        todo = [
            (doc_id, found.files[doc_id])
            for doc_id in hashes
            if doc_id not in unchanged and doc_id not in known_bad
        ]
        if old and not todo and len(unchanged) == len(old_hashes):
            folder.collect_garbage(path, keep=kept_files(old.manifest))
            return BuildReport(
                unchanged=unchanged,
                skipped=_reported(skipped),
                passages=len(old.chunks),
                seconds=time.perf_counter() - started,
            )

        documents: dict[str, tuple[StoredDocument, str]] = {}
        chunks: list[Chunk] = []
        cleaned: list[Cleaned] = []
        retry: set[str] = set()  # skipped for want of a tool: read again once it is installed
        parsed = dict(_parse_all(todo, chunker))
        for doc_id in hashes:
            if doc_id in known_bad:
                continue
            if doc_id in unchanged:
                documents[doc_id] = (old.documents[doc_id], old.document_text(doc_id))
                chunks.extend(old.chunks[row] for row in old.rows_of([doc_id]))
                continue
            result = parsed[doc_id]
            if isinstance(result, _Unread):
                skipped.append(result.skipped)
                if not result.lasting:
                    retry.add(doc_id)
                continue
            doc = result.document
            hashes[doc_id] = result.sha256  # what was parsed, should the file have changed since
            if not result.chunks:
                log.warning("%s: no text found to index", doc_id)
            if doc.dropped:
                total = sum(not c.isspace() for c in doc.text)
                cleaned.append(Cleaned(doc_id, doc.dropped, doc.dropped / total))
                if cleaned[-1].suspicious:
                    log.warning(
                        "%s: %.0f%% of its text was dropped as web-page furniture",
                        doc_id,
                        100 * cleaned[-1].share,
                    )
            stored = StoredDocument(
                doc_id, doc.title, hashes[doc_id], format=doc.format, pages=doc.pages, ocr=doc.ocr
            )
            documents[doc_id] = (stored, doc.text)
            chunks.extend(result.chunks)

        texts = [contextualize(c, context=chunker.context) for c in chunks]
        embedded = _embed(texts, old=old, embedder=embedder, progress=progress)
        lexical = build_lexical(texts, scheme=chunker.tokenizer, accent_field=chunker.accent_field)
        del texts, parsed  # a million passages' texts: not held while the index is written
        manifest = write_index(
            path,
            documents=documents,
            chunks=chunks,
            keys=embedded.keys,
            vectors=embedded.vectors,
            lexical=lexical,
            embedder={
                "name": embedder.name,
                "segmented": embedder.segmented,
                "id": embedder.id,
                "dim": embedder.dim,
            },
            chunker=_chunker_json(chunker),
            corpus=str(Path(corpus).resolve()),
            skipped={s.file: [hashes[s.file], s.reason] for s in skipped if s.file in hashes.keys() - retry},
        )
        folder.collect_garbage(path, keep=kept_files(manifest))
        return BuildReport(
            added=tuple(d for d in documents if d not in old_hashes),
            changed=tuple(d for d in documents if d in old_hashes and d not in unchanged),
            removed=tuple(d for d in old_hashes if d not in documents),
            unchanged=unchanged,
            skipped=_reported(skipped),
            cleaned=tuple(cleaned),
            embedded=embedded.count,
            passages=len(chunks),
            seconds=time.perf_counter() - started,
        )


@dataclass(frozen=True)
class _Embedded:
    keys: list[bytes]  # SHA-1 of each passage's embedded text: identical texts share one vector
    vectors: np.ndarray
    count: int  # distinct texts embedded now (the rest reused)


def _embed(texts: list[str], *, old: Index | None, embedder, progress) -> _Embedded:
    """Vectors for every passage text: reused from the old index, or computed once per distinct
    text, EMBED_SLICE texts at a time straight into the result (the engine uses every core)."""
    keys = [hashlib.sha1(t.encode("utf-8")).hexdigest().encode() for t in texts]
    reuse = {bytes(key): row for row, key in enumerate(old.keys)} if old else {}
    vectors = np.empty((len(texts), embedder.dim), dtype=np.float32)
    kept = [(i, reuse[key]) for i, key in enumerate(keys) if key in reuse]
    if kept:
        at, rows = map(np.array, zip(*kept))
        order = np.argsort(rows)  # read the old memory-mapped vectors front to back
        vectors[at[order]] = old.vectors[rows[order]]
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
        copies = [(i, first[key]) for i, key in enumerate(keys) if key in first and first[key] != i]
        if copies:
            to, source = map(np.array, zip(*copies))
            vectors[to] = vectors[source]
    return _Embedded(keys, vectors, len(first))


def _parse(job: tuple[str, Path], chunker: ChunkerSettings) -> tuple[str, _Parsed | _Unread]:
    doc_id, file = job
    try:
        data = file.read_bytes()
    except OSError as err:
        return doc_id, _Unread(Skipped(doc_id, f"cannot read it: {err.strerror}"), lasting=False)
    try:
        document = parse_document(extract(data, name=doc_id), doc_id=doc_id, boilerplate=chunker.boilerplate)
        chunks = chunk_document(document, size=chunker.size, overlap=chunker.overlap, method=chunker.method)
    except MissingToolError as err:
        return doc_id, _Unread(Skipped(doc_id, str(err)), lasting=False)
    except QAError as err:
        return doc_id, _Unread(Skipped(doc_id, str(err)))
    except Exception as err:  # a fault of ours must cost one document, not the whole build
        log.debug("%s could not be read", file, exc_info=True)
        reason = f"could not be read ({type(err).__name__}: {err}); please report it"
        return doc_id, _Unread(Skipped(doc_id, reason))
    # its paragraphs were only needed for chunking: a million of them are not kept
    document = dataclasses.replace(document, blocks=())
    return doc_id, _Parsed(document, chunks, hashlib.sha256(data).hexdigest())


def _parse_all(jobs: list[tuple[str, Path]], chunker: ChunkerSettings):
    """Parse and chunk documents, on every core when there are many (pyvi is the slow part)."""
    workers = min(os.cpu_count() or 1, len(jobs) // PARALLEL_FROM)
    if workers < 2:
        return [_parse(job, chunker) for job in jobs]
    count_words("nạp pyvi")  # load the segmenter once, before the workers fork

    # fork: workers inherit the loaded modules, and callers' scripts need no __main__ guard
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(functools.partial(_parse, chunker=chunker), jobs, chunksize=16))


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
