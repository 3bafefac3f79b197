"""Passage table: a build's documents and passages, as the index stores them.

A million `Chunk` objects, each holding its own copy of its text, and the documents' texts were
gigabytes held through a build. The table writes each document's text to a temporary file as it is
added (UTF-8, one after another: the index's texts file) and keeps only numbers: where each passage
lies in its document (characters and bytes), its words and heading. A passage's text is read back
from the file when it is asked for.
"""

from __future__ import annotations

import os
import tempfile
from array import array
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from .chunk import Chunk, Context, contextualize
from .packed import PIECE

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
    """Documents and their passages, added document by document in index order; the texts go to a
    temporary file in `folder` (the system's when None), closed with the table."""

    def __init__(self, folder: Path | None = None) -> None:
        self.documents: list[tuple[str, str, int, int]] = []  # id, title, byte offset, byte length
        self.headings: list[str] = []
        self._heading_ids: dict[str, int] = {}
        self._columns = {name: array(code) for name, code in COLUMNS.items()}
        self._texts = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 (closed by `close`)
        self._size = 0

    def add(self, doc_id: str, title: str, text: str, chunks: Iterable[Chunk]) -> None:
        data = text.encode("utf-8")
        self.documents.append((doc_id, title, self._size, len(data)))
        self._texts.write(data)
        self._texts.flush()  # read back by position
        self._size += len(data)
        chunks, position = list(chunks), len(self.documents) - 1
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
        columns = self._columns
        doc_id, title, offset, _ = self.documents[columns["doc"][row]]
        start, end = columns["byte_start"][row], columns["byte_end"][row]
        text = os.pread(self._texts.fileno(), end - start, offset + start).decode("utf-8")
        heading = self.headings[columns["heading"][row]]
        return Chunk(
            doc_id, title, heading, text, columns["start"][row], columns["end"][row], columns["words"][row]
        )

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

    def text_pieces(self) -> Iterator[bytes]:
        """The documents' texts, one after another in UTF-8, a piece at a time."""
        at = 0
        while at < self._size:
            piece = os.pread(self._texts.fileno(), min(PIECE, self._size - at), at)
            at += len(piece)
            yield piece

    def close(self) -> None:
        self._texts.close()

    def __enter__(self) -> PassageTable:
        return self

    def __exit__(self, *_) -> None:
        self.close()


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
