"""Parsing: a corpus's files read, cleaned and chunked, on every core when there are many.

A file that cannot be read costs that file only: it comes back as `Unread`, with the reason.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .chunk import Chunk, chunk_document
from .corpus import Skipped
from .errors import CorpusError, MissingToolError, QAError
from .ingest import Document, parse_document
from .readers import extract
from .text import count_words

if TYPE_CHECKING:
    from .build import ChunkerSettings

log = logging.getLogger(__name__)

PARALLEL_FROM = 50  # documents per worker process below which parsing stays in-process
# Characters of text one document may have. Past its reader, a document's text cost a build 38 bytes
# a character (measured: 20 M characters of Vietnamese through parse and PassageTable.add, +759 MiB
# of peak RSS), and pyvi took 2.5 s a million characters. A 1,000-page Word report is 2.3 M
# characters, so this is some 14,000 pages, at those rates 1.2 GB and 80 s at most; a zip bomb's
# 1 G characters would have been 38 GB.
MAX_TEXT_CHARS = 32_000_000
# Plain text takes at most 4 bytes a character (UTF-8, UTF-32), so a .txt or .md file of more bytes
# holds more characters than that: it is refused before it is read, not after gigabytes are decoded.
_PLAIN = (".txt", ".md")


def _too_long() -> str:
    return f"more than qa indexes from one file ({MAX_TEXT_CHARS:,} characters); split it into smaller files"


@dataclass(frozen=True)
class Parsed:
    document: Document
    chunks: list[Chunk]
    sha256: str  # of the bytes parsed


@dataclass(frozen=True)
class Unread:
    """A file that could not be read now; `lasting` when only changing the file can help."""

    skipped: Skipped
    lasting: bool = True


def parse(job: tuple[str, Path], chunker: ChunkerSettings) -> tuple[str, Parsed | Unread]:
    doc_id, file = job
    try:
        if file.suffix.lower() in _PLAIN and (size := file.stat().st_size) > 4 * MAX_TEXT_CHARS:
            return doc_id, Unread(
                Skipped(doc_id, f"{doc_id} is {size / 1e6:,.1f} MB of plain text, {_too_long()}")
            )
        data = file.read_bytes()
    except OSError as err:
        return doc_id, Unread(Skipped(doc_id, f"cannot read it: {err.strerror}"), lasting=False)
    try:
        extracted = extract(data, name=doc_id)
        if len(extracted.text) > MAX_TEXT_CHARS:
            raise CorpusError(f"{doc_id} holds {len(extracted.text):,} characters of text, {_too_long()}")
        document = parse_document(extracted, doc_id=doc_id, boilerplate=chunker.boilerplate)
        chunks = chunk_document(document, size=chunker.size, overlap=chunker.overlap, method=chunker.method)
    except MissingToolError as err:
        return doc_id, Unread(Skipped(doc_id, str(err)), lasting=False)
    except QAError as err:
        return doc_id, Unread(Skipped(doc_id, str(err)))
    except Exception as err:  # a fault of ours must cost one document, not the whole build
        log.debug("%s could not be read", file, exc_info=True)
        reason = f"could not be read ({type(err).__name__}: {err}); please report it"
        return doc_id, Unread(Skipped(doc_id, reason))
    # its paragraphs were only needed for chunking: a million of them are not kept
    document = dataclasses.replace(document, blocks=())
    return doc_id, Parsed(document, chunks, hashlib.sha256(data).hexdigest())


def parse_all(jobs: list[tuple[str, Path]], chunker: ChunkerSettings):
    """Parse and chunk documents, on every core when there are many (pyvi is the slow part), given
    in the order of `jobs` as they are done: a million passages' documents are not held at once."""
    workers = min(os.cpu_count() or 1, len(jobs) // PARALLEL_FROM)
    if workers < 2:
        for job in jobs:
            yield parse(job, chunker)
        return
    count_words("nạp pyvi")  # load the segmenter once, before the workers fork

    # fork: workers inherit the loaded modules, and callers' scripts need no __main__ guard
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        yield from pool.map(functools.partial(parse, chunker=chunker), jobs, chunksize=16)
