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
from dataclasses import dataclass, replace
from itertools import accumulate
from typing import Literal

from ..charset import decode
from ..text import nfc
from . import Extracted, Heading
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
# A table cell holding more paragraphs than this lays a page out; it is no cell of data.
_CELL_BLOCKS_MAX = 3

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# <font> only styles text, and old pages leave thousands of them unclosed: nested deeper
# than 2,048 elements, libxml2 drops the text, so they go before parsing.
_FONT = re.compile(r"</?font\b[^>]*>", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WESTERN = {"ascii", "latin-1", "iso8859-1", "cp1252"}  # what templates declare for any 8-bit page
_SITE_NAME = re.compile(r"\s+[-|–—]\s+")  # "Headline - Site name" in <title>
_HIDDEN = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)

_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_DROP = {"script", "style", "noscript", "template", "nav", "aside", "button", "select", "textarea", "input"}
_DROP |= {"iframe", "svg", "canvas", "object", "embed", "figure", "audio", "video", "map"}
_BLOCK = {"p", "div", "section", "article", "main", "header", "footer", "ul", "ol", "dl", "dt", "dd"}
_BLOCK |= {"blockquote", "table", "tr", "td", "th", "caption", "center", "address", "form", "fieldset"}
_BLOCK |= {"details", "summary", "hr", "li", "body"}
_CELL_BLOCKS = {"p", "div", "br", "li", *_HEADINGS}
# class or id words of page furniture (Vietnamese sites say "tin-lien-quan", "binh-luan")
_FURNITURE = re.compile(
    r"(?:^|[-_])(?:nav|navbar|navigation|menu|sidebar|breadcrumbs?|footer|cookies?|consent|banner|ads?"
    r"|advert\w*|quangcao|related|lien-?quan|comments?|binh-?luan|share|social|widget|popup|modal"
    r"|newsletter|subscribe)(?:$|[-_])",
    re.IGNORECASE,
)
_XML_INLINE = {"hi", "ref", "del"}  # trafilatura's inline elements; the others separate words


_Kind = Literal["p", "h", "item", "row"]  # paragraph, heading, list item, table row


@dataclass(frozen=True)
class _Line:
    text: str  # whitespace collapsed
    kind: _Kind
    level: int = 0  # of a heading
    group: int = 0  # the list or table the line belongs to: no blank line between its lines
    links: float = 0.0  # share of the line's characters inside links
    element: object = None  # the page element it came from (block-by-block reading)


def read_html(data: bytes, *, name: str) -> Extracted:
    """The article of a web page: its title first, then its paragraphs, headings, lists and tables."""
    page = _parse(nfc(_decode(data, name)))
    if page is None:
        return Extracted("", "html", paragraphs=True)
    walked = _Walker(page).lines
    lines = _merge(_trafilatura(page), walked)
    title = _title(page, lines, walked)
    if title and not any(_key(title) == _key(line.text) for line in lines[:5]):
        lines.insert(0, _Line(title, "p"))
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
    """The Python codec of the charset the page's <meta> declares, if Python knows it."""
    m = _META_CHARSET.search(data[:4096])
    try:
        return codecs.lookup(m.group(1).decode("ascii")).name if m else None
    except (LookupError, UnicodeDecodeError):
        return None


def _parse(text: str):
    import lxml.html
    from lxml.etree import ParserError

    text = _FONT.sub("", _CONTROL.sub("", _XML_DECLARATION.sub("", text)))
    # huge_tree: libxml2 otherwise drops all text nested deeper than 255 elements
    parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, huge_tree=True)
    try:
        return lxml.html.document_fromstring(text, parser=parser)
    except ParserError:  # nothing but blanks and comments
        return None


def _title(page, lines: list[_Line], walked: list[_Line]) -> str:
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


def _trafilatura(page) -> list[_Line]:
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
    lines: list[_Line] = []
    for child in [] if found is None or found.body is None else found.body:
        _xml_block(child, lines)
    return lines


def _xml_block(el, lines: list[_Line]) -> None:
    """One element of trafilatura's XML (head, p, list, table, quote ...) as lines."""
    if el.tag == "head":
        rend = el.get("rend", "")
        _add(lines, _Line(_flat(el), "h", level=int(rend[1:]) if rend[1:].isdigit() else 2))
    elif el.tag == "list":
        group = len(lines) + 1
        for item in el.iter("item"):
            _add(lines, _Line(_flat(item, skip="list"), "item", group=group))
    elif el.tag == "table":
        rows = [list(row.iter("cell")) for row in el.iter("row")]
        if all(len(cells) <= 1 for cells in rows) or any(len(c) > _CELL_BLOCKS_MAX for r in rows for c in r):
            for cells in rows:  # a table laying out a page: its cells' paragraphs are the text
                for cell in cells:
                    _split(cell, lines)
            return
        group = len(lines) + 1
        for cells in rows:
            _add(lines, _Line(" | ".join(t for t in map(_flat, cells) if t), "row", group=group))
    else:
        _split(el, lines)


def _split(el, lines: list[_Line]) -> None:
    """A paragraph as lines, one per <lb/>; a block inside it comes between its lines."""
    pieces = [el.text or ""]
    for child in el:
        if child.tag == "lb" or child.tag not in _XML_INLINE:
            _add(lines, _Line(" ".join("".join(pieces).split()), "p"))
            if child.tag != "lb":
                _xml_block(child, lines)
            pieces = [child.tail or ""]
        else:
            pieces += [_flat(child), child.tail or ""]
    _add(lines, _Line(" ".join("".join(pieces).split()), "p"))


