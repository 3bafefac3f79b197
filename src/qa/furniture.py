"""Web-page furniture: tell a saved web page from an ordinary document, and clean the page.

Saved pages carry navigation, counters, related-article lists, polls and captions
printed twice; those lines are recognised here, by themselves and by their
surroundings. An ordinary document (a law, a letter, a drug list) prints none of that,
yet its "…"-ended list items and repeated paragraphs look like teasers and captions, so
only a document that shows enough furniture to be a web page is cleaned at all.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from .text import clean, fold_accents, match_key, syllables

log = logging.getLogger(__name__)

# --- lexicon ------------------------------------------------------------------------
# Keys are accent-folded lower case, so "Xem nhiều" and "Xem nhieu" both match.

# Widget headers: everything after one is the widget until the article resumes.
# News-site vocabulary, which a document outside a web page has no use for:
_SITE_HEADERS = {
    "thong ke truy cap",
    "tieu diem",
    "tin noi bat",
    "tin lien quan",
    "bai viet lien quan",
    "bai lien quan",
    "bai viet cung chu de",
    "tin cung chuyen muc",
    "cung chuyen muc",
    "xem nhieu",
    "xem nhieu nhat",
    "doc nhieu",
    "doc nhieu nhat",
    "tin moi",
    "tin moi nhat",
    "tin khac",
    "cac tin khac",
    "cac tin bai khac",
    "tin bai khac",
    "xem cac tin khac",
    "xem tat ca",
    "phim tu lieu",
    "cac tin xem nhieu nhat",
    "tin xem nhieu nhat",
    "lien ket web",
    "lien ket website",
    "tham do y kien",
    "y kien ban doc",
    "gui binh luan",
}
# ... and headings an ordinary document may have too (a commentary's "Bình luận", a
# brochure's "Tiện ích").
_PLAIN_HEADERS = {
    "tien ich",
    "doc them",
    "xem them",
    "binh luan",
    "tu khoa",
    "tags",
    "chuyen muc",
    "danh muc",
    "chia se",
    "mang xa hoi",
    "video",
    "multimedia",
    "tin anh",
}
_DATE = r"\d{1,2}[/-]\d{1,2}[/-]\d{2,4}"
# Lines that are furniture by themselves: counters, "Theo dõi … trên", publication
# stamps and navigation only a web page prints ...
_SITE_LINES = re.compile(
    rf"""^(?:
        (?:so\ )?luot\ (?:truy\ cap|xem)|tong\ (?:so\ )?luot\ truy\ cap|dang\ truc\ tuyen
        |dang\ online|truy\ cap\ hom\ nay
        )\s*:?\s*[\d.,\s]+$
    |^theo\ doi\b.{{1,80}}\btren\b.{{0,30}}$
    |^(?:ngay\ dua|ngay\ dang|dang\ luc|dang\ ngay)\s*:\s*{_DATE}.*$
    |^(?:phien\ ban\ (?:di\ dong|mobile|may\ tinh|desktop)|ve\ dau\ trang|len\ dau\ trang
        |in\ bai(?:\ viet)?|gui\ bai(?:\ viet)?|trang\ chu|dang\ nhap|quang\ cao)$
    """,
    re.VERBOSE,
)
# ... and those an ordinary document prints too (a memo's date, a club's members, a
# leaflet's copyright).
_PLAIN_LINES = re.compile(
    rf"""^(?P<counter>(?:hom\ nay|hom\ qua|trong\ tuan|trong\ thang|online|khach|thanh\ vien)
        \s*:?\s*[\d.,\s]+)$
    |^(?P<stamp>(?:ngay\ cap\ nhat|cap\ nhat|ngay)\s*:\s*{_DATE}.*)$
    |^(?P<account>dang\ ky)$
    |^(?P<notice>©|copyright\b|ban\ quyen\b)
    """,
    re.VERBOSE,
)
# A credit giving the address of the page the text was saved from.
_SOURCE_URL = re.compile(r"^nguon\b.{0,60}(?:https?://|www\.)\S+$")
# Teasers of other articles: cut with "...", dated "(28/10/2022)", or trailing " -".
_DATED_TEASER = re.compile(r"\(\d{1,2}/\d{1,2}/\d{4}[^)]*\)$")
TEASER = re.compile(rf"(?:\.\.\.|…)$|{_DATED_TEASER.pattern}|(?:^|\s)-$")
TERMINAL = re.compile(r"[.!?…;:][\"”’»)\]*_]*$")  # a line that ends a sentence or a clause
LIST_ITEM = re.compile(r"^[-–•+*]\s")

# What a line adds to a document's furniture score: a line only a web page prints
# weighs as much as two hints; a dated teaser is one line of a list of them, and each
# kind of line that ordinary documents print too (a plain header, a date line, a
# copyright notice, "Đăng ký", a line printed twice in a row) counts once per document.
_SITE_POINTS = 2
# A document is a saved web page from this score on. Measured with `furniture_score`
# (tests/test_clean_corpus.py): the seed pages score 3 (000: three dated teasers), 3
# (001: its source address and a caption printed twice), 10 (002) and 27 (004); the
# letter 003 scores 0, and the 36 ordinary documents of tests/data/clean 0 (27 of them)
# or 1 (a date line, a copyright line, a repeat, "Bình luận"...). 2 sits in the middle of
# that gap: one line only a web page prints, or two different hints.
WEBPAGE_MIN_SCORE = 2

_BODY_MIN = 12  # syllables of a sentence-like line that belongs to the article
_STRONG_BODY_MIN = 40  # syllables of a paragraph that surely is the article, never dropped
HEADING_MAX = 40  # syllables of the longest heading
_LONG_PROSE = 80  # syllables of a paragraph too long to be a teaser's summary


@dataclass
class Line:
    """A non-blank line (or a rejoined paragraph) of a document, and what it looks like."""

    start: int
    end: int
    raw: str  # verbatim
    text: str  # clean text, for classification only
    n: int  # syllables
    terminal: bool
    widget: bool = False
    opens_widget: bool = False
    teaser: bool = False
    repeat: bool = False
    twin: bool = False

    @classmethod
    def at(cls, text: str, start: int, end: int) -> Line:
        cleaned = clean(text[start:end])
        n = len(syllables(cleaned))
        return cls(start, end, text[start:end], cleaned, n, bool(TERMINAL.search(cleaned)))

    @property
    def body(self) -> bool:
        return self.n >= _BODY_MIN and self.terminal and not self.teaser

    @property
    def strong_body(self) -> bool:
        return self.n >= _STRONG_BODY_MIN and self.body

    @property
    def evidence(self) -> bool:
        return self.widget or self.opens_widget or self.teaser or self.repeat

    @property
    def heading_like(self) -> bool:
        return (
            not self.terminal
            and not self.evidence
            and 0 < self.n <= HEADING_MAX
            and not LIST_ITEM.match(self.text)
        )


def strip_furniture(lines: list[Line], *, doc_id: str) -> tuple[list[Line], bool]:
    """The lines to keep, and whether they are a saved web page at all.

    An ordinary document keeps every line. A web page loses its furniture but never a
    paragraph of strong prose, and never all of its lines.
    """
    score = furniture_score(lines)
    if score < WEBPAGE_MIN_SCORE:
        return lines, False
    kept = _drop_repeats(_drop_boilerplate(lines))
    if lines and not kept:
        log.info("%s: looks like a web page but is all furniture; every line is kept", doc_id)
        return lines, True
    return kept, True


def furniture_score(lines: list[Line]) -> int:
    """How much web-page furniture `lines` show (see `WEBPAGE_MIN_SCORE`); marks each line."""
    folded = [fold_accents(p.text).lower() for p in lines]
    keys = [" ".join(re.sub(r"[^\w\s]", " ", f).split()) for f in folded]
    score, kinds = 0, set()
    for i, p in enumerate(lines):
        site_header, plain_header = keys[i] in _SITE_HEADERS, keys[i] in _PLAIN_HEADERS
        site_line, plain_line = _SITE_LINES.search(folded[i]), _PLAIN_LINES.search(folded[i])
        p.opens_widget = site_header or plain_header
        p.widget = bool(site_line or plain_line)
        p.teaser = bool(TEASER.search(p.text)) and p.n < _STRONG_BODY_MIN
        # the same line printed twice in a row: a caption, or a headline in a link list
        p.twin = any(keys[i] == keys[j] for j in (i - 1, i + 1) if 0 <= j < len(lines))
        p.repeat = p.twin and not p.body
        if site_header or site_line or _SOURCE_URL.search(folded[i]):
            score += _SITE_POINTS
        elif _DATED_TEASER.search(p.text):
            score += 1
        if plain_header:
            kinds.add("header")
        if plain_line:
            kinds.add(plain_line.lastgroup)
        if p.twin:
            kinds.add("twin")
    return score + len(kinds)


def _drop_boilerplate(paras: list[Line]) -> list[Line]:
    """Drop widgets and link lists, keeping the headline that leads back into the article.

    A widget header opens a block that lasts until a long paragraph of prose; a run of
    short lines that contains a widget line or a teaser is a link list from its first
    such line on. Lines of a run before that (author, source) belong to the article.
    """
    drop = [False] * len(paras)
    i = 0
    while i < len(paras):
        p = paras[i]
        if p.opens_widget:
            end = next((j for j in range(i + 1, len(paras)) if paras[j].strong_body), len(paras))
        elif not p.body:
            end = next((j for j in range(i + 1, len(paras)) if paras[j].body), len(paras))
            first = next((j for j in range(i, end) if paras[j].evidence), None)
            if first is None:
                i = end
                continue
            i = first
        else:
            i += 1
            continue
        for j in range(i, end):
            drop[j] = True
        # the article's own headline sits right before the prose that ends the block
        if end < len(paras) and end - 1 >= i and paras[end - 1].heading_like:
            drop[end - 1] = False
        i = end
    _drop_summaries(paras, drop)
    return [p for p, d in zip(paras, drop) if not d or p.strong_body]


def _drop_summaries(paras: list[Line], drop: list[bool]) -> None:
    """Short prose wedged between link lists is the summary of a listed article.

    A run of short kept paragraphs goes when a dropped list comes before it and a list
    or the end of the page after it (lone widget lines in between do not count), and
    the run itself looks listed: one paragraph, a headline printed twice, or a teaser.
    """

    def bound(j: int, step: int) -> int:
        while 0 <= j < len(paras) and drop[j] and paras[j].widget:
            j += step
        return j

    changed = True
    while changed:
        changed = False
        i = 0
        while i < len(paras):
            if drop[i] or paras[i].n >= _LONG_PROSE:
                i += 1
                continue
            end = i
            while end < len(paras) and not drop[end] and paras[end].n < _LONG_PROSE:
                end += 1
            left, right = bound(i - 1, -1), bound(end, 1)
            listed = end - i == 1 or any(p.twin or p.teaser for p in paras[i:end])
            if left >= 0 and drop[left] and (right == len(paras) or drop[right]) and listed:
                drop[i:end] = [True] * (end - i)
                changed = True
            i = end


def _drop_repeats(paras: list[Line]) -> list[Line]:
    """Captions are printed twice, sometimes once cut short: keep the fuller copy."""
    keys = [match_key(p.text) for p in paras]
    keep = [True] * len(paras)
    for i in range(len(paras)):
        for j in range(max(0, i - 3), i):
            if not keep[j]:
                continue
            a, b = keys[j], keys[i]
            if a == b or (min(len(a), len(b)) >= 30 and (a.startswith(b) or b.startswith(a))):
                keep[i if len(b) <= len(a) else j] = False
    return [p for p, k in zip(paras, keep) if k]
