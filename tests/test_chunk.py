import itertools
import re

import pytest
from conftest import SEEDS

from qa.chunk import HEADING_SEPARATOR, chunk_document, contextualize, split_sentences
from qa.ingest import parse_document, read_corpus
from qa.text import canonical, count_words


@pytest.fixture(scope="module")
def seed_chunks():
    documents = read_corpus(SEEDS)
    return documents, [c for d in documents for c in chunk_document(d, size=80, overlap=20)]


def test_spans_round_trip(seed_chunks):
    documents, chunks = seed_chunks
    texts = {d.id: d.text for d in documents}
    for chunk in chunks:
        assert texts[chunk.doc_id][chunk.start : chunk.end] == chunk.text


def test_chunks_never_cut_a_word_and_end_on_a_sentence(seed_chunks):
    documents, chunks = seed_chunks
    texts = {d.id: d.text for d in documents}
    for chunk in chunks:
        text = texts[chunk.doc_id]
        assert chunk.start == 0 or not text[chunk.start - 1].isalnum(), chunk.text[:40]
        assert chunk.end == len(text) or not text[chunk.end].isalnum(), chunk.text[-40:]


def test_chunk_sizes_follow_the_setting(seed_chunks):
    _, chunks = seed_chunks
    sizes = [count_words(c.text) for c in chunks]
    assert max(sizes) <= 80 * 4 // 3
    assert sum(sizes) / len(sizes) > 40


def test_chunks_know_their_section(seed_chunks):
    _, chunks = seed_chunks
    in_iv = [c for c in chunks if c.heading.startswith("IV. SỰ CẦN THIẾT BAN HÀNH CHỈ THỊ 12-CT/TW")]
    assert in_iv and all(c.doc_id == "003_594181e79c53eb2f.txt" for c in in_iv)
    assert any("Chỉ thị 04-CT/TW" in c.text for c in in_iv)
    nested = next(c for c in chunks if "1.1. Công tác đối ngoại nhân dân đã mở rộng" in c.heading)
    assert nested.heading.startswith("III. MỘT SỐ KẾT QUẢ") and HEADING_SEPARATOR in nested.heading


def test_chunks_hold_no_boilerplate(seed_chunks):
    _, chunks = seed_chunks
    for chunk in chunks:
        assert "Lượt truy cập" not in chunk.text
        assert "Theo dõi Baoquocte.vn" not in chunk.text
        assert "Phiên bản di động" not in chunk.text


def test_overlap_repeats_short_sentences():
    sentences = [f"Câu số {i} nói về hợp tác hữu nghị giữa nhân dân hai nước." for i in range(30)]
    doc = parse_document("Tiêu đề\n" + " ".join(sentences) + "\n", doc_id="x.txt")
    chunks = chunk_document(doc, size=40, overlap=12)
    assert len(chunks) > 3
    for a, b in itertools.pairwise(chunks):
        assert b.start < a.end  # the next chunk starts inside the previous one
    no_overlap = chunk_document(doc, size=40, overlap=0)
    assert all(b.start > a.end for a, b in itertools.pairwise(no_overlap))


def test_a_sentence_longer_than_a_chunk_is_cut_at_clauses():
    clauses = "; ".join(f"nhiệm vụ thứ {i} là tăng cường hợp tác với đối tác truyền thống" for i in range(40))
    doc = parse_document(f"Tiêu đề\nCác nhiệm vụ gồm: {clauses}.\n", doc_id="x.txt")
    chunks = chunk_document(doc, size=50, overlap=0)
    assert len(chunks) > 5
    for chunk in chunks:
        assert count_words(chunk.text) <= 50 * 4 // 3
        assert re.search(r"[;:.]$", chunk.text), chunk.text[-20:]


def test_sentence_split_respects_initials_and_abbreviations():
    text = (
        "Quan điểm của C. Mác về lực lượng sản xuất. V.I. Lê-nin viết nhiều. TP. Hồ Chí Minh đông dân! Xong"
    )
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "Quan điểm của C. Mác về lực lượng sản xuất.",
        "V.I. Lê-nin viết nhiều.",
        "TP. Hồ Chí Minh đông dân!",
        "Xong",
    ]


def test_context_leads_with_title_and_heading(seed_chunks):
    _, chunks = seed_chunks
    chunk = next(c for c in chunks if c.heading)
    assert contextualize(chunk, context="none") == canonical(chunk.text)
    assert "*" not in canonical(chunk.text) and "\n" not in canonical(chunk.text)
    full = contextualize(chunk, context="title+heading")
    assert full.startswith(canonical(chunk.title) + "\n" + canonical(chunk.heading) + "\n")
