import itertools
import random
import re
import time

import pytest
from conftest import SEEDS
from langchain_text_splitters import RecursiveCharacterTextSplitter

from qa.chunk import (
    HEADING_SEPARATOR,
    MAX_CHARS_PER_WORD,
    chunk_document,
    contextualize,
    split_sentences,
)
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


SYLLABLES = str.split(
    "hợp tác nhân dân đối ngoại phát triển kinh tế xã hội việt nam quốc tế chính sách mặt trận "
    "tổ quốc ban bí thư chỉ thị hoạt động tăng cường quan hệ hữu nghị đoàn kết"
)


def _unpunctuated(n_chars: int, *, symbols: float = 0) -> str:
    """Syllables without punctuation, and this share of wordless dashes among them."""
    rng, words, length = random.Random(0), [], 0
    while length < n_chars:
        words.append("–" if rng.random() < symbols else rng.choice(SYLLABLES))
        length += len(words[-1]) + 1
    return " ".join(words)


def _covered(document, chunks) -> str:
    """The non-space text of the document's prose that no chunk holds."""
    covered = bytearray(len(document.text))
    for chunk in chunks:
        covered[chunk.start : chunk.end] = b"\1" * (chunk.end - chunk.start)
    return "".join(
        document.text[i]
        for block in document.blocks
        if block.kind == "text"
        for i in range(block.start, block.end)
        if not covered[i] and not document.text[i].isspace()
    )


def test_a_long_paragraph_without_punctuation_is_cut_between_words():
    # the reported crash: 60 KB without ; : , and with dashes, which pyvi counts as no word
    doc = parse_document(f"Tiêu đề\n{_unpunctuated(60_000, symbols=0.05)}\n", doc_id="x.txt")
    chunks = chunk_document(doc, size=100, overlap=20)
    assert len(chunks) > 100
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert 50 <= count_words(chunk.text) <= 100 * 4 // 3
        assert chunk.text[0].isalnum() or chunk.text[0] == "–"
        assert not doc.text[chunk.end].isalnum()
    assert all(a.end <= b.start for a, b in itertools.pairwise(chunks))  # pieces too long to repeat
    assert _covered(doc, chunks) == ""


def test_wordless_pieces_of_a_long_sentence_are_not_repeated():
    clauses = ", ".join(f"việc thứ {i} là hợp tác với đối tác, —" for i in range(60))
    doc = parse_document(f"Tiêu đề\nCác việc gồm {clauses} xong.\n", doc_id="x.txt")
    chunks = chunk_document(doc, size=10, overlap=0)
    assert all(a.end <= b.start for a, b in itertools.pairwise(chunks))
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)
    assert _covered(doc, chunks) == ""


def test_words_joined_by_other_white_space_are_cut_too():
    doc = parse_document("Tiêu đề\n" + "\u00a0".join(_unpunctuated(20_000).split()) + "\n", doc_id="x.txt")
    chunks = chunk_document(doc, size=100, overlap=20)
    assert len(chunks) > 30
    assert max(count_words(c.text) for c in chunks) <= 100 * 4 // 3


def test_text_without_words_is_cut_by_length():
    doc = parse_document("Tiêu đề\n" + "😀🇻🇳 ★ " * 10_000 + "\n", doc_id="x.txt")
    chunks = chunk_document(doc, size=100, overlap=20)
    assert len(chunks) > 10
    assert all(len(c.text) <= 100 * MAX_CHARS_PER_WORD for c in chunks)
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)
    assert _covered(doc, chunks) == ""


def test_a_paragraph_repeated_500_times_chunks_like_one():
    paragraph = (
        "Ủy ban Trung ương Mặt trận Tổ quốc Việt Nam đẩy mạnh công tác tuyên truyền. "
        "Các tổ chức thành viên phối hợp chặt chẽ, tăng cường quan hệ với đối tác nước ngoài."
    )
    doc = parse_document("Tiêu đề\n\n" + "\n\n".join([paragraph] * 500), doc_id="x.txt", boilerplate=False)
    chunks = chunk_document(doc, size=40, overlap=10)
    assert len(chunks) > 300
    assert all(a.start < b.start and a.end < b.end for a, b in itertools.pairwise(chunks))
    assert all(doc.text[c.start : c.end] == c.text and c.words <= 40 for c in chunks)
    assert _covered(doc, chunks) == ""


def test_odd_text_chunks_verbatim():
    for body in ("!" * 5000, "12 345 6789 " * 500, "中文 русский العربية 😀 ١٢٣ " * 300, "- * #\n" * 300):
        doc = parse_document(f"Tiêu đề\n{body}\n", doc_id="x.txt", boilerplate=False)
        chunks = chunk_document(doc, size=50, overlap=10)
        assert all(doc.text[c.start : c.end] == c.text for c in chunks), body[:20]
        assert _covered(doc, chunks) == "", body[:20]


def test_sentence_split_is_linear_on_a_run_of_stops():
    # each stop in "!!!…" used to start a new match that ran to the end of the run
    started = time.perf_counter()
    spans = split_sentences("Câu đầu. " + "!" * 50_000)
    assert time.perf_counter() - started < 5  # 40 s before
    assert len(spans) == 1


def test_the_usual_recipe_gives_langchains_pieces_at_their_own_places():
    splitter = RecursiveCharacterTextSplitter(chunk_size=200, chunk_overlap=40)
    for document in read_corpus(SEEDS, boilerplate=False):
        chunks = chunk_document(document, size=200, overlap=40, method="recursive")
        # nothing dropped, so the whole text is one run
        assert [c.text for c in chunks] == splitter.split_text(document.text.strip())
        assert all(document.text[c.start : c.end] == c.text for c in chunks)
        assert all(a.start < b.start for a, b in itertools.pairwise(chunks))


def test_the_usual_recipe_places_a_repeated_piece_where_it_is():
    # LangChain's own start_index puts "000" at 37, inside the first line
    doc = parse_document("0" * 47 + "\n000\n\n0\n", doc_id="x.txt", boilerplate=False)
    chunks = chunk_document(doc, size=50, overlap=10, method="recursive")
    assert [(c.start, c.text) for c in chunks] == [(0, "0" * 47), (48, "000"), (53, "0")]


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


def test_a_title_that_is_part_of_the_text_stays_searchable():
    text = (
        "Năng lực hành vi dân sự của cá nhân\n\n"
        "Điều 19. Năng lực hành vi dân sự của cá nhân là khả năng của cá nhân bằng hành vi của mình "
        "xác lập, thực hiện quyền, nghĩa vụ dân sự.\n"
    )
    doc = parse_document(text, doc_id="dieu-19.txt")
    assert doc.title == "Năng lực hành vi dân sự của cá nhân"
    chunks = chunk_document(doc)
    assert chunks[0].start == 0 and chunks[0].text.startswith("Năng lực hành vi dân sự của cá nhân\n")
    assert chunks[-1].end == len(text.rstrip())


def test_text_without_spaces_is_cut_by_characters():
    """A base64 blob or text typed without spaces once made one 100,000-character passage."""
    text = "Tài liệu đính kèm:\n\n" + "Việt" * 25_000 + "\n"
    chunks = chunk_document(parse_document(text, doc_id="x.txt", boilerplate=False))
    assert len(chunks) > 30 and max(len(c.text) for c in chunks) <= 100 * 30
    assert "".join(c.text for c in chunks).count("Việt") == 25_000
    for c in chunks:
        assert text[c.start : c.end] == c.text
