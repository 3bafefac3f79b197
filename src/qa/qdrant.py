"""Qdrant store: the index on a Qdrant server (or the client's local engine in a folder).

Two collections per index. `<name>` holds the passages: a dense vector, the two BM25 fields as sparse
vectors (`qdrant_lexical.py`), text and span as payload, and the manifest as the collection's metadata.
`<name>_documents` holds one vector-less point per document: its catalog entry, full text and df
statistics. A document point is the COMMIT POINT of a document version: passages of a version that no
document point names are never returned, so a write killed at any moment leaves a consistent store
(see `write`). This module and its parts (`qdrant_connection.py`, `qdrant_lexical.py`) are the only
ones that import qdrant_client; `close_local` releases a local engine's folder for another process.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from qdrant_client import models

from .chunk import Chunk
from .errors import (
    DocumentNotFoundError,
    IndexCorruptError,
    IndexLocationError,
    IndexMismatchError,
    IndexNotFoundError,
    StoreError,
)
from .qdrant_connection import Cache, Connection, Location, close_local, parse_location
from .qdrant_lexical import (
    FIELDS,
    QdrantLexical,
    document_id,
)
from .qdrant_write import FORMAT_VERSION, WRITTEN, Writing
from .store import StoredDocument

log = logging.getLogger(__name__)

__all__ = ["QdrantStore", "close_local"]

# How long a generation read stays current: a question pays no extra round trip to learn whether the
# index changed, and a writer's update reaches every reader within 2 s, less than it takes to type.
STAMP_SECONDS = 2.0
SCROLL_PAGE = 256
# Passages whose payload (about 1 KB) or vector (1.5 KB) is remembered: a search's candidates, many
# questions over; a few tens of MB at most.
PAYLOAD_CACHE = 10_000
VECTOR_CACHE = 10_000


def _overlap(folder: Path, corpus: Path) -> bool:
    """Whether one holds the other: the next build would index the store's files as documents."""
    folder, corpus = folder.resolve(), corpus.resolve()
    return folder.is_relative_to(corpus) or corpus.is_relative_to(folder)


class Passages:
    """`chunks[row]`: a passage from the payloads a search brought back, or fetched."""

    def __init__(self, store: QdrantStore) -> None:
        self._store = store

    def __len__(self) -> int:
        return len(self._store)

    def __getitem__(self, row: int) -> Chunk:
        p = self._store._payload(int(row))
        title = self._store.documents[p["doc_id"]].title
        return Chunk(p["doc_id"], title, p["heading"], p["text"], p["start"], p["end"], p["words"])


