"""Ingest: read corpus files into `Document`s whose blocks are the article text only.

A saved web page loses its navigation, counters and link lists here (see furniture.py);
an ordinary document keeps every line. The document text itself stays verbatim (NFC)
so that every block is a `[start, end)` span of what the user can open and check, and
what was left out is counted, so a build can say what each document lost.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .corpus import corpus_files
from .errors import CorpusError
from .furniture import HEADING_MAX, LIST_ITEM, TEASER, TERMINAL, Line, strip_furniture
from .readers import Extracted, Format, extract
from .text import nfc

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
    webpage: bool = False  # looked like a saved web page, so its furniture was removed
    dropped: int = 0  # non-space characters of `text` left out of every block
    format: Format = "txt"
    pages: tuple[int, ...] = ()  # offset in `text` where each page starts (PDF)
    ocr: bool = False  # text recognised from page images

    def span(self, block: Block) -> str:
        return self.text[block.start : block.end]


_NUMBERED = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+\S")
_ROMAN = re.compile(r"^[IVXLC]+\.\s+\S")
_MARKDOWN_HEADING = re.compile(r"^(#{1,6})\s+\S")
_DOC_NUMBER = re.compile(r"^Số\s*:?\s*\d+")
_PLACE_DATE = re.compile(r",\s*ngày\s+\d{1,2}\s+tháng\s+\d{1,2}\s+năm\s+\d{4}\s*$")
_TABLE_ROW = re.compile(r"\t|\s\|\s")  # cells of a table flattened to text: a row, never a heading
# A line is cut by the page, not ended, when it is about as long as the document's longest line:
# the lines of a PDF's or a hard-wrapped text's paragraphs fill its width, a title's or a list
# item's do not. On the seeds' 77 answerable dev questions laid out as PDFs and as wrapped text
# (bench/layouts.py --split dev), the highlight held the answer for 63, 63 and 63 (PDF) and 59,
# 60 and 60 (text) with 0.6, 0.75 and 0.9 of the longest, against 51 and 50 before the rule; the
# office documents' figures and those of both sets as written did not change.
WRAP_SHARE = 0.75
WRAP_MIN = 40  # characters: a shorter line is never taken as cut by the page, however narrow
OPENING = "*_\"“'("  # marks a line may open with before its first word
_LEADER = re.compile(r"\.{4,}|…{2,}|_{4,}")  # a table of contents' dots, a form's blanks


def wraps(line: str, after: str, *, width: int) -> bool:
    """Whether `line` was cut by the width it was laid out in (`width`: its longest line's) and
    goes on in the next line, `after`. Not a title in capitals, a table row or a contents line,
    and not a line starting like the one after ("Chương 1 …" / "Chương 2 …")."""
    line = line.rstrip()
    return (
        len(line) >= max(WRAP_SHARE * width, WRAP_MIN)
        and not TERMINAL.search(line)
        and not _TABLE_ROW.search(line)
        and not _LEADER.search(line)
        and line.upper() != line
        and after.upper() != after
        and line.split(maxsplit=1)[:1] != after.split(maxsplit=1)[:1]
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
    return parse_document(extract(data, name=path.name), doc_id=doc_id or path.name, boilerplate=boilerplate)


def parse_document(source: str | Extracted, *, doc_id: str, boilerplate: bool = True) -> Document:
    """Find the article's paragraphs, its title and its headings in a file's text.

    A plain text (str) is read as a .txt or .md file by `doc_id`'s suffix. Only those
    can be saved web pages: an HTML file's furniture went with its reader, and Word and
    PDF files have none. `boilerplate=False` keeps every line of a web page too (to
    measure what dropping buys). Headings a reader found are kept; the rest are guessed.
    """
    if isinstance(source, str):
        markdown = doc_id.lower().endswith(".md")
        source = Extracted(nfc(source), "md" if markdown else "txt")
    text = source.text  # readers give NFC: the offsets of their headings and pages index it
    lines = [Line.at(text, start, end) for start, end in _lines(text)]
    webpage = False
    if boilerplate and source.format in ("txt", "md"):
        lines, webpage = strip_furniture(lines, doc_id=doc_id)
    kept = lines if source.paragraphs else _merge_broken_lines(text, lines)
    known = {h.start: h.level for h in source.headings}
    title_at = _stated_title(kept, source.title) if source.title else None
    if title_at is None and not (source.title and known):
        title_at = _title_index(kept, markdown=source.format == "md")
    title = source.title or (kept[title_at].text if title_at is not None else Path(doc_id).stem)
    blocks = []
    for i, p in enumerate(kept):
        if len(kept) == 1:  # a one-line document's line is its text, headline or not: it must be indexed
            blocks.append(Block(p.start, p.end, "text"))
        elif i == title_at:
            blocks.append(Block(p.start, p.end, "title"))
        else:
            level = known.get(p.start) or _heading_level(kept, i, title_at)
            blocks.append(Block(p.start, p.end, "heading" if level else "text", level))
    dropped = _non_space(text) - sum(_non_space(text[b.start : b.end]) for b in blocks)
    log.debug(
        "%s: %s, %d lines, %d paragraphs kept, %d characters dropped, title %r",
        doc_id,
        "web page" if webpage else "document",
        len(lines),
        len(kept),
        dropped,
        title,
    )
    return Document(
        doc_id,
        title,
        text,
        tuple(blocks),
        webpage=webpage,
        dropped=dropped,
        format=source.format,
        pages=source.pages,
        ocr=source.ocr,
    )


def _stated_title(paras: list[Line], title: str) -> int | None:
    """The line among the first few that is the title the file states (Word, HTML), if any."""
    key = " ".join(title.split()).casefold()
    return next((i for i, p in enumerate(paras[:5]) if " ".join(p.text.split()).casefold() == key), None)


def _non_space(text: str) -> int:
    return len(text) - sum(map(str.isspace, text))


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


@dataclass
class _Run:
    """Lines being rejoined into one paragraph, with what `_continues` asks of the whole of it,
    kept as it grows: re-reading the paragraph at each line would be quadratic."""

    first: Line
    last: Line
    n: int  # syllables
    cased: bool = False  # has a letter with case
    lower: bool = False  # has a lower-case letter

    def add(self, line: Line) -> None:
        self.last, self.n = line, self.n + line.n
        self.cased = self.cased or any(c.isupper() or c.islower() for c in line.text)
        self.lower = self.lower or any(c.islower() for c in line.text)

    @property
    def upper(self) -> bool:
        return self.cased and not self.lower


def _continues(prev: _Run, line: str, *, wrapped: bool) -> bool:
    """Was this line broken off the previous paragraph mid-sentence? (`wrapped`: by the page)"""
    if prev.last.terminal or TEASER.search(prev.last.text) or not line:
        return False
    if any(rx.match(line) for rx in (LIST_ITEM, _NUMBERED, _ROMAN, _MARKDOWN_HEADING)):
        return False
    first = line.lstrip(OPENING)[:1]
    if first.islower() or prev.last.text.endswith(",") or wrapped:
        return True
    # a long line without a full stop is prose cut short, not a heading
    return (
        prev.n >= 25
        and not prev.upper
        and not any(rx.match(prev.first.text) for rx in (LIST_ITEM, _NUMBERED, _ROMAN, _MARKDOWN_HEADING))
    )


def _merge_broken_lines(text: str, lines: list[Line]) -> list[Line]:
    runs: list[_Run] = []
    width = max((len(line.raw) for line in lines), default=0)
    for line in lines:
        last = runs[-1].last if runs else None
        wrapped = (
            last is not None
            and text.count("\n", last.end, line.start) == 1  # a blank line ends a paragraph
            and wraps(last.raw, line.raw, width=width)
        )
        if runs and _continues(runs[-1], line.text, wrapped=wrapped):
            runs[-1].add(line)
        else:
            runs.append(_Run(line, line, 0))
            runs[-1].add(line)
    return [r.first if r.first is r.last else Line.at(text, r.first.start, r.last.end) for r in runs]


def _title_index(paras: list[Line], *, markdown: bool) -> int | None:
    if not paras:
        return None
    if markdown:
        return next((i for i, p in enumerate(paras) if p.raw.startswith("# ")), None)
    # an official letter: agency, number, date, then its subject line
    number = next((i for i, p in enumerate(paras[:12]) if _DOC_NUMBER.match(p.text)), None)
    if number is not None:
        for i in range(number + 1, min(len(paras), number + 8)):
            t = paras[i].text
            if paras[i].n >= 4 and not t.isupper() and not _PLACE_DATE.search(t) and not LIST_ITEM.match(t):
                return i
    first = paras[0]
    headline = first.n <= HEADING_MAX and not first.text.endswith(".") and not _TABLE_ROW.search(first.raw)
    return 0 if headline else None


def _heading_level(paras: list[Line], i: int, title_at: int | None) -> int:
    """1 for parts (I., II., capitals), 2 and deeper for numbered and plain subheadings."""
    p = paras[i]
    nxt = paras[i + 1] if i + 1 < len(paras) else None
    if (m := _MARKDOWN_HEADING.match(p.raw)) and i != title_at:
        return len(m.group(1))
    if p.terminal or p.n > HEADING_MAX or nxt is None or _TABLE_ROW.search(p.raw):
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
        and not LIST_ITEM.match(p.text)
        and not p.text.startswith("(")
    ):
        return 2
    return 0
