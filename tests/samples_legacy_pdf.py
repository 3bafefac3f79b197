"""Sample PDFs whose letters a reader must not take at face value, written by the tests themselves.

A document typed in a legacy Vietnamese font (TCVN3 ".VnTime", VNI-Times) holds Western
letters the font draws as Vietnamese ones, and so does the text layer of its PDF ("Céng hoµ
x· héi"). Here those letters come from test_charset.py's reference encoders (written from
the standards, not from qa.charset) and are drawn, as samples_pdf.py draws, in DejaVu Sans,
which has every one of them; or written as the font's bytes in a PDF with no map to Unicode,
as older PDF printers make them. Beside it, a file in Unicode whose Vietnamese, French, German
and English must read as printed, English words broken at a line's end made whole.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from samples_pdf import SampleHeading, _add_bookmarks, _draw, pdf_of
from test_charset import to_abc, to_vni


@dataclass(frozen=True)
class LegacyFontPdf:
    path: Path
    title: str  # the title property, as it must be read
    pages: tuple[tuple[str, ...], ...]  # per page, its lines as they must be read (headers and footers gone)
    headings: tuple[SampleHeading, ...]  # the bookmarks, as they must be read


@dataclass(frozen=True)
class MultilingualPdf:
    path: Path
    pages: tuple[tuple[str, ...], ...]  # per page, its lines as they must be read (headers and footers gone)
    joined: tuple[str, ...]  # English words hyphenated across a line's end: read whole
    kept_hyphens: tuple[str, ...]  # Vietnamese compounds broken after their own hyphen: hyphen kept


_PAGE_NUMBER = "Trang {page}/{pages}"
_LEGACY_TITLE = "Báo cáo kết quả công tác tư pháp năm 2024"
# What each page draws, top down: (text, font size, bold, lines of space before it). The first
# page's body ends lines with "tư" (TCVN3 draws "ư" at the soft hyphen's code, which PDFium
# reports as a hyphen when it ends a line) and with the hyphen of "kinh tế-xã hội".
_LEGACY_PAGES = (
    (
        ("CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM", 12, True, 0),
        ("Độc lập - Tự do - Hạnh phúc", 11, True, 0),
        ("BÁO CÁO KẾT QUẢ CÔNG TÁC TƯ PHÁP NĂM 2024", 13, True, 1),
        ("Năm 2024, Phòng Tư pháp huyện đã hướng dẫn các cơ quan tư", 10, False, 0.5),
        ("pháp cấp xã giải quyết 1.250 hồ sơ của người dân đúng thời hạn,", 10, False, 0),
        ("góp phần phát triển kinh tế-", 10, False, 0),
        ("xã hội của địa phương.", 10, False, 0),
    ),
    (
        ("II. NHIỆM VỤ NĂM 2025", 12, True, 0),
        ("Tiếp tục đẩy mạnh cải cách hành chính, nâng cao chất lượng phục vụ", 10, False, 0),
        ("người dân và doanh nghiệp trên địa bàn huyện.", 10, False, 0),
    ),
)
_LEGACY_READ = (
    (
        "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "BÁO CÁO KẾT QUẢ CÔNG TÁC TƯ PHÁP NĂM 2024",
        "Năm 2024, Phòng Tư pháp huyện đã hướng dẫn các cơ quan tư",
        "pháp cấp xã giải quyết 1.250 hồ sơ của người dân đúng thời hạn,",
        "góp phần phát triển kinh tế-xã",
        "hội của địa phương.",
    ),
    (
        "II. NHIỆM VỤ NĂM 2025",
        "Tiếp tục đẩy mạnh cải cách hành chính, nâng cao chất lượng phục vụ",
        "người dân và doanh nghiệp trên địa bàn huyện.",
    ),
)
_LEGACY_BOOKMARKS = (
    SampleHeading("BÁO CÁO KẾT QUẢ CÔNG TÁC TƯ PHÁP NĂM 2024", 1, 0),
    SampleHeading("II. NHIỆM VỤ NĂM 2025", 1, 1),
)


def make_legacy_font_pdf(path: str | Path, *, encoding: Literal["tcvn3", "vni"]) -> LegacyFontPdf:
    """A 2-page report typed in a TCVN3 (ABC) or VNI font and printed to PDF: its text, bookmarks
    and title property are in the font's letters, as Word writes them; the running header is Unicode."""

    def font(text: str) -> str:  # the letters the legacy font draws as `text`
        return (to_abc if encoding == "tcvn3" else to_vni)(text).decode("cp1252")

    path = Path(path)
    pages = tuple(tuple((font(text), *rest) for text, *rest in page) for page in _LEGACY_PAGES)
    marks = tuple(replace(mark, text=font(mark.text)) for mark in _LEGACY_BOOKMARKS)
    drawn = _draw(pages, title=font(_LEGACY_TITLE), page_number=_PAGE_NUMBER)
    path.write_bytes(_add_bookmarks(drawn, marks))
    return LegacyFontPdf(path, _LEGACY_TITLE, _LEGACY_READ, _LEGACY_BOOKMARKS)


