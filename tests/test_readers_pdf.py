"""The PDF reader on real PDFs written by the tests: text layer, scans read by Tesseract, bad files."""

from __future__ import annotations

import bisect
import io
import logging
import re
import shutil
import subprocess
import unicodedata
import zlib

import pypdfium2 as pdfium
import pytest
from samples_encrypted_pdf import make_encrypted_pdf
from samples_legacy_pdf import make_legacy_font_pdf, make_multilingual_pdf, make_unmapped_legacy_font_pdf
from samples_pdf import (
    make_mixed_pdf,
    make_scanned_pdf,
    make_text_pdf,
    make_two_column_pdf,
    pdf_of,
)

from qa.errors import CorpusError, MissingToolError
from qa.ingest import parse_document
from qa.readers import extract, pdf_streams

# OCR character accuracy on make_scanned_pdf's page, measured 1.000 (Tesseract 5.3.0, vie, 200 dpi);
# the floor leaves room for other Tesseract versions and models (9 wrong characters of 456).
OCR_ACCURACY_FLOOR = 0.98


def _tesseract_reads_vietnamese() -> bool:
    if shutil.which("tesseract") is None:
        return False
    listing = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30)
    return "vie" in (listing.stdout + listing.stderr).split()


needs_tesseract = pytest.mark.skipif(
    not _tesseract_reads_vietnamese(),
    reason="needs the Debian packages tesseract-ocr and tesseract-ocr-vie (apt install them)",
)


def _find(text: str, sentence: str) -> int:
    """Where `sentence` starts in `text`, line breaks allowed wherever it has a space; -1 if absent."""
    pattern = r"\s+".join(map(re.escape, sentence.split()))
    match = re.search(pattern, text)
    return match.start() if match else -1


def _page_of(pages: tuple[int, ...], offset: int) -> int:
    return bisect.bisect_right(pages, offset) - 1


def _lines_by_page(pdf) -> list[list[str]]:
    """Each page's lines, blank ones left out: pages are cut where `pdf.pages` says they start."""
    ends = [start - 2 for start in pdf.pages[1:]] + [len(pdf.text)]
    return [[line for line in pdf.text[a:b].splitlines() if line] for a, b in zip(pdf.pages, ends)]


def _accuracy(read: str, truth: str) -> float:
    """1 - edit distance / length, on NFC text with whitespace runs as one space."""
    a, b = (" ".join(unicodedata.normalize("NFC", t).split()) for t in (read, truth))
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return 1 - previous[-1] / len(b)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    sample = make_text_pdf(tmp_path_factory.mktemp("pdf") / "bao-cao-2024.pdf")
    return sample, extract(sample.path.read_bytes(), name=sample.path.name)


def test_each_sentence_is_read_on_its_own_page(report):
    sample, pdf = report
    assert pdf.format == "pdf" and not pdf.ocr
    assert len(pdf.pages) == 3 and pdf.pages[0] == 0
    for page, sentences in enumerate(sample.sentences):
        for sentence in sentences:
            at = _find(pdf.text, sentence)
            assert at >= 0, sentence
            assert _page_of(pdf.pages, at) == page, sentence
    # a blank line between pages
    assert all(pdf.text[start - 2 : start] == "\n\n" for start in pdf.pages[1:])


def test_text_is_nfc_even_when_the_file_draws_decomposed_letters(report):
    sample, pdf = report
    assert unicodedata.is_normalized("NFC", pdf.text)
    assert sample.sentences[0][2] in pdf.text  # drawn as NFD (base letters + combining marks)


@pytest.mark.parametrize(
    "page_number", ["Trang {page}/{pages}", "- {page} -", "{page}", "Page {page} of {pages}"]
)
def test_running_header_and_page_numbers_are_dropped(tmp_path, page_number):
    sample = make_text_pdf(tmp_path / "bao-cao.pdf", page_number=page_number)
    pdf = extract(sample.path.read_bytes(), name="bao-cao.pdf")
    lines = pdf.text.splitlines()
    for line in sample.furniture:
        assert line not in lines
    assert not any(line.startswith("Sở Thông tin") for line in lines)
    assert len(pdf.pages) == 3 and all(_find(pdf.text, s) >= 0 for page in sample.sentences for s in page)


