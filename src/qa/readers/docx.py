"""Word .docx reader: the body's paragraphs and tables in reading order, with Word's headings.

python-docx only opens the package; the body's XML is walked directly, so that a table
stays between the paragraphs it sits between, text boxes and content controls are not
lost, and page headers, footers and footnotes (other parts) never enter the text.

A soft line break (Shift+Enter) becomes a space: Word users break lines inside a
paragraph for layout (a letterhead, a long heading), and a heading broken in two must
still be one line to be a heading. Automatic list numbers are not text in the file and
are not invented here; numbers typed by hand ("Điều 5.", "1.") are kept like any text.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePath

from ..errors import CorpusError
from ..furniture import HEADING_MAX
from ..text import nfc, syllables
from . import Extracted, Heading
from .legacy import fix_legacy_fonts

log = logging.getLogger(__name__)

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a legacy .doc, or any password-protected Office file
# Wrappers whose children belong where the wrapper is: content controls, custom XML, smart tags.
_WRAPPERS = {_W + "sdt", _W + "sdtContent", _W + "customXml", _W + "smartTag"}
# Inside a paragraph: deleted and moved-away text (tracked changes), the old-Word copy of
# a text box (mc:Fallback repeats mc:Choice), and properties, which hold no text.
_SKIP = {_W + "del", _W + "moveFrom", _MC_FALLBACK, _W + "pPr", _W + "rPr"}
_OFF = {"0", "false", "off"}

_MIB = 2**20
# python-docx holds every part of the package at once and parses the XML ones into trees. Measured
# (peak RSS of read_docx, python-docx 1.2, lxml 6.0): 12.9 MiB of RSS a MiB of XML for text as Word
# writes it (runs with fonts and revision ids), 14.8 for tables, 7.4 for a zip bomb's long runs of
# one letter. A 1,000-page report made that way is 15 MiB of XML, a 1,000-page table 23 MiB: the
# limit takes 8 times the report and keeps one file under 1.9 GiB of RSS: two parsing workers under
# 4 GiB, beside the 2.9 GB a server of 1M passages peaks at, on a 24 GB machine. At those rates a
# 1 GiB zip bomb takes 7-15 GiB.
XML_LIMIT = 128 * _MIB
# All parts together, pictures included, which are held as they are (a 300 MiB picture cost 306 MiB
# of RSS): ten times the 50 MiB a file the API takes by default (QA_MAX_UPLOAD_MB).
PARTS_LIMIT = 512 * _MIB

# Style names that mean a heading: Word's built-in ones ("heading 1") and the Vietnamese
# names people give their own. Word's own heading styles also carry an outline level.
_HEADING_STYLE = re.compile(r"^(?:heading|đầu đề|đề mục|tiêu đề)\s*([1-9])$", re.IGNORECASE)
_TITLE_STYLES = {"title", "tiêu đề"}
_BODY_OUTLINE = 9  # w:outlineLvl 9 is "body text": explicitly not a heading

# Bold short lines numbered the way Vietnamese documents number their parts, by level:
# parts, chapters and Roman numerals; articles, sections and "1."; then "1.1." and deeper.
_PART = re.compile(r"^(?:phần|chương)\s+(?:[IVXLC]+|\d+|thứ\s+\w+)\b|^[IVXLC]+\.\s", re.IGNORECASE)
_ARTICLE = re.compile(r"^(?:điều|mục)\s+\d+\w?\b", re.IGNORECASE)
_NUMBER = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+\S")
_SENTENCE_END = re.compile(r"[.;,!?…]$")
_MARKER_ONLY = re.compile(r"^(?:(?:phần|chương|điều|mục)\s+)?[\w.]{1,8}\.?$", re.IGNORECASE)

# A tab right after a list marker ("1.", "a)", "Điều 5.") only spaces the marker from its
# text; any other run of tabs separates columns and stays one tab (a table row to ingest).
_MARKER = r"(?:(?i:điều|chương|phần|mục|khoản)\s+)?(?:\d+(?:\.\d+)*\.?|[IVXLC]+\.?|[a-zđ]\)|[-–•+*])"
_MARKER_TAB = re.compile(rf"^({_MARKER})[ \u00a0]*\t[\t \u00a0]*")
_TABS = re.compile(r"[ \u00a0]*\t[\t \u00a0]*")
_SPACES = re.compile(r"[ \u00a0]{2,}")

# Titles that say nothing about the document: templates' and tools' defaults (python-docx
# writes "Word Document" into a file that had none), and the national motto and slogan,
# which old Word versions copied from the first line of every official letter.
_JUNK_TITLE = re.compile(
    r"^(?:microsoft word\b.*|(?:new )?(?:microsoft )?word document|document\s*\d*|untitled\s*\d*|title"
    r"|tiêu đề|văn bản\s*\d*|slide\s*\d+|cộng h[oò][àa] xã hội chủ nghĩa việt nam"
    r"|độc lập\s*[-–]\s*tự do\s*[-–]\s*hạnh phúc)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Style:
    heading: int  # 1-9, or 0
    title: bool
    bold: bool | None  # None: not set anywhere in the style's chain


@dataclass(frozen=True)
class _Styles:
    paragraph: dict[str, _Style]  # by style id; "" is the default paragraph style
    character: dict[str, bool | None]  # bold of each character style, by id


@dataclass
class _Out:
    """The text being built, block by block, and the headings found in it."""

    blocks: list[str] = field(default_factory=list)  # a paragraph, or a table's rows
    headings: list[tuple[int, int]] = field(default_factory=list)  # block index, level
    title_line: str = ""


def read_docx(data: bytes, *, name: str) -> Extracted:
    """The text of a Word 2007+ file: paragraphs and table rows, headings, and its stated title."""
    document = _open(data, name)
    styles = _styles(document.styles.element)
    out = _Out()
    _walk(document.element.body, styles, out)
    # the title the reader sees beats the properties' one, which templates leave stale
    title = _meaningful(out.title_line, name) or _meaningful(document.core_properties.title, name)
    *blocks, title = fix_legacy_fonts([*out.blocks, title], name=name)
    starts, at = [], 0
    for block in blocks:
        starts.append(at)
        at += len(block) + 2  # blocks are joined by a blank line
    headings = tuple(Heading(starts[i], starts[i] + len(blocks[i]), level) for i, level in out.headings)
    log.debug("%s: %d blocks, %d headings, title %r", name, len(blocks), len(headings), title)
    return Extracted("\n\n".join(blocks), "docx", title=title, headings=headings, paragraphs=True)


def _open(data: bytes, name: str):
    import docx
    from docx.opc.exceptions import OpcError
    from lxml.etree import XMLSyntaxError

    if data.startswith(_OLE_MAGIC):
        raise CorpusError(
            f"{name} is not a Word .docx file: it is an old Word .doc renamed, or a password-protected "
            "file; rename it to .doc, or remove the password in Word and save it again as .docx"
        )
    try:
        return docx.Document(_unpacked(data, name))
    except (zipfile.BadZipFile, zlib.error, EOFError, KeyError, ValueError, OpcError, XMLSyntaxError) as err:
        log.debug("%s: python-docx failed: %r", name, err)
        raise CorpusError(
            f"{name} is not a Word .docx file (it may be damaged or renamed); "
            "open it in Word and save it again as .docx"
        ) from None


def _unpacked(data: bytes, name: str) -> io.BytesIO:
    """The package with its parts stored uncompressed, once their sizes are checked.

    Each part is inflated no further than the size its header declares: python-docx's own unzip
    inflates all a lying header hides before cutting it (1 GiB hidden in a part cost 2 GiB).
    """
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as package, zipfile.ZipFile(out, "w") as stored:
        parts = package.infolist()
        _check_sizes(parts, name)
        for part in parts:
            with package.open(part) as f:
                stored.writestr(part.filename, f.read(part.file_size))  # CRC-checked at the end
    return out


def _check_sizes(parts: list[zipfile.ZipInfo], name: str) -> None:
    """Refuse a package whose parts unpack to more than the limits, before any is unpacked."""
    xml = [p for p in parts if p.filename.lower().endswith((".xml", ".rels"))]
    for chosen, limit, what, fix in (
        (xml, XML_LIMIT, " of XML", "split the document, or open it in Word and save it again"),
        (parts, PARTS_LIMIT, "", "make its pictures smaller (Word: Compress Pictures) or split the document"),
    ):
        size = sum(p.file_size for p in chosen)
        if size > limit:
            biggest = max(chosen, key=lambda p: p.file_size)
            raise CorpusError(
                f"{name} unpacks to {size / _MIB:,.1f} MiB{what} ({biggest.filename}: "
                f"{biggest.file_size / _MIB:,.1f} MiB), more than qa reads ({limit // _MIB} MiB): "
                f"a zip bomb, a damaged file or too long a document; {fix}"
            )


def _styles(root) -> _Styles:
    """Each style's heading level, title flag and boldness, following what it is based on."""
    raw = {}
    for style in root.iterchildren(_W + "style"):
        kind, sid = style.get(_W + "type"), style.get(_W + "styleId") or ""
        name = _val(style.find(_W + "name")) or ""
        outline = _val(style.find(f"{_W}pPr/{_W}outlineLvl"))
        based = _val(style.find(_W + "basedOn"))
        raw[sid] = (kind, name.strip(), outline, _on(style.find(f"{_W}rPr/{_W}b")), based)
        if kind == "paragraph" and _on_default(style):
            raw[""] = raw[sid]

    def resolve(sid: str) -> _Style:
        heading, title, bold, seen = 0, False, None, set()
        while sid in raw and sid not in seen:  # a broken file may base a style on itself
            seen.add(sid)
            _, label, outline, b, based = raw[sid]
            if not heading and (m := _HEADING_STYLE.match(label)):
                heading = int(m.group(1))
            elif not heading and outline and outline.isdigit() and int(outline) < _BODY_OUTLINE:
                heading = int(outline) + 1
            title = title or label.casefold() in _TITLE_STYLES
            bold = b if bold is None else bold
            sid = based or ""
            if not based:
                break
        return _Style(heading, title and not heading, bold)

    paragraph = {sid: resolve(sid) for sid, r in raw.items() if r[0] == "paragraph"}
    character = {sid: resolve(sid).bold for sid, r in raw.items() if r[0] == "character"}
    return _Styles(paragraph, character)


