"""Word readers: .docx (python-docx) and legacy .doc (antiword, else LibreOffice) on real files."""

from __future__ import annotations

import io
import os
import re
import shutil
import struct
import subprocess
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import docx
import pytest
from samples import SAMPLE_DOC, SAMPLE_DOC_PATH, make_doc, make_docx

import qa.readers.docx
from qa.errors import CorpusError, MissingToolError
from qa.readers import extract

needs_antiword = pytest.mark.skipif(
    shutil.which("antiword") is None, reason="needs antiword (apt install antiword)"
)
needs_soffice = pytest.mark.skipif(
    shutil.which("soffice") is None, reason="needs LibreOffice (apt install libreoffice-writer-nogui)"
)


def _read(path: Path):
    return extract(path.read_bytes(), name=path.name)


def _heading_lines(extracted) -> tuple[tuple[str, int], ...]:
    return tuple((extracted.text[h.start : h.end], h.level) for h in extracted.headings)


def _docx(paragraphs, *, title: str | None = None) -> bytes:
    """A .docx of (text, style, bold) paragraphs."""
    document = docx.Document()
    if title is not None:
        document.core_properties.title = title
    for text, style, bold in paragraphs:
        paragraph = document.add_paragraph(style=style)
        paragraph.add_run(text).bold = bold
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


# --- .docx -------------------------------------------------------------------------------


def test_docx_sample_text_headings_and_title(tmp_path):
    facts = make_docx(tmp_path / "quy-che.docx")
    got = _read(tmp_path / "quy-che.docx")
    assert got.format == "docx" and got.paragraphs
    assert got.text == "\n\n".join(
        [*facts.lines[:7], "\n".join(facts.rows), *facts.lines[7 + len(facts.rows) :]]
    )  # every paragraph, in order, the table where it stands; one blank line between blocks
    assert _heading_lines(got) == facts.headings
    assert got.title == facts.title
    for furniture in facts.absent:  # page header and footer, tracked deletion
        assert furniture not in got.text
    assert got.text.count("Đường dây nóng") == 1  # the text box, not its old-Word copy too


def test_docx_bold_numbered_lines_are_headings_but_a_bold_sentence_is_not():
    lines = [
        ("PHẦN THỨ NHẤT", 1),
        ("Chương II", 1),
        ("I. MỤC TIÊU", 1),
        ("Điều 5. Quyền và nghĩa vụ của người lao động", 2),
        ("1. Phạm vi áp dụng", 2),
        ("1.1. Đối tượng áp dụng", 3),
        ("Nghiêm cấm sử dụng tài sản công vào mục đích cá nhân.", 0),  # a bold sentence
        ("1. Cán bộ phải chấp hành nghiêm nội quy cơ quan.", 0),  # numbered, but a sentence
    ]
    paragraphs = []
    for text, _ in lines:
        paragraphs += [(text, None, True), ("Nội dung thường của văn bản, không in đậm.", None, False)]
    got = extract(_docx(paragraphs), name="bold.docx")
    assert _heading_lines(got) == tuple((text, level) for text, level in lines if level)


def test_docx_heading_styles_by_name_and_outline_level():
    document = docx.Document()
    document.add_heading("Mở đầu", 1)
    document.add_heading("Bối cảnh", 3)
    custom = document.styles.add_style("Tiêu đề 2", docx.enum.style.WD_STYLE_TYPE.PARAGRAPH)
    document.add_paragraph("Mục tiêu", style=custom)
    outlined = document.add_paragraph("Kết luận")
    outlined._p.get_or_add_pPr().append(
        docx.oxml.parse_xml(f'<w:outlineLvl {docx.oxml.ns.nsdecls("w")} w:val="0"/>')
    )
    document.add_paragraph("Văn bản thường.")
    out = io.BytesIO()
    document.save(out)
    got = extract(out.getvalue(), name="styles.docx")
    assert _heading_lines(got) == (("Mở đầu", 1), ("Bối cảnh", 3), ("Mục tiêu", 2), ("Kết luận", 1))


@pytest.mark.parametrize(
    ("core", "styled", "expected"),
    [
        ("Báo cáo tổng kết năm 2023", None, "Báo cáo tổng kết năm 2023"),
        ("Mẫu văn bản cũ", "Báo cáo tổng kết năm 2023", "Báo cáo tổng kết năm 2023"),  # the visible one
        ("Microsoft Word - bao-cao.doc", None, ""),
        ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", None, ""),
        ("bao cao", None, ""),  # the file's own name
        ("", None, ""),
    ],
)
def test_docx_title(core, styled, expected):
    paragraphs = [(styled, "Title", False)] if styled else []
    paragraphs.append(("Nội dung báo cáo gồm ba phần chính.", None, False))
    assert extract(_docx(paragraphs, title=core), name="bao cao.docx").title == expected


