"""Sample PDFs with known Vietnamese content, written by the tests themselves.

Each `make_*(path)` writes one file and returns the facts a reader must recover from it,
so reader tests and end-to-end tests (index the file, ask, check passage/page/heading)
share one source of truth. Text PDFs are drawn by matplotlib in DejaVu Sans with the font
embedded as TrueType (pdf.fonttype 42), whose ToUnicode map makes Vietnamese round-trip
exactly; scans are Pillow images of DejaVu Sans text with no text layer.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import pypdfium2 as pdfium
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from PIL import Image, ImageDraw, ImageFont

A4 = (595.0, 842.0)  # points
_FONT = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


@dataclass(frozen=True)
class SampleHeading:
    text: str
    level: int
    page: int  # 0-based


@dataclass(frozen=True)
class TextPdf:
    path: Path
    title: str  # the title in the file's properties
    sentences: tuple[tuple[str, ...], ...]  # per page, whole sentences (single-spaced) printed there
    headings: tuple[SampleHeading, ...]  # the file's bookmarks, each the text of one line
    furniture: tuple[str, ...]  # running header and footers: on every page, never in the text
    broken: tuple[str, ...]  # words hyphenated across a line end, to be read whole without the hyphen
    kept_hyphens: tuple[str, ...]  # "e-Office", "Ma-lai-xi-a" broken after a hyphen: whole, hyphen kept
    table_rows: tuple[str, ...]  # a table drawn row by row: cells come back tab-separated


@dataclass(frozen=True)
class TwoColumnPdf:
    path: Path
    sentences: tuple[str, ...]  # in reading order: down the left column, then down the right


@dataclass(frozen=True)
class ScannedPdf:
    path: Path
    paragraphs: tuple[str, ...]  # the page's text, one string a paragraph
    key_sentence: str  # a sentence a question should find

    @property
    def text(self) -> str:
        return " ".join(self.paragraphs)


@dataclass(frozen=True)
class MixedPdf:
    path: Path
    typed: TextPdf  # its pages come first (without its bookmarks and title: merging drops them)
    scanned: ScannedPdf  # then this page
    blank_page: int  # and last an empty page, at this index


_HEADER = "Sở Thông tin và Truyền thông tỉnh Hòa Bình"
_TITLE = "Báo cáo tổng kết công tác năm 2024"
_NFD_SENTENCE = "Người dân được hướng dẫn sử dụng dịch vụ công trực tuyến toàn trình."
# What each page draws, top down: (text, font size, bold, lines of space before it).
_PAGES = (
    (
        ("BÁO CÁO TỔNG KẾT CÔNG TÁC NĂM 2024", 15, True, 0),
        ("I. KẾT QUẢ ĐẠT ĐƯỢC", 12, True, 1),
        ("1. Chuyển đổi số", 11, True, 0.5),
        ("Năm 2024, Sở đã hoàn thành việc kết nối hệ thống quản lý văn bản với 100% xã,", 10, False, 0),
        ("phường, thị trấn; tỷ lệ văn bản điện tử gửi nhận trên môi trường mạng đạt 98,5%.", 10, False, 0),
        ("Hệ thống giao ban trực tuyến (video confe-", 10, False, 0.6),
        ("rence) được triển khai tới 151 điểm cầu, phục vụ phát triển kinh tế-", 10, False, 0),
        ("xã hội của tỉnh.", 10, False, 0),
        (unicodedata.normalize("NFD", _NFD_SENTENCE), 10, False, 0.6),
    ),
    (
        ("II. TỒN TẠI, HẠN CHẾ", 12, True, 0),
        ("Một số phần mềm chuyên ngành chưa kết nối được với nền tảng tích hợp, chia sẻ dữ", 10, False, 0),
        ("liệu của tỉnh; nhân lực công nghệ thông tin tại cấp xã còn thiếu và chưa ổn định.", 10, False, 0),
        ("Phần mềm quản lý văn bản e-", 10, False, 0.6),
        ("Office còn chậm khi mở hồ sơ ký số có dung lượng lớn.", 10, False, 0),
        ("Sở đã học tập kinh nghiệm chuyển đổi số của Xin-ga-po và Ma-lai-", 10, False, 0.6),
        ("xi-a trong năm qua.", 10, False, 0),
        (("Chỉ tiêu", "Kế hoạch", "Thực hiện"), 10, True, 0.6),
        (("Dịch vụ công trực tuyến", "85%", "92%"), 10, False, 0),
        (("Hồ sơ xử lý đúng hạn", "95%", "97,2%"), 10, False, 0),
    ),
    (
        ("III. PHƯƠNG HƯỚNG NĂM 2025", 12, True, 0),
        ("Năm 2025, Sở tập trung xây dựng kho dữ liệu dùng chung của tỉnh và tổ chức thực hi-", 10, False, 0),
        ("ện chương trình đào tạo kỹ năng số cho 2.000 cán bộ, công chức cấp xã.", 10, False, 0),
    ),
)
_CELLS_AT = (60, 300, 420)  # x of each table column, points
_BOOKMARKS = (
    SampleHeading("I. KẾT QUẢ ĐẠT ĐƯỢC", 1, 0),
    SampleHeading("1. Chuyển đổi số", 2, 0),
    SampleHeading("II. TỒN TẠI, HẠN CHẾ", 1, 1),
    SampleHeading("III. PHƯƠNG HƯỚNG NĂM 2025", 1, 2),
)


def make_text_pdf(path: str | Path, *, page_number: str = "Trang {page}/{pages}") -> TextPdf:
    """A 3-page report with a text layer: a heading a page (bookmarked), a running header, page
    numbers in the footer (`page_number` formatted with page and pages, e.g. "- {page} -"), words
    hyphenated across lines, a table, and a sentence drawn as decomposed Unicode (NFD)."""
    path = Path(path)
    path.write_bytes(_add_bookmarks(_draw(_PAGES, title=_TITLE, page_number=page_number), _BOOKMARKS))
    return TextPdf(
        path=path,
        title=_TITLE,
        sentences=(
            (
                "Năm 2024, Sở đã hoàn thành việc kết nối hệ thống quản lý văn bản với 100% xã, phường, thị "
                "trấn; tỷ lệ văn bản điện tử gửi nhận trên môi trường mạng đạt 98,5%.",
                "Hệ thống giao ban trực tuyến (video conference) được triển khai tới 151 điểm cầu, phục vụ "
                "phát triển kinh tế-xã hội của tỉnh.",
                _NFD_SENTENCE,
            ),
            (
                "Một số phần mềm chuyên ngành chưa kết nối được với nền tảng tích hợp, chia sẻ dữ liệu của "
                "tỉnh; nhân lực công nghệ thông tin tại cấp xã còn thiếu và chưa ổn định.",
                "Phần mềm quản lý văn bản e-Office còn chậm khi mở hồ sơ ký số có dung lượng lớn.",
                "Sở đã học tập kinh nghiệm chuyển đổi số của Xin-ga-po và Ma-lai-xi-a trong năm qua.",
            ),
            (
                "Năm 2025, Sở tập trung xây dựng kho dữ liệu dùng chung của tỉnh và tổ chức thực hiện chương "
                "trình đào tạo kỹ năng số cho 2.000 cán bộ, công chức cấp xã.",
            ),
        ),
        headings=_BOOKMARKS,
        furniture=(_HEADER, *(page_number.format(page=i, pages=3) for i in (1, 2, 3))),
        broken=("conference", "thực hiện"),
        kept_hyphens=("kinh tế-xã", "e-Office", "Ma-lai-xi-a"),
        table_rows=(
            "Chỉ tiêu\tKế hoạch\tThực hiện",
            "Dịch vụ công trực tuyến\t85%\t92%",
            "Hồ sơ xử lý đúng hạn\t95%\t97,2%",
        ),
    )


_COLUMNS = (
    (
        "Sáng 12/3, Sở tổ chức hội nghị",
        "triển khai nhiệm vụ năm 2025.",
        "Các phòng chuyên môn báo cáo",
        "kết quả quý I và kiến nghị.",
    ),
    (
        "Chiều cùng ngày, đoàn công tác",
        "kiểm tra hạ tầng mạng tại xã.",
        "Đoàn ghi nhận đường truyền ổn",
        "định, đáp ứng họp trực tuyến.",
    ),
)


def make_two_column_pdf(path: str | Path) -> TwoColumnPdf:
    """A newsletter page in two columns, drawn a column at a time as word processors do; the
    lines of the two columns share their heights, so reading by height would interleave them.
    Its title property is Word's placeholder, "Microsoft Word - <file name>": no title to show."""
    path = Path(path)
    out = io.BytesIO()
    placeholder = "Microsoft Word - ban-tin-thang-3.docx"
    settings = {"pdf.fonttype": 42, "font.family": "DejaVu Sans"}
    with matplotlib.rc_context(settings), PdfPages(out, metadata={"Title": placeholder}) as pdf:
        figure = Figure(figsize=(A4[0] / 72, A4[1] / 72))
        for x, column in zip((60, 320), _COLUMNS):
            for k, line in enumerate(column):
                _put(figure, x, 760 - 14 * k, line, 10)
        pdf.savefig(figure)
    path.write_bytes(out.getvalue())
    sentences = [" ".join(column[k : k + 2]) for column in _COLUMNS for k in (0, 2)]
    return TwoColumnPdf(path, tuple(sentences))