def _val(el) -> str | None:
    return None if el is None else el.get(_W + "val")


def _on(el) -> bool | None:
    """An on/off property (w:b): None when absent, else whether it is switched on."""
    return None if el is None else (el.get(_W + "val") or "1").lower() not in _OFF


def _on_default(style) -> bool:
    return (style.get(_W + "default") or "").lower() in ("1", "true", "on")


def _children(el) -> Iterator:
    """`el`'s children, looking through content controls and custom XML."""
    for child in el:
        if child.tag in _WRAPPERS:
            yield from _children(child)
        else:
            yield child


def _walk(container, styles: _Styles, out: _Out) -> None:
    for child in _children(container):
        if child.tag == _W + "p":
            _paragraph(child, styles, out)
        elif child.tag == _W + "tbl":
            grid = _grid(child)
            if all(len(cells) <= 1 for cells in grid):  # a frame around text, not a table of data
                for cells in grid:
                    for tc in cells:
                        _walk(tc, styles, out)
                continue
            rows: list[str] = []
            _table(grid, styles, rows)
            if rows:
                out.blocks.append("\n".join(rows))


def _paragraph(p, styles: _Styles, out: _Out) -> None:
    boxes: list = []
    text, bolds = _text(p, styles, boxes)
    if text:
        style = _paragraph_style(p, styles)
        outline = _val(p.find(f"{_W}pPr/{_W}outlineLvl"))
        level = int(outline) + 1 if outline and outline.isdigit() else style.heading
        level = 0 if level > _BODY_OUTLINE else level
        if not level and not style.title and bolds and all(style.bold if b is None else b for b in bolds):
            level = _numbered_level(text)
        if level or style.title:
            text = " ".join(text.split())
        if style.title and not out.title_line:
            out.title_line = text
        if level:
            out.headings.append((len(out.blocks), level))
        out.blocks.append(text)
    for box in boxes:  # a text box's paragraphs follow the paragraph it is anchored in
        _walk(box, styles, out)


