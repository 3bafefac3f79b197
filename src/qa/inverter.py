"""Inverter: passages' tokens → one field's postings, built on disk.

A million passages hold hundreds of millions of postings (8 bytes each once weighed). They are
never all in memory: each block of passages is counted and written to a temporary file, and the
postings are put in term order one slice of terms at a time, each slice written out as it is done.
The finished arrays are memory-mapped from those files, and `packed.put` lets their pages go as it
copies them into the index. The temporary files have no name: a crash leaves nothing behind.
"""

from __future__ import annotations

import itertools
import mmap
import tempfile
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .postings import K1, B, Field, Forward, Vocabulary

# Passages whose postings are gathered per block of the build; bounds its temporaries (about 40 bytes
# per token at once) whatever the corpus size. Building the postings of 100k synthetic passages peaked
# 548 MB above the data held before with blocks of 50k passages, 420 MB with 10k, in the same time.
BUILD_BLOCK = 10_000
# Postings put in order and weighed at once: bounds the build's temporaries (about 30 bytes a posting)
# whatever the corpus; a slice of terms instead held them all at a million synthetic passages (26k terms).
WEIGHT_SLICE = 1 << 22
# A term in at least this share of passages is listed with each passage that holds it (`Forward`), to
# complete passages' scores without searching its run. Rarer terms' runs are short: searching them costs
# little (at a million passages, 10k postings at most). In the synthetic 1M corpus these terms hold 99.9%
# of the postings; the lists take 3 bytes an entry, against 8 a posting.
COMMON_SHARE = 0.01
COMMON_MAX = 1 << 16  # terms listed at most: a uint16 each in the lists