_SCAN_PARAGRAPHS = (
    "BÁO CÁO KẾT QUẢ KIỂM TRA CÔNG TÁC PHÒNG CHÁY",
    "Thực hiện Kế hoạch số 15/KH-UBND ngày 10 tháng 3 năm 2024, đoàn kiểm tra đã làm việc với 12 "
    "cơ quan, đơn vị trên địa bàn huyện.",
    "Qua kiểm tra, các đơn vị đều đã trang bị bình chữa cháy, tiêu lệnh và nội quy phòng cháy; tuy "
    "nhiên còn 3 đơn vị chưa tổ chức diễn tập theo quy định.",
    "Đề nghị Thủ trưởng các cơ quan chấn chỉnh ngay những tồn tại nêu trên và báo cáo kết quả khắc "
    "phục trước ngày 30 tháng 6 năm 2024.",
)


def make_scanned_pdf(path: str | Path) -> ScannedPdf:
    """One A4 page scanned at 300 dpi (12 pt DejaVu Sans on white), an image and no text layer."""
    path = Path(path)
    path.write_bytes(_scan_pdf(_SCAN_PARAGRAPHS))
    return ScannedPdf(path, _SCAN_PARAGRAPHS, _SCAN_PARAGRAPHS[2])


def make_mixed_pdf(path: str | Path) -> MixedPdf:
    """The 3 typed pages of `make_text_pdf`, then the scanned page, then a blank page."""
    path = Path(path)
    typed = make_text_pdf(path.with_name(path.stem + "-typed.pdf"))
    scanned = make_scanned_pdf(path.with_name(path.stem + "-scanned.pdf"))
    merged = pdfium.PdfDocument.new()
    for part in (typed.path, scanned.path):
        source = pdfium.PdfDocument(part)
        merged.import_pages(source)
        source.close()
    merged.new_page(*A4)
    out = io.BytesIO()
    merged.save(out)
    merged.close()
    path.write_bytes(out.getvalue())
    typed.path.unlink()
    scanned.path.unlink()
    return MixedPdf(path, typed, scanned, blank_page=4)