def test_hyphenated_line_ends_are_mended_and_real_hyphens_kept(report):
    sample, pdf = report
    for word in sample.broken:
        assert word in pdf.text
    assert "confe-" not in pdf.text and "hi-" not in pdf.text
    for word in sample.kept_hyphens:
        assert word in pdf.text


def test_last_page_reads_exactly_as_printed(report):
    _, pdf = report
    assert pdf.text[pdf.pages[2] :] == (
        "III. PHƯƠNG HƯỚNG NĂM 2025\n"
        "Năm 2025, Sở tập trung xây dựng kho dữ liệu dùng chung của tỉnh và tổ chức thực hiện\n"
        "chương trình đào tạo kỹ năng số cho 2.000 cán bộ, công chức cấp xã."
    )


@pytest.mark.parametrize("encoding", ["tcvn3", "vni"])
def test_text_typed_in_a_legacy_vietnamese_font_reads_as_vietnamese(tmp_path, encoding):
    """Its lines, line-end "tư" and "kinh tế-" included; pages, bookmarks and title point at the result."""
    sample = make_legacy_font_pdf(tmp_path / "bao-cao-tu-phap.pdf", encoding=encoding)
    pdf = extract(sample.path.read_bytes(), name=sample.path.name)
    assert _lines_by_page(pdf) == [list(page) for page in sample.pages]
    assert all(pdf.text[start - 2 : start] == "\n\n" for start in pdf.pages[1:])
    found = [(pdf.text[h.start : h.end], h.level, _page_of(pdf.pages, h.start)) for h in pdf.headings]
    assert found == [(h.text, h.level, h.page) for h in sample.headings]
    assert pdf.title == sample.title


def test_legacy_font_text_without_a_map_to_unicode_reads_as_vietnamese(tmp_path):
    """Such a PDF names TCVN3's "ư" after its glyph, "minus": "ng−êi" is "người"."""
    sample = make_unmapped_legacy_font_pdf(tmp_path / "bao-cao-cu.pdf")
    pdf = extract(sample.path.read_bytes(), name=sample.path.name)
    assert _lines_by_page(pdf) == [list(page) for page in sample.pages]


@pytest.fixture(scope="module")
def multilingual(tmp_path_factory):
    sample = make_multilingual_pdf(tmp_path_factory.mktemp("pdf") / "hop-tac-quoc-te.pdf")
    return sample, extract(sample.path.read_bytes(), name=sample.path.name)


def test_unicode_vietnamese_beside_french_and_german_reads_as_printed(multilingual):
    sample, pdf = multilingual
    assert _lines_by_page(pdf) == [list(page) for page in sample.pages]
    assert pdf.title == "Hợp tác quốc tế"


def test_english_words_broken_at_line_ends_are_joined_and_vietnamese_compounds_keep_hyphens(multilingual):
    sample, pdf = multilingual
    for word in sample.joined:
        assert f" {word}\n" in pdf.text
    assert "na-" not in pdf.text and "informa-" not in pdf.text
    for word in sample.kept_hyphens:
        assert word in pdf.text


def test_table_drawn_row_by_row_keeps_its_rows_with_tabs_between_cells(report):
    sample, pdf = report
    lines = pdf.text.splitlines()
    for row in sample.table_rows:
        assert row in lines


def test_bookmarks_are_the_headings_and_the_properties_give_the_title(report):
    sample, pdf = report
    assert pdf.title == sample.title
    found = [(pdf.text[h.start : h.end], h.level, _page_of(pdf.pages, h.start)) for h in pdf.headings]
    assert found == [(h.text, h.level, h.page) for h in sample.headings]
    for h in pdf.headings:  # each a whole line
        assert pdf.text[h.start - 1] == "\n" and pdf.text[h.end] == "\n"


