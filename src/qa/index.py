"""Index: a folder of plain files that `manifest.json` names, with their checksums.

    manifest.json            format, embedder, chunker, tokeniser, corpus file hashes
    texts-<sha>.txt          every document's text (NFC, UTF-8), one after another
    catalog-<sha>.json       each document's id, title, hash and place in texts; the headings
    chunks-<sha>.npz         every passage as numbers: document, character and byte span,
                             words, heading, key of the embedded text
    vectors-<sha>.npy        passage vectors (float32), row i = chunk i
    dense-<sha>.faiss        the FAISS index over them: exact, or HNSW above EXACT_MAX
    lexical-<sha>.npz        BM25 weight matrices; vocabulary-<sha>.json their terms

Data files are named by their content and never overwritten; a build writes new ones
and then replaces `manifest.json` in one rename, so a crash leaves the old index whole.
Texts and vectors are memory-mapped, and a passage's text is read only when it is shown,
so a million passages load in seconds and cost little resident memory.
This is the only module that knows FAISS.
"""

from __future__ import annotations

import dataclasses
import fcntl
import functools
import hashlib
import io
import json
import logging
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from .chunk import Chunk, Chunker, Context, chunk_document, contextualize
from .embed import Embedder
from .errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError
from .ingest import corpus_files, decode, parse_document
from .lexical import LexicalIndex, Tokenizer, build_lexical
from .text import count_words

log = logging.getLogger(__name__)

FORMAT_VERSION = 3
# Bumped whenever ingest or chunking changes what passages come out of the same files,
# so that `qa index` re-chunks an index made by an older version instead of keeping it.
PASSAGES_VERSION = 2

# Dense index by corpus size, measured by `make bench` (bench/results): exact search stays
# under a few milliseconds up to here; above, HNSW keeps recall@10 >= 0.98 at a fraction of the time.
EXACT_MAX = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256
MANIFEST = "manifest.json"
PARALLEL_FROM = 50  # documents per worker process below which parsing stays in-process

Progress = Callable[[int], None]


@dataclass(frozen=True)
class StoredDocument:
    id: str
    title: str
    sha256: str
    offset: int = 0  # its bytes in the texts file
    length: int = 0


class ChunkTable(Sequence[Chunk]):
    """Every passage as a few numbers; a `Chunk`, text included, is made only when asked for."""

    def __init__(self, documents: list[StoredDocument], headings: list[str], arrays, texts: np.ndarray):
        self.documents, self.headings, self.texts = documents, headings, texts
        self.doc, self.start, self.end = arrays["doc"], arrays["start"], arrays["end"]
        self.byte_start, self.byte_end = arrays["byte_start"], arrays["byte_end"]
        self.words, self.heading = arrays["words"], arrays["heading"]

    def __len__(self) -> int:
        return len(self.doc)

    def __getitem__(self, row: int) -> Chunk:  # type: ignore[override]
        d = self.documents[self.doc[row]]
        text = self.texts[d.offset + self.byte_start[row] : d.offset + self.byte_end[row]].tobytes()
        return Chunk(
            d.id,
            d.title,
            self.headings[self.heading[row]],
            text.decode("utf-8"),
            int(self.start[row]),
            int(self.end[row]),
            int(self.words[row]),
        )


@dataclass(frozen=True)
class BuildReport:
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    embedded: int = 0  # passages whose vectors were computed, not reused
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


