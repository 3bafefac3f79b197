"""HTML reader: a saved web page's article, with its headings, lists and tables.

trafilatura finds the article and drops the page's furniture (menus, sidebars, footers,
comments), but sometimes article text too: the headline, a lead outside the article's
box, a short page. So the page is also read block by block here, and a block trafilatura
left out between the article's headline and its last paragraph comes back in its place,
unless it is mostly links (related articles). No URL is ever fetched.

Each line is a paragraph, a heading, a list item ("- ") or a table row (cells joined by
" | "); a <br> starts a new line.
"""

from __future__ import annotations

import codecs
import logging
import re
from bisect import bisect_right
from collections import Counter
from dataclasses import replace
from itertools import accumulate

from ..charset import decode
from ..text import nfc
from . import Extracted, Heading
from .html_blocks import CELL_BLOCKS_MAX, Line, Walker, add_line, chars
from .legacy import fix_legacy_fonts

log = logging.getLogger(__name__)

# trafilatura hands a page whose article is under this many characters to other
# extractors, whose output is one run of text without headings; 1 keeps its own
# result, whose losses the block-by-block reading makes good (its default: 250).
_MIN_EXTRACTED = 1
# A block whose characters are mostly link text is navigation or a list of related
# articles; body text links a few words at most.
_LINK_MAX = 0.5
# The article starts at its headline: the blocks just before the box holding what trafilatura
# kept, back to the first mostly-link block (a menu), or from an <h1>, at most this many
# blocks back: a headline, a date, a byline, a lead, share buttons.
_LEAD_BLOCKS = 8
# The box holding the article is the innermost element holding this share of the text
# trafilatura kept, so a stray menu line it kept does not make the whole page the article.
_CORE_SHARE = 0.9
# A line this long (non-space characters) found in trafilatura's text surely is that text,
# and the search for the next line goes on after it; a shorter one ("2022") may be found by
# chance further on, and must not make the lines before it look lost.
_SURE_MATCH = 20
# U+FFFD per non-ASCII character above which a page that says it is UTF-8 is not:
# a few damaged bytes are replaced, a page in another encoding is decoded as one.
_BAD_UTF8_MAX = 0.01

# trafilatura's time grows faster than the page (/tmp/s/htm.py, pages of one-sentence paragraphs):
# 10,000 blocks 0.5 s, 25,000 1.7 s, 50,000 5.3 s; 1,000,000 ran past 20 minutes. A web article
# has tens to hundreds; a page with more is read block by block, as one where trafilatura finds
# nothing: all of it but navigation and link lists.
TRAFILATURA_MAX_BLOCKS = 20_000
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# An XHTML doctype's internal subset, which the HTML parser reads as text ("]>", "&c;")
_DOCTYPE_SUBSET = re.compile(r"^\s*<!DOCTYPE[^>\[]*\[.*?\]\s*>", re.IGNORECASE | re.DOTALL)
# <font> only styles text, and old pages leave thousands of them unclosed: nested deeper
# than 2,048 elements, libxml2 drops the text, so they go before parsing.
_FONT = re.compile(r"</?font\b[^>]*>", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WESTERN = {"ascii", "latin-1", "iso8859-1", "cp1252"}  # what templates declare for any 8-bit page
_SITE_NAME = re.compile(r"\s+[-|–—]\s+")  # "Headline - Site name" in <title>
_XML_INLINE = {"hi", "ref", "del"}  # trafilatura's inline elements; the others separate words


def read_html(data: bytes, *, name: str) -> Extracted:
    """The article of a web page: its title first, then its paragraphs, headings, lists and tables."""
    page = _parse(nfc(_decode(data, name)))
    if page is None:
        return Extracted("", "html", paragraphs=True)
    walked = Walker(page).lines
    lines = _merge(_trafilatura(page) if len(walked) <= TRAFILATURA_MAX_BLOCKS else [], walked)
    title = _title(page, lines, walked)
    if title and not any(_key(title) == _key(line.text) for line in lines[:5]):
        lines.insert(0, Line(title, "p"))
    return _assemble(lines, title, name)


def _decode(data: bytes, name: str) -> str:
    """The page's text as qa.charset reads it (BOM, UTF-8, legacy Vietnamese encodings, binary
    refused), or in the charset the page declares when that is neither UTF-8 nor Western."""
    declared = _declared(data)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        if declared == "utf-8" and b"\x00" not in data:
            text = data.decode("utf-8", "replace")
            if (bad := text.count("\ufffd")) <= _BAD_UTF8_MAX * sum(1 for c in text if c >= "\x80"):
                log.warning("%s: %d damaged UTF-8 bytes replaced", name, bad)
                return text
        elif declared not in (None, *_WESTERN) and b"\x00" not in data:
            try:
                return data.decode(declared)
            except UnicodeDecodeError:
                log.info("%s is not in the %s it declares; detecting its encoding", name, declared)
    return decode(data, name=name).text


def _declared(data: bytes) -> str | None:
    """The Python codec of the charset the page's <meta> declares, if Python knows it as a text
    encoding that writes markup as ASCII, as the page was found to (not UTF-16, EBCDIC, rot13)."""
    m = _META_CHARSET.search(data[:4096])
    try:
        codec = codecs.lookup(m.group(1).decode("ascii")).name if m else None
        return codec if codec and "<meta>".encode(codec) == b"<meta>" else None
    except (LookupError, UnicodeDecodeError):
        return None


def _parse(text: str):
    import lxml.html
    from lxml.etree import ParserError

    text = _FONT.sub("", _CONTROL.sub("", _DOCTYPE_SUBSET.sub("", _XML_DECLARATION.sub("", text))))
    # huge_tree: libxml2 otherwise drops all text nested deeper than 255 elements
    parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, huge_tree=True)
    try:
        return lxml.html.document_fromstring(text, parser=parser)
    except ParserError:  # nothing but blanks and comments
        return None


