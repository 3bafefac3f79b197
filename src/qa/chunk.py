"""Chunk: passages of whole sentences, sized in pyvi words, inside one section.

A chunk never crosses a heading or a piece of dropped boilerplate, so its verbatim
span `document.text[start:end]` is always clean article text. Every step works on
offsets into the document, never on copies searched back, so any text chunks: the
units of a section are in order, do not overlap and cover all of its non-space text.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from .ingest import Block, Document
from .text import canonical, clean, count_words

Context = Literal["none", "heading", "title+heading"]
Chunker = Literal["sentence", "recursive"]

HEADING_SEPARATOR = " › "

# A passage holds at most `size` pyvi words and `size * MAX_CHARS_PER_WORD` characters.
# Seed prose averages 7 characters a word and its most link-laden sentence 30, so the
# character bound only bites on text with few or no words (emoji, symbols), which
# would otherwise make one passage however long it runs.
MAX_CHARS_PER_WORD = 30

# Where a sentence longer than a passage is cut, best first: clause boundaries, then
# between words. A piece keeps the boundary at its end. Clauses end in a punctuation mark
# and a space, as in the LangChain splitter first used here (so seed passages stay as
# they were); a line break after a comma is not a clause boundary yet.
_CUTS = tuple(re.compile(p) for p in ("; ", ": ", ", ", r"\s+"))
# LangChain's recursive character splitter, the usual recipe, cuts at these (its defaults).
_CHARACTER_CUTS = ("\n\n", "\n", " ", "")

# A sentence ends at . ! ? … (and closing quotes) before a capital, digit or quote,
# unless the full stop belongs to an initial ("C. Mác", "V.I. Lê-nin") or an abbreviation.
# Matched from the start of a run of stops, possessively: linear even on "!!!…!!!".
_SENTENCE_END = re.compile(r"(?<![.!?…])[.!?…]++[\"”’»)\]*_]*+(?=\s+[\"“‘«(\[*_-]*[\w])")
_ABBREVIATIONS = {
    "tp",
    "tt",
    "ts",
    "ths",
    "pgs",
    "gs",
    "bs",
    "ks",
    "th.s",
    "mr",
    "ms",
    "mrs",
    "dr",
    "st",
    "no",
    "vs",
    "v.v",
    "tr",
    "q",
    "p",
    "ng",
    "x",
    "h",
}


@dataclass(frozen=True)
class Chunk:
    doc_id: str
    title: str
    heading: str
    text: str
    start: int
    end: int
    words: int

    @property
    def id(self) -> str:
        return f"{self.doc_id}#{self.start}-{self.end}"


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    words: int


def chunk_document(
    document: Document, *, size: int = 100, overlap: int = 20, method: Chunker = "sentence"
) -> list[Chunk]:
    """Pack sentences into chunks of about `size` words, repeating up to `overlap` words.

    A remainder under a third of `size` joins the chunk before it rather than stand alone.
    `method="recursive"` is the usual recipe instead: LangChain's character splitter, `size`
    and `overlap` in characters, blind to sentences and sections.
    """
    if size < 10 or not 0 <= overlap < size:
        raise ValueError(f"chunk size {size} must be >= 10 and overlap {overlap} in [0, size)")
    if method == "recursive":
        return _split_characters(document, size=size, overlap=overlap)
    chunks: list[Chunk] = []
    for heading, blocks in _sections(document):
        units = [u for b in blocks for u in _units(document, b, size)]
        for group in _pack(units, size=size, overlap=overlap):
            start, end = group[0].start, group[-1].end
            chunks.append(
                Chunk(
                    doc_id=document.id,
                    title=document.title,
                    heading=heading,
                    text=document.text[start:end],
                    start=start,
                    end=end,
                    words=sum(u.words for u in group),
                )
            )
    return chunks


def _split_characters(document: Document, *, size: int, overlap: int) -> list[Chunk]:
    text, chunks = document.text, []
    for start, end in _runs(document):
        for a, b in _split_recursively(text, start, end, size=size, overlap=overlap, cuts=_CHARACTER_CUTS):
            chunks.append(Chunk(document.id, document.title, "", text[a:b], a, b, count_words(text[a:b])))
    return chunks


def _split_recursively(
    text: str, start: int, end: int, *, size: int, overlap: int, cuts: tuple[str, ...]
) -> list[tuple[int, int]]:
    """LangChain's RecursiveCharacterTextSplitter (defaults) kept on offsets: the same
    pieces, where its start_index searches for each one and can land on a repeat."""
    level = next(i for i, sep in enumerate(cuts) if not sep or text.find(sep, start, end) >= 0)
    sep = cuts[level]
    if sep:  # each split starts with its separator
        bounds, at = [start], text.find(sep, start, end)
        while at >= 0:
            bounds.append(at)
            at = text.find(sep, at + len(sep), end)
    else:
        bounds = list(range(start, end))
    splits = [(a, b) for a, b in zip(bounds, [*bounds[1:], end], strict=True) if a < b]
    spans: list[tuple[int, int]] = []
    small: list[tuple[int, int]] = []
    for a, b in splits:
        if b - a < size:
            small.append((a, b))
            continue
        spans += _merge_characters(text, small, size=size, overlap=overlap)
        small = []
        spans += _split_recursively(text, a, b, size=size, overlap=overlap, cuts=cuts[level + 1 :])
    return spans + _merge_characters(text, small, size=size, overlap=overlap)


def _merge_characters(
    text: str, splits: list[tuple[int, int]], *, size: int, overlap: int
) -> list[tuple[int, int]]:
    """Consecutive splits joined into pieces of `size` characters, the next one repeating
    up to `overlap` of them (LangChain's _merge_splits)."""
    spans: list[tuple[int, int]] = []
    first, total = 0, 0  # the current piece is splits[first:i]
    for i, (a, b) in enumerate(splits):
        if total + b - a > size and i > first:
            if span := _strip(text, splits[first][0], splits[i - 1][1]):
                spans.append(span)
            while total > overlap or (total + b - a > size and total > 0):
                total -= splits[first][1] - splits[first][0]
                first += 1
        total += b - a
    if splits and (span := _strip(text, splits[first][0], splits[-1][1])):
        spans.append(span)
    return spans


def _runs(document: Document) -> list[tuple[int, int]]:
    """Spans of consecutive blocks (title and headings included) with nothing dropped between."""
    runs: list[list[int]] = []
    for block in document.blocks:
        if runs and not document.text[runs[-1][1] : block.start].strip():
            runs[-1][1] = block.end
        else:
            runs.append([block.start, block.end])
    return [(a, b) for a, b in runs]


def contextualize(chunk: Chunk, *, context: Context) -> str:
    """The text a model or tokeniser reads for a chunk: its prose, led by where it sits."""
    parts = []
    if context == "title+heading":
        parts.append(chunk.title)
    if context in ("heading", "title+heading") and chunk.heading:
        parts.append(chunk.heading)
    parts.append(chunk.text)
    return "\n".join(canonical(part) for part in parts)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans of a paragraph, stripped of surrounding white space."""
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        word = _word_before(text, match.start()).lstrip("(\"“'*").lower()
        if match.group().startswith(".") and (_is_initial(word) or word in _ABBREVIATIONS):
            continue
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(text)))
    return [span for a, b in spans if (span := _strip(text, a, b))]


def _word_before(text: str, end: int) -> str:
    """The last word of `text[:end]`, read backwards so a long paragraph is not copied per stop."""
    while end > 0 and text[end - 1].isspace():
        end -= 1
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return text[start:end]


def _strip(text: str, start: int, end: int) -> tuple[int, int] | None:
    """`[start, end)` without the white space at its ends; None if nothing else is there."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _is_initial(word: str) -> bool:
    """ "c", "v.i", "e" before a full stop: a person's initial, not a sentence end."""
    return bool(word) and all(len(part) == 1 and part.isalpha() for part in word.split("."))


def _sections(document: Document) -> list[tuple[str, list[Block]]]:
    """Runs of text blocks that share a heading and have nothing dropped between them.

    The title is text like any other: a question worded like a legal article's name
    ("Năng lực hành vi dân sự của cá nhân") must find the article it heads.
    """
    sections: list[tuple[str, list[Block]]] = []
    path: list[tuple[int, str]] = []
    current: list[Block] = []
    previous: Block | None = None

    def close() -> None:
        if current:
            sections.append((HEADING_SEPARATOR.join(text for _, text in path), list(current)))
            current.clear()

    for block in document.blocks:
        gap = previous is not None and document.text[previous.end : block.start].strip()
        prose = block.kind in ("text", "title")
        if not prose or gap:
            close()
        if block.kind == "heading":
            while path and path[-1][0] >= block.level:
                path.pop()
            path.append((block.level, clean(document.span(block)).lstrip("# ")))
        elif prose:
            current.append(block)
        previous = block
    close()
    return sections


def _units(document: Document, block: Block, size: int) -> list[_Unit]:
    """Sentences of a block; one longer than a chunk is cut at clause boundaries, else between words."""
    text, units = document.text, []
    for a, b in split_sentences(document.span(block)):
        start, end = block.start + a, block.start + b
        # a sentence too long in characters is cut without counting its words: pyvi is slow
        if end - start <= size * MAX_CHARS_PER_WORD and (words := count_words(text[start:end])) <= size:
            units.append(_Unit(start, end, words))
        else:
            units.extend(_cut(text, start, end, size=size, cuts=_CUTS))
    return units


def _cut(text: str, start: int, end: int, *, size: int, cuts: tuple[re.Pattern[str], ...]) -> list[_Unit]:
    """Units of `text[start:end]` under `size` words, cut at the first kind of boundary it has.

    The recursion of LangChain's RecursiveCharacterTextSplitter (which chose these cuts)
    kept on offsets, so pieces are never searched for; each piece is counted once per level.
    """
    level = next((i for i, cut in enumerate(cuts) if cut.search(text, start, end)), len(cuts) - 1)
    bounds = [m.end() for m in cuts[level].finditer(text, start, end)]
    pieces = [(a, b) for a, b in zip([start, *bounds], [*bounds, end], strict=True) if a < b]
    units: list[_Unit] = []
    small: list[_Unit] = []  # consecutive pieces under a chunk, merged before a long one
    for a, b in pieces:
        if b - a < size * MAX_CHARS_PER_WORD and (words := count_words(text[a:b])) < size:
            small.append(_Unit(a, b, words))
            continue
        units += _merge(text, small, size=size)
        small = []
        if level + 1 < len(cuts):
            units += _cut(text, a, b, size=size, cuts=cuts[level + 1 :])
        else:  # no boundary left (a URL, base64, text without spaces): cut by characters
            units += _slices(text, a, b, width=size * MAX_CHARS_PER_WORD)
    return units + _merge(text, small, size=size)


def _slices(text: str, start: int, end: int, *, width: int) -> list[_Unit]:
    """`text[start:end]` in pieces of at most `width` characters, marks kept with their letter."""
    units: list[_Unit] = []
    while start < end:
        cut = min(start + width, end)
        while start + 1 < cut < end and unicodedata.combining(text[cut]):
            cut -= 1
        units += _unit(text, start, cut)
        start = cut
    return units


def _merge(text: str, pieces: list[_Unit], *, size: int) -> list[_Unit]:
    """Consecutive pieces joined greedily into units of at most `size` words."""
    units: list[_Unit] = []
    group: list[_Unit] = []
    words = 0
    for piece in pieces:
        if group and (words + piece.words > size or piece.end - group[0].start > size * MAX_CHARS_PER_WORD):
            units += _unit(text, group[0].start, group[-1].end)
            group, words = [], 0
        group.append(piece)
        words += piece.words
    return units + (_unit(text, group[0].start, group[-1].end) if group else [])


def _unit(text: str, start: int, end: int) -> list[_Unit]:
    """`text[start:end]` without its outer white space, words counted; nothing if blank."""
    span = _strip(text, start, end)
    return [_Unit(*span, count_words(text[span[0] : span[1]]))] if span else []


def _pack(units: list[_Unit], *, size: int, overlap: int) -> list[list[_Unit]]:
    """Greedy packing towards an even share of the section, so no chunk is a stub."""
    max_chars = size * MAX_CHARS_PER_WORD
    total = sum(u.words for u in units)
    if total > size:
        size = min(size, math.ceil(1.1 * total / math.ceil(total / size)))
    groups: list[list[_Unit]] = []
    current: list[_Unit] = []
    words = 0
    fresh = 0  # units of `current` not carried over from the previous chunk
    for unit in units:
        if fresh and (words + unit.words > size or unit.end - current[0].start > max_chars):
            groups.append(current)
            current = _tail(current, overlap, then=unit, size=size, max_chars=max_chars)
            words = sum(u.words for u in current)
            fresh = 0
        current.append(unit)
        words += unit.words
        fresh += 1
    if fresh:
        groups.append(current)
    # a short remainder reads better joined to its neighbour than alone
    if len(groups) > 1 and sum(u.words for u in groups[-1]) < size // 3:
        last, before = groups[-1], groups[-2]
        if last[-1].end - before[0].start <= max_chars:
            groups[-2:] = [before + [u for u in last if u.start >= before[-1].end]]
    return groups


def _tail(units: list[_Unit], overlap: int, *, then: _Unit, size: int, max_chars: int) -> list[_Unit]:
    """The last sentences of a chunk, repeated at the start of the next one (before `then`)."""
    start, words = len(units), 0
    while start > 1:  # never the whole chunk
        words += units[start - 1].words
        if (
            words > overlap
            or words + then.words > size
            or units[-1].end - units[start - 1].start > overlap * MAX_CHARS_PER_WORD
            or then.end - units[start - 1].start > max_chars
        ):
            break
        start -= 1
    return units[start:]
