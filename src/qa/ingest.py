"""Ingest: read corpus files into `Document`s whose blocks are the article text only.

Real pages carry navigation, counters, related-article lists, polls and captions
printed twice. They are recognised here, line by line and by their surroundings, and
left out of the blocks; the document text itself stays verbatim (NFC) so that every
block is a `[start, end)` span of what the user can open and check.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .charset import decode
from .corpus import corpus_files
from .errors import CorpusError
from .text import clean, fold_accents, match_key, nfc, syllables

log = logging.getLogger(__name__)

BlockKind = Literal["title", "heading", "text"]


@dataclass(frozen=True)
class Block:
    """A paragraph of article text: `document.text[start:end]`."""

    start: int
    end: int
    kind: BlockKind
    level: int = 0


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    text: str
    blocks: tuple[Block, ...]

    def span(self, block: Block) -> str:
        return self.text[block.start : block.end]


# --- boilerplate lexicon ------------------------------------------------------------
# Keys are accent-folded lower case, so "Xem nhiều" and "Xem nhieu" both match.

# A widget header: everything after it is the widget until the article resumes.
_WIDGET_HEADERS = {
    "tien ich",
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
    "doc them",
    "xem them",
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
    "binh luan",
    "y kien ban doc",
    "gui binh luan",
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
# A line that is boilerplate by itself.
_WIDGET_LINES = re.compile(
    r"""^(?:
        (?:so\ )?luot\ (?:truy\ cap|xem)|tong\ (?:so\ )?luot\ truy\ cap|dang\ truc\ tuyen
        |dang\ online|truy\ cap\ hom\ nay|hom\ nay|hom\ qua|trong\ tuan|trong\ thang
        |online|khach|thanh\ vien
        )\s*:?\s*[\d.,\s]+$
    |^theo\ doi\b.{1,80}\btren\b.{0,30}$
    |^(?:ngay\ dua|ngay\ dang|ngay\ cap\ nhat|cap\ nhat|dang\ luc|dang\ ngay|ngay)
        \s*:\s*\d{1,2}[/-]\d{1,2}[/-]\d{2,4}.*$
    |^(?:phien\ ban\ (?:di\ dong|mobile|may\ tinh|desktop)|ve\ dau\ trang|len\ dau\ trang
        |in\ bai(?:\ viet)?|gui\ bai(?:\ viet)?|trang\ chu|dang\ nhap|dang\ ky|quang\ cao)$
    |^(?:©|copyright\b|ban\ quyen\b)
    """,
    re.VERBOSE,
)
# Teasers of other articles: cut with "...", dated "(28/10/2022)", or trailing " -".
_TEASER = re.compile(r"(?:\.\.\.|…)$|\(\d{1,2}/\d{1,2}/\d{4}[^)]*\)$|(?:^|\s)-$")
_TERMINAL = re.compile(r"[.!?…;:][\"”’»)\]*_]*$")
_LIST_ITEM = re.compile(r"^[-–•+*]\s")
_NUMBERED = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+\S")
_ROMAN = re.compile(r"^[IVXLC]+\.\s+\S")
_MARKDOWN_HEADING = re.compile(r"^(#{1,6})\s+\S")
_DOC_NUMBER = re.compile(r"^Số\s*:?\s*\d+")
_PLACE_DATE = re.compile(r",\s*ngày\s+\d{1,2}\s+tháng\s+\d{1,2}\s+năm\s+\d{4}\s*$")

_BODY_MIN = 12  # syllables of a sentence-like line that belongs to the article
_STRONG_BODY_MIN = 40  # syllables of a paragraph that surely is the article
_HEADING_MAX = 40  # syllables of the longest heading
_LONG_PROSE = 80  # syllables of a paragraph too long to be a teaser's summary


@dataclass
class _Para:
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
            and 0 < self.n <= _HEADING_MAX
            and not _LIST_ITEM.match(self.text)
        )


def read_corpus(folder: str | Path, *, boilerplate: bool = True) -> list[Document]:
    """Every readable document under `folder`, ids being paths relative to it; bad files are skipped."""
    documents = []
    found = corpus_files(folder)
    for skipped in found.skipped:
        log.warning("skipped %s: %s", skipped.file, skipped.reason)
    for doc_id, path in found.files.items():
        try:
            documents.append(read_document(path, doc_id=doc_id, boilerplate=boilerplate))
        except CorpusError as err:
            log.warning("skipped %s: %s", doc_id, err)
    return documents


def read_document(path: str | Path, *, doc_id: str | None = None, boilerplate: bool = True) -> Document:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CorpusError(f"cannot read {path}: {err.strerror}") from None
    text = decode(data, name=str(path)).text
    return parse_document(text, doc_id=doc_id or path.name, boilerplate=boilerplate)


def parse_document(text: str, *, doc_id: str, boilerplate: bool = True) -> Document:
    """Find the article's paragraphs, its title and its headings in `text` (NFC).

    `boilerplate=False` keeps every line, repeats included (to measure what dropping buys).
    """
    text = nfc(text)
    lines = [_para(text, start, end) for start, end in _lines(text)]
    if boilerplate:
        _mark_boilerplate(lines)
        lines = _drop_repeats(_drop_boilerplate(lines))
    kept = _merge_broken_lines(text, lines)
    title_at = _title_index(kept, markdown=doc_id.lower().endswith(".md"))
    blocks = []
    for i, p in enumerate(kept):
        if i == title_at:
            blocks.append(Block(p.start, p.end, "title"))
            continue
        level = _heading_level(kept, i, title_at)
        blocks.append(Block(p.start, p.end, "heading" if level else "text", level))
    title = kept[title_at].text if title_at is not None else Path(doc_id).stem
    log.debug("%s: %d lines, %d paragraphs kept, title %r", doc_id, len(lines), len(kept), title)
    return Document(id=doc_id, title=title, text=text, blocks=tuple(blocks))


def _lines(text: str) -> list[tuple[int, int]]:
    """Stripped spans of the non-blank lines."""
    spans, pos = [], 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        lead = len(body) - len(body.lstrip())
        stripped = body.strip()
        if stripped:
            spans.append((pos + lead, pos + lead + len(stripped)))
        pos += len(line)
    return spans


def _para(text: str, start: int, end: int) -> _Para:
    cleaned = clean(text[start:end])
    return _Para(
        start, end, text[start:end], cleaned, len(syllables(cleaned)), bool(_TERMINAL.search(cleaned))
    )


def _continues(prev: _Para, line: str) -> bool:
    """Was this line broken off the previous one mid-sentence?"""
    if prev.terminal or _TEASER.search(prev.text) or not line:
        return False
    if any(rx.match(line) for rx in (_LIST_ITEM, _NUMBERED, _ROMAN, _MARKDOWN_HEADING)):
        return False
    first = line.lstrip("*_\"“'(")[:1]
    if first.islower() or prev.text.endswith(","):
        return True
    # a long line without a full stop is prose cut short, not a heading
    return (
        prev.n >= 25
        and not prev.text.isupper()
        and not any(rx.match(prev.text) for rx in (_LIST_ITEM, _NUMBERED, _ROMAN, _MARKDOWN_HEADING))
    )


def _merge_broken_lines(text: str, lines: list[_Para]) -> list[_Para]:
    paras: list[_Para] = []
    for line in lines:
        if paras and _continues(paras[-1], line.text):
            paras[-1] = _para(text, paras[-1].start, line.end)
        else:
            paras.append(line)
    return paras


def _mark_boilerplate(paras: list[_Para]) -> None:
    folded = [fold_accents(p.text).lower() for p in paras]
    keys = [" ".join(re.sub(r"[^\w\s]", " ", f).split()) for f in folded]
    for i, p in enumerate(paras):
        p.opens_widget = keys[i] in _WIDGET_HEADERS
        p.widget = bool(_WIDGET_LINES.search(folded[i]))
        p.teaser = bool(_TEASER.search(p.text)) and p.n < _STRONG_BODY_MIN
        # the same line printed twice in a row: a caption, or a headline in a link list
        p.twin = any(keys[i] == keys[j] for j in (i - 1, i + 1) if 0 <= j < len(paras))
        p.repeat = p.twin and not p.body


def _drop_boilerplate(paras: list[_Para]) -> list[_Para]:
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
    return [p for p, d in zip(paras, drop) if not d]


def _drop_summaries(paras: list[_Para], drop: list[bool]) -> None:
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


def _drop_repeats(paras: list[_Para]) -> list[_Para]:
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


def _title_index(paras: list[_Para], *, markdown: bool) -> int | None:
    if not paras:
        return None
    if markdown:
        return next((i for i, p in enumerate(paras) if p.raw.startswith("# ")), None)
    # an official letter: agency, number, date, then its subject line
    number = next((i for i, p in enumerate(paras[:12]) if _DOC_NUMBER.match(p.text)), None)
    if number is not None:
        for i in range(number + 1, min(len(paras), number + 8)):
            t = paras[i].text
            if paras[i].n >= 4 and not t.isupper() and not _PLACE_DATE.search(t) and not _LIST_ITEM.match(t):
                return i
    first = paras[0]
    return 0 if first.n <= _HEADING_MAX and not first.text.endswith(".") else None


def _heading_level(paras: list[_Para], i: int, title_at: int | None) -> int:
    """1 for parts (I., II., capitals), 2 and deeper for numbered and plain subheadings."""
    p = paras[i]
    nxt = paras[i + 1] if i + 1 < len(paras) else None
    if (m := _MARKDOWN_HEADING.match(p.raw)) and i != title_at:
        return len(m.group(1))
    if p.terminal or p.n > _HEADING_MAX or nxt is None:
        return 0
    if _ROMAN.match(p.text):
        return 1
    if m := _NUMBERED.match(p.text):
        return 1 + m.group(1).count(".") + 1
    letters = [c for c in p.text if c.isalpha()]
    if letters and p.text.upper() == p.text and nxt.n >= 20:
        return 1
    prev = paras[i - 1] if i > 0 else None
    after_prose = prev is None or prev.body or (i - 1) == title_at
    if (
        p.n <= 20
        and after_prose
        and nxt.n >= 20
        and not _LIST_ITEM.match(p.text)
        and not p.text.startswith("(")
    ):
        return 2
    return 0