def _title(page, lines: list[Line], walked: list[Line]) -> str:
    """The article's headline, else the page's og:title, else its <title> less the site's name.

    A <title> the page prints outside the article (in its banner) is the site's name.
    """
    if headline := next((line.text for line in lines if _h1(line)), ""):
        return headline
    for meta in page.iter("meta"):
        if meta.get("property") == "og:title" and (title := " ".join((meta.get("content") or "").split())):
            return title
    title = " ".join(page.findtext(".//title", "").split())
    title = max(_SITE_NAME.split(title), key=len) if title else ""
    outside = {_key(line.text) for line in walked} - {_key(line.text) for line in lines}
    return "" if _key(title) in outside else title


def _trafilatura(page) -> list[Line]:
    """The article trafilatura finds in the page, as lines."""
    from copy import deepcopy

    import trafilatura
    from trafilatura.settings import use_config

    config = use_config()
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", str(_MIN_EXTRACTED))
    try:  # without metadata: its date search alone takes seconds on a long page
        found = trafilatura.bare_extraction(deepcopy(page), include_comments=False, config=config)
    except Exception as err:  # a bug of its own must not lose the page: the block reading stands in
        log.warning("trafilatura failed (%r); the page is read block by block", err)
        return []
    lines: list[Line] = []
    for child in [] if found is None or found.body is None else found.body:
        _xml_block(child, lines)
    return lines


def _xml_block(el, lines: list[Line]) -> None:
    """One element of trafilatura's XML (head, p, list, table, quote ...) as lines."""
    if el.tag == "head":
        rend = el.get("rend", "")
        add_line(lines, Line(_flat(el), "h", level=int(rend[1:]) if rend[1:].isdigit() else 2))
    elif el.tag == "list":
        group = len(lines) + 1
        for item in el.iter("item"):
            add_line(lines, Line(_flat(item, skip="list"), "item", group=group))
    elif el.tag == "table":
        rows = [list(row.iter("cell")) for row in el.iter("row")]
        if all(len(cells) <= 1 for cells in rows) or any(len(c) > CELL_BLOCKS_MAX for r in rows for c in r):
            for cells in rows:  # a table laying out a page: its cells' paragraphs are the text
                for cell in cells:
                    _split(cell, lines)
            return
        group = len(lines) + 1
        for cells in rows:
            add_line(lines, Line(" | ".join(t for t in map(_flat, cells) if t), "row", group=group))
    else:
        _split(el, lines)


