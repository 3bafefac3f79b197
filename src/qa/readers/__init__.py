"""Readers: one per file format, each turning a file's bytes into the text we index and show.

The text a reader returns is what users see and what citations point into, so it is
the document's own words in reading order (NFC), never a summary. Structure the format
states outright (Word heading styles, HTML <h1>–<h6>, PDF pages) comes back beside it
as offsets into that text; everything else is left to `ingest`'s heuristics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

from ..errors import CorpusError

Format = Literal["txt", "md", "docx", "doc", "pdf", "html"]


@dataclass(frozen=True)
class Heading:
    """A span of `Extracted.text` that the file marks as a heading; level 1 is the top."""

    start: int
    end: int
    level: int


@dataclass(frozen=True)
class Extracted:
    text: str  # NFC; one line per paragraph or visual line, blank lines between blocks
    format: Format
    title: str = ""  # the title the file states (Word's Title style, HTML <title>), if any
    headings: tuple[Heading, ...] = ()
    pages: tuple[int, ...] = ()  # offset in `text` where each page starts (PDF); () when no pages
    paragraphs: bool = False  # each line is a whole paragraph (Word, HTML): never rejoined
    ocr: bool = False  # the text was recognised from page images


def _plain(data: bytes, name: str) -> Extracted:
    from ..charset import decode

    suffix = PurePath(name).suffix.lower()
    return Extracted(decode(data, name=name).text, "md" if suffix == ".md" else "txt")


def _docx(data: bytes, name: str) -> Extracted:
    from .docx import read_docx

    return read_docx(data, name=name)


def _doc(data: bytes, name: str) -> Extracted:
    from .legacy import read_doc

    return read_doc(data, name=name)


def _pdf(data: bytes, name: str) -> Extracted:
    from .pdf import read_pdf

    return read_pdf(data, name=name)


def _html(data: bytes, name: str) -> Extracted:
    from .html import read_html

    return read_html(data, name=name)


# Each format's libraries are imported only when a file of that format is read.
READERS: dict[str, Callable[[bytes, str], Extracted]] = {
    ".txt": _plain,
    ".md": _plain,
    ".docx": _docx,
    ".doc": _doc,
    ".pdf": _pdf,
    ".html": _html,
    ".htm": _html,
}
SUFFIXES = tuple(READERS)


def extract(data: bytes, *, name: str) -> Extracted:
    """The text of a file of any format we read, chosen by the suffix of `name`.

    Raises `CorpusError` for a file that is damaged or not what its suffix says, and
    `MissingToolError` when reading it needs something that is not installed.
    """
    suffix = PurePath(name).suffix.lower()
    reader = READERS.get(suffix)
    if reader is None:
        raise CorpusError(f"{name}: {suffix or 'no suffix'} is not a format qa reads ({', '.join(SUFFIXES)})")
    return reader(data, name)
