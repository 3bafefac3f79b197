"""Postings: for each term, the passages that contain it and the BM25 weight it gives each.

A field's postings are plain arrays, one run per term in passage order, with the weights
computed at build time, so they are memory-mapped on load and a query only adds numbers.
`top` reads the rarest terms in full and the common ones ("của", "nhân dân") only for the
passages that can still reach the top (MaxScore); `lookup` scores given passages (another method's
candidates). Both complete a passage's score for the common terms from the passage's own list of
them (`Forward`), the rarer ones by searching their short runs. The loops are compiled (`kernels`)
for a large index, numpy's (`kernels_numpy`) for a small one.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from qa import kernels_numpy

K1 = 1.2
B = 0.75
# Postings read in full before the common terms are pruned (one bincount, about 2 ms). The best 50 at
# 100k passages took 7.9, 7.0, 7.1 and 6.0 ms CPU at the median with 20k, 50k, 100k and 200k (p95
# 13.9, 12.1, 10.7, 9.8): a lower budget gives a lower floor, and more passages to complete.
ESSENTIAL_BUDGET = 200_000
# Postings read in full at most per question, the essential ones included: bounds a question's cost
# (about 5 ns a posting). The terms it leaves unread only complete the best passages, so a passage
# that only they would lift can be missed. At 1M synthetic passages, where a question's terms hold
# 11M postings (median), 1.5M, 3M and no cap took 35.6, 36.7 and 37.7 ms CPU at the median and
# 57.1, 61.9 and 64.0 at p95, with the same top 10 (bench/results/results.json, lexical_1m, measured
# before lookups used int32 keys).
READ_MAX = 1_500_000
# Passages completed in full, per passage asked for, to find a floor under the n-th best score.
FLOOR_PROBE = 4
# The floor is lowered by this factor: the n-th passage, summed again in another order or from float32
# products (6e-8 relative each), may land just under it and must not drop out; a floor lower by a
# millionth only prunes a little less.
FLOOR_SLACK = 1 - 1e-6
# Passages the skipped terms complete at most, the best by the terms read: bounds a question's cost.
# Below it the top is exact.
COMPLETE_MAX = 2_000
FOUND_CACHE = 1 << 16  # terms whose columns are remembered: a few MB
# From this many passages BM25's loops run compiled (`kernels`, numba), below in numpy, with the same
# results. Loading numba and LLVM costs a process 1.3 s and 150 MB (the seed index's cold start went
# from 0.61 to 2.17 s); at 100k synthetic passages the compiled loops took hybrid p50/p95 from 12.7/17.9
# to 6.0/9.0 ms (bench/results). Where FAISS turns to HNSW, in the middle.
COMPILED_FROM = 50_000


class Vocabulary(Mapping[str, int]):
    """Term → column. The terms are one UTF-8 buffer in byte order, so a lookup is a binary
    search over a memory-mapped file and loading parses nothing (millions of bigrams)."""

    def __init__(self, text: np.ndarray, starts: np.ndarray) -> None:
        self.text = text  # every term followed by "\n"
        self.starts = starts  # where term i begins; one more entry: the end
        # the same memory as Python buffers: a binary search slices them ~10x faster than arrays
        self._text, self._starts = memoryview(text), memoryview(starts)
        # questions share their common words: a term looked up lately is not searched again
        self.find = functools.lru_cache(maxsize=FOUND_CACHE)(self._find)

    def term(self, column: int) -> str:
        return self._key(column).decode("utf-8")

    def _find(self, term: str) -> int:
        """The column of `term`, or -1."""
        key, low, high = term.encode("utf-8"), 0, len(self)
        while low < high:
            middle = (low + high) // 2
            if self._key(middle) < key:
                low = middle + 1
            else:
                high = middle
        return low if low < len(self) and self._key(low) == key else -1

    def _key(self, column: int) -> bytes:
        return bytes(self._text[self._starts[column] : self._starts[column + 1] - 1])

    def __getitem__(self, term: str) -> int:
        column = self.find(term)
        if column < 0:
            raise KeyError(term)
        return column

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self.find(term) >= 0

    def __len__(self) -> int:
        return len(self.starts) - 1

    def __iter__(self) -> Iterator[str]:
        return (self.term(i) for i in range(len(self)))


@dataclass(frozen=True)
class Forward:
    """Each passage's common terms with their counts: a passage's score for the common terms of a
    question is one pass over its own short list, where searching each term's long run for it costs
    a cache miss or more a term. The weight is worked out again as the build did, to the bit."""

    common: np.ndarray  # int32: the columns of the terms listed (the commonest), sorted
    starts: np.ndarray  # int64 per passage, one more at the end: its entries' place in ids/counts
    ids: np.ndarray  # uint16 per entry: the term's place in `common`, ascending within a passage
    counts: np.ndarray  # uint8 per entry: how often the term occurs in the passage (at most 255)
    norm: np.ndarray  # float32 per passage: K1 * (1 - B + B * len / avg)

    def place(self, column: int) -> int:
        """The term's place in `common`, or -1 when passages do not list it."""
        at = int(np.searchsorted(self.common, column))
        return at if at < len(self.common) and self.common[at] == column else -1

    def add(self, idf: np.ndarray, weight: np.ndarray, keys: np.ndarray, out: np.ndarray) -> None:
        """`out[i] +=` the BM25 of each listed term in passage `keys[i]` times the term's `weight` (by
        place in `common`; 0 for terms not asked about), `idf` being the field's."""
        idf, lift = idf[self.common], np.float32(K1 + 1)
        loop = loops(len(self.starts) - 1)
        loop.complete(self.starts, self.ids, self.counts, self.norm, idf, lift, weight, keys, out)

    def entries(self, keys: np.ndarray) -> float:
        """About how many entries the passages `keys` list: what completing them reads."""
        return len(keys) * len(self.ids) / max(1, len(self.starts) - 1)


