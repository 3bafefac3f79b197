"""A document whose paragraphs were laid out at a page's width: each visual line ends where
the next word no longer fit, so a sentence's next line may start with a capital ("Ủy ban",
"Điều 12"), as in a PDF or a hard-wrapped text. Written by the tests, as text or as a PDF.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

A4 = (595.0, 842.0)  # points

TITLE = "QUY ĐỊNH VỀ ĐĂNG KÝ HỘ KINH DOANH"
HEADING = "Điều 8. Tiếp nhận hồ sơ và trả kết quả"
# Each paragraph as its visual lines: the breaks fall before words in capitals.
PARAGRAPHS = (
    (
        "1. Hồ sơ đăng ký hộ kinh doanh được nộp tại bộ phận tiếp nhận và trả kết quả của",
        "Ủy ban nhân dân cấp huyện nơi đặt trụ sở hộ kinh doanh, trong thời hạn 03 ngày làm việc kể",
        "từ ngày nhận đủ hồ sơ hợp lệ.",
    ),
    (
        "2. Người nộp hồ sơ được hướng dẫn bổ sung giấy tờ một lần bằng văn bản theo mẫu quy định tại",
        "Phụ lục II ban hành kèm theo Nghị định này; lệ phí đăng ký là 100.000 đồng cho mỗi lần cấp",
        "Giấy chứng nhận đăng ký hộ kinh doanh.",
    ),
)
CONTENTS = (
    "Chương 1. Những quy định chung về hộ kinh doanh và hồ sơ đăng ký .................... 3",
    "Chương 2. Trình tự, thủ tục cấp giấy chứng nhận đăng ký hộ kinh doanh ............... 9",
)
SENTENCES = tuple(" ".join(lines) for lines in PARAGRAPHS)


def wrapped_text() -> str:
    """The document as a hard-wrapped text: the title, the heading, the paragraphs one visual
    line a row with no blank line between them, then a table of contents with dot leaders."""
    return (
        "\n".join([TITLE, "", HEADING, "", *(line for p in PARAGRAPHS for line in p), "", *CONTENTS]) + "\n"
    )


def make_wrapped_pdf(path: str | Path) -> Path:
    """The same document as a one-page PDF drawn line by line, a wider gap before each block."""
    path = Path(path)
    blocks = [(TITLE,), (HEADING,), *PARAGRAPHS, CONTENTS]
    out = io.BytesIO()
    with (
        matplotlib.rc_context({"pdf.fonttype": 42, "font.family": "DejaVu Sans"}),
        PdfPages(out, metadata={"Title": TITLE}) as pdf,
    ):
        page, y = Figure(figsize=(A4[0] / 72, A4[1] / 72)), 790.0
        for block in blocks:
            y -= 10
            for line in block:
                y -= 14
                page.text(50 / A4[0], y / A4[1], line, fontsize=10)
        pdf.savefig(page)
    path.write_bytes(out.getvalue())
    return path