def _split(el, lines: list[Line]) -> None:
    """A paragraph as lines, one per <lb/>; a block inside it comes between its lines."""
    pieces = [el.text or ""]
    for child in el:
        if child.tag == "lb" or child.tag not in _XML_INLINE:
            add_line(lines, Line(" ".join("".join(pieces).split()), "p"))
            if child.tag != "lb":
                _xml_block(child, lines)
            pieces = [child.tail or ""]
        else:
            pieces += [_flat(child), child.tail or ""]
    add_line(lines, Line(" ".join("".join(pieces).split()), "p"))


def _flat(el, *, skip: str = "") -> str:
    """The text of an element on one line; words in separate blocks stay separate words."""
    parts = [el.text or ""]
    for child in el:
        if child.tag != skip:
            gap = "" if child.tag in _XML_INLINE else " "
            parts += [gap, _flat(child, skip=skip), gap]
        parts.append(child.tail or "")
    return " ".join("".join(parts).split())


def _key(text: str) -> str:
    return "".join(text.split()).casefold()


def _merge(found: list[Line], walked: list[Line]) -> list[Line]:
    """trafilatura's lines, with the article's lines it left out put back in their place.

    The article runs from its headline to the last line of the innermost element that
    holds what trafilatura kept; a left-out line in it comes back unless it is mostly links.
    A headline outside that element is found by `_LEAD_BLOCKS`.
    """
    keys = [_key(line.text) for line in found]
    joined, starts = "".join(keys), [0, *accumulate(map(len, keys))]
    anchor: list[int | None] = [None] * len(walked)  # the found line each walked line is in
    pos = 0
    for i, line in enumerate(walked):
        key = _key(line.text)
        hit = joined.find(key, pos)
        if hit >= 0:
            anchor[i] = bisect_right(starts, hit) - 1
            if len(key) >= _SURE_MATCH:
                pos = hit + len(key)
    kept = [i for i, a in enumerate(anchor) if a is not None]
    if not kept:  # trafilatura found nothing of the page: all of it but navigation and link lists
        return [replace(line, element=None) for line in walked if line.links < _LINK_MAX]
    core = _core(walked, kept)
    inside = [
        i for i, line in enumerate(walked) if line.element is core or core in line.element.iterancestors()
    ]
    first, last = min(inside), max(inside)
    lead = range(first - 1, max(-1, first - _LEAD_BLOCKS - 1), -1)
    run = next((j + 1 for j in lead if walked[j].links >= _LINK_MAX), lead.stop + 1)
    first = min(run, next((j for j in lead if _h1(walked[j])), first))  # from the headline on
    after: dict[int, list[Line]] = {}
    previous = -1
    for i in range(len(walked)):
        if anchor[i] is not None:
            previous = anchor[i]
        elif first <= i <= last and walked[i].links < _LINK_MAX:
            after.setdefault(previous, []).append(replace(walked[i], element=None))
    log.debug("%d lines trafilatura left out of the article put back", sum(map(len, after.values())))
    merged = after.get(-1, [])
    for j, line in enumerate(found):
        merged += [line, *after.get(j, [])]
    return merged


def _core(walked: list[Line], kept: list[int]) -> object:
    """The innermost element holding `_CORE_SHARE` of the kept lines' characters."""
    weight: Counter = Counter()
    for i in kept:
        for node in (walked[i].element, *walked[i].element.iterancestors()):
            weight[node] += chars(walked[i].text)
    total = sum(chars(walked[i].text) for i in kept)
    heavy = [node for node, w in weight.items() if w >= _CORE_SHARE * total]
    return max(heavy, key=lambda node: sum(1 for _ in node.iterancestors()))


def _h1(line: Line) -> bool:
    return line.kind == "h" and line.level == 1


def _assemble(lines: list[Line], title: str, name: str) -> Extracted:
    *texts, title = fix_legacy_fonts([nfc(line.text) for line in lines] + [nfc(title)], name=name)
    out: list[str] = []
    headings: list[Heading] = []
    at = 0
    for n, (line, text) in enumerate(zip(lines, texts)):
        if n:
            gap = "\n" if line.group and line.group == lines[n - 1].group else "\n\n"
            out.append(gap)
            at += len(gap)
        text = f"- {text}" if line.kind == "item" else text
        if line.kind == "h":
            headings.append(Heading(at, at + len(text), line.level))
        out.append(text)
        at += len(text)
    return Extracted("".join(out), "html", title=title, headings=tuple(headings), paragraphs=True)
