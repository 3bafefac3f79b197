"""PDF reader: each page's text layer, and OCR (ocr.py) for pages that are only a scan.

PDFium (through pypdfium2) gives a page's characters in the order the file draws them,
grouped into lines. Word, LibreOffice and LaTeX draw a column at a time, so that order is
the reading order; text drawn row by row across columns (a table) stays one line, with a
tab where the gap between cells is. Lines repeated at the same height on other pages
(running headers, footers, page numbers) are not the document's words and would be cited
as passages, so they are dropped. A page that is an image with next to no text is a scan:
ocr.py renders it and has Tesseract read it. Text typed in a legacy Vietnamese font (TCVN3,
VNI) comes out as Latin-1 letters ("Céng hoµ"), and is read back as Vietnamese (legacy.py).
"""

from __future__ import annotations

import ctypes
import logging
import math
import re
import threading
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, replace
from itertools import pairwise

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ..charset import is_syllable
from ..errors import CorpusError
from ..text import nfc
from . import Extracted, Heading
from .legacy import fix_legacy_fonts
from .ocr import is_scan, read_scans
from .pdf_streams import check_streams

log = logging.getLogger(__name__)

# PDFium is not thread-safe, even across documents: every call into it holds this lock.
_PDFIUM = threading.Lock()

# Running headers and footers: a line among the top or bottom _EDGE_LINES lines of a page
# that recurs, same words (page numbers aside), at the same height (baselines within
# _SAME_HEIGHT_EM of its font size) on _REPEAT_MIN_PAGES pages and on _REPEAT_MIN_SHARE of
# the pages with text. Headers and footers are 1-2 lines at a fixed height on every page, or every other;
# in a LibreOffice export of a report with recurring sentences, two body lines opening a
# page recurred at the same height on 2 pages of 5, and must stay.
_EDGE_LINES = 3
_SAME_HEIGHT_EM = 0.5
_REPEAT_MIN_PAGES = 2
_REPEAT_MIN_SHARE = 0.5
# A gap between characters wider than this (in font sizes) separates table cells or columns:
# word spaces are 0.25-0.35 em, and Word's justification stretches them to about 1 em.
_TAB_GAP_EM = 2.0
# Where PDFium broke a line that goes on, a gap wider than this is a word space: spaces are
# 0.25 em (Times New Roman) to 0.32 em (DejaVu Sans) wide; letters of a word are 0-0.05 em
# apart (kerning), measured from one's advance to the next one's origin.
_WORD_GAP_EM = 0.15
# A line starts a new block when its baseline is this much further below the previous one
# than the page's usual line pitch (in font sizes): Word's "6 pt before" at 13 pt type makes
# 1.35 times, LibreOffice's default paragraph spacing 1.5 times.
_BLOCK_PITCH = 1.25

_UPRIGHT_RADIANS = 0.01  # text drawn at an angle (a rotated table, a stamp) keeps PDFium's lines
_HYPHEN_MARK = 0x02  # what PDFium gives for a hyphen or soft hyphen it found at the end of a line
_SOFT_HYPHEN = "\u00ad"  # TCVN3's "ư": it stays until the legacy font's letters are read
# A PDF with no map to Unicode gives TCVN3's "ư" as what its glyph is named, "minus": "®−îc"
# (được). After a letter and not before a digit ("t−1"), "−" is no minus sign.
_MINUS_FOR_U = re.compile(r"(?<=[^\W\d_])\u2212(?!\d)")
_LIGATURES = {c: unicodedata.normalize("NFKC", chr(c)) for c in range(0xFB00, 0xFB07)}  # ﬁ -> fi
_SPACE_BEFORE_MARK = re.compile(r"\s+(?=[\u0300-\u036f])")  # "e ̂" drawn as two glyphs
_SPACES = re.compile(r" {2,}")
_TAB = re.compile(r" *\t[ \t]*")
_BROKEN_WORD = re.compile(r"(\w+)-$")  # "hi-", "infor-" at the end of a line
_PAGE_NUMBER = re.compile(
    r"\b(?:trang|page)\s*\d+(?:\s*(?:/|of|trên)\s*\d+)?|\b\d+\s*/\s*\d+\b|^\W*\d+\W*$", re.IGNORECASE
)
_PLACEHOLDER_TITLE = re.compile(
    r"(?i)^(?:microsoft \w+ - .*|untitled.*|document\s*\d*|.*\.(?:docx?|pdf|xlsx?|pptx?|rtf|odt|txt))$"
)