def test_ingest_rejoins_the_visual_lines_into_whole_paragraphs(report):
    sample, pdf = report
    document = parse_document(pdf.text, doc_id="bao-cao-2024.pdf")
    paragraphs = [" ".join(document.span(b).split()) for b in document.blocks if b.kind == "text"]
    for sentences in sample.sentences:
        for sentence in sentences:
            assert sentence in paragraphs
    headings = [document.span(b) for b in document.blocks if b.kind == "heading"]
    assert [h.text for h in sample.headings] == headings


def test_two_columns_drawn_one_after_the_other_read_column_by_column(tmp_path):
    sample = make_two_column_pdf(tmp_path / "ban-tin.pdf")
    pdf = extract(sample.path.read_bytes(), name=sample.path.name)
    found = [_find(pdf.text, sentence) for sentence in sample.sentences]
    assert -1 not in found and found == sorted(found)
    assert pdf.title == ""  # not Word's "Microsoft Word - ban-tin-thang-3.docx"


def test_pages_without_text_still_count(tmp_path):
    blank = pdfium.PdfDocument.new()
    for _ in range(3):
        blank.new_page(595, 842)
    out = io.BytesIO()
    blank.save(out)
    pdf = extract(out.getvalue(), name="trang-trang.pdf")
    assert pdf.text.strip() == "" and len(pdf.pages) == 3 and not pdf.ocr


@needs_tesseract
def test_scanned_page_is_read_by_ocr(tmp_path):
    sample = make_scanned_pdf(tmp_path / "bien-ban-quet.pdf")
    pdf = extract(sample.path.read_bytes(), name=sample.path.name)
    assert pdf.ocr and len(pdf.pages) == 1
    assert unicodedata.is_normalized("NFC", pdf.text)
    assert _accuracy(pdf.text, sample.text) >= OCR_ACCURACY_FLOOR
    assert _find(pdf.text, sample.key_sentence) >= 0


@needs_tesseract
def test_mixed_pdf_reads_typed_pages_scanned_page_and_counts_the_blank_one(tmp_path):
    sample = make_mixed_pdf(tmp_path / "ho-so.pdf")
    pdf = extract(sample.path.read_bytes(), name=sample.path.name)
    assert pdf.ocr and len(pdf.pages) == 5
    assert _page_of(pdf.pages, _find(pdf.text, sample.typed.sentences[2][0])) == 2
    assert _page_of(pdf.pages, _find(pdf.text, sample.scanned.key_sentence)) == 3
    assert pdf.text[pdf.pages[sample.blank_page] :].strip() == ""


def test_without_tesseract_a_scanned_pdf_names_the_packages_to_install(tmp_path, monkeypatch):
    sample = make_scanned_pdf(tmp_path / "bien-ban-quet.pdf")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(MissingToolError, match="apt install tesseract-ocr tesseract-ocr-vie") as caught:
        extract(sample.path.read_bytes(), name=sample.path.name)
    assert "bien-ban-quet.pdf" in str(caught.value) and "scanned" in str(caught.value)


def test_without_tesseract_a_mixed_pdf_keeps_its_typed_pages_and_warns(tmp_path, monkeypatch, caplog):
    sample = make_mixed_pdf(tmp_path / "ho-so.pdf")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with caplog.at_level(logging.WARNING, logger="qa.readers.pdf"):
        pdf = extract(sample.path.read_bytes(), name=sample.path.name)
    assert not pdf.ocr and len(pdf.pages) == 5
    assert _find(pdf.text, sample.typed.sentences[0][0]) >= 0
    assert pdf.text[pdf.pages[3] :].strip() == ""
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert "scanned pages 4 were left out" in warning and "tesseract-ocr-vie" in warning


