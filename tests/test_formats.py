"""Every format end to end: files the tests write are indexed, asked about, and cited by page and heading."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from samples import make_doc, make_docx, make_html
from samples_pdf import make_scanned_pdf, make_text_pdf

from qa import Retriever, Settings


def _has_ocr() -> bool:
    if shutil.which("tesseract") is None:
        return False
    langs = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30)
    return "vie" in langs.stdout.split()


def _has_doc_converter() -> bool:
    return bool(shutil.which("antiword") or shutil.which("soffice"))


@pytest.fixture(scope="module")
def formats(tmp_path_factory, embedder):
    """One corpus holding a sample of each format, indexed once."""
    root = tmp_path_factory.mktemp("formats")
    corpus = root / "corpus"
    corpus.mkdir()
    facts = {
        "quy-che.docx": make_docx(corpus / "quy-che.docx"),
        "ke-hoach.doc": make_doc(corpus / "ke-hoach.doc"),
        "tin-tuc.html": make_html(corpus / "tin-tuc.html"),
        "bao-cao.pdf": make_text_pdf(corpus / "bao-cao.pdf"),
        "ban-scan.pdf": make_scanned_pdf(corpus / "ban-scan.pdf"),
    }
    (corpus / "bang-tinh.xlsx").write_bytes(b"PK\x03\x04 not read")
    retriever = Retriever.build(corpus, root / "index", settings=Settings(), embedder=embedder)
    return retriever, facts


def _top(retriever: Retriever, question: str, k: int = 3):
    return retriever.search(question, k=k)


@pytest.mark.parametrize("doc_id", ["quy-che.docx", "tin-tuc.html", "ke-hoach.doc"])
def test_office_and_web_documents_answer_their_questions(formats, doc_id):
    retriever, facts = formats
    if doc_id.endswith(".doc") and not _has_doc_converter():
        pytest.skip("no .doc converter: apt install antiword")
    assert facts[doc_id].answers
    for question, line in facts[doc_id].answers:
        hits = _top(retriever, question)
        assert any(h.doc_id == doc_id and line in h.text for h in hits), (question, [h.text for h in hits])
        assert all(h.pages == () for h in hits if h.doc_id == doc_id)  # no pages in these formats


def test_word_headings_are_the_passages_sections(formats):
    retriever, _ = formats
    hit = next(h for h in _top(retriever, "Quy chế có hiệu lực từ ngày nào?") if h.doc_id == "quy-che.docx")
    assert "Điều 3. Hiệu lực thi hành" in hit.heading
    assert retriever.documents["quy-che.docx"] == "Quy chế làm việc của Văn phòng Sở Tư pháp"


def test_pdf_passages_know_their_page_and_heading(formats):
    retriever, facts = formats
    pdf = facts["bao-cao.pdf"]
    page_three = pdf.sentences[2][0]
    hit = next(
        h
        for h in _top(retriever, "Năm 2025 bao nhiêu cán bộ cấp xã được đào tạo kỹ năng số?")
        if h.doc_id == "bao-cao.pdf"
    )
    assert page_three in " ".join(hit.text.split())
    assert hit.pages == (3,)
    assert "PHƯƠNG HƯỚNG NĂM 2025" in hit.heading
    answer = retriever.ask("Phần mềm quản lý văn bản nào còn chậm khi mở hồ sơ ký số?")
    cited = next(h for h in answer.passages if "e-Office" in h.text)
    assert cited.doc_id == "bao-cao.pdf" and cited.pages == (2,)
    assert answer.to_dict()["passages"][cited.rank - 1]["pages"] == [2]
    text = retriever.document_text("bao-cao.pdf")
    for furniture in pdf.furniture:
        assert furniture not in text


def test_scanned_pdf_is_read_by_ocr_or_skipped_naming_the_packages(formats):
    retriever = formats[0]
    report = retriever.report
    if not _has_ocr():
        (reason,) = [s.reason for s in report.skipped if s.file == "ban-scan.pdf"]
        assert "tesseract-ocr" in reason and "tesseract-ocr-vie" in reason
        return
    hits = _top(retriever, "Còn bao nhiêu đơn vị chưa tổ chức diễn tập phòng cháy?")
    assert hits[0].doc_id == "ban-scan.pdf" and hits[0].pages == (1,)
    assert "diễn tập" in hits[0].text


def test_unknown_formats_are_skipped_with_a_note_and_the_rest_indexed(formats):
    retriever, _ = formats
    notes = {s.file: s.reason for s in retriever.report.skipped}
    assert "not a format qa reads" in notes["bang-tinh.xlsx"]
    expected = {"quy-che.docx", "tin-tuc.html", "bao-cao.pdf"}
    expected |= {"ban-scan.pdf"} if _has_ocr() else set()
    expected |= {"ke-hoach.doc"} if _has_doc_converter() else set()
    assert set(retriever.documents) == expected


def test_a_missing_ocr_tool_is_retried_once_installed(tmp_path, embedder, monkeypatch):
    """Skipped for want of Tesseract is not remembered like a damaged file: installing it is enough."""
    if not _has_ocr():
        pytest.skip("needs tesseract-ocr and tesseract-ocr-vie: apt install tesseract-ocr tesseract-ocr-vie")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    scan = make_scanned_pdf(corpus / "scan.pdf")
    (corpus / "note.txt").write_text("Ghi chú cuộc họp giao ban tháng 3.\n", encoding="utf-8")
    path = tmp_path / "index"
    monkeypatch.setenv("PATH", str(Path(tmp_path / "empty")))
    first = Retriever.build(corpus, path, settings=Settings(), embedder=embedder)
    assert [s.file for s in first.report.skipped] == ["scan.pdf"]
    monkeypatch.undo()
    second = Retriever.build(corpus, path, settings=Settings(), embedder=embedder)
    assert second.report.added == ("scan.pdf",) and not second.report.skipped
    assert "diễn tập" in " ".join(h.text for h in second.search(scan.key_sentence, k=1))