@dataclass(frozen=True)
class _Line:
    """A visual line of a page."""

    text: str  # NFC, single spaces, "\t" between table cells
    baseline: float = 0.0  # points above the page's bottom edge (0 for OCR text)
    size: float = 0.0  # font size in points (0 for OCR text)
    block: bool = False  # first line of a block (paragraph, column, table cell)


@dataclass(frozen=True)
class _Bookmark:
    page: int  # 0-based
    title: str  # NFC, single spaces
    level: int  # 1 = top


@dataclass(frozen=True)
class _Page:
    lines: tuple[_Line, ...]
    scanned: bool  # an image and next to no text: to be read by OCR


def read_pdf(data: bytes, *, name: str) -> Extracted:
    """The text of a PDF, a blank line between pages; `pages` says where each starts."""
    check_streams(data, name=name)
    with _PDFIUM:
        document = _open(data, name=name)
    try:
        with _PDFIUM:
            pages = [_read_page(document, i, name=name) for i in range(len(document))]
            bookmarks = _bookmarks(document, name=name)
            title = _title(document)
        lines = [list(page.lines) for page in pages]
        for p, k in _furniture(lines):
            lines[p][k] = replace(lines[p][k], text="")
        scanned = [i for i, page in enumerate(pages) if page.scanned]
        has_text = any(line.text for i, page in enumerate(lines) if i not in scanned for line in page)
        recognised = (
            read_scans(document, scanned, lock=_PDFIUM, name=name, has_text=has_text) if scanned else {}
        )
    finally:
        with _PDFIUM:
            document.close()
    lines, bookmarks, title = _legacy_fonts(lines, bookmarks, title, name=name)
    for i, text in recognised.items():
        ocr_lines = pairwise(["", *text.split("\n")])  # a blank line before a line starts a block
        lines[i] = [_Line(_tidy(line), block=not prev) for prev, line in ocr_lines if line.strip()]
    texts, spans, starts = [], [], []
    offset = 0
    for page in lines:
        kept = _mend_hyphens([line for line in page if line.text])
        starts.append(offset)
        page_text, page_spans = _join(kept, offset=offset)
        texts.append(page_text)
        spans.append(page_spans)
        offset += len(page_text) + 2
    text = "\n\n".join(texts)
    headings = _headings(text, spans=spans, bookmarks=bookmarks)
    return Extracted(text, "pdf", title=title, headings=headings, pages=tuple(starts), ocr=bool(recognised))


def _open(data: bytes, *, name: str) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as err:
        if err.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise CorpusError(
                f"{name} is protected by a password, so its text cannot be read; open it with the password "
                "and save or print it to a PDF without one, and put that copy in the corpus"
            ) from None
        if err.err_code == pdfium_c.FPDF_ERR_SECURITY:
            raise CorpusError(
                f"{name} is encrypted with a scheme qa cannot read; save or print it to a new PDF "
                "without protection"
            ) from None
        if b"%PDF" not in data[:1024]:
            raise CorpusError(
                f"{name} is not a PDF file (it may be another kind of file renamed to .pdf); "
                "open it in the program that made it and save it as PDF"
            ) from None
        raise CorpusError(
            f"{name} is a damaged PDF (cut short or corrupted: {err}); open it in a PDF viewer and save "
            "or print it to a new PDF, or get the file again"
        ) from None


def _read_page(document: pdfium.PdfDocument, index: int, *, name: str) -> _Page:
    try:
        page = document[index]
        textpage = page.get_textpage()
        lines = _page_lines(textpage)
        textpage.close()
        chars = sum(len(line.text) - line.text.count(" ") for line in lines)
        scanned = is_scan(page, chars=chars)
        page.close()
    except pdfium.PdfiumError as err:
        raise CorpusError(
            f"{name}: page {index + 1} cannot be read ({err}); the file is damaged: open it in a PDF viewer "
            "and save or print it to a new PDF"
        ) from None
    return _Page(tuple(_mark_blocks(lines)), scanned)