def make_unmapped_legacy_font_pdf(path: str | Path) -> LegacyFontPdf:
    """A page of the TCVN3 report's body written as the font's bytes, with no map to Unicode: the
    font's encoding is Windows' with the glyph at 0xAD ("ư") named "minus", so PDFium gives "ng−êi"."""
    path = Path(path)
    lines = [to_abc(text) for text, *_ in _LEGACY_PAGES[0][3:]]
    path.write_bytes(_unmapped_pdf(lines))
    return LegacyFontPdf(path, "", (_LEGACY_READ[0][3:],), ())


def _unmapped_pdf(lines: list[bytes]) -> bytes:
    escaped = [line.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") for line in lines]
    content = b"BT /F1 11 Tf 15 TL 60 760 Td " + b" ".join(b"(%s) Tj T*" % line for line in escaped) + b" ET"
    objects = (
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding << /Type /Encoding "
        b"/BaseEncoding /WinAnsiEncoding /Differences [173 /minus] >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
    )
    return pdf_of(objects)


# French and German lines have letters a legacy font's text shows too (ç, ë, Ü, ä): they are
# what the reader must leave alone. "na-tion" is made of a Vietnamese syllable and a near one.
_MULTILINGUAL_PAGES = (
    (
        ("BÁO CÁO HỢP TÁC QUỐC TẾ NĂM 2024", 13, True, 0),
        ("Sở đã học tập kinh nghiệm chuyển đổi số của Ma-lai-", 10, False, 0.5),
        ("xi-a, góp phần phát triển kinh tế-", 10, False, 0),
        ("xã hội của tỉnh.", 10, False, 0),
        ("La délégation française a reçu le programme de coopération ; elle s'est", 10, False, 0.6),
        ("réjouie de ce succès, a déclaré Mme Noëlle Leclère.", 10, False, 0),
    ),
    (
        ("Die Übergabe der Geräte an die Gemeinde fand im März statt.", 10, False, 0),
        ("The province aims to become a digital na-", 10, False, 0.6),
        ("tion by 2030; its informa-", 10, False, 0),
        ("tion system already links all 151 communes.", 10, False, 0),
    ),
)
_MULTILINGUAL_READ = (
    (
        "BÁO CÁO HỢP TÁC QUỐC TẾ NĂM 2024",
        "Sở đã học tập kinh nghiệm chuyển đổi số của Ma-lai-xi-a,",
        "góp phần phát triển kinh tế-xã",
        "hội của tỉnh.",
        "La délégation française a reçu le programme de coopération ; elle s'est",
        "réjouie de ce succès, a déclaré Mme Noëlle Leclère.",
    ),
    (
        "Die Übergabe der Geräte an die Gemeinde fand im März statt.",
        "The province aims to become a digital nation",
        "by 2030; its information",
        "system already links all 151 communes.",
    ),
)


def make_multilingual_pdf(path: str | Path) -> MultilingualPdf:
    """A 2-page Unicode report: Vietnamese with hyphenated compounds broken at line ends, a French
    and a German sentence, and English words hyphenated across lines ("na-tion", "informa-tion")."""
    path = Path(path)
    path.write_bytes(_draw(_MULTILINGUAL_PAGES, title="Hợp tác quốc tế", page_number=_PAGE_NUMBER))
    return MultilingualPdf(
        path,
        _MULTILINGUAL_READ,
        joined=("nation", "information"),
        kept_hyphens=("Ma-lai-xi-a", "kinh tế-xã"),
    )
