import codecs
import os
import time
import unicodedata

import pytest
from conftest import ROOT, SEEDS
from samples_wrapped import CONTENTS, HEADING, SENTENCES, TITLE, make_wrapped_pdf, wrapped_text

from qa import ingest
from qa.corpus import corpus_files
from qa.errors import CorpusError
from qa.ingest import parse_document, read_corpus, read_document
from qa.text import clean, match_key

# Hand-checked: the 1-based line numbers of each seed page that are site furniture
# (navigation, counters, "Theo dõi ... trên", related / most-read lists, polls,
# "Phiên bản di động"), not article text.
BOILERPLATE = {
    "000_afc3e4fb20cb5761.txt": set(range(19, 38)),
    "001_5890e04fe2056a11.txt": set(),
    "002_93a5b40c263f557d.txt": {6} | set(range(44, 173)),
    "003_594181e79c53eb2f.txt": set(),
    "004_0f785d997b4fb8c5.txt": set(range(1, 12)) | set(range(59, 71)),
}
TITLES = {
    "000_afc3e4fb20cb5761.txt": "Hà Nội chú trọng đối ngoại nhân dân trong tình hình mới",
    "001_5890e04fe2056a11.txt": "Nâng cao hiệu quả công tác đối ngoại nhân dân trong phát triển Thủ đô",
    "002_93a5b40c263f557d.txt": "Phát huy vai trò của đối ngoại nhân dân",
    "003_594181e79c53eb2f.txt": "Sao gửi Tài liệu tuyên truyền, phổ biến, quán triệt Chỉ thị 12-CT/TW",
    "004_0f785d997b4fb8c5.txt": "Nâng cao hiệu quả hoạt động đối ngoại nhân dân của MTTQ Việt Nam",
}


def _lines(text):
    pos = 0
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        yield number, pos, line.strip()
        pos += len(line)


@pytest.fixture(scope="module")
def documents():
    return {d.id: d for d in read_corpus(SEEDS)}


@pytest.mark.parametrize("doc_id", sorted(BOILERPLATE))
def test_boilerplate_is_dropped_and_every_body_line_is_kept(documents, doc_id):
    doc = documents[doc_id]
    kept = match_key(" ".join(doc.span(b) for b in doc.blocks))
    for number, start, line in _lines(doc.text):
        if not line:
            continue
        inside = any(b.start <= start + 1 < b.end or b.start == start for b in doc.blocks)
        if number in BOILERPLATE[doc_id]:
            assert not inside, f"{doc_id}:{number} is boilerplate but kept: {line[:60]}"
        else:
            # a caption printed twice is kept once; a line broken mid-sentence is rejoined
            assert match_key(line) in kept, f"{doc_id}:{number} is article text but dropped: {line[:60]}"


def test_titles_are_the_headlines(documents):
    assert {d.id: d.title for d in documents.values()} == TITLES


def test_blocks_are_verbatim_spans_of_the_nfc_text(documents):
    for doc in documents.values():
        assert doc.text == unicodedata.normalize("NFC", (SEEDS / doc.id).read_text(encoding="utf-8"))
        for block in doc.blocks:
            span = doc.span(block)
            assert span == span.strip() and span


def test_section_headings_of_the_party_document(documents):
    headings = [
        clean(documents["003_594181e79c53eb2f.txt"].span(b))
        for b in documents["003_594181e79c53eb2f.txt"].blocks
        if b.kind == "heading"
    ]
    assert "IV. SỰ CẦN THIẾT BAN HÀNH CHỈ THỊ 12-CT/TW" in headings
    assert "I. VỀ KHÁI NIỆM ĐỐI NGOẠI NHÂN DÂN" in headings
    # the letterhead is not a heading
    assert "THỊ ỦY HƯƠNG TRÀ" not in headings


def test_a_line_broken_mid_sentence_is_one_paragraph(documents):
    doc = documents["003_594181e79c53eb2f.txt"]
    spans = [doc.span(b) for b in doc.blocks]
    assert any("chỉ đạo để củng cố" in s and "mới: (1) Quyết định số 34-QĐ/TW" in s for s in spans)


