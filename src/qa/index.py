"""Index: a folder of plain files that `manifest.json` names, with their checksums.

    manifest.json            format, embedder, chunker, tokeniser, corpus file hashes,
                             where each array lies in the files below
    texts-<sha>.txt          every document's text (NFC, UTF-8), one after another
    catalog-<sha>.json       each document's id, title, hash and place in texts; the headings
    chunks-<sha>.npy         every passage as numbers: document, character and byte span,
                             words, heading, key of the embedded text
    vectors-<sha>.npy        passage vectors (float32), row i = chunk i
    dense-<sha>.faiss        the FAISS index over them: exact, or HNSW above EXACT_MAX
    lexical-<sha>.npy        BM25 postings and their weights, per field
    vocabulary-<sha>.txt     the fields' terms, one a line, in byte order

Data files are named by their content and never overwritten; a build writes new ones and then
replaces `manifest.json` in one rename, so a crash leaves the old index whole (`folder.py` says
what may be written and deleted there). Every array is memory-mapped: nothing is parsed or copied
on load, so a million passages load in seconds and cost only the pages that queries touch; passage
texts and the vectors that exact scores need are read by position, a few rows at a time. The files
of several arrays are written by `packed.py`, and the manifest's `layout` says where each array
lies in them. This is the only module that knows FAISS.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import faiss
import numpy as np

from . import folder, packed
from .chunk import Chunk
from .errors import IndexCorruptError, IndexMismatchError, QAError
from .lexical import LexicalIndex
from .passage_table import PassageTable
from .store import StoredDocument

log = logging.getLogger(__name__)

MANIFEST = folder.MANIFEST

# Dense index by corpus size, measured by `make bench` (bench/results): exact search stays
# under a few milliseconds up to here; above, HNSW over 8-bit scalar-quantised vectors proposes
# candidates that the stored vectors re-score. An inverted file (IVF-SQ8, 1,000 lists) was measured
# too: questions sit far from passages, and at 1M it needed 128 lists (13% of the vectors) for
# recall@10 0.989, where HNSW scans a few thousand.
EXACT_MAX = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
# Candidates HNSW keeps while searching, by corpus size: the fewest for recall@10 >= 0.98 against
# exact search on the embedded gold questions (bench/results). At 1M passages 256 gave 0.868, 512
# 0.934, 1024 0.969, 2048 0.984, 4096 0.992; at 100k 256 gave 0.981 (too near the bar) and 512 0.994,
# at a quarter of 2048's time. Between the measured sizes the larger size's value is kept.
HNSW_EF_SEARCH = 2048
HNSW_EF_SEARCH_SMALL = 512
# Passages up to which the small value serves: recall falls as the corpus grows, so twice the size
# where it was measured, not more.
HNSW_SMALL_MAX = 200_000
# Candidates HNSW proposes at least, re-scored with the stored vectors: its 8-bit codes misorder
# near ties, and 10 asked for 10 found 0.935 of the exact top 10 at 100k where 50 found all.
RESCORED = 50
# A reader that finds a file gone because a build replaced the manifest meanwhile tries the
# new manifest; two builds finishing during one load is already unlikely, so three tries.
LOAD_ATTEMPTS = 3


class ChunkTable(Sequence[Chunk]):
    """Every passage as a few numbers; a `Chunk`, text included, is made only when asked for."""

    def __init__(
        self, documents: list[StoredDocument], headings: list[str], arrays, texts: packed.Positioned
    ):
        self.documents, self.headings, self.texts = documents, headings, texts
        self.doc, self.start, self.end = arrays["doc"], arrays["start"], arrays["end"]
        self.byte_start, self.byte_end = arrays["byte_start"], arrays["byte_end"]
        self.words, self.heading = arrays["words"], arrays["heading"]

    def __len__(self) -> int:
        return len(self.doc)

    def __getitem__(self, row: int) -> Chunk:  # type: ignore[override]
        d = self.documents[self.doc[row]]
        start = d.offset + int(self.byte_start[row])
        text = self.texts.read(start, d.offset + int(self.byte_end[row]) - start)
        return Chunk(
            d.id,
            d.title,
            self.headings[self.heading[row]],
            text.decode("utf-8"),
            int(self.start[row]),
            int(self.end[row]),
            int(self.words[row]),
        )


@dataclass
class Index:
    path: Path
    manifest: dict
    documents: dict[str, StoredDocument]
    chunks: ChunkTable
    keys: np.ndarray  # per chunk: SHA-1 (hex) of the text that was embedded, to reuse its vector
    dense: faiss.Index  # exact (flat) or approximate (HNSW), by corpus size
    vectors: np.ndarray  # every passage's vector, memory-mapped: rebuilds reuse them
    vector_rows: packed.Positioned  # the same vectors read a few rows at a time: exact scores
    lexical: LexicalIndex
    texts: packed.Positioned  # the texts file
    _positions: dict[str, int] = field(default_factory=dict, repr=False)
    _bounds: np.ndarray | None = field(default=None, repr=False)  # first row of each document
    concurrent: ClassVar[bool] = True  # FAISS and the lexical arrays are only read while searching

    @property
    def embedder_id(self) -> str:
        return self.manifest["embedder"]["id"]

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def option(self) -> str:
        return f"--index {self.path}"

    def __len__(self) -> int:
        return len(self.chunks)

    def key(self, row: int) -> bytes:
        return bytes(self.keys[row])

    def stamp(self) -> object:
        return folder.stamp(self.path)

    def passages(self) -> Iterator[Chunk]:
        return iter(self.chunks)

    def passage_counts(self) -> dict[str, int]:
        counts = np.bincount(np.asarray(self.chunks.doc), minlength=len(self.documents))
        return {doc_id: int(counts[i]) for i, doc_id in enumerate(self.documents)}

    def document_text(self, doc_id: str) -> str:
        d = self.documents[doc_id]
        return self.texts.read(d.offset, d.length).decode("utf-8")

    def rows_of(self, doc_ids: list[str]) -> np.ndarray:
        """The passages of these documents: each document's are one run of rows, in document order."""
        if self._bounds is None:
            self._positions.update({doc_id: i for i, doc_id in enumerate(self.documents)})
            self._bounds = np.searchsorted(self.chunks.doc, np.arange(len(self.documents) + 1))
        wanted = sorted({self._positions[d] for d in doc_ids if d in self._positions})
        runs = [np.arange(self._bounds[i], self._bounds[i + 1], dtype=np.int64) for i in wanted]
        return np.concatenate(runs) if runs else np.empty(0, dtype=np.int64)

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
        if isinstance(self.dense, faiss.IndexFlat):  # already exact
            sims, ids = self.dense.search(vector.reshape(1, -1), n, params=params)
            keep = ids[0] >= 0
            return ids[0][keep].astype(np.int64), sims[0][keep]
        proposed = min(max(n, RESCORED), self.dense.ntotal)
        _, ids = self.dense.search(vector.reshape(1, -1), proposed, params=params)
        found = ids[0][ids[0] >= 0].astype(np.int64)
        sims = self.similarity(vector, found)
        order = np.argsort(-sims, kind="stable")[:n]
        return found[order], sims[order]

    def similarity(self, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Exact inner product of the query with the given passages' stored vectors."""
        if len(rows) == 0:
            return np.empty(0, dtype=np.float32)
        order = np.argsort(rows)  # read front to back
        sims = np.empty(len(rows), dtype=np.float32)
        found = self.vector_rows.rows(rows[order], self.vectors.dtype, self.vectors.shape[1])
        sims[order] = found @ vector.astype(np.float32)
        return sims

    @classmethod
    def load(cls, path: str | Path) -> Index:
        """Open the index the manifest names; a build finishing meanwhile makes it try the new one."""
        path = Path(path)
        for attempt in range(LOAD_ATTEMPTS):
            manifest = folder.read_manifest(path)
            try:
                return cls._open(path, manifest)
            except QAError:
                raise
            except Exception as err:  # a file gone or unreadable: a newer build, or damage
                if attempt + 1 < LOAD_ATTEMPTS and _manifest_changed(path, manifest):
                    log.info("index at %s changed while loading; loading the new one", path)
                    continue
                what = "is missing" if isinstance(err, FileNotFoundError) else f"cannot be read ({err})"
                raise IndexCorruptError(
                    f"a file of the index at {path} {what}; rebuild with: "
                    f"{folder.rebuild_hint(path, manifest.get('corpus'))}"
                ) from None
        raise AssertionError("unreachable")

    @classmethod
    def _open(cls, path: Path, manifest: dict) -> Index:
        files, layout = manifest["files"], manifest.get("layout")
        if not isinstance(layout, dict):
            raise IndexMismatchError(
                f"index at {path} was written by an older version of qa; rebuild it with: "
                f"{folder.rebuild_hint(path, manifest.get('corpus'))}"
            )
        for name in files.values():
            folder.verify(path, name, manifest["checksums"][name], corpus=manifest.get("corpus"))
        catalog = json.loads((path / files["catalog"]).read_text(encoding="utf-8"))
        documents = {
            d["id"]: StoredDocument(**{**d, "pages": tuple(d.get("pages", ()))}) for d in catalog["documents"]
        }
        texts = packed.Positioned(path / files["texts"])
        table = packed.arrays(path / files["chunks"], layout["chunks"])
        chunks = ChunkTable(list(documents.values()), catalog["headings"], table, texts)
        # the vectors' codes are memory-mapped, not copied: only the graph is read into memory
        dense = faiss.read_index(str(path / files["dense"]), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
        mapped = np.load(path / files["vectors"], mmap_mode="r", allow_pickle=False)
        vectors = mapped.view(np.ndarray)
        vector_rows = packed.Positioned(
            path / files["vectors"], offset=mapped.offset, row=vectors.dtype.itemsize * vectors.shape[1]
        )
        arrays = packed.arrays(path / files["lexical"], layout["lexical"])
        arrays |= packed.arrays(path / files["vocabulary"], layout["vocabulary"])
        lexical = LexicalIndex.from_arrays(manifest["chunker"]["tokenizer"], arrays, passages=len(chunks))
        if not (dense.ntotal == len(vectors) == len(chunks)):
            raise IndexCorruptError(
                f"index at {path} has {len(chunks)} passages but {dense.ntotal} vectors; "
                f"rebuild it with: {folder.rebuild_hint(path, manifest.get('corpus'))}"
            )
        return cls(
            path, manifest, documents, chunks, table["key"], dense, vectors, vector_rows, lexical, texts
        )


def dense_index(vectors: np.ndarray) -> tuple[faiss.Index, dict]:
    """Exact search up to EXACT_MAX passages; above, HNSW over 8-bit scalar-quantised vectors."""
    n, dim = vectors.shape
    if n <= EXACT_MAX:
        index = faiss.IndexFlatIP(dim)
        index.add(np.ascontiguousarray(vectors))
        return index, {"type": "flat", "count": n}
    index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    sample = np.sort(np.random.default_rng(0).choice(n, min(n, 100_000), replace=False))
    index.train(packed.take(vectors, sample))
    for at in range(0, n, 100_000):  # a slice at a time, its pages let go: the vectors may be mapped
        index.add(np.ascontiguousarray(vectors[at : at + 100_000]))
        packed.release(vectors)
    ef_search = HNSW_EF_SEARCH_SMALL if n <= HNSW_SMALL_MAX else HNSW_EF_SEARCH
    params = {"M": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION, "ef_search": ef_search}
    return index, {"type": "hnsw-sq8", "count": n, **params}


def write_index(
    path: Path,
    *,
    documents,
    passages: PassageTable,
    keys,
    vectors,
    lexical,
    embedder: dict,
    chunker: dict,
    corpus: str,
    skipped: dict[str, list[str]],
) -> dict:
    """Write the data files, then swap the manifest; the generation before stays for its readers.

    `documents`: id → StoredDocument, in index order, as are `passages` (which hold their texts);
    `skipped`: id → [sha256, reason] of files left out, so an unchanged bad file is not read again.
    Returns the new manifest.
    """
    index, dense = dense_index(vectors)
    with tempfile.TemporaryFile(dir=path) as graph:  # not a second copy in memory, as serialising made
        faiss.write_index(index, faiss.PyCallbackIOWriter(graph.write))
        del index  # the graph, at a million passages 0.6 GB: not held while the rest is written
        graph.seek(0)
        dense_file = folder.put(path, "dense", ".faiss", iter(lambda: graph.read(packed.PIECE), b""))
    catalog = [
        {**dataclasses.asdict(stored), "offset": offset, "length": length}
        for stored, (_, _, offset, length) in zip(documents.values(), passages.documents, strict=True)
    ]
    table = {**passages.columns(), "key": np.array(keys, dtype="S40")}
    catalog_json = {"documents": catalog, "headings": passages.headings}
    arrays = lexical.arrays()
    terms = {name: arrays.pop(name) for name in list(arrays) if name.endswith("_text")}
    layout = {}
    written = {
        "texts": folder.put(path, "texts", ".txt", passages.text_pieces()),
        "catalog": folder.put(
            path, "catalog", ".json", [json.dumps(catalog_json, ensure_ascii=False).encode()]
        ),
        "chunks": packed.put(path, "chunks", ".npy", table, layout, header=True),
        "dense": dense_file,
        "vectors": folder.put(path, "vectors", ".npy", packed.npy(vectors)),
        "lexical": packed.put(path, "lexical", ".npy", arrays, layout, header=True),
        "vocabulary": packed.put(path, "vocabulary", ".txt", terms, layout, header=False),
    }
    current = {name for name, _ in written.values()}
    manifest = {
        "format_version": folder.FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "corpus": corpus,
        "embedder": embedder,
        "chunker": chunker,
        "dense": dense,
        "layout": layout,
        "counts": {"documents": len(documents), "passages": len(passages)},
        "documents": {doc_id: stored.sha256 for doc_id, stored in documents.items()},
        "skipped": skipped,
        "files": {role: name for role, (name, _) in written.items()},
        "checksums": {name: sha for name, sha in written.values()},
        "previous": sorted(set(_current_files(path)) - current),
    }
    folder.atomic_write(path / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"))
    log.info("wrote index at %s: %d documents, %d passages", path, len(documents), len(passages))
    return manifest


def _manifest_changed(path: Path, manifest: dict) -> bool:
    try:
        return folder.read_manifest(path) != manifest
    except QAError:
        return False


def kept_files(manifest: dict | None) -> set[str]:
    """The data files a manifest and its previous generation name: what cleaning must keep."""
    if not manifest:
        return set()
    previous = manifest.get("previous")
    return set(manifest["files"].values()) | {n for n in previous or () if isinstance(n, str)}


def _current_files(path: Path) -> list[str]:
    try:
        return list(folder.read_manifest(path)["files"].values())
    except QAError:
        return []


def _json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")
