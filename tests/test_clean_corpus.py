"""Ordinary documents keep every line; saved web pages still lose their furniture.

tests/data/clean holds documents with no web furniture at all: articles of law, drug and
symptom lists whose items end in "…", one-line documents, tables, official letters, a
report that repeats a paragraph, notes, a song, a leaflet with a copyright line. The seed
pages are saved web pages, whose furniture is hand-listed in test_ingest.BOILERPLATE.
"""

import pytest
from conftest import ROOT, SEEDS
from test_ingest import BOILERPLATE

from qa.furniture import WEBPAGE_MIN_SCORE, Line, furniture_score
from qa.ingest import _lines, parse_document, read_corpus
from qa.text import match_key

CLEAN = ROOT / "tests" / "data" / "clean"
WEB_PAGES = {"000_afc3e4fb20cb5761.txt", "001_5890e04fe2056a11.txt", "002_93a5b40c263f557d.txt"} | {
    "004_0f785d997b4fb8c5.txt"
}
LETTER = "003_594181e79c53eb2f.txt"  # an official letter: no furniture, nothing to drop


def _non_space(text):
    return sum(not c.isspace() for c in text)


def _score(document):
    return furniture_score([Line.at(document.text, a, b) for a, b in _lines(document.text)])


@pytest.fixture(scope="module")
def clean():
    return read_corpus(CLEAN)


@pytest.fixture(scope="module")
def seeds():
    return {d.id: d for d in read_corpus(SEEDS)}


def test_the_clean_corpus_is_varied(clean):
    assert len(clean) >= 25
    assert {d.id.rsplit(".", 1)[1] for d in clean} == {"txt", "md"}
    assert sum(len(_lines(d.text)) == 1 for d in clean) >= 3


def test_ordinary_documents_keep_all_their_text(clean):
    total = sum(_non_space(d.text) for d in clean)
    kept = sum(_non_space(d.span(b)) for d in clean for b in d.blocks)
    assert kept / total >= 0.999
    for doc in clean:
        assert not doc.webpage, f"{doc.id} taken for a web page"
        assert doc.blocks, f"{doc.id} is empty"
        assert doc.dropped == 0, f"{doc.id} lost {doc.dropped} characters"
        for start, _ in _lines(doc.text):
            assert any(b.start <= start < b.end for b in doc.blocks), (
                f"{doc.id} lost {doc.text[start:][:50]!r}"
            )


def test_lists_ending_in_ellipsis_and_repeated_paragraphs_stay(clean):
    docs = {d.id: d for d in clean}
    drugs = docs["danh-muc-khang-sinh.txt"]
    assert sum("…" in drugs.span(b) for b in drugs.blocks) == 8
    report = docs["bao-cao-quy-i.txt"]
    note = "Số liệu trong báo cáo này là số liệu sơ bộ"
    assert sum(report.span(b).startswith(note) for b in report.blocks) == 4


def test_one_line_documents_and_table_rows_are_text_to_index(clean):
    docs = {d.id: d for d in clean}
    for name in ("mot-dong-tai-kham.txt", "mot-dong-lich-truc.txt", "mot-dong-khong-xuong-dong.txt"):
        assert [b.kind for b in docs[name].blocks] == ["text"], name
    assert docs["mot-dong-lich-truc.txt"].title == "Lịch trực Tết Nguyên đán Ất Tỵ 2025"
    note = parse_document("# Số điện thoại trực cấp cứu: 115\n", doc_id="ghi-chu.md")
    assert note.title == "Số điện thoại trực cấp cứu: 115" and [b.kind for b in note.blocks] == ["text"]
    for name in ("lich-tiem-chung.txt", "danh-sach-lop-tap-huan.txt", "bang-gia-xet-nghiem.txt"):
        doc = docs[name]
        rows = [b for b in doc.blocks if " | " in doc.span(b) or "\t" in doc.span(b)]
        assert len(rows) >= 6 and all(b.kind == "text" for b in rows), name


def test_the_furniture_score_separates_web_pages_from_documents(clean, seeds):
    documents = max(_score(d) for d in [*clean, seeds[LETTER]])
    pages = min(_score(seeds[name]) for name in WEB_PAGES)
    assert documents < WEBPAGE_MIN_SCORE <= pages
    assert (documents, pages) == (1, 3)  # the margins the threshold's comment records


@pytest.mark.parametrize("doc_id", sorted(BOILERPLATE))
def test_seed_pages_still_lose_their_furniture_and_count_it(seeds, doc_id):
    doc = seeds[doc_id]
    assert doc.webpage == (doc_id in WEB_PAGES)
    kept = match_key(" ".join(doc.span(b) for b in doc.blocks))
    lines = doc.text.splitlines(keepends=True)
    furniture = {n for n in BOILERPLATE[doc_id] if lines[n - 1].strip()}
    lost, pos = {}, 0
    for number, line in enumerate(lines, 1):
        start = pos + len(line) - len(line.lstrip())
        if line.strip() and not any(b.start <= start < b.end for b in doc.blocks):
            lost[number] = line
        pos += len(line)
    assert set(lost) >= furniture
    for number, line in lost.items():
        if number not in furniture:  # the second copy of a caption printed twice
            assert match_key(line) in kept, f"{doc_id}:{number} lost: {line[:60]}"
    assert doc.dropped == sum(_non_space(line) for line in lost.values())
    assert (doc.dropped > 0) == (doc_id in WEB_PAGES)
