"""The HTML reader's second reading: the page block by block, as a browser lays it out, less
what is never article text (scripts, menus, hidden boxes, boxes named like furniture).
`html.py` puts back the blocks of this reading that trafilatura left out of the article."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# A table cell holding more paragraphs than this lays a page out; it is no cell of data.
CELL_BLOCKS_MAX = 3

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

Kind = Literal["p", "h", "item", "row"]  # paragraph, heading, list item, table row


@dataclass(frozen=True)
class Line:
    text: str  # whitespace collapsed
    kind: Kind
    level: int = 0  # of a heading
    group: int = 0  # the list or table the line belongs to: no blank line between its lines
    links: float = 0.0  # share of the line's characters inside links
    element: object = None  # the page element it came from (block-by-block reading)


def add_line(lines: list[Line], line: Line) -> None:
    if line.text:
        lines.append(line)


def chars(text: str) -> int:
    return len("".join(text.split()))


class Walker:
    """The page block by block, as a browser lays it out, less what is never article text."""

    def __init__(self, page):
        self.root = page.find("body") if page.find("body") is not None else page
        self.total = chars(self.root.text_content())
        self.lines: list[Line] = []
        self.pieces: list[str] = []
        self.linked = 0  # characters of the pending text inside links
        self.links = 0  # depth of <a> elements we are in
        self.blocks: list[tuple[object, Kind, int]] = [(self.root, "p", 0)]  # element, kind, group
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
            links = sum(chars(a.text_content()) for a in el.iter("a")) / max(1, chars(text))
            add_line(self.lines, Line(text, "h", _HEADINGS[tag], links=links, element=el))
            return True
        if tag == "tr" and self.data_row(el):
            self.flush()
            text = " | ".join(t for t in (" ".join(c.text_content().split()) for c in el) if t)
            add_line(self.lines, Line(text, "row", group=id(el.getparent()), element=el))
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
        return not holds and chars(el.text_content()) < self.total / 2

    @staticmethod
    def data_row(tr) -> bool:
        cells = [c for c in tr if isinstance(c.tag, str) and c.tag in ("td", "th")]
        return len(cells) > 1 and not any(
            c.find(".//table") is not None or sum(d.tag in _CELL_BLOCKS for d in c.iter()) > CELL_BLOCKS_MAX
            for c in cells
        )

    def add(self, text: str | None) -> None:
        if text:
            self.pieces.append(text)
            self.linked += chars(text) if self.links else 0

    def flush(self) -> None:
        text = " ".join("".join(self.pieces).split())
        element, kind, group = self.blocks[-1]
        links = self.linked / max(1, chars(text))
        add_line(self.lines, Line(text, kind, group=group, links=links, element=element))
        self.pieces, self.linked = [], 0
