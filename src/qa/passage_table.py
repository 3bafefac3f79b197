"""Passage table: a build's passages as columns of numbers, as the index stores them.

A million `Chunk` objects, each holding its own copy of its text, were gigabytes held through a
build. The table keeps where each passage lies in its document (characters and UTF-8 bytes), its
words and heading; its text is sliced from the document when it is read.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence

import numpy as np

from .chunk import Chunk, Context, contextualize

COLUMNS = {
    "doc": "i",
    "start": "q",
    "end": "q",
    "byte_start": "q",
    "byte_end": "q",
    "words": "i",
    "heading": "i",
}


class PassageTable(Sequence[Chunk]):
    """Documents and their passages, added document by document in index order."""

    def __init__(self) -> None:
        self.documents: list[tuple[str, str, str]] = []  # id, title, text
        self.headings: list[str] = []
        self._heading_ids: dict[str, int] = {}
        self._columns = {name: array(code) for name, code in COLUMNS.items()}

    def add(self, doc_id: str, title: str, text: str, chunks: Iterable[Chunk]) -> None:
        position = len(self.documents)
        self.documents.append((doc_id, title, text))
        chunks = list(chunks)
        columns, to_byte = self._columns, _byte_offsets(text)
        for c in chunks:
            columns["doc"].append(position)
            columns["start"].append(c.start)
            columns["end"].append(c.end)
            columns["words"].append(c.words)
            columns["heading"].append(self._heading(c.heading))
        columns["byte_start"].extend(to_byte[[c.start for c in chunks]].tolist())
        columns["byte_end"].extend(to_byte[[c.end for c in chunks]].tolist())

    def __len__(self) -> int:
        return len(self._columns["doc"])

    def __getitem__(self, row: int) -> Chunk:  # type: ignore[override]
        doc_id, title, text = self.documents[self._columns["doc"][row]]
        start, end = self._columns["start"][row], self._columns["end"][row]
        heading = self.headings[self._columns["heading"][row]]
        return Chunk(doc_id, title, heading, text[start:end], start, end, self._columns["words"][row])

    def _heading(self, heading: str) -> int:
        if heading not in self._heading_ids:
            self._heading_ids[heading] = len(self.headings)
            self.headings.append(heading)
        return self._heading_ids[heading]

    def columns(self) -> dict[str, np.ndarray]:
        """Every column, as the index stores it."""
        return {name: np.array(column, dtype=column.typecode) for name, column in self._columns.items()}

    def texts(self, context: Context) -> Sequence[str]:
        """The texts the passages are embedded and tokenised from, made when read."""
        return _Contextualized(self, context)


class _Contextualized(Sequence[str]):
    def __init__(self, table: PassageTable, context: Context) -> None:
        self.table, self.context = table, context

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, row):  # an int: the embedder and the postings read one text at a time
        return contextualize(self.table[row], context=self.context)


def _byte_offsets(text: str) -> np.ndarray:
    """The UTF-8 byte offset of each character offset of `text` (one more: its end)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    sizes = 1 + (codes >= 0x80).astype(np.int64) + (codes >= 0x800) + (codes >= 0x10000)
    return np.concatenate([[0], np.cumsum(sizes)])