class FieldBuilder:
    """Gathers postings block by block of passages: each block's tokens are counted in numpy and
    written to a temporary file in `folder` (the system's when None) as (term, passage, count)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self.vocabulary: dict[str, int] = {}
        self.ids = array("i")  # the current block's tokens, as term ids
        self.lengths = array("i")  # every passage's token count
        self.spill = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 (written by `add`, closed by `build`)
        self.blocks: list[int] = []  # postings in each block written to `spill`, in passage order

    def add(self, tokens: list[str]) -> None:
        self.lengths.append(len(tokens))
        vocabulary = self.vocabulary
        self.ids.extend([vocabulary.setdefault(t, len(vocabulary)) for t in tokens])
        if len(self.lengths) % BUILD_BLOCK == 0:
            self._flush()

    def _flush(self) -> None:
        first = BUILD_BLOCK * len(self.blocks)
        lengths = np.frombuffer(self.lengths, dtype=np.int32)[first:]
        rows = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
        ids = np.frombuffer(self.ids, dtype=np.int32).astype(np.int64)
        pairs, counts = np.unique(ids * BUILD_BLOCK + rows, return_counts=True)  # term, then passage
        terms, rows = np.divmod(pairs, BUILD_BLOCK)
        self.spill.write(terms.astype(np.int32).tobytes())
        self.spill.write((rows + first).astype(np.int32).tobytes())
        self.spill.write(np.minimum(counts, 255).astype(np.uint8).tobytes())
        self.blocks.append(len(pairs))
        self.ids = array("i")

    def build(self) -> Field:
        if len(self.lengths) % BUILD_BLOCK or not self.blocks:
            self._flush()
        n = len(self.lengths)
        # columns in the terms' byte order, so that the vocabulary is a sorted buffer
        words = list(self.vocabulary)
        encoded = [w.encode("utf-8") for w in words]
        order = sorted(range(len(words)), key=encoded.__getitem__)
        column = np.empty(len(words), dtype=np.int32)
        column[order] = np.arange(len(words), dtype=np.int32)
        with _temporary(self.folder) as by_column:
            df = self._sort_blocks(column, into=by_column)
            starts = np.concatenate([[0], np.cumsum(df)]).astype(np.int64)
            idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
            lengths = np.frombuffer(self.lengths, dtype=np.int32)
            average = float(lengths.mean()) if n and lengths.mean() > 0 else 1.0
            norm = (K1 * (1 - B + B * lengths.astype(np.float32) / average)).astype(np.float32)
            rows, weights, peak = _weigh(by_column, self.blocks, starts, idf, norm, folder=self.folder)
        forward = self._list(column, df, norm)
        self.spill.close()
        text = b"".join(encoded[i] + b"\n" for i in order)
        term_starts = np.zeros(len(words) + 1, dtype=np.int64)
        term_starts[1:] = np.cumsum([len(encoded[i]) + 1 for i in order])
        unigrams = np.array([column[i] for i, w in enumerate(words) if "_" not in w], dtype=np.int32)
        vocabulary = Vocabulary(np.frombuffer(text, dtype=np.uint8), term_starts)
        return Field(vocabulary, starts, rows, weights, idf, peak, np.sort(unigrams), n, forward)

    def _sort_blocks(self, column: np.ndarray, *, into: BinaryIO) -> np.ndarray:
        """Write each block again `into` a file as (column, passage, count) sorted by column; return
        each term's document frequency."""
        df = np.zeros(len(column), dtype=np.int64)
        for terms, rows, counts in self._spilled():
            columns = column[terms]
            by = np.argsort(columns, kind="stable")
            for part in (columns[by], rows[by], counts[by]):
                into.write(part.tobytes())
            df += np.bincount(columns, minlength=len(column))
        return df

    def _list(self, column: np.ndarray, df: np.ndarray, norm: np.ndarray) -> Forward:
        """Each passage's common terms and their counts (`Forward`), block by block of the spill."""
        n = len(self.lengths)
        common = np.flatnonzero(df >= max(1.0, COMMON_SHARE * n))
        if len(common) > COMMON_MAX:  # the commonest
            common = np.sort(common[np.argsort(-df[common], kind="stable")[:COMMON_MAX]])
        by_column = np.full(len(df), -1, dtype=np.int32)
        by_column[common] = np.arange(len(common), dtype=np.int32)
        place = by_column[column]  # by the builder's term id
        listed = np.zeros(n, dtype=np.int64)
        with _temporary(self.folder) as ids_file, _temporary(self.folder) as counts_file:
            for block, (terms, rows, counts) in enumerate(self._spilled()):
                ids = place[terms]
                keep = ids >= 0
                ids, rows, counts = ids[keep], rows[keep], counts[keep]
                order = np.lexsort((ids, rows))  # by passage, then by term
                ids_file.write(ids[order].astype(np.uint16).tobytes())
                counts_file.write(counts[order].tobytes())
                first = block * BUILD_BLOCK  # blocks hold BUILD_BLOCK passages each, the last fewer
                per = np.bincount(rows - first, minlength=min(BUILD_BLOCK, n - first))
                listed[first : first + len(per)] = per
            starts = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(listed, out=starts[1:])
            ids, counts = _mapped(ids_file, np.uint16), _mapped(counts_file, np.uint8)
        return Forward(common.astype(np.int32), starts, ids, counts, norm)

    def _spilled(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Each spilled block's (term, passage, count) arrays, one block in memory at a time."""
        self.spill.seek(0)
        for size in self.blocks:
            terms = np.fromfile(self.spill, dtype=np.int32, count=size)
            rows = np.fromfile(self.spill, dtype=np.int32, count=size)
            yield terms, rows, np.fromfile(self.spill, dtype=np.uint8, count=size)


def _weigh(by_column: BinaryIO, blocks: list[int], starts, idf, norm, *, folder: Path | None):
    """Every posting in term order with its BM25 weight, put in order and weighed a slice of terms
    at a time and written to temporary files; and each term's largest weight."""
    df = np.diff(starts)
    peak = np.zeros(len(df), dtype=np.float32)
    bounds = _slices(starts)
    # where each slice of terms begins in each block: blocks are sorted by column
    cuts = [np.searchsorted(columns, bounds) for columns in _columns(by_column, blocks)]
    with _temporary(folder) as rows_file, _temporary(folder) as weights_file:
        for s, (at, end) in enumerate(itertools.pairwise(bounds)):
            columns, rows, tf = _gather(by_column, blocks, [(c[s], c[s + 1]) for c in cuts])
            ordered = np.argsort(columns, kind="stable")  # blocks are in passage order: rows stay sorted
            rows, f = rows[ordered], tf[ordered].astype(np.float32)
            weights = np.repeat(idf[at:end], df[at:end]) * f * (K1 + 1) / (f + norm[rows])
            peak[at:end] = np.maximum.reduceat(weights, starts[at:end] - starts[at])  # no run is empty
            rows_file.write(rows.tobytes())
            weights_file.write(weights.astype(np.float32).tobytes())
        return _mapped(rows_file, np.int32), _mapped(weights_file, np.float32), peak


def _slices(starts: np.ndarray) -> np.ndarray:
    """Columns where each slice of terms begins, each slice holding about WEIGHT_SLICE postings
    (at least one term), and the number of terms at the end."""
    bounds, at, terms = [0], 0, len(starts) - 1
    while at < terms:
        at = min(terms, max(at + 1, int(np.searchsorted(starts, starts[at] + WEIGHT_SLICE, "right")) - 1))
        bounds.append(at)
    return np.array(bounds, dtype=np.int64)


def _columns(file: BinaryIO, blocks: list[int]):
    """Each sorted block's columns, one block in memory at a time."""
    at = 0
    for size in blocks:
        file.seek(at)
        yield np.fromfile(file, dtype=np.int32, count=size)
        at += 9 * size  # a block: columns and passages (int32), then counts (uint8)


def _gather(file: BinaryIO, blocks: list[int], spans: list[tuple[int, int]]):
    """The (column, passage, count) triples of every sorted block between its two cuts."""
    parts: list[list[np.ndarray]] = [[], [], []]
    at = 0
    for size, (low, high) in zip(blocks, spans):
        places = (np.int32, at + 4 * low), (np.int32, at + 4 * (size + low)), (np.uint8, at + 8 * size + low)
        for part, (dtype, offset) in zip(parts, places):
            file.seek(offset)
            part.append(np.fromfile(file, dtype=dtype, count=int(high - low)))
        at += 9 * size
    return tuple(np.concatenate(p) for p in parts)


def _temporary(folder: Path | None) -> BinaryIO:
    return tempfile.TemporaryFile(dir=folder)


def _mapped(file: BinaryIO, dtype) -> np.ndarray:
    """A finished array, memory-mapped from its temporary file: the mapping outlives the file's handle."""
    file.flush()
    size = file.seek(0, 2)
    if not size:
        return np.empty(0, dtype=dtype)
    return np.frombuffer(mmap.mmap(file.fileno(), size, access=mmap.ACCESS_READ), dtype=dtype)
