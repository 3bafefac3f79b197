"""The public API: one `Retriever` that builds, loads and searches an index.

from qa import Retriever
r = Retriever.load("index")
for hit in r.search("Chỉ thị 12-CT/TW được ban hành ngày nào?", k=5):
    print(hit.rank, hit.title, hit.text)
"""

from __future__ import annotations

import logging
import numbers
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import documents as managed
from .answer import Answer, answer
from .build import BuildReport, build_index
from .documents import AddReport, DocumentInfo, RemoveReport
from .embed import DEFAULT_EMBEDDER, Embedder, embedder_id, load_embedder
from .errors import DocumentNotFoundError, IndexMismatchError, QAError
from .progress import progress_bars
from .rerank import RERANK_CANDIDATES, Reranker
from .retrieve import Hit, Mode, check_question, embed_question, search
from .settings import Settings
from .store import Store, open_store
from .text import has_diacritics
from .uploads import MIB, Progress, Upload

log = logging.getLogger(__name__)


class Retriever:
    """A loaded index and the embedder it was built with; safe to share between threads.

    Each query first checks the store's stamp (a folder's manifest: one `stat`; a server's
    generation, read every few seconds): when a build has replaced it, the new index is loaded
    once and serves from then on, while queries already running finish on the one they
    started with. With `settings.reranker` set, a
    cross-encoder re-scores the best fused passages of every query (`reranker`).
    """

    def __init__(
        self,
        index: Store,
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
        self._stamp = index.stamp()  # the generation `index` was loaded from
        self._failed: object = None  # a generation that could not be loaded: not retried
        self._reload = threading.Lock()
        self._reranker: Reranker | None = None
        self._load_reranker = threading.Lock()

    @classmethod
    def load(
        cls,
        index: str | Path | None = None,
        *,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
    ) -> Retriever:
        """Open an index (a folder, or a server store's URL) with the embedder recorded in it
        (or the one asked for)."""
        settings = settings or Settings.from_env()
        loaded = open_store(index or settings.location)
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
        """Build the index (a folder, or a server store's URL) from a corpus folder, or update it
        with what changed."""
        settings = settings or Settings.from_env()
        corpus = corpus or settings.corpus
        index = index or settings.location
        embedder = embedder or load_embedder(
            settings.embedder or DEFAULT_EMBEDDER, segmented=settings.segment
        )
        chunker = settings.chunker_settings()
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
        return cls(open_store(index), embedder, settings=settings, report=report)

    def current(self) -> Store:
        """The index as stored now, loading a rebuilt one (a damaged one is logged and not used)."""
        stamp = self.index.stamp()
        if stamp is None or stamp == self._stamp or stamp == self._failed:
            return self.index
        with self._reload:
            if stamp == self._stamp or stamp == self._failed:
                return self.index
            try:
                index = open_store(self.index.location)
                if index.embedder_id != self.embedder.id:
                    raise IndexMismatchError(_mismatch(index, self.embedder.id))
            except QAError as err:
                log.warning("keeping the index loaded before: %s", err)
                self._failed = stamp
                return self.index
            log.info("loaded the rebuilt index at %s: %d passages", index.location, len(index))
            self.index, self._stamp = index, stamp
            return index

    @property
    def reranker(self) -> Reranker | None:
        """The cross-encoder `settings.reranker` names, loaded on first use and then kept; None when unset.

        Touch it before serving to fail at start on a model that cannot be loaded.
        """
        if self.settings.reranker is None:
            return None
        if self._reranker is None:
            with self._load_reranker:
                if self._reranker is None:
                    log.info("loading reranker %s", self.settings.reranker)
                    self._reranker = Reranker(self.settings.reranker)
        return self._reranker

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

        `vector`: the question already embedded by `embed_question`, e.g. in a batch. With a
        reranker, the `RERANK_CANDIDATES` best fused passages are re-scored by it: the k it
        scores best are returned, ranked anew, and `score` is the reranker's.
        """
        return self._search(self.current(), question, k=k, mode=mode, docs=docs, vector=vector)

    def embed_question(self, question: str) -> np.ndarray:
        """The question's vector as `search` computes it (re-accented when typed without diacritics)."""
        return self._embed(self.current(), question)

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        mode: Mode | None = None,
        docs: Sequence[str] | None = None,
    ) -> Answer:
        """The passages, the sentences among them that answer the question, or "nothing found"."""
        index = self.current()  # one index for the whole answer, even if a rebuild lands meanwhile
        question = check_question(question)  # as searched, NFC: the answer shows it back
        vector = self._embed(index, question)
        hits = self._search(index, question, k=k, mode=mode, docs=docs, vector=vector)
        return answer(
            index,
            question,
            hits,
            vector=vector,
            min_relevance=self.settings.min_relevance,
            min_confidence=self.settings.min_confidence,
        )

    def _search(self, index: Store, question, *, k, mode, docs, vector) -> list[Hit]:
        mode = self.settings.mode if mode is None else mode
        k = self.settings.k if k is None else k
        reranker = self.reranker
        if vector is None and mode in ("dense", "hybrid"):
            vector = self._embed(index, question)
        usable = isinstance(k, numbers.Integral) and not isinstance(k, bool) and k >= 1
        hits = search(
            index,
            self.embedder,
            question,
            # a k search refuses goes to it as asked, for its error
            k=max(int(k), RERANK_CANDIDATES) if reranker is not None and usable else k,
            mode=mode,
            docs=docs,
            fusion=self.settings.fusion,
            dense_weight=self.settings.dense_weight,
            restore=self.settings.restore_diacritics,
            vector=vector,
        )
        if reranker is None:
            return hits
        return reranker.rerank(self._spelled(index, question), hits, k=int(k))

    def _spelled(self, index: Store, question) -> str:
        """The question as the models read it: re-accented when typed without diacritics."""
        spelled = check_question(question)
        if self.settings.restore_diacritics and not has_diacritics(spelled):
            spelled = index.lexical.restore_diacritics(spelled)
        return spelled

    def _embed(self, index: Store, question) -> np.ndarray:
        question = check_question(question)  # a bad question costs nothing
        # No lock: the engines are thread-safe and release the GIL (bench/load.py: 20 threads
        # give bit-identical vectors, and questions run on both cores at once).
        return embed_question(index, self.embedder, question, restore=self.settings.restore_diacritics)

    @property
    def documents(self) -> dict[str, str]:
        """Document id → title, for choosing which documents to search."""
        return {d.id: d.title for d in self.current().documents.values()}

    def passage_texts(self) -> list[str]:
        """Every indexed passage, verbatim, in index order."""
        return [chunk.text for chunk in self.current().passages()]

    def document_text(self, doc_id: str) -> str:
        return self.current().document_text(doc_id)

    def document_pages(self, doc_id: str) -> tuple[int, ...]:
        """Where each page starts in `document_text(doc_id)` (PDF); () for formats without pages."""
        stored = self.current().documents.get(doc_id)
        if stored is None:
            raise DocumentNotFoundError(
                f"{doc_id!r} is not a document of the index at {self.index.location}; "
                f"see its documents with: qa list {self.index.option}"
            )
        return stored.pages

    def document_file(self, doc_id: str) -> Path:
        """The document's original file in the corpus folder, for download."""
        return managed.document_file(self.current(), doc_id)

    def list_documents(self) -> list[DocumentInfo]:
        """Every indexed document, ordered by id."""
        return managed.list_documents(self.current())

    def add_documents(
        self, files: Sequence[str | Path | Upload], *, progress: Progress | None = None
    ) -> AddReport:
        """Copy files into the index's corpus folder and index them; searchable when this returns.

        Searches running meanwhile answer from the index as it was. `progress(done, total,
        label)` is told as files are stored and passages embedded.
        """
        return managed.add_documents(
            self.current,
            files,
            embedder=self.embedder,
            max_bytes=self.settings.max_upload_mb * MIB,
            progress=progress,
        )

    def remove_documents(self, ids: Sequence[str]) -> RemoveReport:
        """Take documents out of the index: files qa added are deleted, the user's own left out."""
        return managed.remove_documents(self.current, ids, embedder=self.embedder)

    def __len__(self) -> int:
        return len(self.current())


def _mismatch(index: Store, wanted: str) -> str:
    return (
        f"the index at {index.location} was built with embedder {index.embedder_id!r}, not "
        f"{wanted!r}; rebuild it for that model with: qa index --rebuild {index.option} "
        f"--embedder NAME, or leave the embedder unset to use the index's own"
    )