@dataclass
class Index:
    path: Path
    manifest: dict
    documents: dict[str, StoredDocument]
    chunks: ChunkTable
    keys: np.ndarray  # per chunk: SHA-1 (hex) of the text that was embedded, to reuse its vector
    dense: faiss.Index  # exact (flat) or approximate (HNSW), by corpus size
    vectors: np.ndarray  # every passage's vector, memory-mapped: exact scores and rebuilds
    lexical: LexicalIndex
    texts: np.ndarray  # the texts file, memory-mapped bytes
    _positions: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def embedder_id(self) -> str:
        return self.manifest["embedder"]["id"]

    def document_text(self, doc_id: str) -> str:
        d = self.documents[doc_id]
        return self.texts[d.offset : d.offset + d.length].tobytes().decode("utf-8")

    def rows_of(self, doc_ids: list[str]) -> np.ndarray:
        if not self._positions:
            self._positions.update({doc_id: i for i, doc_id in enumerate(self.documents)})
        wanted = [self._positions[d] for d in doc_ids if d in self._positions]
        return np.flatnonzero(np.isin(self.chunks.doc, wanted)).astype(np.int64)

    def row_of(self, doc_id: str, start: int, end: int) -> int:
        """The row of the passage with this span."""
        rows = self.rows_of([doc_id])
        match = rows[(self.chunks.start[rows] == start) & (self.chunks.end[rows] == end)]
        return int(match[0])

    def search_dense(
        self, vector: np.ndarray, n: int, *, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The `n` nearest passages by inner product: (rows, similarities), best first.

        An approximate index proposes candidates; their exact similarities from the stored
        vectors decide the order. A search restricted to few rows is exact over those rows.
        """
        vector = vector.astype(np.float32)
        if rows is not None and len(rows) <= EXACT_MAX:
            sims = self.similarity(vector, rows)
            top = np.argsort(-sims, kind="stable")[:n]
            return rows[top], sims[top]
        n = min(n, self.dense.ntotal)
        if n <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        selector = None if rows is None else faiss.IDSelectorBatch(rows)
        if isinstance(self.dense, faiss.IndexHNSW):
            ef = max(self.manifest["dense"]["ef_search"], n)
            params = faiss.SearchParametersHNSW(efSearch=ef, sel=selector)
        else:
            params = None if selector is None else faiss.SearchParameters(sel=selector)
        sims, ids = self.dense.search(vector.reshape(1, -1), n, params=params)
        if isinstance(self.dense, faiss.IndexFlat):  # already exact
            keep = ids[0] >= 0
            return ids[0][keep].astype(np.int64), sims[0][keep]
        found = ids[0][ids[0] >= 0].astype(np.int64)
        sims = self.similarity(vector, found)
        order = np.argsort(-sims, kind="stable")
        return found[order], sims[order]

    def similarity(self, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Exact inner product of the query with the given passages' stored vectors."""
        if len(rows) == 0:
            return np.empty(0, dtype=np.float32)
        order = np.argsort(rows)  # the vectors are memory-mapped: read them front to back
        sims = np.empty(len(rows), dtype=np.float32)
        sims[order] = self.vectors[rows[order]] @ vector.astype(np.float32)
        return sims

    @classmethod
    def load(cls, path: str | Path) -> Index:
        path = Path(path)
        manifest = read_manifest(path)
        files = manifest["files"]
        for name in files.values():
            _verify(path, name, manifest["checksums"][name])
        catalog = json.loads((path / files["catalog"]).read_text(encoding="utf-8"))
        documents = {d["id"]: StoredDocument(**d) for d in catalog["documents"]}
        size = (path / files["texts"]).stat().st_size
        texts = np.memmap(path / files["texts"], dtype=np.uint8, mode="r") if size else np.empty(0, np.uint8)
        with np.load(path / files["chunks"], allow_pickle=False) as arrays:
            table = {name: arrays[name] for name in arrays.files}
        chunks = ChunkTable(list(documents.values()), catalog["headings"], table, texts)
        keys = table["key"]
        dense = faiss.read_index(str(path / files["dense"]))
        vectors = np.load(path / files["vectors"], mmap_mode="r", allow_pickle=False)
        with np.load(path / files["lexical"], allow_pickle=False) as arrays:
            vocabularies = json.loads((path / files["vocabulary"]).read_text(encoding="utf-8"))
            lexical = LexicalIndex.from_arrays(manifest["chunker"]["tokenizer"], arrays, vocabularies)
        if not (dense.ntotal == len(vectors) == lexical.exact.counts.shape[0] == len(chunks)):
            raise IndexCorruptError(
                f"index at {path} has {len(chunks)} passages but {dense.ntotal} vectors; "
                "rebuild it with: qa index --rebuild"
            )
        return cls(path, manifest, documents, chunks, keys, dense, vectors, lexical, texts)


def read_manifest(path: Path) -> dict:
    file = path / MANIFEST
    if not file.is_file():
        raise IndexNotFoundError(
            f"no index at {str(path)!r}; build one with: qa index --corpus DIR --index {path}"
        )
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise IndexCorruptError(
            f"cannot read {file} ({err}); rebuild the index with: qa index --rebuild --index {path}"
        ) from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index at {str(path)!r} has format version {manifest.get('format_version')}, this "
            f"version of qa reads {FORMAT_VERSION}; rebuild it with: qa index --rebuild --index {path}"
        )
    return manifest


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
    files = corpus_files(corpus)
    data = {doc_id: p.read_bytes() for doc_id, p in files.items()}
    hashes = {doc_id: hashlib.sha256(b).hexdigest() for doc_id, b in data.items()}
    path.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        old = None if rebuild else _reusable(path, embedder=embedder, chunker=chunker)
        old_hashes = {d.id: d.sha256 for d in old.documents.values()} if old else {}
        added = tuple(d for d in hashes if d not in old_hashes)
        changed = tuple(d for d in hashes if d in old_hashes and old_hashes[d] != hashes[d])
        removed = tuple(d for d in old_hashes if d not in hashes)
        unchanged = tuple(d for d in hashes if old_hashes.get(d) == hashes[d])
        if old and not (added or changed or removed):
            return BuildReport(
                unchanged=unchanged, passages=len(old.chunks), seconds=time.perf_counter() - started
            )

        todo_docs = [
            (doc_id, str(files[doc_id]), data[doc_id]) for doc_id in hashes if doc_id not in unchanged
        ]
        parsed = dict(_parse_all(todo_docs, chunker))
        documents: dict[str, tuple[StoredDocument, str]] = {}
        chunks: list[Chunk] = []
        for doc_id in hashes:
            if doc_id in unchanged:
                documents[doc_id] = (old.documents[doc_id], old.document_text(doc_id))
                chunks.extend(old.chunks[row] for row in old.rows_of([doc_id]))
                continue
            title, text, doc_chunks = parsed[doc_id]
            documents[doc_id] = (StoredDocument(doc_id, title, hashes[doc_id]), text)
            chunks.extend(doc_chunks)

        texts = [contextualize(c, context=chunker.context) for c in chunks]
        keys = [hashlib.sha1(t.encode("utf-8")).hexdigest().encode() for t in texts]
        reuse = {}
        if old:
            reuse = {bytes(key): row for row, key in enumerate(old.keys)}
        todo = [i for i, key in enumerate(keys) if key not in reuse]
        vectors = np.empty((len(chunks), embedder.dim), dtype=np.float32)
        kept = [(i, reuse[key]) for i, key in enumerate(keys) if key in reuse]
        if kept:
            at, rows = map(np.array, zip(*kept))
            order = np.argsort(rows)  # read the old memory-mapped vectors front to back
            vectors[at[order]] = old.vectors[rows[order]]
        if todo:
            callback = progress(len(todo), "embedding passages") if progress else None
            vectors[todo] = embedder.embed_passages([texts[i] for i in todo], progress=callback)

        _write(
            path,
            documents=documents,
            chunks=chunks,
            keys=keys,
            vectors=vectors,
            lexical=build_lexical(texts, scheme=chunker.tokenizer, accent_field=chunker.accent_field),
            embedder=embedder,
            chunker=chunker,
        )
        return BuildReport(
            added,
            changed,
            removed,
            unchanged,
            embedded=len(todo),
            passages=len(chunks),
            seconds=time.perf_counter() - started,
        )