def _draw(pages, *, title: str, page_number: str) -> bytes:
    """Each page of `pages` drawn top down with the running header and a page number below."""
    out = io.BytesIO()
    settings = {"pdf.fonttype": 42, "font.family": "DejaVu Sans"}
    with matplotlib.rc_context(settings), PdfPages(out, metadata={"Title": title}) as pdf:
        for number, lines in enumerate(pages, 1):
            figure = Figure(figsize=(A4[0] / 72, A4[1] / 72))
            _put(figure, 60, 805, _HEADER, 9)
            _put(figure, 270, 40, page_number.format(page=number, pages=len(pages)), 9)
            y = 760.0
            for text, size, bold, space in lines:
                y -= size * 1.4 * (1 + space)
                for x, cell in zip(_CELLS_AT, text) if isinstance(text, tuple) else [(60, text)]:
                    _put(figure, x, y, cell, size, bold=bold)
            pdf.savefig(figure)
    return out.getvalue()


def _put(figure: Figure, x: float, y: float, text: str, size: float, *, bold: bool = False) -> None:
    figure.text(x / A4[0], y / A4[1], text, fontsize=size, fontweight="bold" if bold else "normal")


def _add_bookmarks(pdf: bytes, marks: tuple[SampleHeading, ...]) -> bytes:
    """`pdf` with an outline appended as an incremental update, as a PDF editor saves one."""
    root = int(re.search(rb"/Root (\d+) 0 R", pdf).group(1))
    size = int(re.findall(rb"/Size (\d+)", pdf)[-1])
    previous = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    catalog = re.search(rb"\n%d 0 obj\s*<<(.*?)>>\s*endobj" % root, pdf, re.S).group(1)
    kids = re.search(rb"/Type /Pages /Kids \[([^\]]*)\]", pdf).group(1)
    page_refs = re.findall(rb"\d+ 0 R", kids)
    outline = size
    items = {i: outline + 1 + i for i in range(len(marks))}
    parents = {}
    for i, mark in enumerate(marks):
        parents[i] = next((j for j in range(i - 1, -1, -1) if marks[j].level < mark.level), None)
    objects = {}
    for i, mark in enumerate(marks):
        siblings = [j for j in range(len(marks)) if parents[j] == parents[i]]
        children = [j for j in range(len(marks)) if parents[j] == i]
        title = (b"\xfe\xff" + mark.text.encode("utf-16-be")).hex().encode()
        entry = b"/Title <%s> /Parent %d 0 R /Dest [%s /XYZ null null null]" % (
            title,
            outline if parents[i] is None else items[parents[i]],
            page_refs[mark.page],
        )
        at = siblings.index(i)
        if at:
            entry += b" /Prev %d 0 R" % items[siblings[at - 1]]
        if at + 1 < len(siblings):
            entry += b" /Next %d 0 R" % items[siblings[at + 1]]
        if children:
            entry += b" /First %d 0 R /Last %d 0 R /Count %d" % (
                items[children[0]],
                items[children[-1]],
                len(children),
            )
        objects[items[i]] = b"<< " + entry + b" >>"
    top = [i for i in range(len(marks)) if parents[i] is None]
    objects[outline] = b"<< /Type /Outlines /First %d 0 R /Last %d 0 R /Count %d >>" % (
        items[top[0]],
        items[top[-1]],
        len(marks),
    )
    objects[root] = b"<<" + catalog + b" /Outlines %d 0 R >>" % outline
    trailer = b"/Root %d 0 R" % root
    if info := re.search(rb"/Info \d+ 0 R", pdf):
        trailer += b" " + info.group()
    return _append_objects(pdf, objects, size=outline + 1 + len(marks), previous=previous, trailer=trailer)