def _flat(el, *, skip: str = "") -> str:
    """The text of an element on one line; words in separate blocks stay separate words."""
    parts = [el.text or ""]
    for child in el:
        if child.tag != skip:
            gap = "" if child.tag in _XML_INLINE else " "
            parts += [gap, _flat(child, skip=skip), gap]
        parts.append(child.tail or "")
    return " ".join("".join(parts).split())


def _add(lines: list[_Line], line: _Line) -> None:
    if line.text:
        lines.append(line)


class _Walker:
    """The page block by block, as a browser lays it out, less what is never article text."""

    def __init__(self, page):
        self.root = page.find("body") if page.find("body") is not None else page
        self.total = _chars(self.root.text_content())
        self.lines: list[_Line] = []
        self.pieces: list[str] = []
        self.linked = 0  # characters of the pending text inside links
        self.links = 0  # depth of <a> elements we are in
        self.blocks: list[tuple[object, _Kind, int]] = [(self.root, "p", 0)]  # element, kind, group
        self.walk()
        self.flush()

    def walk(self) -> None:
        """Every element in document order, by events rather than recursion: pages nest deep."""
        from lxml.etree import iterwalk

        events, whole = iterwalk(self.root, events=("start", "end")), None
        for event, el in events:
            tag = el.tag.lower() if isinstance(el.tag, str) else ""
            if event == "start":
                if self.whole(el, tag):  # not descended into: its end event comes next
                    events.skip_subtree()
                    whole = el
                else:
                    self.start(el, tag)
                continue
            if el is not whole:
                self.links -= tag == "a"
                if tag in _BLOCK:
                    self.flush()
                    self.blocks.pop()
            self.add(el.tail if el is not self.root else None)

    def whole(self, el, tag: str) -> bool:
        """Is `el` done at its start: dropped, or read as one line (a heading, a table row)?"""
        if not tag or self.dropped(el, tag):
            return True
        if tag in _HEADINGS:
            self.flush()
            text = " ".join(el.text_content().split())
            links = sum(_chars(a.text_content()) for a in el.iter("a")) / max(1, _chars(text))
            _add(self.lines, _Line(text, "h", _HEADINGS[tag], links=links, element=el))
            return True
        if tag == "tr" and self.data_row(el):
            self.flush()
            text = " | ".join(t for t in (" ".join(c.text_content().split()) for c in el) if t)
            _add(self.lines, _Line(text, "row", group=id(el.getparent()), element=el))
            return True
        return False

    def start(self, el, tag: str) -> None:
        if tag == "br":
            self.flush()
        elif tag in _BLOCK:
            self.flush()
            _, kind, group = self.blocks[-1]
            if tag in ("ul", "ol"):
                kind, group = "p", id(el)
            elif tag == "li":
                kind = "item"
            elif kind != "item":  # a paragraph inside a list item is still the item
                kind, group = "p", 0
            self.blocks.append((el, kind, group))
        self.links += tag == "a"
        self.add(el.text)

    def dropped(self, el, tag: str) -> bool:
        if tag in _DROP or el.get("hidden") is not None or _HIDDEN.search(el.get("style") or ""):
            return True
        if tag in ("header", "footer"):  # the page's, not the article's own
            return not any(a.tag in ("article", "main") for a in el.iterancestors())
        words = f"{el.get('class') or ''} {el.get('id') or ''}".split()
        if not any(_FURNITURE.search(w) for w in words):
            return False
        # a box named like furniture that holds the article (vnexpress calls it "sidebar-1") stays
        holds = el.find(".//h1") is not None or el.find(".//article") is not None
        return not holds and _chars(el.text_content()) < self.total / 2

    @staticmethod
    def data_row(tr) -> bool:
        cells = [c for c in tr if isinstance(c.tag, str) and c.tag in ("td", "th")]
        return len(cells) > 1 and not any(
            c.find(".//table") is not None or sum(d.tag in _CELL_BLOCKS for d in c.iter()) > _CELL_BLOCKS_MAX
            for c in cells
        )

    def add(self, text: str | None) -> None:
        if text:
            self.pieces.append(text)
            self.linked += _chars(text) if self.links else 0

    def flush(self) -> None:
        text = " ".join("".join(self.pieces).split())
        element, kind, group = self.blocks[-1]
        links = self.linked / max(1, _chars(text))
        _add(self.lines, _Line(text, kind, group=group, links=links, element=element))
        self.pieces, self.linked = [], 0


def _chars(text: str) -> int:
    return len("".join(text.split()))


def _key(text: str) -> str:
    return "".join(text.split()).casefold()


def _merge(found: list[_Line], walked: list[_Line]) -> list[_Line]:
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
    after: dict[int, list[_Line]] = {}
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


def _core(walked: list[_Line], kept: list[int]) -> object:
    """The innermost element holding `_CORE_SHARE` of the kept lines' characters."""
    weight: Counter = Counter()
    for i in kept:
        for node in (walked[i].element, *walked[i].element.iterancestors()):
            weight[node] += _chars(walked[i].text)
    total = sum(_chars(walked[i].text) for i in kept)
    heavy = [node for node, w in weight.items() if w >= _CORE_SHARE * total]
    return max(heavy, key=lambda node: sum(1 for _ in node.iterancestors()))


def _h1(line: _Line) -> bool:
    return line.kind == "h" and line.level == 1


def _assemble(lines: list[_Line], title: str, name: str) -> Extracted:
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