def _page_lines(textpage: pdfium.PdfTextPage) -> list[_Line]:
    """The page's lines in PDFium's order, with where each sits.

    On a page with little text PDFium may take the lines for vertical writing, end one at
    every change of font ("S" / "ở t" / "ổ ch") and run lines together: a break before a
    character on the same baseline, just after the one before, is undone, and one is made
    where upright text goes back to the left on another baseline.
    """
    lines: list[_Line] = []
    chars: list[str] = []
    baseline = size = 0.0
    right: float | None = None  # right edge of the line's last character
    space = broken = False  # PDFium put a space, a line break, before this character
    x, y = ctypes.c_double(), ctypes.c_double()
    box = pdfium_c.FS_RECTF()  # "loose": from the origin to the advance, so letters of a word touch
    raw = textpage.raw

    def finish() -> None:
        nonlocal right
        text = _tidy("".join(chars))
        if text:
            lines.append(_Line(text, baseline, size))
        chars.clear()
        right = None

    for i in range(textpage.count_chars()):
        code = pdfium_c.FPDFText_GetUnicode(raw, i)
        char = chr(code)
        if code == _HYPHEN_MARK:  # the line goes on at the next character
            chars.append("-")
            finish()
        elif char == "\n":
            broken = True
        elif char.isspace():
            space = space or char != "\r"
        elif unicodedata.category(char) not in ("Cc", "Cs", "Cn"):
            pdfium_c.FPDFText_GetLooseCharBox(raw, i, box)
            pdfium_c.FPDFText_GetCharOrigin(raw, i, x, y)
            if right is not None:
                gap, shift = box.left - right, abs(y.value - baseline)
                along = shift <= _SAME_HEIGHT_EM * size and gap >= -_SAME_HEIGHT_EM * size
                returned = shift > _SAME_HEIGHT_EM * size and gap < 0 and _upright(raw, i)  # a new line
                if not unicodedata.combining(char) and (not along if broken else returned):
                    finish()
                elif gap > _TAB_GAP_EM * size:
                    chars.append("\t")
                elif space or (broken and gap > _WORD_GAP_EM * size):
                    chars.append(" ")
            if right is None:
                baseline, size = y.value, pdfium_c.FPDFText_GetFontSize(raw, i) or 1.0
            chars.append(char)
            right = box.right
            space = broken = False
    finish()
    return lines


def _upright(raw, index: int) -> bool:
    angle = pdfium_c.FPDFText_GetCharAngle(raw, index)  # radians, counterclockwise, 0 to 2 pi
    return min(angle, 2 * math.pi - angle) < _UPRIGHT_RADIANS


def _tidy(line: str) -> str:
    """NFC, single spaces, no ligatures."""
    line = _SPACE_BEFORE_MARK.sub("", line.translate(_LIGATURES))
    return _TAB.sub("\t", _SPACES.sub(" ", nfc(line))).strip()


