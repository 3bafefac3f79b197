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
from .errors import MissingToolError, QAError
from .ingest import Document, parse_document
from .readers import extract
from .text import count_words

if TYPE_CHECKING:
    from .build import ChunkerSettings

log = logging.getLogger(__name__)

PARALLEL_FROM = 50  # documents per worker process below which parsing stays in-process


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
        data = file.read_bytes()
    except OSError as err:
        return doc_id, Unread(Skipped(doc_id, f"cannot read it: {err.strerror}"), lasting=False)
    try:
        document = parse_document(extract(data, name=doc_id), doc_id=doc_id, boilerplate=chunker.boilerplate)
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