class QdrantStore(Writing):
    """`store.Store` on Qdrant; `create` and `write` are what a build uses."""

    concurrent = False  # its caches are not shared between threads: one search at a time per question

    def __init__(self, where: Location, connection: Connection) -> None:
        self._where, self._call = where, connection
        self.location = where.text
        self._passages, self._documents = where.collection, f"{where.collection}_documents"
        self._key = (where.url, str(where.path), where.collection)
        read = where.read_consistency
        if isinstance(read, str):
            read = models.ReadConsistencyType(read)
        self._reads = {} if read is None else {"consistency": read}
        self._writes = {"wait": True}
        if where.ordering is not None:
            self._writes["ordering"] = models.WriteOrdering(where.ordering)
        self.manifest: dict = {}
        self.documents: dict[str, StoredDocument] = {}
        self._stats: dict[str, dict] = {}  # per document: passages, token totals per field
        self.chunks = Passages(self)
        self._payloads, self._vectors = Cache(PAYLOAD_CACHE), Cache(VECTOR_CACHE)
        self._generation, self._stamp_at = 0, 0.0
        self._given_corpus: str | None = None  # the corpus a build names: recorded by its write

    # --- opening ---------------------------------------------------------------------------------

    @classmethod
    def connect(cls, location: str) -> QdrantStore:
        """The index at `location` as it is now."""
        where = parse_location(location)
        store = cls(where, Connection(where))
        try:
            store._load()
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def create(cls, location: str, *, manifest: dict, rebuild: bool = False) -> QdrantStore:
        """The index at `location`, made empty first when asked to (`rebuild`) or when it was written
        with another embedder, chunker or format: its points could not be mixed with new ones."""
        where = parse_location(location)
        if where.path is not None and _overlap(where.path, Path(manifest["corpus"])):
            raise IndexLocationError(
                f"the local store {where.text} and the corpus folder {manifest['corpus']!r} overlap; keep "
                "the store outside the corpus, e.g. --store qdrant-local:qa-store next to the corpus folder"
            )
        store = cls(where, Connection(where))
        try:
            chunker = json.loads(json.dumps(manifest["chunker"]))  # as the metadata keeps it
            if store._call("collection_exists", store._passages):
                old = store._metadata()
                same = (
                    old.get("format_version") == FORMAT_VERSION
                    and old.get("embedder", {}).get("id") == manifest["embedder"]["id"]
                    and old.get("chunker") == chunker
                    and store._call("collection_exists", store._documents)
                )
                if rebuild or not same:
                    log.info("emptying the index at %s (rebuild or other settings)", location)
                    store._call("delete_collection", store._passages)
            if not store._call("collection_exists", store._passages):
                store._create_collections(manifest)
            store._load()
            store._given_corpus = manifest.get("corpus")
        except BaseException:
            store.close()
            raise
        return store

    @staticmethod
    def _fields(chunker: dict) -> tuple[str, ...]:
        return FIELDS if chunker.get("accent_field") else FIELDS[:1]

    def _metadata(self) -> dict:
        return dict(self._call("get_collection", self._passages).config.metadata or {})

    def _load(self) -> None:
        """Read the metadata and every document point (without its text): the committed view."""
        if not self._call("collection_exists", self._passages):
            raise IndexNotFoundError(
                f"no index in {self.location}; build one with: qa index --corpus DIR --store {self.location}"
            )
        metadata = self._metadata()
        hint = f"qa index --rebuild --corpus {metadata.get('corpus') or 'DIR'} --store {self.location}"
        if metadata.get("format_version") != FORMAT_VERSION:
            raise IndexMismatchError(
                f"the collection at {self.location} was not written by this version of qa (format "
                f"{metadata.get('format_version')}, this reads {FORMAT_VERSION}); rebuild it with: {hint}"
            )
        if not self._call("collection_exists", self._documents):
            raise IndexCorruptError(
                f"the index at {self.location} lacks its documents; rebuild it with: {hint}"
            )
        documents, stats = {}, {}
        df: dict[str, Counter] = {f: Counter() for f in self._fields(metadata["chunker"])}
        exclude = models.PayloadSelectorExclude(exclude=["text"])
        for point in self._scroll(self._documents, None, payload=exclude):
            p = point.payload
            documents[p["id"]] = StoredDocument(
                p["id"], p["title"], p["sha256"], format=p["format"], pages=tuple(p["pages"]), ocr=p["ocr"]
            )
            stats[p["id"]] = {"passages": p["passages"], "tokens": p["tokens"]}
            for field, counts in p["df"].items():
                df[field].update(counts)
        self.documents = dict(sorted(documents.items()))
        self._stats = stats
        self._size = sum(s["passages"] for s in stats.values())
        self.manifest = metadata | {"documents": {d.id: d.sha256 for d in self.documents.values()}}
        chunker = metadata["chunker"]
        self.lexical = QdrantLexical(self, scheme=chunker["tokenizer"], has_folded="folded" in df, df=df)
        self._generation, self._stamp_at = metadata.get("generation", 0), time.monotonic()

    def _scroll(self, collection: str, where: models.Filter | None, *, payload) -> Iterator:
        offset = None
        while True:
            points, offset = self._call(
                "scroll",
                collection,
                scroll_filter=where,
                limit=SCROLL_PAGE,
                offset=offset,
                with_payload=payload,
                with_vectors=False,
                **self._reads,
            )
            yield from points
            if offset is None:
                return

    def close(self) -> None:
        self._call.close()

    # --- what retrieval asks ---------------------------------------------------------------------

    @property
    def embedder_id(self) -> str:
        return self.manifest["embedder"]["id"]

    @property
    def option(self) -> str:
        return f"--store {self.location}"

    def __len__(self) -> int:
        return self._size

    def stamp(self) -> object:
        """The collection's generation, read again at most every STAMP_SECONDS."""
        written = WRITTEN.get(self._key, 0.0)
        if time.monotonic() - self._stamp_at >= STAMP_SECONDS or written >= self._stamp_at:
            self._generation = self._metadata().get("generation", 0)
            self._stamp_at = time.monotonic()
        return self._generation

    def key(self, row: int) -> bytes:
        return self._payload(int(row))["key"].encode("ascii")

    def passages(self) -> Iterator[Chunk]:
        """Every committed passage, document by document, in the order of the text."""
        for doc_id, stored in self.documents.items():
            version = models.FieldCondition(key="sha256", match=models.MatchValue(value=stored.sha256))
            document = models.FieldCondition(key="doc_id", match=models.MatchValue(value=doc_id))
            found = self._scroll(self._passages, models.Filter(must=[document, version]), payload=True)
            for p in sorted((point.payload for point in found), key=lambda p: (p["start"], p["end"])):
                yield Chunk(doc_id, stored.title, p["heading"], p["text"], p["start"], p["end"], p["words"])

    def passage_counts(self) -> dict[str, int]:
        return {doc_id: self._stats[doc_id]["passages"] for doc_id in self.documents}

    def document_text(self, doc_id: str) -> str:
        if doc_id not in self.documents:
            raise DocumentNotFoundError(
                f"{doc_id!r} is not a document of the index at {self.location}; "
                f"see its documents with: qa list {self.option}"
            )
        found = self._call(
            "retrieve", self._documents, ids=[document_id(doc_id)], with_payload=["text"], **self._reads
        )
        if not found:
            raise self._changed()
        return found[0].payload["text"]

    def rows_of(self, doc_ids: list[str]) -> np.ndarray:
        wanted = [d for d in doc_ids if d in self.documents]
        if not wanted:
            return np.empty(0, dtype=np.int64)
        where = models.Filter(must=[models.FieldCondition(key="doc_id", match=models.MatchAny(any=wanted))])
        points = self._scroll(self._passages, where, payload=["doc_id", "sha256"])
        return np.array(sorted(int(p.id) for p in points if self._committed(p.payload)), dtype=np.int64)

    def search_dense(
        self, vector: np.ndarray, n: int, *, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The `n` committed passages nearest by cosine, best first."""
        if n < 1 or not self._size or (rows is not None and len(rows) == 0):
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        query = np.asarray(vector, dtype=np.float32).tolist()
        found = self._ranked(lambda limit: self._query(query=query, using="dense", limit=limit, rows=rows), n)
        return (
            np.array([row for row, _ in found], dtype=np.int64),
            np.array([score for _, score in found], dtype=np.float32),
        )

    def similarity(self, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Inner products with the stored (unit) vectors, fetched once per passage."""
        if len(rows) == 0:
            return np.empty(0, dtype=np.float32)
        wanted = [int(r) for r in rows.tolist()]
        missing = [r for r in dict.fromkeys(wanted) if r not in self._vectors]
        if missing:
            found = self._call(
                "retrieve",
                self._passages,
                ids=missing,
                with_payload=False,
                with_vectors=["dense"],
                **self._reads,
            )
            for point in found:
                self._vectors.put(int(point.id), np.asarray(point.vector["dense"], dtype=np.float32))
        if any(r not in self._vectors for r in wanted):
            raise self._changed()
        matrix = np.stack([self._vectors[r] for r in wanted])
        return (matrix @ np.asarray(vector, dtype=np.float32)).astype(np.float32)

    def _changed(self) -> StoreError:
        return StoreError(f"the index at {self.location} changed during this search; ask again")

    def _committed(self, payload: dict) -> bool:
        stored = self.documents.get(payload.get("doc_id"))
        return stored is not None and stored.sha256 == payload.get("sha256")

    def _payload(self, row: int) -> dict:
        if row not in self._payloads:
            found = self._call("retrieve", self._passages, ids=[row], with_payload=True, **self._reads)
            if not found:
                raise self._changed()
            self._payloads.put(row, found[0].payload)
        return self._payloads[row]

    def _query(self, *, limit: int, rows: np.ndarray | None = None, payload: bool = True, **query) -> list:
        """One query of the passages, among `rows` when given; the payloads it brings are remembered."""
        where = None
        if rows is not None:
            where = models.Filter(must=[models.HasIdCondition(has_id=[int(r) for r in rows.tolist()])])
        points = self._call(
            "query_points",
            self._passages,
            query_filter=where,
            limit=limit,
            with_payload=payload,
            **query,
            **self._reads,
        ).points
        if payload:
            for point in points:
                self._payloads.put(int(point.id), point.payload)
        return points

    def _ranked(self, run: Callable[[int], list], n: int) -> list[tuple[int, float]]:
        """The `n` best committed passages of a query `run(limit)`: points of a version being written
        (or left by a killed write) take places, so the limit doubles until `n` are found or none is left."""
        limit = n
        while True:
            points = run(limit)
            kept = [(int(p.id), float(p.score)) for p in points if self._committed(p.payload)]
            if len(kept) >= n or len(points) < limit:
                return kept[:n]
            limit *= 2