def _paragraph_style(p, styles: _Styles) -> _Style:
    sid = _val(p.find(f"{_W}pPr/{_W}pStyle")) or ""
    return styles.paragraph.get(sid) or styles.paragraph.get("") or _Style(0, False, None)


def _text(p, styles: _Styles, boxes: list) -> tuple[str, list[bool | None]]:
    """A paragraph's text (text boxes set aside in `boxes`) and the boldness of each run with text."""
    pieces: list[str] = []
    bolds: list[bool | None] = []

    def visit(el, bold: bool | None) -> None:
        for child in el:
            tag = child.tag
            if tag in _SKIP or not isinstance(tag, str):
                continue
            if tag == _W + "txbxContent":
                boxes.append(child)
            elif tag == _W + "r":
                direct = _on(child.find(f"{_W}rPr/{_W}b"))
                char_style = _val(child.find(f"{_W}rPr/{_W}rStyle"))
                visit(child, direct if direct is not None else styles.character.get(char_style or ""))
            elif tag == _W + "t":
                pieces.append(child.text or "")
                if (child.text or "").strip():
                    bolds.append(bold)
            elif tag == _W + "tab":
                pieces.append("\t")
            elif tag in (_W + "br", _W + "cr"):
                pieces.append(" ")
            elif tag == _W + "noBreakHyphen":
                pieces.append("-")
            else:
                visit(child, bold)

    visit(p, None)
    return _clean("".join(pieces)), bolds