@needs_tesseract
def test_tesseract_without_vietnamese_data_names_the_package(tmp_path, monkeypatch):
    """Tesseract looks for its language data in TESSDATA_PREFIX: here a folder without any."""
    (tmp_path / "tessdata").mkdir()
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path / "tessdata"))
    sample = make_scanned_pdf(tmp_path / "bien-ban-quet.pdf")
    with pytest.raises(MissingToolError, match=r"without its Vietnamese data.*tesseract-ocr-vie"):
        extract(sample.path.read_bytes(), name=sample.path.name)


def test_pdf_needing_a_password_is_refused_with_what_to_do(tmp_path):
    sample = make_encrypted_pdf(tmp_path / "mat.pdf", user_password="matkhau")
    with pytest.raises(CorpusError, match=r"mat\.pdf is protected by a password.*without one"):
        extract(sample.path.read_bytes(), name="mat.pdf")


def test_pdf_with_only_an_owner_password_reads(tmp_path):
    sample = make_encrypted_pdf(tmp_path / "han-che.pdf", user_password="")
    assert extract(sample.path.read_bytes(), name="han-che.pdf").text == sample.text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is not a PDF file"),
        (b"<html><body>Th\xc3\xb4ng b\xc3\xa1o</body></html>", "is not a PDF file"),
        (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog", "is a damaged PDF"),
    ],
)
def test_damaged_or_renamed_files_raise_corpus_error(data, message):
    with pytest.raises(CorpusError, match=message):
        extract(data, name="hong.pdf")


def test_pdf_cut_short_raises_corpus_error(report):
    sample, _ = report
    data = sample.path.read_bytes()
    with pytest.raises(CorpusError, match=r"hong\.pdf is a damaged PDF .*save or print it to a new PDF"):
        extract(data[: len(data) // 2], name="hong.pdf")


def _raw_pdf(content: bytes, *, image: bytes = b"") -> bytes:
    """A one-page PDF whose page draws `content` (Flate-compressed), with a grey picture of
    `image`'s bytes (Flate-compressed too) when given; a hand-made file, as a bomb would be."""
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    resources = (
        b"<< /Font << /F1 5 0 R >> /XObject << /Im0 6 0 R >> >>" if image else b"<< /Font << /F1 5 0 R >> >>"
    )
    packed = zlib.compress(content, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources "
        + resources
        + b" /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(packed), packed),
        font,
    ]
    if image:
        side = int(len(image) ** 0.5)
        picture = zlib.compress(image[: side * side], 9)
        objects.append(
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
            b"/BitsPerComponent 8 /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream"
            % (side, side, len(picture), picture)
        )
    return pdf_of(objects)


TEXT = b"BT /F1 12 Tf 72 770 Td (Bao cao so 12 ve phong chong lut bao.) Tj ET\n"


def test_a_pdf_whose_page_unpacks_past_the_limit_is_refused_before_pdfium_reads_it():
    bomb = _raw_pdf(TEXT + b" " * (pdf_streams.CONTENT_LIMIT - len(TEXT) + 1))  # 64 MiB and a byte: 65 KB
    assert len(bomb) < 100_000
    with pytest.raises(
        CorpusError, match=r"bom\.pdf holds a page's content that unpacks to more than 64 MiB"
    ):
        extract(bomb, name="bom.pdf")
    assert (
        "Bao cao so 12"
        in extract(_raw_pdf(TEXT + b" " * (pdf_streams.CONTENT_LIMIT - len(TEXT))), name="du.pdf").text
    )


def test_a_picture_is_judged_by_the_picture_limit(monkeypatch):
    monkeypatch.setattr(pdf_streams, "CONTENT_LIMIT", 1 << 20)
    big_picture = _raw_pdf(TEXT, image=bytes(range(256)) * 8192)  # 2 MiB of grey
    assert "Bao cao so 12" in extract(big_picture, name="anh.pdf").text
    monkeypatch.setattr(pdf_streams, "IMAGE_LIMIT", 1 << 20)
    with pytest.raises(CorpusError, match=r"anh\.pdf holds a picture that unpacks to more than 1 MiB"):
        extract(big_picture, name="anh.pdf")