@pytest.mark.parametrize("make", ["txt", "pdf"])
def test_a_paragraph_wrapped_at_the_page_width_is_one_block(tmp_path, make):
    """Its lines go on with capitals ("Ủy ban", "Phụ lục II"); the title, the heading and the
    lines of a table of contents stay blocks of their own."""
    if make == "pdf":
        doc = read_document(make_wrapped_pdf(tmp_path / "quy-dinh.pdf"))
    else:
        doc = parse_document(wrapped_text(), doc_id="quy-dinh.txt")
    blocks = [" ".join(doc.span(b).split()) for b in doc.blocks]
    assert blocks == [TITLE, HEADING, *SENTENCES, *CONTENTS]


def test_rejoining_wrapped_lines_leaves_documents_written_a_paragraph_a_line_as_they_were(monkeypatch):
    """The seeds and the office documents have no line cut at a page width: the rule changes none
    of their blocks."""
    files = [*SEEDS.iterdir(), *(ROOT / "tests" / "data" / "clean").iterdir()]
    found = {f.name: read_document(f).blocks for f in files}
    monkeypatch.setattr(ingest, "wraps", lambda line, after, *, width: False)
    assert {f.name: read_document(f).blocks for f in files} == found


def test_duplicate_caption_is_kept_once(documents):
    doc = documents["001_5890e04fe2056a11.txt"]
    caption = "Tọa đàm “Giải pháp nâng cao hiệu quả đối ngoại nhân dân trong phát triển Thủ đô”."
    assert doc.text.count(caption) == 2
    assert sum(doc.span(b) == caption for b in doc.blocks) == 1


def test_encodings(tmp_path):
    text = "Hoà bình và hữu nghị.\n"
    (tmp_path / "bom.txt").write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
    (tmp_path / "utf16.txt").write_bytes(text.encode("utf-16"))
    (tmp_path / "nfd.txt").write_text(unicodedata.normalize("NFD", text), encoding="utf-8")
    for name in ("bom.txt", "utf16.txt", "nfd.txt"):
        assert read_document(tmp_path / name).text == text
    (tmp_path / "utf16-odd.txt").write_bytes(text.encode("utf-16")[:-1])  # cut mid-character
    with pytest.raises(CorpusError, match=r"utf16-odd\.txt"):
        read_document(tmp_path / "utf16-odd.txt")


