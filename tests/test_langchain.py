import pytest
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ValidationError

from qa.langchain import QARetriever


@pytest.fixture(scope="module")
def retriever(any_retriever):
    """Each test here runs on the folder store and on the Qdrant store."""
    return any_retriever


def test_langchain_retriever_returns_cited_documents(retriever):
    lc = QARetriever(retriever=retriever, k=3)
    assert isinstance(lc, BaseRetriever)
    docs = lc.invoke("Hà Nội đạt bao nhiêu điểm trong khảo sát?")
    assert len(docs) == 3 and all(isinstance(d, Document) for d in docs)
    assert any("80,77 điểm" in d.page_content for d in docs)
    meta = docs[0].metadata
    assert meta["rank"] == 1 and meta["doc_id"].endswith(".txt")
    assert retriever.document_text(meta["doc_id"])[meta["start"] : meta["end"]] == docs[0].page_content


def test_langchain_retriever_honours_document_filter(retriever):
    lc = QARetriever(retriever=retriever, k=2, mode="bm25", docs=["001_5890e04fe2056a11.txt"])
    assert {d.metadata["doc_id"] for d in lc.invoke("Chỉ thị 12")} == {"001_5890e04fe2056a11.txt"}


def test_k_is_a_whole_number_and_one_call_may_ask_for_another(retriever):
    for k in (True, "3", 0, 2.5):
        with pytest.raises(ValidationError, match="k"):
            QARetriever(retriever=retriever, k=k)
    lc = QARetriever(retriever=retriever, k=3)
    assert (
        len(lc.invoke("Hà Nội đạt bao nhiêu điểm?", k=1)) == 1
        and len(lc.invoke("Hà Nội đạt bao nhiêu điểm?")) == 3
    )