FORWARD_ARRAYS = ("common", "starts", "ids", "counts", "norm")


@dataclass(frozen=True)
class Field:
    """One field's postings: for each term (column), the passages that contain it and the
    BM25 weight it gives each of them, in passage order."""

    vocabulary: Vocabulary
    starts: np.ndarray  # int64 per term, one more at the end: its postings' place in rows/weights
    rows: np.ndarray  # int32 per posting: the passage
    weights: np.ndarray  # float32 per posting: idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * len / avg))
    idf: np.ndarray  # float32 per term
    peak: np.ndarray  # float32 per term: its largest weight, what it can add to any passage
    unigrams: np.ndarray  # int32: the columns of one-syllable terms, to restore diacritics
    passages: int
    forward: Forward | None = None  # None in an index written before there were any

    @property
    def document_frequency(self) -> np.ndarray:
        return np.diff(self.starts)

    def terms(self, tokens: Sequence[str], weight: float) -> list[Term]:
        """The question's distinct terms that the field knows, each weighed by `weight`."""
        found = {self.vocabulary.find(t) for t in set(tokens)} - {-1}
        return [
            Term(
                self.rows[self.starts[c] : self.starts[c + 1]],
                self.weights[self.starts[c] : self.starts[c + 1]],
                weight,
                weight * float(self.peak[c]),
                self,
                self.forward.place(c) if self.forward else -1,
            )
            for c in sorted(found)
        ]


FIELD_ARRAYS = ("starts", "rows", "weights", "idf", "peak", "unigrams")


@dataclass(frozen=True)
class Term:
    rows: np.ndarray
    weights: np.ndarray
    weight: float  # of its field
    bound: float  # the most it adds to a passage's score
    field: Field = dataclasses.field(repr=False, compare=False)
    listed: int = -1  # its place in the field's `forward.common`: -1 when passages do not list it


def every(terms: list[Term], n: int) -> np.ndarray:
    """BM25 of every passage, every posting read (one bincount, in numpy): the reference `top` is
    checked against."""
    if not terms:
        return np.zeros(n, np.float32)
    weights = np.concatenate([t.weights for t in terms])
    if any(t.weight != 1.0 for t in terms):  # the folded field's terms, beside an accented question's
        weights *= np.repeat(np.array([t.weight for t in terms], np.float32), [len(t.rows) for t in terms])
    return np.bincount(np.concatenate([t.rows for t in terms]), weights, minlength=n).astype(np.float32)


