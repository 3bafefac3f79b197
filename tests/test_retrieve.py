import json
import os
import threading
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qa.postings
import qa.retrieve
from qa import QueryError, Retriever, Settings
from qa.index import Index
from qa.text import fold_accents


@pytest.fixture(scope="module")
def retriever(any_retriever):
    """Each test here runs on the folder store and on the Qdrant store."""
    return any_retriever


GOLD = Path(__file__).resolve().parent.parent / "eval" / "gold.jsonl"

DATE_ANSWERS = ("05/01/2022", "5-1-2022", "1 tháng 1 năm 2022")


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_date_of_directive_12_is_in_the_top_5(retriever, mode):
    hits = retriever.search("Chỉ thị 12-CT/TW được ban hành ngày nào?", k=5, mode=mode)
    assert any(any(a in h.text for a in DATE_ANSWERS) for h in hits)


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Hà Nội đạt bao nhiêu điểm trong đợt khảo sát về đối ngoại nhân dân?", "80,77 điểm"),
        ("Việt Nam có quan hệ với bao nhiêu nước và vùng lãnh thổ?", "185 nước"),
        ("Ai ký công văn sao gửi tài liệu của Ban Tuyên giáo Thị ủy Hương Trà?", "Lê Nhật Minh"),
        ("Đối ngoại nhân dân là gì?", "Đối ngoại nhân dân là quan hệ và hoạt động đối ngoại"),
        ("Mặt trận phát triển quan hệ với mấy đối tác truyền thống?", "5 đối tác truyền thống"),
    ],
)
def test_real_questions_find_the_answer_in_the_top_5(retriever, question, answer):
    hits = retriever.search(question, k=5)
    assert any(answer in h.text for h in hits), [h.text[:80] for h in hits]


@pytest.mark.parametrize("essential", [qa.postings.ESSENTIAL_BUDGET, 20])
def test_bm25_top_10_is_that_of_reading_every_posting_on_the_gold_questions(
    seed_index, monkeypatch, essential
):
    """The pruned search's top 10 for every gold question, typed with and without diacritics, is the
    top 10 of scoring every posting, also when pruning is forced on the small seed corpus."""
    monkeypatch.setattr(qa.postings, "ESSENTIAL_BUDGET", essential)
    lexical = Index.load(seed_index).lexical
    asked = [json.loads(line)["question"] for line in GOLD.read_text(encoding="utf-8").splitlines() if line]
    for question in asked + [fold_accents(q) for q in asked]:
        every = lexical.score(question)
        expected = np.lexsort((np.arange(len(every)), -every))[:10]
        rows, scores = lexical.top(lexical.terms(question), 10)
        assert np.array_equal(rows, expected[every[expected] > 0]), question
        assert np.allclose(scores, every[rows], rtol=1e-5), question


def test_unaccented_question_finds_the_accented_passage(retriever):
    hits = retriever.search("ha noi dat bao nhieu diem khao sat doi ngoai nhan dan", k=5)
    assert any("80,77 điểm" in h.text for h in hits)


def test_nfd_and_tone_placement_variants_rank_the_same(retriever):
    question = "Vai trò của đối ngoại nhân dân trong giữ vững môi trường hòa bình"
    variants = [
        question,
        unicodedata.normalize("NFD", question),
        question.replace("hòa", "hoà"),
    ]
    rankings = [[(h.doc_id, h.start) for h in retriever.search(v, k=5)] for v in variants]
    assert rankings[0] == rankings[1] == rankings[2]


def test_hits_are_distinct_verbatim_passages(retriever):
    hits = retriever.search("đối ngoại nhân dân", k=10)
    assert [h.rank for h in hits] == list(range(1, 11))
    for h in hits:
        assert retriever.document_text(h.doc_id)[h.start : h.end] == h.text
    for a in hits:
        for b in hits:
            if a is not b and a.doc_id == b.doc_id:
                shared = min(a.end, b.end) - max(a.start, b.start)
                assert shared <= 0.5 * min(a.end - a.start, b.end - b.start)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_search_can_be_restricted_to_documents(retriever):
    only = ["004_0f785d997b4fb8c5.txt"]
    for mode in ("hybrid", "dense", "bm25"):
        hits = retriever.search("Chỉ thị 12-CT/TW ban hành ngày nào?", k=5, mode=mode, docs=only)
        assert hits and {h.doc_id for h in hits} == set(only)