def test_docx_without_core_properties_has_no_title():
    """python-docx invents "Word Document" for a file without docProps/core.xml: not a title."""
    source = _docx([("Nội dung chính của văn bản.", None, False)])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename in ("_rels/.rels", "[Content_Types].xml"):  # no part, no reference to it
                data = re.sub(rb"<(Relationship|Override)[^>]*core\.xml[^>]*/>", b"", data)
            if item.filename != "docProps/core.xml":
                zout.writestr(item, data)
    assert extract(out.getvalue(), name="x.docx").title == ""


def test_docx_frame_table_is_body_text_and_nested_table_follows_its_row():
    document = docx.Document()
    frame = document.add_table(rows=1, cols=1)
    frame.cell(0, 0).paragraphs[0].add_run("Điều 7. Khen thưởng").bold = True
    frame.cell(0, 0).add_paragraph("Cá nhân có thành tích xuất sắc được khen thưởng kịp thời.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Đơn vị", "Danh sách"
    table.cell(1, 0).text = "Tổ văn thư"
    inner = table.cell(1, 1).add_table(rows=2, cols=2)
    for r, (a, b) in enumerate([("Nguyễn An", "Văn thư"), ("Lê Bình", "Lưu trữ")]):
        inner.cell(r, 0).text, inner.cell(r, 1).text = a, b
    out = io.BytesIO()
    document.save(out)
    got = extract(out.getvalue(), name="bang.docx")
    assert got.text == (
        "Điều 7. Khen thưởng\n\nCá nhân có thành tích xuất sắc được khen thưởng kịp thời.\n\n"
        "Đơn vị | Danh sách\nTổ văn thư\nNguyễn An | Văn thư\nLê Bình | Lưu trữ"
    )
    assert _heading_lines(got) == (("Điều 7. Khen thưởng", 2),)


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        # a document typed in a TCVN3 (.VnTime) font, as old files converted to .docx still are
        (["Céng hoµ x· héi chñ nghÜa ViÖt Nam", "§éc lËp - Tù do - H¹nh phóc"],
         ["Cộng hoà xã hội chủ nghĩa Việt Nam", "Độc lập - Tự do - Hạnh phúc"]),
        # ... in a VNI font
        (["Coäng hoøa xaõ hoäi chuû nghóa Vieät Nam"], ["Cộng hòa xã hội chủ nghĩa Việt Nam"]),
        # one line pasted from an old file into a Unicode document
        (["Báo cáo tổng kết công tác năm 2023", "Trong n¨m qua, ®¬n vÞ ®· hoµn thµnh nhiÖm vô."],
         ["Báo cáo tổng kết công tác năm 2023", "Trong năm qua, đơn vị đã hoàn thành nhiệm vụ."]),
        # Western and plain Vietnamese text is never re-read
        (["Mädchen für alles, garçon à tout faire", "Tôi là ông Lê"],
         ["Mädchen für alles, garçon à tout faire", "Tôi là ông Lê"]),
    ],
)  # fmt: skip
def test_docx_legacy_font_text_is_read_as_vietnamese(typed, read):
    got = extract(_docx([(line, None, False) for line in typed]), name="cu.docx")
    assert got.text == "\n\n".join(read)