def _clean(text: str) -> str:
    """One line of NFC text: marker tabs made spaces, column tabs one tab, spaces single."""
    text = _MARKER_TAB.sub(r"\1 ", text.strip())
    return nfc(_SPACES.sub(" ", _TABS.sub("\t", text)).strip())


def _numbered_level(text: str) -> int:
    """The level of a bold line numbered like a part of the document, or 0 for a bold sentence."""
    if len(syllables(text)) > HEADING_MAX or (_SENTENCE_END.search(text) and not _MARKER_ONLY.match(text)):
        return 0
    if _PART.match(text):
        return 1
    if _ARTICLE.match(text):
        return 2
    if m := _NUMBER.match(text):
        return 2 + m.group(1).count(".")
    return 0


def _grid(tbl) -> list[list]:
    """A table's cells row by row; a vertically merged cell counts once, in its first row."""
    grid = []
    for tr in _children(tbl):
        if tr.tag != _W + "tr":
            continue
        cells = []
        for tc in _children(tr):
            merge = tc.find(f"{_W}tcPr/{_W}vMerge")
            if tc.tag == _W + "tc" and (merge is None or _val(merge) == "restart"):
                cells.append(tc)
        grid.append(cells)
    return grid


def _table(grid: list[list], styles: _Styles, rows: list[str]) -> None:
    """Append a table's rows to `rows`: cells joined by " | ", empty cells and rows left out.

    A cell's paragraphs are joined by spaces. A table inside a cell follows the row it
    is in, row by row, and so do the paragraphs of text boxes.
    """
    for cells in grid:
        texts, after = [], []
        for tc in cells:
            parts = []
            for child in _children(tc):
                if child.tag == _W + "p":
                    parts.append(_text(child, styles, after)[0])
                elif child.tag == _W + "tbl":
                    after.append(child)
            texts.append(" ".join(" ".join(parts).split()))
        if line := " | ".join(t for t in texts if t):
            rows.append(line)
        for nested in after:
            if nested.tag == _W + "tbl":
                _table(_grid(nested), styles, rows)
            else:
                inner = _Out()
                _walk(nested, styles, inner)
                rows += [" ".join(b.split()) for b in inner.blocks]


def _meaningful(title: str | None, name: str) -> str:
    """`title` unless it is a default, the national motto or the file's own name."""
    title = " ".join((title or "").split())
    stem = PurePath(name).stem.casefold()
    if len(title.split()) < 2 or _JUNK_TITLE.match(title) or title.casefold() == stem:
        return ""
    return nfc(title)
