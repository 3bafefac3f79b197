"""Index: a folder of plain files that `manifest.json` names, with their checksums.

    manifest.json            format, embedder, chunker, tokeniser, corpus file hashes
    documents-<sha>.jsonl    id, title, hash and full text of every document
    chunks-<sha>.jsonl       every passage: document, heading, span, embedding key
    dense-<sha>.faiss        passage vectors (FAISS), row i = chunk i
    lexical-<sha>.npz        BM25 weight matrices; vocabulary-<sha>.json their terms

Data files are named by their content and never overwritten; a build writes new ones
and then replaces `manifest.json` in one rename, so a crash leaves the old index whole.
This is the only module that knows FAISS.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import io
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
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

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
# Bumped whenever ingest or chunking changes what passages come out of the same files,
# so that `qa index` re-chunks an index made by an older version instead of keeping it.
PASSAGES_VERSION = 2
MANIFEST = "manifest.json"

Progress = Callable[[int], None]


@dataclass(frozen=True)
class StoredDocument:
    id: str
    title: str
    sha256: str
    text: str


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
    chunks: list[Chunk]
    keys: list[str]  # embedding key per chunk: hash of the text that was embedded
    dense: faiss.Index
    lexical: LexicalIndex
    _rows_by_doc: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _rows_by_span: dict[tuple[str, int, int], int] = field(default_factory=dict, repr=False)

    @property
    def embedder_id(self) -> str:
        return self.manifest["embedder"]["id"]

    def rows_of(self, doc_ids: list[str]) -> np.ndarray:
        if not self._rows_by_doc:
            by_doc: dict[str, list[int]] = {}
            for row, c in enumerate(self.chunks):
                by_doc.setdefault(c.doc_id, []).append(row)
            self._rows_by_doc.update({d: np.array(r, dtype=np.int64) for d, r in by_doc.items()})
        parts = [self._rows_by_doc.get(d, np.empty(0, dtype=np.int64)) for d in doc_ids]
        return np.sort(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)

    def row_of(self, doc_id: str, start: int, end: int) -> int:
        """The row of the passage with this span."""
        if not self._rows_by_span:
            self._rows_by_span.update({(c.doc_id, c.start, c.end): row for row, c in enumerate(self.chunks)})
        return self._rows_by_span[(doc_id, start, end)]

    def search_dense(
        self, vector: np.ndarray, n: int, *, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The `n` nearest passages by inner product: (rows, similarities), best first."""
        n = min(n, self.dense.ntotal if rows is None else len(rows))
        if n <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        params = None
        if rows is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(rows))
        sims, ids = self.dense.search(vector.reshape(1, -1).astype(np.float32), n, params=params)
        keep = ids[0] >= 0
        return ids[0][keep].astype(np.int64), sims[0][keep]

    def similarity(self, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Inner product of the query with the given passages' vectors."""
        if len(rows) == 0:
            return np.empty(0, dtype=np.float32)
        return self.dense.reconstruct_batch(rows) @ vector.astype(np.float32)

    def vectors(self) -> np.ndarray:
        return (
            self.dense.reconstruct_n(0, self.dense.ntotal)
            if self.dense.ntotal
            else np.empty((0, self.dense.d), dtype=np.float32)
        )

    @classmethod
    def load(cls, path: str | Path) -> Index:
        path = Path(path)
        manifest = read_manifest(path)
        files = manifest["files"]
        for name in files.values():
            _verify(path, name, manifest["checksums"][name])
        documents = {}
        for line in (path / files["documents"]).read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            documents[d["id"]] = StoredDocument(d["id"], d["title"], d["sha256"], d["text"])
        chunks, keys = [], []
        for line in (path / files["chunks"]).read_text(encoding="utf-8").splitlines():
            c = json.loads(line)
            doc = documents[c["doc_id"]]
            chunks.append(
                Chunk(
                    doc.id,
                    doc.title,
                    c["heading"],
                    doc.text[c["start"] : c["end"]],
                    c["start"],
                    c["end"],
                    c["words"],
                )
            )
            keys.append(c["key"])
        dense = faiss.read_index(str(path / files["dense"]))
        with np.load(path / files["lexical"], allow_pickle=False) as arrays:
            vocabularies = json.loads((path / files["vocabulary"]).read_text(encoding="utf-8"))
            lexical = LexicalIndex.from_arrays(manifest["chunker"]["tokenizer"], arrays, vocabularies)
        if dense.ntotal != len(chunks) or lexical.exact.weights.shape[0] != len(chunks):
            raise IndexCorruptError(
                f"index at {path} has {len(chunks)} passages but {dense.ntotal} vectors; "
                "rebuild it with: qa index --rebuild"
            )
        return cls(path, manifest, documents, chunks, keys, dense, lexical)


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

        documents: dict[str, StoredDocument] = {}
        chunks: list[Chunk] = []
        for doc_id in hashes:
            if doc_id in unchanged:
                documents[doc_id] = old.documents[doc_id]
                chunks.extend(old.chunks[row] for row in old.rows_of([doc_id]))
                continue
            document = parse_document(
                decode(data[doc_id], name=str(files[doc_id])), doc_id=doc_id, boilerplate=chunker.boilerplate
            )
            documents[doc_id] = StoredDocument(doc_id, document.title, hashes[doc_id], document.text)
            chunks.extend(
                chunk_document(document, size=chunker.size, overlap=chunker.overlap, method=chunker.method)
            )

        texts = [contextualize(c, context=chunker.context) for c in chunks]
        keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
        reuse = {}
        if old:
            old_vectors = old.vectors()
            reuse = {key: old_vectors[row] for row, key in enumerate(old.keys)}
        todo = [i for i, key in enumerate(keys) if key not in reuse]
        vectors = np.empty((len(chunks), embedder.dim), dtype=np.float32)
        for i, key in enumerate(keys):
            if key in reuse:
                vectors[i] = reuse[key]
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


def _write(path: Path, *, documents, chunks, keys, vectors, lexical, embedder, chunker) -> None:
    index = faiss.IndexFlatIP(embedder.dim)
    if len(vectors):
        index.add(vectors)
    written = {
        "documents": _put(
            path,
            "documents",
            ".jsonl",
            "".join(
                json.dumps(
                    {"id": d.id, "title": d.title, "sha256": d.sha256, "text": d.text}, ensure_ascii=False
                )
                + "\n"
                for d in documents.values()
            ).encode("utf-8"),
        ),
        "chunks": _put(
            path,
            "chunks",
            ".jsonl",
            "".join(
                json.dumps(
                    {
                        "doc_id": c.doc_id,
                        "heading": c.heading,
                        "start": c.start,
                        "end": c.end,
                        "words": c.words,
                        "key": key,
                    },
                    ensure_ascii=False,
                )
                + "\n"
                for c, key in zip(chunks, keys)
            ).encode("utf-8"),
        ),
        "dense": _put(path, "dense", ".faiss", faiss.serialize_index(index).tobytes()),
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
        "dense": {"type": "flat-ip", "count": int(index.ntotal)},
        "counts": {"documents": len(documents), "passages": len(chunks)},
        "documents": {d.id: d.sha256 for d in documents.values()},
        "files": {role: name for role, (name, _) in written.items()},
        "checksums": {name: sha for name, sha in written.values()},
    }
    _atomic_write(path / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"))
    keep = set(manifest["checksums"]) | {MANIFEST, ".lock"}
    for stale in path.iterdir():
        if stale.is_file() and stale.name not in keep:
            stale.unlink()
    log.info("wrote index at %s: %d documents, %d passages", path, len(documents), len(chunks))


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