@pytest.mark.parametrize(
    "damage",
    ["truncated", "random", "no-document", "old-doc"],
)
def test_damaged_docx_raises_corpus_error(tmp_path, damage):
    good = _docx([("Nội dung.", None, False)])
    if damage == "truncated":
        data = good[: len(good) // 2]
    elif damage == "random":
        data = os.urandom(4000)
    elif damage == "no-document":
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            z.writestr("hello.txt", "xin chào")
        data = out.getvalue()
    else:
        data = SAMPLE_DOC_PATH.read_bytes()
    with pytest.raises(CorpusError) as err:
        extract(data, name="hong.docx")
    message = str(err.value)
    assert "hong.docx" in message and "not a Word .docx file" in message
    assert ("save it again as .docx" in message) or ("rename it to .doc" in message)


def test_empty_docx_is_empty_text():
    got = extract(_docx([]), name="trong.docx")
    assert got.text == "" and got.headings == () and got.title == ""


MIB = 2**20
LINE = "<w:p><w:r><w:t>Cán bộ có mặt tại cơ quan trước 7 giờ 30.</w:t></w:r></w:p>".encode()


def _repacked(data: bytes, parts: dict[str, bytes]) -> bytes:
    """The package `data` with `parts` put in, replacing the parts of the same name."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as z, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as o:
        for info in z.infolist():
            if info.filename not in parts:
                o.writestr(info.filename, z.read(info))
        for name, part in parts.items():
            o.writestr(name, part)
    return out.getvalue()


def _long_docx(xml_bytes: int) -> tuple[bytes, int]:
    """A .docx whose XML parts together are at most `xml_bytes`, nearly all one line over and over;
    and how many times the line is there."""
    good = _docx([])
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        document = z.read("word/document.xml")
        empty = sum(i.file_size for i in z.infolist() if i.filename.endswith((".xml", ".rels")))
    head, tail = document.split(b"<w:body>")
    times = (xml_bytes - empty) // len(LINE)
    return _repacked(good, {"word/document.xml": head + b"<w:body>" + LINE * times + tail}), times


def _lying(data: bytes, part: str, declared: bytes) -> bytes:
    """`data` with `part`'s headers declaring the size and CRC of `declared` in place of its own."""
    out, name = bytearray(data), part.encode()
    for signature, name_at, crc_at in ((b"PK\x03\x04", 30, 14), (b"PK\x01\x02", 46, 16)):
        at = out.find(signature)
        while out[at + name_at : at + name_at + len(name)] != name:
            at = out.find(signature, at + 1)
        compressed = struct.unpack_from("<I", out, at + crc_at + 4)[0]
        struct.pack_into("<III", out, at + crc_at, zlib.crc32(declared), compressed, len(declared))
    return bytes(out)


@pytest.mark.parametrize(
    ("part", "limit", "fix"),
    [
        ("word/document.xml", "XML_LIMIT", "split the document"),
        ("word/media/image1.png", "PARTS_LIMIT", "make its pictures smaller"),
    ],
)
def test_docx_zip_bomb_is_refused_before_it_is_unpacked(monkeypatch, part, limit, fix):
    # the limits the readers' comment measured as safe on a 24 GB machine
    assert (qa.readers.docx.XML_LIMIT, qa.readers.docx.PARTS_LIMIT) == (128 * MIB, 512 * MIB)
    monkeypatch.setattr(qa.readers.docx, limit, MIB)
    if part == "word/document.xml":
        data = _long_docx(3 * MIB)[0]
    else:
        data = _repacked(_docx([("Nội dung.", None, False)]), {part: bytes(3 * MIB)})
    assert len(data) < 64 * 1024  # a zip bomb: small on disk
    with pytest.raises(CorpusError) as err:
        extract(data, name="bom.docx")
    message = str(err.value)
    assert message.startswith("bom.docx unpacks to ") and f"({part}: " in message
    assert "more than qa reads (1 MiB): a zip bomb" in message and fix in message


def test_docx_just_under_the_limit_is_read_and_a_line_more_is_refused(monkeypatch):
    monkeypatch.setattr(qa.readers.docx, "XML_LIMIT", 2 * MIB)
    data, times = _long_docx(2 * MIB)
    got = extract(data, name="dai.docx")
    assert got.text.split("\n\n") == ["Cán bộ có mặt tại cơ quan trước 7 giờ 30."] * times
    with pytest.raises(CorpusError, match="more than qa reads"):
        extract(_long_docx(2 * MIB + 2 * len(LINE))[0], name="dai.docx")


def test_docx_part_is_not_unpacked_past_the_size_its_header_declares():
    """A part whose header declares its real XML but hides 64 MiB more after it: only what is
    declared is unpacked (python-docx alone would unpack it all before cutting it)."""
    data = _docx([("Cán bộ có mặt tại cơ quan trước 7 giờ 30.", None, False)])
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        document = z.read("word/document.xml")
    data = _lying(
        _repacked(data, {"word/document.xml": document + b" " * (64 * MIB)}), "word/document.xml", document
    )
    tracemalloc.start()
    try:
        got = extract(data, name="gia.docx")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got.text.startswith("Cán bộ có mặt") and peak < 16 * MIB


# --- .doc ----------------------------------------------------------------------------------


@needs_antiword
def test_committed_doc_sample_through_antiword():
    got = _read(SAMPLE_DOC_PATH)
    assert got.format == "doc" and got.paragraphs
    lines = got.text.split("\n")
    assert [line for line in lines if line] == list(SAMPLE_DOC.lines)  # antiword's wrapped cells rejoined
    assert "\n".join(SAMPLE_DOC.rows) in got.text  # one table, one block
    for furniture in SAMPLE_DOC.absent:
        assert furniture not in got.text


@needs_antiword
@needs_soffice
def test_doc_made_now_by_libreoffice_reads_like_the_committed_one(tmp_path):
    facts = make_doc(tmp_path / "ke-hoach.doc")
    assert _read(tmp_path / "ke-hoach.doc").text == _read(SAMPLE_DOC_PATH).text
    assert facts == SAMPLE_DOC


def _path_with(tmp_path: Path, programs: list[str]) -> str:
    """A PATH with only `programs` (and what LibreOffice's start script runs) on it."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for program in programs:
        (folder / program).symlink_to(shutil.which(program))
    return str(folder)


def test_doc_without_antiword_or_libreoffice_raises_missing_tool(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing installed
    with pytest.raises(MissingToolError) as err:
        extract(SAMPLE_DOC_PATH.read_bytes(), name="ke-hoach.doc")
    assert "apt install antiword" in str(err.value) and "ke-hoach.doc" in str(err.value)


@needs_soffice
def test_doc_without_antiword_is_converted_by_libreoffice(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", _path_with(tmp_path, ["soffice", "dirname", "basename", "ls", "sed", "uname"]))
    got = _read(SAMPLE_DOC_PATH)
    lines = got.text.split("\n")
    for line in SAMPLE_DOC.lines:
        if line not in SAMPLE_DOC.rows:  # LibreOffice writes a table's cells one per line
            assert line in lines


@needs_soffice
def test_tiny_doc_antiword_cannot_read_falls_back_to_libreoffice(tmp_path):
    document = docx.Document()
    document.add_paragraph("Giấy mời họp lúc 8 giờ sáng thứ hai.")
    document.save(tmp_path / "moi.docx")
    profile = f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}"
    command = ["soffice", "--headless", profile, "--convert-to", "doc", "--outdir", str(tmp_path)]
    subprocess.run([*command, str(tmp_path / "moi.docx")], check=True, capture_output=True, timeout=120)
    assert _read(tmp_path / "moi.doc").text == "Giấy mời họp lúc 8 giờ sáng thứ hai."


def test_doc_that_is_really_docx_or_html_is_read_as_such():
    as_docx = extract(
        _docx([("Điều 1. Phạm vi", None, True), ("Văn bản thật ra là docx.", None, False)]), name="a.doc"
    )
    assert as_docx.text == "Điều 1. Phạm vi\n\nVăn bản thật ra là docx." and as_docx.headings
    page = "<html><body><h1>Thông báo</h1><p>Trang web lưu thành .doc vẫn đọc được.</p></body></html>"
    as_html = extract(page.encode(), name="b.doc")
    assert as_html.format == "html" and "Trang web lưu thành .doc vẫn đọc được." in as_html.text.split("\n")


def test_rtf_saved_as_doc(tmp_path, monkeypatch):
    rtf = rb"{\rtf1\ansi\deff0 {\fonttbl {\f0 Times;}}\f0 Th\u244?ng b\u225?o ngh\u7881? l\u7877?.\par}"
    if shutil.which("soffice"):
        assert extract(rtf, name="c.doc").text == "Thông báo nghỉ lễ."
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(
        MissingToolError, match=r"RTF.*neither is installed.*apt install libreoffice-writer-nogui"
    ):
        extract(rtf, name="c.doc")
    (tmp_path / "antiword").write_text("#!/bin/sh\nexit 1\n")  # antiword there: it reads no RTF
    (tmp_path / "antiword").chmod(0o755)
    with pytest.raises(MissingToolError, match=r"RTF.*needs LibreOffice, which is not installed"):
        extract(rtf, name="c.doc")


@pytest.mark.parametrize("data", [os.urandom(3000), b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(3000)])
def test_damaged_doc_raises_corpus_error(data):
    if data[:4] == b"\xd0\xcf\x11\xe0" and not (shutil.which("antiword") or shutil.which("soffice")):
        pytest.skip("needs antiword (apt install antiword)")
    with pytest.raises(CorpusError) as err:
        extract(data, name="hong.doc")
    assert "hong.doc" in str(err.value) and ".docx" in str(err.value)
    assert not isinstance(err.value, MissingToolError)


@needs_soffice
def test_damaged_doc_without_antiword_is_refused_by_libreoffice_not_read_as_text(tmp_path, monkeypatch):
    """LibreOffice imports any file it does not recognise as plain text; told the format, it refuses."""
    monkeypatch.setenv("PATH", _path_with(tmp_path, ["soffice", "dirname", "basename", "ls", "sed", "uname"]))
    with pytest.raises(CorpusError, match=r"LibreOffice cannot read hong\.doc"):
        extract(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(3000), name="hong.doc")
