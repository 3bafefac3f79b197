"""Sample documents in every office and web format qa reads, with the facts a reader must find.

Each `make_*` writes a real file and returns what is in it: the title, the headings
(text and level), the body lines verbatim, and text that must NOT come out (page
headers and footers, deleted text, a web page's menus). Reader tests check those
facts on the extracted text; integration tests can index the files and ask about them.

tests/data/sample.doc is a real Word 97-2003 file, so that machines without LibreOffice
(CI) still test the .doc conversion: it was made on 2026-11-24 by `write_doc_source()`
below (python-docx 1.2.0) and `soffice --headless --convert-to doc` (LibreOffice
7.4.7.2); `SAMPLE_DOC` lists its text. Regenerate it the same way if its text changes.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
SAMPLE_DOC_PATH = DATA / "sample.doc"

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_WPS = "http://schemas.microsoft.com/office/word/2010/wordprocessingShape"


@dataclass(frozen=True)
class Facts:
    """What a sample file holds, as a reader must return it."""

    title: str
    headings: tuple[tuple[str, int], ...]  # (line, level), in order
    lines: tuple[str, ...]  # the non-blank lines the text must be, verbatim, in order
    rows: tuple[str, ...]  # table rows, cells joined by " | "
    absent: tuple[str, ...]  # text that must not come out (page furniture, deleted text)
    answers: tuple[tuple[str, str], ...] = ()  # (question, line that answers it) for retrieval tests


# --- Word ------------------------------------------------------------------------------

DOCX_TITLE = "Quy chế làm việc của Văn phòng Sở Tư pháp"
_HOURS = "Buổi sáng làm việc từ 7 giờ 30 đến 11 giờ 30; buổi chiều làm việc từ 13 giờ 30 đến 17 giờ."
_DOCX_ROWS = (
    "Bộ phận | Người phụ trách | Điện thoại",
    "Phòng Hành chính | Trần Thị Bích | 0255 3822 111",
    "Phòng Nghiệp vụ | Phạm Minh Đức | 0255 3822 333",
    "Võ Thị Hoa | 0255 3822 444",
)


def make_docx(path: str | Path) -> Facts:
    """A Word regulation: Title style, Heading 1/2 styles, bold "Điều" lines, a bold sentence
    that is no heading, a soft line break, a table between paragraphs (a vertically merged
    cell, an empty row), a text box, tracked-deleted text, a page header and footer."""
    import docx

    document = docx.Document()
    document.core_properties.title = DOCX_TITLE
    section = document.sections[0]
    section.header.paragraphs[0].text = "Sở Tư pháp tỉnh Quảng Ngãi - Tài liệu nội bộ"
    section.footer.paragraphs[0].text = "Trang 1 trên 1"
    document.add_paragraph(DOCX_TITLE, style="Title")
    document.add_heading("Chương I. Những quy định chung", 1)
    document.add_paragraph().add_run("Điều 1. Phạm vi điều chỉnh").bold = True
    document.add_paragraph(
        "Quy chế này quy định nguyên tắc, chế độ trách nhiệm và lề lối làm việc "
        "của Văn phòng Sở Tư pháp tỉnh Quảng Ngãi."
    )
    document.add_paragraph().add_run(
        "Cán bộ, công chức phải có mặt tại cơ quan trước 7 giờ 30 phút mỗi buổi sáng."
    ).bold = True
    document.add_paragraph().add_run("Điều 2. Giờ làm việc").bold = True
    hours = document.add_paragraph("Buổi sáng làm việc từ 7 giờ 30 đến 11 giờ 30;")
    hours.add_run().add_break()  # a soft line break (Shift+Enter)
    hours.add_run("buổi chiều làm việc từ 13 giờ 30 đến 17 giờ.")
    _deleted(hours, "Thứ bảy làm việc buổi sáng.")
    table = document.add_table(rows=5, cols=3)
    for r, row in enumerate([("Bộ phận", "Người phụ trách", "Điện thoại"),
                             ("Phòng Hành chính", "Trần Thị Bích", "0255 3822 111"),
                             ("", "", ""),
                             ("Phòng Nghiệp vụ", "Phạm Minh Đức", "0255 3822 333"),
                             ("", "Võ Thị Hoa", "0255 3822 444")]):  # fmt: skip
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    table.cell(3, 0).merge(table.cell(4, 0))
    _text_box(
        document.add_paragraph("Mọi thắc mắc về quy chế gửi về Phòng Hành chính."),
        "Đường dây nóng của Văn phòng: 0255 3822 999.",
    )
    document.add_heading("Chương II. Tổ chức thực hiện", 1)
    document.add_heading("Điều 3. Hiệu lực thi hành", 2)
    document.add_paragraph("Quy chế này có hiệu lực kể từ ngày 01 tháng 7 năm 2024.")
    document.save(str(path))
    return Facts(
        title=DOCX_TITLE,
        headings=(
            ("Chương I. Những quy định chung", 1),
            ("Điều 1. Phạm vi điều chỉnh", 2),
            ("Điều 2. Giờ làm việc", 2),
            ("Chương II. Tổ chức thực hiện", 1),
            ("Điều 3. Hiệu lực thi hành", 2),
        ),
        lines=(
            DOCX_TITLE,
            "Chương I. Những quy định chung",
            "Điều 1. Phạm vi điều chỉnh",
            "Quy chế này quy định nguyên tắc, chế độ trách nhiệm và lề lối làm việc "
            "của Văn phòng Sở Tư pháp tỉnh Quảng Ngãi.",
            "Cán bộ, công chức phải có mặt tại cơ quan trước 7 giờ 30 phút mỗi buổi sáng.",
            "Điều 2. Giờ làm việc",
            _HOURS,
            *_DOCX_ROWS,
            "Mọi thắc mắc về quy chế gửi về Phòng Hành chính.",
            "Đường dây nóng của Văn phòng: 0255 3822 999.",
            "Chương II. Tổ chức thực hiện",
            "Điều 3. Hiệu lực thi hành",
            "Quy chế này có hiệu lực kể từ ngày 01 tháng 7 năm 2024.",
        ),
        rows=_DOCX_ROWS,
        absent=("Tài liệu nội bộ", "Trang 1 trên 1", "Thứ bảy làm việc buổi sáng."),
        answers=(
            ("Buổi chiều làm việc đến mấy giờ?", _HOURS),
            ("Quy chế có hiệu lực từ ngày nào?", "Quy chế này có hiệu lực kể từ ngày 01 tháng 7 năm 2024."),
            ("Số điện thoại của Phòng Hành chính là gì?", _DOCX_ROWS[1]),
        ),
    )


def _deleted(paragraph, text: str) -> None:
    """Text deleted with track changes on: still in the file, no longer in the document."""
    from docx.oxml import parse_xml

    paragraph._p.append(
        parse_xml(
            f'<w:del xmlns:w="{_W}" w:id="1" w:author="qa" w:date="2024-06-01T00:00:00Z">'
            f"<w:r><w:delText>{text}</w:delText></w:r></w:del>"
        )
    )


def _text_box(paragraph, text: str) -> None:
    """A text box anchored in `paragraph`, as Word writes it: the box and an old-Word copy of it."""
    from docx.oxml import parse_xml

    box = f"<w:txbxContent><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:txbxContent>"
    paragraph._p.append(
        parse_xml(
            f'<w:r xmlns:w="{_W}" xmlns:mc="{_MC}" xmlns:wps="{_WPS}"><mc:AlternateContent>'
            f'<mc:Choice Requires="wps"><w:drawing><wps:txbx>{box}</wps:txbx></w:drawing></mc:Choice>'
            f"<mc:Fallback><w:pict>{box}</w:pict></mc:Fallback></mc:AlternateContent></w:r>"
        )
    )


# --- legacy Word (.doc) ----------------------------------------------------------------

_LONG_CELL = (
    "Tiếp nhận hồ sơ đăng ký khai sinh, kết hôn, khai tử của công dân tại bộ phận một cửa, "
    "kiểm tra tính hợp lệ và chuyển cho công chức tư pháp - hộ tịch xử lý trong ngày làm việc"
)
SAMPLE_DOC = Facts(
    title="",
    headings=(),
    lines=(
        "Kế hoạch cải cách hành chính năm 2024",
        "I. MỤC TIÊU",
        "Nâng cao chất lượng giải quyết thủ tục hành chính cho người dân và doanh nghiệp trên địa bàn xã.",
        "II. NHIỆM VỤ",
        "1. Rà soát thủ tục hành chính",
        "Công chức văn phòng rà soát toàn bộ thủ tục hành chính trước ngày 30 tháng 4 năm 2024.",
        "Công việc | Người thực hiện | Thời hạn",
        f"{_LONG_CELL} | Nguyễn Thị Lan | Hằng ngày",
        "Niêm yết công khai thủ tục | Lê Văn Minh | Quý I",
        "2. Ứng dụng công nghệ thông tin",
        "Tỷ lệ hồ sơ được tiếp nhận trực tuyến đạt ít nhất 50% tổng số hồ sơ trong năm.",
        "Cộng hoà xã hội chủ nghĩa Việt Nam - văn bản cũ gõ bằng phông chữ TCVN3.",
        *(
            f"Phụ lục {i}: danh mục thủ tục thuộc lĩnh vực hộ tịch, chứng thực và tư pháp số {i}."
            for i in range(1, 9)
        ),
    ),
    rows=(
        "Công việc | Người thực hiện | Thời hạn",
        f"{_LONG_CELL} | Nguyễn Thị Lan | Hằng ngày",
        "Niêm yết công khai thủ tục | Lê Văn Minh | Quý I",
    ),
    absent=("Ủy ban nhân dân xã Tịnh Phong",),
    answers=(
        (
            "Tỷ lệ hồ sơ trực tuyến phải đạt bao nhiêu?",
            "Tỷ lệ hồ sơ được tiếp nhận trực tuyến đạt ít nhất 50% tổng số hồ sơ trong năm.",
        ),
    ),
)
# The legacy-font line of SAMPLE_DOC as typed in a TCVN3 (.VnTime) font: each Vietnamese
# letter is the Western letter on the key that font draws it for.
_TCVN3_LINE = "Céng hoµ x· héi chñ nghÜa ViÖt Nam - v¨n b¶n cò gâ b»ng ph«ng ch÷ TCVN3."


def write_doc_source(path: str | Path) -> None:
    """The .docx that LibreOffice turned into tests/data/sample.doc (see the module docstring).

    Its body is long enough for antiword, which cannot read a .doc whose text stream is
    under 4 KiB (LibreOffice writes small files more tightly than Word does).
    """
    import docx

    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = "Ủy ban nhân dân xã Tịnh Phong"
    lines = iter(SAMPLE_DOC.lines)
    for line in lines:
        if line == SAMPLE_DOC.rows[0]:
            table = document.add_table(rows=3, cols=3)
            for r, row in enumerate(SAMPLE_DOC.rows):
                for c, cell in enumerate(row.split(" | ")):
                    table.cell(r, c).text = cell
            next(lines), next(lines)
        elif "TCVN3" in line:
            document.add_paragraph().add_run(_TCVN3_LINE).font.name = ".VnTime"
        else:
            document.add_paragraph(line)
    document.save(str(path))


def make_doc(path: str | Path) -> Facts:
    """The .doc sample at `path`: converted now with LibreOffice if installed, else copied."""
    soffice = shutil.which("soffice")
    if soffice is None:
        shutil.copy(SAMPLE_DOC_PATH, path)
        return SAMPLE_DOC
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "source.docx"
        write_doc_source(source)
        profile = (Path(tmp) / "profile").as_uri()
        command = [soffice, "--headless", f"-env:UserInstallation={profile}", "--convert-to", "doc"]
        subprocess.run([*command, "--outdir", tmp, str(source)], check=True, capture_output=True, timeout=120)
        shutil.copy(Path(tmp) / "source.doc", path)
    return SAMPLE_DOC


# --- web pages ---------------------------------------------------------------------------

HTML_TITLE = "Hà Nội đẩy mạnh công tác đối ngoại nhân dân năm 2024"
_HTML_LINES = (
    HTML_TITLE,
    "Ngày 12-6, Liên hiệp các tổ chức hữu nghị thành phố Hà Nội tổ chức hội nghị tổng kết "
    "công tác đối ngoại nhân dân sáu tháng đầu năm.",
    "Kết quả nổi bật",
    "Trong sáu tháng, thành phố đã đón tiếp 215 đoàn khách quốc tế đến thăm và làm việc.",
    "Các hoạt động giao lưu văn hóa được tổ chức thường xuyên tại 30 quận, huyện, thị xã.",
    "Năm | Số đoàn khách | Số nước",
    "2023 | 180 | 42",
    "2024 | 215 | 47",
    "Nhiệm vụ thời gian tới",
    "Thành phố tiếp tục quảng bá hình ảnh Thủ đô nghìn năm văn hiến với bạn bè quốc tế.",
    "- Tăng cường hợp tác với các thành phố kết nghĩa.",
    "- Hỗ trợ cộng đồng người Việt Nam ở nước ngoài hướng về quê hương.",
)
_HTML_FURNITURE = (
    "Trang chủ",
    "Thời sự",
    "Bạn đọc",
    "Tin liên quan",
    "Hội nghị đối ngoại toàn quốc lần thứ nhất",
    "Đoàn đại biểu Lào thăm Hà Nội",
    "sử dụng cookie",
    "Giấy phép số 123/GP-BTTTT",
    "Bài viết rất hay",
)


def news_page(*, charset: str | None = "utf-8") -> str:
    """A Vietnamese news page: menu, header, cookie notice, sidebar of related links, comments,
    footer, and the article (<h1>, two <h2> sections, paragraphs, a table, a list)."""
    meta = f'<meta charset="{charset}">' if charset else ""
    return f"""<!DOCTYPE html>