def _parse(job: tuple[str, str, bytes], chunker: ChunkerSettings) -> tuple[str, tuple[str, str, list[Chunk]]]:
    doc_id, name, data = job
    document = parse_document(decode(data, name=name), doc_id=doc_id, boilerplate=chunker.boilerplate)
    chunks = chunk_document(document, size=chunker.size, overlap=chunker.overlap, method=chunker.method)
    return doc_id, (document.title, document.text, chunks)


def _parse_all(jobs: list[tuple[str, str, bytes]], chunker: ChunkerSettings):
    """Parse and chunk documents, on every core when there are many (pyvi is the slow part)."""
    workers = min(os.cpu_count() or 1, len(jobs) // PARALLEL_FROM)
    if workers < 2:
        return [_parse(job, chunker) for job in jobs]
    count_words("nạp pyvi")  # load the segmenter once, before the workers fork

    # fork: workers inherit the loaded modules, and callers' scripts need no __main__ guard
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(functools.partial(_parse, chunker=chunker), jobs, chunksize=16))


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


def dense_index(vectors: np.ndarray) -> tuple[faiss.Index, dict]:
    """Exact search up to EXACT_MAX passages; above, HNSW over 8-bit scalar-quantised vectors."""
    n, dim = vectors.shape
    if n <= EXACT_MAX:
        index = faiss.IndexFlatIP(dim)
        index.add(vectors)
        return index, {"type": "flat", "count": n}
    index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    sample = vectors[np.random.default_rng(0).choice(n, min(n, 100_000), replace=False)]
    index.train(np.ascontiguousarray(sample))
    for at in range(0, n, 100_000):
        index.add(np.ascontiguousarray(vectors[at : at + 100_000]))
    params = {"M": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION, "ef_search": HNSW_EF_SEARCH}
    return index, {"type": "hnsw-sq8", "count": n, **params}