def test_corpus_reads_documents_recursively_and_notes_other_files(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b.md").write_text("# Tiêu đề\n\nNội dung.\n", encoding="utf-8")
    (tmp_path / "c.txt").write_text("Văn bản.\n", encoding="utf-8")
    (tmp_path / "d.xlsx").write_bytes(b"PK")
    (tmp_path / ".hidden.txt").write_text("Không đọc.\n", encoding="utf-8")
    found = corpus_files(tmp_path)
    assert list(found.files) == ["a/b.md", "c.txt"]
    assert [(s.file, s.reason.split(":")[0]) for s in found.skipped] == [("d.xlsx", ".xlsx")]
    assert "not a format qa reads" in found.skipped[0].reason
    assert read_corpus(tmp_path)[0].title == "Tiêu đề"
    with pytest.raises(CorpusError, match="does not exist"):
        corpus_files(tmp_path / "missing")
    with pytest.raises(CorpusError, match="is a file, not a folder; pass --corpus DIR"):
        corpus_files(tmp_path / "c.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match=r"no readable documents"):
        corpus_files(tmp_path / "empty")


def test_a_link_to_another_document_of_the_corpus_is_indexed_once(tmp_path):
    """Under the target's own name; links to a file the walk does not list (hidden) count once too."""
    (tmp_path / "goc.txt").write_text("Văn bản gốc.\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    os.symlink("../goc.txt", tmp_path / "sub" / "ban-sao.txt")
    os.symlink("goc.txt", tmp_path / "alias.txt")
    (tmp_path / ".an.txt").write_text("Văn bản ẩn.\n", encoding="utf-8")
    os.symlink(".an.txt", tmp_path / "hien-1.txt")
    os.symlink(".an.txt", tmp_path / "hien-2.txt")
    found = corpus_files(tmp_path)
    assert sorted(found.files) == ["goc.txt", "hien-1.txt"]
    assert sorted((s.file, s.reason) for s in found.skipped) == [
        ("alias.txt", "a link to goc.txt, which is indexed under its own name"),
        ("hien-2.txt", "a link to hien-1.txt, which is indexed under its own name"),
        ("sub/ban-sao.txt", "a link to goc.txt, which is indexed under its own name"),
    ]


def test_markdown_headings_become_sections():
    doc = parse_document("# Báo cáo\n\n## Kết quả\n\nĐạt 90 điểm.\n", doc_id="r.md")
    assert doc.title == "Báo cáo"
    assert [(b.kind, b.level) for b in doc.blocks] == [("title", 0), ("heading", 2), ("text", 0)]


def test_a_typical_news_page_keeps_only_its_article():
    page = "\n".join(
        [
            "Trang chủ",
            "Lượt truy cập: 120345",
            "Ngày đăng: 03/04/2024 08:00",
            "Đoàn đại biểu hữu nghị thăm Lào",
            "Sáng 3/4, đoàn đại biểu Liên hiệp các tổ chức hữu nghị tỉnh đã đến thăm và làm việc tại thủ đô "
            "Viên Chăn, mở đầu chuyến công tác năm ngày theo lời mời của phía bạn.",
            "Hai bên trao đổi về kế hoạch giao lưu thanh niên và hợp tác y tế trong năm tới.",
            "Tin liên quan",
            "Hội hữu nghị tổ chức gặp mặt đầu xuân  (01/02/2024)",
            "Trao tặng học bổng cho sinh viên Lào  (15/01/2024)",
            "Chia sẻ",
        ]
    )
    doc = parse_document(page, doc_id="news.txt")
    assert doc.title == "Đoàn đại biểu hữu nghị thăm Lào"
    kept = " ".join(doc.span(b) for b in doc.blocks)
    assert "Viên Chăn" in kept and "hợp tác y tế" in kept
    furniture = ("Trang chủ", "120345", "Ngày đăng", "Tin liên quan", "học bổng", "Chia sẻ")
    for line in furniture:
        assert line not in kept
    assert doc.webpage
    lost = [line for n, line in enumerate(page.splitlines()) if n not in (3, 4, 5)]  # all but the article
    assert doc.dropped == sum(not c.isspace() for c in "".join(lost))


def test_strong_prose_between_link_lists_is_kept_on_a_web_page():
    prose = (
        "Theo báo cáo của Sở Y tế, trong năm qua toàn tỉnh đã tổ chức khám sàng lọc bệnh tăng huyết áp "
        "và đái tháo đường cho hơn mười hai nghìn người cao tuổi tại các trạm y tế xã, phường, phát hiện "
        "nhiều trường hợp mắc bệnh mới."
    )
    page = [
        "Trang chủ",
        "Khám sàng lọc cho người cao tuổi",
        "Ngành y tế tỉnh vừa tổng kết chương trình khám sàng lọc các bệnh không lây nhiễm cho người cao "
        "tuổi tại tuyến cơ sở, với nhiều kết quả đáng ghi nhận.",
        "Tin liên quan",
        "Tiêm chủng mở rộng đạt kết quả tốt  (02/03/2024)",
        "Hội thảo về dinh dưỡng học đường  (01/03/2024)",
        prose,
        "Bệnh viện huyện có máy chụp cắt lớp mới  (28/02/2024)",
    ]
    doc = parse_document("\n".join(page), doc_id="news.txt")
    spans = [doc.span(b) for b in doc.blocks]
    assert doc.webpage and prose in spans
    assert not any("(0" in s or "(2" in s or s in ("Trang chủ", "Tin liên quan") for s in spans)


def test_a_page_that_is_all_furniture_keeps_every_line():
    page = "Trang chủ\nTin liên quan\nHội nghị y tế cơ sở  (02/03/2024)\nLượt truy cập: 1234\n"
    doc = parse_document(page, doc_id="p.txt")
    assert doc.webpage and doc.dropped == 0
    assert [doc.span(b) for b in doc.blocks] == page.splitlines()


def test_without_boilerplate_removal_a_page_keeps_everything(documents):
    cleaned = documents["002_93a5b40c263f557d.txt"]
    doc = parse_document(cleaned.text, doc_id=cleaned.id, boilerplate=False)
    assert cleaned.webpage and cleaned.dropped > 0
    assert not doc.webpage and doc.dropped == 0


def test_many_broken_lines_are_rejoined_in_linear_time():
    """Each rejoined line once re-read the whole paragraph so far: 8,000 took 47 s, 20,000 minutes."""
    started = time.perf_counter()
    doc = parse_document("chữ\n" * 20_000, doc_id="x.txt")
    assert time.perf_counter() - started < 20  # linear: about half a second here
    assert len(doc.blocks) == 1 and doc.span(doc.blocks[0]).count("chữ") == 20_000