def test_bad_requests_say_what_to_do(retriever):
    with pytest.raises(QueryError, match="empty"):
        retriever.search("   ")
    with pytest.raises(
        QueryError, match=r"unknown document\(s\) 'nope.txt'; the index has 5 documents, e\.g\. '0"
    ):
        retriever.search("đối ngoại", docs=["nope.txt"])
    with pytest.raises(QueryError, match=r"unknown document\(s\) ''; .*`qa list`"):  # an empty id is named
        retriever.search("đối ngoại", docs=[""])
    with pytest.raises(QueryError, match="mode"):
        retriever.search("đối ngoại", mode="fuzzy")
    with pytest.raises(QueryError, match="k must"):
        retriever.search("đối ngoại", k=0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (dict(question=5), "must be text"),
        (dict(question=None), "must be text"),
        (dict(question=b"bytes"), "must be text"),
        (dict(question="đối ngoại " * 300), "at most 2,000"),
        (dict(docs=5), "docs must be a list"),
        (dict(docs=[None]), "docs must be a list"),
        (dict(docs="003_594181e79c53eb2f.txt"), "docs must be a list"),  # not read letter by letter
        (dict(k=True), "k must"),
        (dict(k=2.5), "k must"),
        (dict(k="3"), "k must"),
        (dict(mode=""), "mode must be one of"),
        (dict(mode=["hybrid"]), "mode must be one of"),
    ],
)
def test_every_bad_argument_is_a_query_error(retriever, call, message):
    call = {"question": "đối ngoại nhân dân", **call}
    for method in (retriever.search, retriever.ask):
        with pytest.raises(QueryError, match=message):
            method(**call)


def test_an_empty_docs_list_means_every_document(retriever):
    assert retriever.search("đối ngoại nhân dân", docs=[]) == retriever.search("đối ngoại nhân dân")


# Any string a user can type or paste: Vietnamese, other scripts, control characters, lone
# surrogates, emoji, very long words. QA_FUZZ=1 tries 50 times more.
ANY_TEXT = st.one_of(
    st.text(max_size=300),
    st.text(
        alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậđèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợ ?.,-/",
        max_size=80,
    ),
    st.sampled_from(["\x00", "\ud800", "🙂" * 50, "a" * 2001, "-" * 500, "   \n\t", "12-CT/TW", "%s%n{0}"]),
)


@settings(max_examples=400 if os.environ.get("QA_FUZZ") else 40, deadline=None)
@given(question=ANY_TEXT, mode=st.sampled_from(["hybrid", "dense", "bm25"]), k=st.integers(1, 12))
def test_any_question_gives_hits_or_a_query_error(retriever, question, mode, k):
    try:
        hits = retriever.search(question, k=k, mode=mode)
    except QueryError:
        return
    assert len(hits) <= k and [h.rank for h in hits] == list(range(1, len(hits) + 1))
    for h in hits:
        assert retriever.document_text(h.doc_id)[h.start : h.end] == h.text


def test_hybrid_runs_the_dense_search_beside_the_lexical_one_with_the_same_hits(
    seed_index, embedder, monkeypatch
):
    """On a folder store of CONCURRENT_FROM passages or more, the dense search runs in another thread
    while BM25 runs in the caller's: the hits are those of running them one after the other, which a
    store as small as the seeds' does."""
    r = Retriever.load(seed_index, settings=Settings(), embedder=embedder)
    asked = [json.loads(line)["question"] for line in GOLD.read_text(encoding="utf-8").splitlines() if line]
    threads, search_dense = [], r.index.search_dense

    def recorded(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return search_dense(*args, **kwargs)

    monkeypatch.setattr(r.index, "search_dense", recorded)
    alone = [r.search(q, k=5) for q in asked[:40]]
    assert len(threads) >= 40 and set(threads) == {threading.current_thread().name}
    monkeypatch.setattr(qa.retrieve, "CONCURRENT_FROM", len(r.index))
    threads.clear()
    assert [r.search(q, k=5) for q in asked[:40]] == alone
    assert len(threads) >= 40 and all(name.startswith("qa-dense") for name in threads)