def top(terms: list[Term], n: int, passages: int) -> tuple[np.ndarray, np.ndarray]:
    """The `n` best passages with a score above zero and their BM25 scores, best first (MaxScore).

    The terms that can add most are read in full until ESSENTIAL_BUDGET postings are read. The best
    passages so far, completed with the other terms, give a floor under the n-th best score; the
    commonest terms whose bounds add up to less than the floor cannot lift an unread passage into the
    top, so they only complete the passages that can still reach it. The others are read in full, up
    to READ_MAX postings in all; beyond it they too only complete the best passages."""
    if not terms or n < 1:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    terms = sorted(terms, key=lambda t: (-t.bound, len(t.rows)))
    sizes = np.cumsum([len(t.rows) for t in terms])
    first = max(1, int(np.searchsorted(sizes, ESSENTIAL_BUDGET, side="right")))
    rest = terms[first:]
    loop = loops(passages)
    scores = np.zeros(passages)
    for term in terms[:first]:
        loop.add(scores, term.rows, term.weights, np.float32(term.weight))
    candidates = loop.reaching(scores, 0.0, -np.inf)
    floor = 0.0
    if rest and len(candidates) >= n:
        probe = loop.best(scores, candidates, FLOOR_PROBE * n)
        floor = float(np.partition(scores[probe] + lookup(rest, probe), -n)[-n]) * FLOOR_SLACK
    skipped, bound, budget = [], 0.0, READ_MAX - int(sizes[first - 1])
    for term in sorted(rest, key=lambda t: t.bound):  # the commonest first
        if bound + term.bound < floor:
            skipped.append(term)
            bound += term.bound
    pruned = {id(t) for t in skipped}
    for term in (t for t in rest if id(t) not in pruned):  # the likeliest to lift a passage first
        if len(term.rows) <= budget:
            budget -= len(term.rows)
            loop.add(scores, term.rows, term.weights, np.float32(term.weight))
        else:
            skipped.append(term)
            bound += term.bound
    if skipped:  # the passages that can still reach the floor
        alive = _finish(scores, loop.reaching(scores, bound, floor), skipped, floor)
    else:
        alive = loop.reaching(scores, 0.0, -np.inf)
    best = loop.best(scores, alive, n)
    best = best[np.lexsort((best, -scores[best]))]
    return best.astype(np.int64), scores[best].astype(np.float32)


def loops(passages: int):
    """The loops over postings for an index of this many passages: compiled, or numpy's."""
    if passages < COMPILED_FROM:
        return kernels_numpy
    from qa import kernels  # numba and LLVM: loaded only for an index this large

    return kernels


def lookup(terms: list[Term], rows: np.ndarray) -> np.ndarray:
    """What `terms` add to each of the sorted `rows`."""
    out = np.zeros(len(rows))
    _complete(terms, np.asarray(rows, dtype=np.int64), out)
    return out


def _finish(scores: np.ndarray, alive: np.ndarray, terms: list[Term], floor: float) -> np.ndarray:
    """Complete the `alive` passages, those that can still reach `floor` (the best COMPLETE_MAX),
    with the skipped `terms`, and return those that reach it."""
    # beyond COMPLETE_MAX, the best so far only: the exact top is then likely, not certain
    alive = loops(len(scores)).best(scores, alive, COMPLETE_MAX)
    completed = scores[alive]
    _complete(terms, alive, completed)
    scores[alive] = completed
    return alive[completed >= floor]


def _complete(terms: list[Term], keys: np.ndarray, out: np.ndarray) -> None:
    """Add what `terms` give each of the sorted passages `keys` to `out`: the terms the passages
    list (`Forward`) in one pass over each passage's list, the others by searching their runs."""
    searched, listed = [], {}
    for term in terms:
        if term.listed < 0:
            searched.append(term)
        else:
            listed.setdefault(id(term.field), (term.field, []))[1].append(term)
    for field, group in listed.values():
        if field.forward.entries(keys) > sum(len(t.rows) for t in group):  # so many passages (a search
            searched += group  # within documents) that their runs are the shorter read
            continue
        weight = np.zeros(len(field.forward.common), dtype=np.float32)  # each listed term's, 0 for the rest
        for term in group:
            weight[term.listed] = term.weight
        field.forward.add(field.idf, weight, keys, out)
    for term in searched:
        loops(term.field.passages).gather(term.rows, term.weights, np.float32(term.weight), keys, out)
