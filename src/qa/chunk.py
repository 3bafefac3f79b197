"""Chunk: passages of whole sentences, sized in pyvi words, inside one section.

A chunk never crosses a heading or a piece of dropped boilerplate, so its verbatim
span `document.text[start:end]` is always clean article text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from langchain_text_splitters import RecursiveCharacterTextSplitter

from .ingest import Block, Document
from .text import canonical, clean, count_words

Context = Literal["none", "heading", "title+heading"]
Chunker = Literal["sentence", "recursive"]

HEADING_SEPARATOR = " › "

# A sentence ends at . ! ? … (and closing quotes) before a capital, digit or quote,
# unless the full stop belongs to an initial ("C. Mác", "V.I. Lê-nin") or an abbreviation.
_SENTENCE_END = re.compile(r"[.!?…]+[\"”’»)\]*_]*(?=\s+[\"“‘«(\[*_-]*[\w])")
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
    splitter = RecursiveCharacterTextSplitter(chunk_size=size, chunk_overlap=overlap, add_start_index=True)
    chunks = []
    for start, end in _runs(document):
        for piece in splitter.create_documents([document.text[start:end]]):
            at = start + piece.metadata["start_index"]
            text = piece.page_content
            chunks.append(Chunk(document.id, document.title, "", text, at, at + len(text), count_words(text)))
    return chunks


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
        word = text[: match.start()].rsplit(None, 1)[-1] if text[: match.start()].strip() else ""
        word = word.lstrip("(\"“'*").lower()
        if match.group().startswith(".") and (_is_initial(word) or word in _ABBREVIATIONS):
            continue
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(text)))
    out = []
    for a, b in spans:
        piece = text[a:b]
        lead = len(piece) - len(piece.lstrip())
        if piece.strip():
            out.append((a + lead, a + lead + len(piece.strip())))
    return out


def _is_initial(word: str) -> bool:
    """ "c", "v.i", "e" before a full stop: a person's initial, not a sentence end."""
    return bool(word) and all(len(part) == 1 and part.isalpha() for part in word.split("."))


def _sections(document: Document) -> list[tuple[str, list[Block]]]:
    """Runs of text blocks that share a heading and have nothing dropped between them.

    A headline that opens the document is left out (every hit shows the title); a subject
    line inside a letterhead stays in its flow, where the date and number around it are.
    """
    sections: list[tuple[str, list[Block]]] = []
    path: list[tuple[int, str]] = []
    current: list[Block] = []
    previous: Block | None = None

    def close() -> None:
        if current:
            sections.append((HEADING_SEPARATOR.join(text for _, text in path), list(current)))
            current.clear()

    for n, block in enumerate(document.blocks):
        gap = previous is not None and document.text[previous.end : block.start].strip()
        prose = block.kind == "text" or (block.kind == "title" and n > 0)
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
    """Sentences of a block; one longer than a chunk is cut at clause boundaries."""
    text = document.span(block)
    units = []
    for a, b in split_sentences(text):
        sentence = text[a:b]
        words = count_words(sentence)
        if words <= size:
            units.append(_Unit(block.start + a, block.start + b, words))
            continue
        cursor = 0
        for piece in _clause_splitter(size).split_text(sentence):
            at = sentence.index(piece, cursor)
            cursor = at + len(piece)
            units.append(_Unit(block.start + a + at, block.start + a + cursor, count_words(piece)))
    return units


def _clause_splitter(size: int) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        separators=["; ", ": ", ", ", " "],
        keep_separator="end",
        chunk_size=size,
        chunk_overlap=0,
        length_function=count_words,
    )


def _pack(units: list[_Unit], *, size: int, overlap: int) -> list[list[_Unit]]:
    """Greedy packing towards an even share of the section, so no chunk is a stub."""
    total = sum(u.words for u in units)
    if total > size:
        size = min(size, math.ceil(1.1 * total / math.ceil(total / size)))
    groups: list[list[_Unit]] = []
    current: list[_Unit] = []
    fresh = 0  # units of `current` not carried over from the previous chunk
    for unit in units:
        if fresh and sum(u.words for u in current) + unit.words > size:
            groups.append(current)
            current = _tail(current, overlap, keep_out=unit.words, size=size)
            fresh = 0
        current.append(unit)
        fresh += 1
    if fresh:
        groups.append(current)
    # a short remainder reads better joined to its neighbour than alone
    if len(groups) > 1 and sum(u.words for u in groups[-1]) < size // 3:
        last = groups.pop()
        merged = groups[-1] + [u for u in last if u not in groups[-1]]
        groups[-1] = merged
    return groups


def _tail(units: list[_Unit], overlap: int, *, keep_out: int, size: int) -> list[_Unit]:
    """The last sentences of a chunk, repeated at the start of the next one."""
    tail: list[_Unit] = []
    words = 0
    for unit in reversed(units[1:]):
        if words + unit.words > overlap or words + unit.words + keep_out > size:
            break
        tail.insert(0, unit)
        words += unit.words
    return tail
