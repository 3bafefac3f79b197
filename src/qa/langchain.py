"""A LangChain retriever over a qa index, for existing LangChain pipelines.

from qa import Retriever
from qa.langchain import QARetriever
docs = QARetriever(retriever=Retriever.load("index"), k=5).invoke("câu hỏi")
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from . import Mode, Retriever


class QARetriever(BaseRetriever):
    """Each LangChain `Document` is one cited passage; its metadata says where it is."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Retriever
    k: int = Field(5, strict=True, ge=1)  # strict: True or "3" is not a k, as the HTTP API says too
    mode: Mode = "hybrid"
    docs: Sequence[str] | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        """`k`: this call's, as `invoke(query, k=3)` gives it; else the retriever's."""
        return [
            Document(
                page_content=hit.text,
                metadata={
                    "rank": hit.rank,
                    "doc_id": hit.doc_id,
                    "title": hit.title,
                    "heading": hit.heading,
                    "start": hit.start,
                    "end": hit.end,
                    "score": hit.score,
                    "pages": list(hit.pages),
                },
            )
            for hit in self.retriever.search(
                query, k=self.k if k is None else k, mode=self.mode, docs=self.docs
            )
        ]