def _append_objects(
    pdf: bytes, objects: dict[int, bytes], *, size: int, previous: int, trailer: bytes
) -> bytes:
    out = bytearray(pdf if pdf.endswith(b"\n") else pdf + b"\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref = len(out)
    out += b"xref\n"
    for number in sorted(objects):
        out += b"%d 1\n%010d 00000 n \n" % (number, offsets[number])
    out += b"trailer\n<< /Size %d /Prev %d %s >>\nstartxref\n%d\n%%%%EOF\n" % (size, previous, trailer, xref)
    return bytes(out)


def _scan_pdf(paragraphs: tuple[str, ...], *, dpi: int = 300, size_pt: int = 12) -> bytes:
    width, height = round(A4[0] / 72 * dpi), round(A4[1] / 72 * dpi)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(_FONT), round(size_pt * dpi / 72))
    margin, y, pitch = dpi, dpi, round(size_pt * dpi / 72 * 1.5)
    for paragraph in paragraphs:
        line = ""
        for word in paragraph.split():
            if line and draw.textlength(f"{line} {word}", font=font) > width - 2 * margin:
                draw.text((margin, y), line, font=font, fill=0)
                y, line = y + pitch, word
            else:
                line = f"{line} {word}".strip()
        draw.text((margin, y), line, font=font, fill=0)
        y += pitch * 2
    out = io.BytesIO()
    image.save(out, "PDF", resolution=dpi)
    return out.getvalue()


def pdf_of(objects) -> bytes:
    """A PDF written by hand from its objects' bodies (object 1 the catalog), as a damaged file or a
    bomb would be written: numbered in order, with their cross-reference table."""
    out, offsets = bytearray(b"%PDF-1.7\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