<html lang="vi"><head>{meta}<title>{HTML_TITLE} - Báo Thủ Đô</title>
<link rel="canonical" href="https://example.vn/doi-ngoai.html"><link rel="stylesheet" href="https://example.vn/a.css">
<script src="https://example.vn/a.js"></script></head>
<body>
<header class="site-header"><div class="logo"><a href="/">Báo Thủ Đô</a></div>
<nav><ul><li><a href="/">Trang chủ</a></li><li><a href="/thoi-su">Thời sự</a></li>
<li><a href="/kinh-te">Kinh tế</a></li><li><a href="/ban-doc">Bạn đọc</a></li></ul></nav></header>
<div id="cookie-notice">Trang web sử dụng cookie để cải thiện trải nghiệm của bạn.
<button>Đồng ý</button></div>
<main><article>
<h1>{HTML_TITLE}</h1>
<p>{_HTML_LINES[1]}</p>
<img src="https://example.vn/anh.jpg" alt="Hội nghị">
<h2>{_HTML_LINES[2]}</h2>
<p>{_HTML_LINES[3]}</p>
<p>{_HTML_LINES[4]}</p>
<table><tr><th>Năm</th><th>Số đoàn khách</th><th>Số nước</th></tr>
<tr><td>2023</td><td>180</td><td>42</td></tr><tr><td>2024</td><td>215</td><td>47</td></tr></table>
<h2>{_HTML_LINES[8]}</h2>
<p>{_HTML_LINES[9]}</p>
<ul><li>{_HTML_LINES[10][2:]}</li><li>{_HTML_LINES[11][2:]}</li></ul>
</article>
<aside class="sidebar"><h3>Tin liên quan</h3><ul>
<li><a href="/a">Hội nghị đối ngoại toàn quốc lần thứ nhất</a></li>
<li><a href="/b">Đoàn đại biểu Lào thăm Hà Nội</a></li></ul></aside>
<section class="comments"><h3>Bình luận</h3><p>Bài viết rất hay, cảm ơn tác giả.</p></section>
</main>
<footer><p>© 2024 Báo Thủ Đô. Giấy phép số 123/GP-BTTTT. Địa chỉ: 35 Hàng Bài, Hoàn Kiếm, Hà Nội.</p></footer>
</body></html>
"""


def make_html(path: str | Path, *, encoding: str = "utf-8", declare: bool = True) -> Facts:
    """The news page saved in `encoding` ("utf-8", "windows-1258"), its <meta charset> saying so or absent."""
    page = news_page(charset=encoding if declare else None)
    data = to_cp1258(page) if encoding == "windows-1258" else page.encode(encoding)
    Path(path).write_bytes(data)
    return Facts(
        title=HTML_TITLE,
        headings=((HTML_TITLE, 1), (_HTML_LINES[2], 2), (_HTML_LINES[8], 2)),
        lines=_HTML_LINES,
        rows=_HTML_LINES[5:8],
        absent=_HTML_FURNITURE,
        answers=(("Sáu tháng đầu năm Hà Nội đón bao nhiêu đoàn khách quốc tế?", _HTML_LINES[3]),),
    )


_TONES = "\u0300\u0301\u0303\u0309\u0323"  # grave, acute, tilde, hook above, dot below


def to_cp1258(text: str) -> bytes:
    """`text` in Windows-1258, which spells most toned letters as a letter and a combining tone."""
    out = bytearray()
    for char in text:
        try:
            out += char.encode("cp1258")
        except UnicodeEncodeError:
            marks = unicodedata.normalize("NFD", char)
            base, tone = (
                "".join(c for c in marks if c not in _TONES),
                "".join(c for c in marks if c in _TONES),
            )
            out += unicodedata.normalize("NFC", base).encode("cp1258") + tone.encode("cp1258")
    return bytes(out)


def seed_page(text: str) -> bytes:
    """A seed text re-wrapped as a plain web page: its first line the <title>, a <p> per line."""
    from html import escape

    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    body = "".join(f"<p>{escape(line)}</p>\n" for line in lines)
    head = f'<meta charset="utf-8"><title>{escape(lines[0]) if lines else ""}</title>'
    return f"<!DOCTYPE html><html><head>{head}</head><body>\n{body}</body></html>".encode()
