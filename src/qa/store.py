"""Store: where an index lives, and what retrieval asks of it.

Two stores keep the same index: the folder store (`index.py`, FAISS and BM25 arrays in a
folder, the default) and the Qdrant store (`qdrant.py`, a server or its local test engine).
`retrieve`, `answer` and the public API use only what `Store` names, so they work on either.
A store is chosen by its location: a folder path, or a URL such as `qdrant://host:6333/qa`.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .chunk import Chunk

# How a location names the Qdrant store: a server over HTTP(S), or the client's local engine in a folder.
SERVER_SCHEMES = ("qdrant://", "qdrants://", "qdrant-local:")


@dataclass(frozen=True)
class StoredDocument:
    id: str
    title: str
    sha256: str
    offset: int = 0  # its bytes in the folder store's texts file
    length: int = 0
    format: str = "txt"  # the reader that extracted its text: txt, md, docx, doc, pdf, html
    pages: tuple[int, ...] = ()  # character offset where each page starts (PDF); () without pages
    ocr: bool = False  # its text was recognised from page images

    def pages_of(self, start: int, end: int) -> tuple[int, ...]:
        """The page numbers (from 1) that the span `[start, end)` of the text covers."""
        if not self.pages:
            return ()
        first = bisect.bisect_right(self.pages, start)
        last = bisect.bisect_right(self.pages, max(start, end - 1))
        return tuple(range(max(first, 1), max(last, 1) + 1))


@dataclass(frozen=True)
class NewDocument:
    """A document as the build hands it to a store: its text, passages, their vectors and the
    texts those vectors and the lexical terms were made from."""

    stored: StoredDocument
    text: str
    chunks: tuple[Chunk, ...]
    embedded: tuple[str, ...]  # per passage: the text embedded and tokenised (`contextualize`)
    keys: tuple[bytes, ...]  # per passage: SHA-1 (hex) of that text
    vectors: np.ndarray  # (passages, dim) float32, unit length


class Lexical(Protocol):
    """BM25 over the passages, fed with the project's own Vietnamese terms."""

    passages: int
    has_folded: bool  # an accent-folded field exists

    def terms(self, question: str) -> Any:
        """The question's terms in whatever form `top` and `scores_of` take."""

    def top(self, terms: Any, n: int, *, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The `n` best passages with a score above zero, and their scores, best first."""

    def scores_of(self, terms: Any, rows: np.ndarray) -> np.ndarray:
        """The scores of the given passages."""

    def restore_diacritics(self, question: str) -> str: ...

    def idf_of(self, term: str, *, folded: bool = False) -> float | None: ...


class Store(Protocol):
    """An index as retrieval sees it. Rows are int64 passage ids, stable while the store is open."""

    location: str  # the folder or URL, for messages
    manifest: dict  # embedder, chunker, corpus, skipped files: what the build recorded
    documents: dict[str, StoredDocument]
    chunks: Sequence[Chunk]  # chunks[row]
    lexical: Lexical
    concurrent: bool  # a dense and a lexical search may run at once, in two threads

    @property
    def embedder_id(self) -> str: ...

    @property
    def option(self) -> str:
        """The command-line option that names this store, e.g. `--index index`."""

    def __len__(self) -> int: ...

    def key(self, row: int) -> bytes:
        """SHA-1 (hex) of the passage's embedded text: two rows with one key say the same."""

    def document_text(self, doc_id: str) -> str: ...

    def rows_of(self, doc_ids: list[str]) -> np.ndarray: ...

    def passage_counts(self) -> dict[str, int]: ...

    def passages(self) -> Iterator[Chunk]:
        """Every passage, document by document."""

    def search_dense(
        self, vector: np.ndarray, n: int, *, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def similarity(self, vector: np.ndarray, rows: np.ndarray) -> np.ndarray: ...

    def stamp(self) -> object:
        """What identifies the stored generation now: a change means another writer updated it."""


def is_server(location: str | Path) -> bool:
    return isinstance(location, str) and location.startswith(SERVER_SCHEMES)


def open_store(location: str | Path) -> Store:
    """The index at a folder path or a server URL, as it is now."""
    if is_server(location):
        from .qdrant import QdrantStore

        return QdrantStore.connect(str(location))
    from .index import Index

    return Index.load(location)