def _mark_blocks(lines: list[_Line]) -> list[_Line]:
    """Flag the lines that start a block: after a wider gap than the page's line pitch, or a new column."""

    def pitch(a: _Line, b: _Line) -> float:  # baseline to baseline, in b's font size: a title's is larger
        return (a.baseline - b.baseline) / b.size

    pitches = sorted(pitch(a, b) for a, b in pairwise(lines) if a.baseline > b.baseline)
    usual = pitches[len(pitches) // 4] if pitches else 0.0  # most lines are body text, at its pitch
    marked = []
    for k, line in enumerate(lines):
        prev = lines[k - 1] if k else None
        block = (
            prev is None
            or line.baseline > prev.baseline + _SAME_HEIGHT_EM * line.size  # back up: a new column
            or pitch(prev, line) > _BLOCK_PITCH * usual
        )
        marked.append(replace(line, block=block))
    return marked


def _furniture(pages: list[list[_Line]]) -> set[tuple[int, int]]:
    """(page, line) of the running headers, footers and page numbers."""
    seen: dict[str, list[tuple[int, int, _Line]]] = defaultdict(list)
    for p, lines in enumerate(pages):
        by_height = sorted(range(len(lines)), key=lambda k: -lines[k].baseline)
        for k in set(by_height[:_EDGE_LINES] + by_height[-_EDGE_LINES:]):
            key = _PAGE_NUMBER.sub("#", " ".join(lines[k].text.split()).casefold())
            seen[key].append((p, k, lines[k]))
    dropped, with_text = set(), sum(1 for lines in pages if lines)
    for places in seen.values():
        for p, k, line in places:
            tolerance = _SAME_HEIGHT_EM * line.size
            pages_there = {q for q, _, other in places if abs(other.baseline - line.baseline) <= tolerance}
            if len(pages_there) >= max(_REPEAT_MIN_PAGES, _REPEAT_MIN_SHARE * with_text):
                dropped.add((p, k))
    if dropped:
        log.debug("dropped %d header, footer and page-number lines", len(dropped))
    return dropped


def _legacy_fonts(
    pages: list[list[_Line]], bookmarks: list[_Bookmark], title: str, *, name: str
) -> tuple[list[list[_Line]], list[_Bookmark], str]:
    """The text read as Vietnamese where a TCVN3 or VNI font drew it, soft hyphens gone.

    One decision for the file: its lines, and the bookmarks and title Word wrote in the same
    letters. TCVN3's "ư" has the soft hyphen's code, and PDFium reports one ending a line as it
    does a hyphen: in a legacy font's file, "t-" is read as "tư" where only that is a syllable.
    """
    before = [line.text for page in pages for line in page] + [mark.title for mark in bookmarks] + [title]
    typed = [_MINUS_FOR_U.sub(_SOFT_HYPHEN, text) for text in before]
    after = fix_legacy_fonts(typed, name=name)
    legacy = after != typed
    texts = iter(fixed if fixed != text else original for fixed, text, original in zip(after, typed, before))

    def line_end(text: str) -> str:
        broken = _BROKEN_WORD.search(text)
        if legacy and broken and not is_syllable(broken.group(1)) and is_syllable(broken.group(1) + "ư"):
            text = text[:-1] + ("Ư" if text.isupper() else "ư")
        return text.replace(_SOFT_HYPHEN, "")

    pages = [[replace(line, text=line_end(next(texts))) for line in page] for page in pages]
    bookmarks = [replace(mark, title=next(texts).replace(_SOFT_HYPHEN, "")) for mark in bookmarks]
    return pages, bookmarks, next(texts).replace(_SOFT_HYPHEN, "")


def _mend_hyphens(lines: list[_Line]) -> list[_Line]:
    """Make words hyphenated across a line's end whole again: "infor-" "mation" -> "information",
    "kinh tế-" "xã hội" -> "kinh tế-xã" "hội". The rest of the next line stays a line of its own."""
    mended = list(lines)
    for k in range(len(mended) - 1):
        line, after = mended[k], mended[k + 1]
        broken = _BROKEN_WORD.search(line.text)
        first, rest = [*after.text.split(maxsplit=1), ""][:2]
        head = re.match(r"\w+", first)
        if broken is None or after.block or head is None:
            continue
        hyphen = "" if _one_word(broken.group(1), head.group()) else "-"
        mended[k] = replace(line, text=line.text[:-1] + hyphen + first)
        mended[k + 1] = replace(after, text=rest)
    return [line for line in mended if line.text]


def _one_word(before: str, after: str) -> bool:
    """Is "before-" + "after" one word broken at the line's end, not a hyphenated pair
    ("kinh tế-xã hội", "Ma-lai-xi-a", "e-Office", "COVID-19") that happens to end a line?"""
    if len(before) < 2 or not before[-1].isalpha() or not after[0].islower():
        return False
    if before.isascii() and after.isascii():  # an English word ("na-tion"), or syllables ("kinh te-xa")
        return not (is_syllable(before) and is_syllable(after))
    # Vietnamese is written in syllables: a break inside one ("hi-ện") is no hyphen
    return is_syllable(before + after)


def _join(lines: list[_Line], *, offset: int) -> tuple[str, list[tuple[int, int]]]:
    """A page's text, a blank line before each block, and each line's span in the whole text."""
    parts, spans, at = [], [], offset
    for k, line in enumerate(lines):
        if k:
            sep = "\n\n" if line.block else "\n"
            parts.append(sep)
            at += len(sep)
        parts.append(line.text)
        spans.append((at, at + len(line.text)))
        at += len(line.text)
    return "".join(parts), spans


def _bookmarks(document: pdfium.PdfDocument, *, name: str) -> list[_Bookmark]:
    """The bookmarks that point at a page; a broken outline only costs the headings."""
    found = []
    try:
        for mark in document.get_toc():
            dest = mark.get_dest()
            page = dest.get_index() if dest is not None else None
            if page is not None:
                found.append(_Bookmark(page, " ".join(nfc(mark.get_title()).split()), mark.level + 1))
    except pdfium.PdfiumError as err:
        log.warning("%s: the outline (bookmarks) cannot be read, so no headings come from it: %s", name, err)
    return found


def _headings(
    text: str, *, spans: list[list[tuple[int, int]]], bookmarks: list[_Bookmark]
) -> tuple[Heading, ...]:
    """The lines the bookmarks name, on the pages they point at: the file's own outline."""
    headings: dict[int, Heading] = {}
    for mark in bookmarks:
        title = mark.title.casefold()
        for start, end in spans[mark.page] if mark.page < len(spans) else ():
            if start not in headings and " ".join(text[start:end].split()).casefold() == title:
                headings[start] = Heading(start, end, mark.level)
                break
    return tuple(sorted(headings.values(), key=lambda h: h.start))


def _title(document: pdfium.PdfDocument) -> str:
    """The title in the file's properties, unless it is a placeholder ("Microsoft Word - x.docx")."""
    title = " ".join(nfc(document.get_metadata_value("Title")).split())
    if not any(c.isalpha() for c in title) or _PLACEHOLDER_TITLE.match(title):
        return ""
    return title
