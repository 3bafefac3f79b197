"""The public API: one `Retriever` that builds, loads and searches an index.

from qa import Retriever
r = Retriever.load("index")
for hit in r.search("Chỉ thị 12-CT/TW được ban hành ngày nào?", k=5):
    print(hit.rank, hit.title, hit.text)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .answer import Answer, answer
from .embed import DEFAULT_EMBEDDER, Embedder, embedder_id, load_embedder
from .errors import IndexMismatchError
from .index import BuildReport, ChunkerSettings, Index, build_index
from .progress import progress_bars
from .retrieve import Hit, Mode, embed_question, search
from .settings import Settings
from .text import canonical

log = logging.getLogger(__name__)


class Retriever:
    """A loaded index and the embedder it was built with; safe to share between threads."""

    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        *,
        settings: Settings | None = None,
        report: BuildReport | None = None,
    ) -> None:
        if index.embedder_id != embedder.id:
            raise IndexMismatchError(_mismatch(index, embedder.id))
        self.index = index
        self.embedder = embedder
        self.settings = settings or Settings()
        self.report = report  # what the last build changed, when this retriever came from one
        self._lock = threading.RLock()  # one query at a time through the embedding engine

    @classmethod
    def load(
        cls,
        index: str | Path | None = None,
        *,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
    ) -> Retriever:
        """Open an index folder with the embedder recorded in it (or the one asked for)."""
        settings = settings or Settings.from_env()
        loaded = Index.load(index or settings.index)
        recorded = loaded.manifest["embedder"]
        if embedder is None:
            if settings.embedder is None:
                name, segmented = recorded["name"], recorded["segmented"]
            else:
                name, segmented = settings.embedder, settings.segment
            if embedder_id(name, segmented=segmented) != loaded.embedder_id:
                raise IndexMismatchError(_mismatch(loaded, embedder_id(name, segmented=segmented)))
            embedder = load_embedder(name, segmented=segmented)
        return cls(loaded, embedder, settings=settings)

    @classmethod
    def build(
        cls,
        corpus: str | Path | None = None,
        index: str | Path | None = None,
        *,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
        rebuild: bool = False,
        progress: bool = False,
    ) -> Retriever:
        """Build the index from a corpus folder, or update it with what changed."""
        settings = settings or Settings.from_env()
        corpus = corpus or settings.corpus
        index = Path(index or settings.index)
        embedder = embedder or load_embedder(
            settings.embedder or DEFAULT_EMBEDDER, segmented=settings.segment
        )
        chunker = ChunkerSettings(
            size=settings.chunk_size,
            overlap=settings.chunk_overlap,
            context=settings.context,
            tokenizer=settings.tokenizer,
            method=settings.chunker,
            boilerplate=settings.boilerplate,
            accent_field=settings.accent_field,
        )
        with progress_bars(progress, unit="passage") as bar:
            report = build_index(
                corpus, index, embedder=embedder, chunker=chunker, rebuild=rebuild, progress=bar
            )
        log.info(
            "index %s: %d passages, %d embedded in %.1fs",
            index,
            report.passages,
            report.embedded,
            report.seconds,
        )
        return cls(Index.load(index), embedder, settings=settings, report=report)

    def search(
        self,
        question: str,
        *,
        k: int | None = None,
        mode: Mode | None = None,
        docs: Sequence[str] | None = None,
        vector: np.ndarray | None = None,
    ) -> list[Hit]:
        """The k best passages for a question, each a verbatim span of its document.

        `vector`: the question already embedded by `embed_question`, e.g. in a batch.
        """
        with self._lock:
            return search(
                self.index,
                self.embedder,
                question,
                k=self.settings.k if k is None else k,
                mode=mode or self.settings.mode,
                docs=docs,
                fusion=self.settings.fusion,
                dense_weight=self.settings.dense_weight,
                restore=self.settings.restore_diacritics,
                vector=vector,
            )

    def embed_question(self, question: str) -> np.ndarray:
        """The question's vector as `search` computes it (re-accented when typed without diacritics)."""
        with self._lock:
            return embed_question(
                self.index, self.embedder, question, restore=self.settings.restore_diacritics
            )

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        mode: Mode | None = None,
        docs: Sequence[str] | None = None,
    ) -> Answer:
        """The passages, the sentences among them that answer the question, or "nothing found"."""
        with self._lock:  # re-entrant: the calls below take it again
            vector = self.embed_question(question) if canonical(question or "") else None
            hits = self.search(question, k=k, mode=mode, docs=docs, vector=vector)
            return answer(
                self.index,
                self.embedder,
                question,
                hits,
                vector=vector,
                min_relevance=self.settings.min_relevance,
            )

    @property
    def documents(self) -> dict[str, str]:
        """Document id → title, for choosing which documents to search."""
        return {d.id: d.title for d in self.index.documents.values()}

    def passage_texts(self) -> list[str]:
        """Every indexed passage, verbatim, in index order."""
        return [chunk.text for chunk in self.index.chunks]

    def document_text(self, doc_id: str) -> str:
        return self.index.document_text(doc_id)

    def __len__(self) -> int:
        return len(self.index.chunks)


def _mismatch(index: Index, wanted: str) -> str:
    return (
        f"the index at {index.path} was built with embedder {index.embedder_id!r}, not "
        f"{wanted!r}; rebuild it for that model with: qa index --rebuild --index {index.path} "
        f"--embedder NAME, or leave the embedder unset to use the index's own"
    )