def _write(path: Path, *, documents, chunks, keys, vectors, lexical, embedder, chunker) -> None:
    index, dense = dense_index(vectors)
    position = {doc_id: i for i, doc_id in enumerate(documents)}
    blobs, catalog, byte_at, offset = [], [], {}, 0
    for doc_id, (stored, text) in documents.items():
        blob = text.encode("utf-8")
        blobs.append(blob)
        catalog.append({**dataclasses.asdict(stored), "offset": offset, "length": len(blob)})
        offset += len(blob)
        byte_at[doc_id] = _byte_offsets(text)
    headings: dict[str, int] = {}
    table = {
        "doc": np.array([position[c.doc_id] for c in chunks], dtype=np.int32),
        "start": np.array([c.start for c in chunks], dtype=np.int64),
        "end": np.array([c.end for c in chunks], dtype=np.int64),
        "byte_start": np.array([byte_at[c.doc_id](c.start) for c in chunks], dtype=np.int64),
        "byte_end": np.array([byte_at[c.doc_id](c.end) for c in chunks], dtype=np.int64),
        "words": np.array([c.words for c in chunks], dtype=np.int32),
        "heading": np.array([headings.setdefault(c.heading, len(headings)) for c in chunks], dtype=np.int32),
        "key": np.array(keys, dtype="S40"),
    }
    written = {
        "texts": _put(path, "texts", ".txt", b"".join(blobs)),
        "catalog": _put(
            path,
            "catalog",
            ".json",
            json.dumps({"documents": catalog, "headings": list(headings)}, ensure_ascii=False).encode(
                "utf-8"
            ),
        ),
        "chunks": _put(path, "chunks", ".npz", _npz(table)),
        "dense": _put(path, "dense", ".faiss", faiss.serialize_index(index).tobytes()),
        "vectors": _put(path, "vectors", ".npy", _npy(vectors)),
        "lexical": _put(path, "lexical", ".npz", _npz(lexical.arrays())),
        "vocabulary": _put(
            path,
            "vocabulary",
            ".json",
            json.dumps(lexical.vocabularies(), ensure_ascii=False).encode("utf-8"),
        ),
    }
    manifest = {
        "format_version": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "embedder": {
            "name": embedder.name,
            "segmented": embedder.segmented,
            "id": embedder.id,
            "dim": embedder.dim,
        },
        "chunker": _chunker_json(chunker),
        "dense": dense,
        "counts": {"documents": len(documents), "passages": len(chunks)},
        "documents": {doc_id: stored.sha256 for doc_id, (stored, _) in documents.items()},
        "files": {role: name for role, (name, _) in written.items()},
        "checksums": {name: sha for name, sha in written.values()},
    }
    _atomic_write(path / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"))
    keep = set(manifest["checksums"]) | {MANIFEST, ".lock"}
    for stale in path.iterdir():
        if stale.is_file() and stale.name not in keep:
            stale.unlink()
    log.info("wrote index at %s: %d documents, %d passages", path, len(documents), len(chunks))


def _byte_offsets(text: str) -> Callable[[int], int]:
    """Maps character offsets of `text` to UTF-8 byte offsets."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    sizes = 1 + (codes >= 0x80).astype(np.int64) + (codes >= 0x800) + (codes >= 0x10000)
    cumulative = np.concatenate([[0], np.cumsum(sizes)])
    return lambda at: int(cumulative[at])


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _put(path: Path, role: str, suffix: str, data: bytes) -> tuple[str, str]:
    """Write a data file named by its content; an identical one is simply kept."""
    sha = hashlib.sha256(data).hexdigest()
    name = f"{role}-{sha[:16]}{suffix}"
    if not (path / name).is_file():
        _atomic_write(path / name, data)
    return name, sha


def _atomic_write(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _verify(path: Path, name: str, sha: str) -> None:
    file = path / name
    if not file.is_file():
        raise IndexCorruptError(
            f"index file {file} is missing; rebuild with: qa index --rebuild --index {path}"
        )
    digest = hashlib.sha256()
    with file.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != sha:
        raise IndexCorruptError(
            f"index file {file} does not match its checksum; rebuild with: qa index --rebuild --index {path}"
        )


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One build at a time per index folder; readers need no lock."""
    with open(path / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
