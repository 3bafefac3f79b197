"""Retrieve: rank passages for a question by meaning, by words, or both fused.

Hybrid search fuses the dense and lexical scores (standardised, or by reciprocal rank), then collapses
passages that overlap in the source or say the same thing, so the k hits are k
different passages.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .embed import Embedder
from .errors import QueryError
from .index import Index
from .text import canonical, has_diacritics, syllables

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "bm25")
Fusion = Literal["zscore", "rrf"]

RRF_K = 60  # the usual reciprocal-rank constant: flattens the head of each ranking
MIN_CANDIDATES = 50
# When collapsing leaves fewer than k hits (a corpus that repeats itself), the candidate
# pool grows by this factor until k distinct passages are found or the corpus runs out.
WIDEN = 4
# The longest question: about 20 long sentences. A question is one or two; more is a
# pasted document, whose embedding would hold a shared engine for seconds.
MAX_QUESTION_CHARS = 2000
OVERLAP = 0.5  # share of the shorter passage two hits may share before one goes
NEAR_DUPLICATE = 0.9  # Jaccard similarity of syllable sets above which two passages are one

# Hybrid search runs the dense search in one of these threads while BM25 runs in the caller's: FAISS and
# numpy's loops release the GIL, so a question costs less than the sum of the two (at 1M synthetic
# passages, 50.9 / 91.1 ms p50 / p95 against 59.3 / 99.4 one after the other, in one process).
_DENSE_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="qa-dense")
# Passages from which that pays: handing a search to a thread and back costs about 50 us here, what an
# exact dense search over 500 passages takes; from 2,000 it takes four times that.
CONCURRENT_FROM = 2_000


@dataclass(frozen=True)
class Hit:
    rank: int
    doc_id: str
    title: str
    heading: str
    text: str  # verbatim source text: document[start:end]
    start: int
    end: int
    score: float
    # the passage's row in the index it came from: what `answer` looks its vector up by
    row: int = field(repr=False, compare=False)
    pages: tuple[int, ...] = ()  # the pages (from 1) the passage is on, for formats with pages


def search(
    index: Index,
    embedder: Embedder,
    question: str,
    *,
    k: int = 5,
    mode: Mode = "hybrid",
    docs: Sequence[str] | None = None,
    fusion: Fusion = "zscore",
    dense_weight: float = 0.5,
    restore: bool = True,
    vector: np.ndarray | None = None,
) -> list[Hit]:
    """The k best distinct passages; `vector` is the question's, when already embedded."""
    question = check_question(question)
    if mode not in MODES:
        raise QueryError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
        raise QueryError(f"k must be a whole number of at least 1, not {k!r}")
    k = int(k)
    rows = None
    if docs is not None:
        if not isinstance(docs, list | tuple | set | frozenset) or not all(isinstance(d, str) for d in docs):
            raise QueryError(f"docs must be a list of document ids, not {docs!r}")
        unknown = sorted(set(docs) - set(index.documents))
        if unknown:
            known = list(itertools.islice(index.documents, 3))
            more = ", …" if len(unknown) > 3 else ""
            raise QueryError(
                f"unknown document(s) {', '.join(map(repr, unknown[:3]))}{more}; "
                f"the index has {len(index.documents):,} documents, e.g. {', '.join(map(repr, known))}: "
                "`qa list` or GET /api/documents lists their ids"
            )
        rows = index.rows_of(list(docs)) if docs else None
    if mode in ("dense", "hybrid") and vector is None:
        vector = embed_question(index, embedder, question, restore=restore)
    terms = index.lexical.terms(question) if mode in ("bm25", "hybrid") else []
    n = max(MIN_CANDIDATES, 10 * k)
    while True:
        ranked, more = _rank(
            index, vector, terms, n, rows=rows, mode=mode, fusion=fusion, dense_weight=dense_weight
        )
        hits = _collapse(index, ranked, k)
        if len(hits) == k or not more:
            return hits
        n *= WIDEN


def check_question(question: object) -> str:
    """The question as searched (NFC, spaces folded), or a `QueryError` saying what is wrong."""
    if not isinstance(question, str):
        raise QueryError(f"the question must be text, not {type(question).__name__}")
    if len(question) > MAX_QUESTION_CHARS:
        raise QueryError(
            f"the question is {len(question):,} characters long; ask in at most {MAX_QUESTION_CHARS:,} "
            "(one or two sentences work best)"
        )
    try:
        question.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: half of a character, from a broken client
        raise QueryError("the question holds characters that are not valid Unicode; type it again") from None
    question = canonical(question)
    if not question:
        raise QueryError("the question is empty; type a question in Vietnamese")
    return question


def _rank(index, vector, terms, n, *, rows, mode, fusion, dense_weight) -> tuple[list, bool]:
    """The fused ranking of `n` candidates per method, and whether either method had more."""
    if mode == "hybrid" and index.concurrent and len(index) >= CONCURRENT_FROM:
        pending = _DENSE_THREADS.submit(index.search_dense, vector, n, rows=rows)
        lexical = index.lexical.top(terms, n, rows=rows)
        dense = pending.result()
    else:
        if mode in ("dense", "hybrid"):
            dense = index.search_dense(vector, n, rows=rows)
        if mode in ("bm25", "hybrid"):
            lexical = index.lexical.top(terms, n, rows=rows)
    more = (mode != "bm25" and len(dense[0]) == n) or (mode != "dense" and len(lexical[0]) == n)
    if mode == "dense":
        return list(zip(*(a.tolist() for a in dense))), more
    if mode == "bm25":
        return list(zip(*(a.tolist() for a in lexical))), more
    if fusion == "rrf":
        return _fuse_ranks([dense[0], lexical[0]], [dense_weight, 1 - dense_weight]), more
    pool = np.union1d(dense[0], lexical[0])
    # the lexical top's scores are known; the dense candidates' own are looked up
    words = np.zeros(len(pool), dtype=np.float32)
    known = np.isin(pool, lexical[0])
    words[np.searchsorted(pool, lexical[0])] = lexical[1]
    words[~known] = index.lexical.scores_of(terms, pool[~known])
    return _fuse_scores(pool, index.similarity(vector, pool), words, dense_weight=dense_weight), more


def embed_question(index: Index, embedder: Embedder, question: str, *, restore: bool = True) -> np.ndarray:
    """The question's vector; one typed without diacritics is re-accented first (`restore`)."""
    spelled = canonical(question)
    if restore and not has_diacritics(spelled):
        spelled = index.lexical.restore_diacritics(spelled)
    return embedder.embed_query(spelled)


def _fuse_ranks(rankings: list[np.ndarray], weights: list[float]) -> list[tuple[int, float]]:
    """Weighted reciprocal-rank fusion."""
    fused: dict[int, float] = {}
    for ids, weight in zip(rankings, weights):
        for rank, row in enumerate(ids.tolist()):
            fused[row] = fused.get(row, 0.0) + weight / (RRF_K + rank + 1)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def _fuse_scores(
    pool: np.ndarray, dense: np.ndarray, lexical: np.ndarray, *, dense_weight: float
) -> list[tuple[int, float]]:
    """Weighted sum of each method's scores standardised over the candidate pool.

    Unlike ranks, standardised scores keep how sure each method is: a passage far
    ahead in one ranking stays ahead even when the other method ranks it low.
    """
    if len(pool) == 0:
        return []
    fused = dense_weight * _standardise(dense) + (1 - dense_weight) * _standardise(lexical)
    order = np.lexsort((pool, -fused))
    return [(int(pool[i]), float(fused[i])) for i in order]


def _standardise(scores: np.ndarray) -> np.ndarray:
    spread = float(scores.std())
    return (scores - scores.mean()) / spread if spread > 0 else np.zeros_like(scores)


def _collapse(index: Index, ranked: list[tuple[int, float]], k: int) -> list[Hit]:
    chosen: list[list] = []  # [chunk, its syllable set once needed]
    hits: list[Hit] = []
    keys: set[bytes] = set()  # texts already chosen: a copy of one is the same passage
    for row, score in ranked:
        key = index.key(row)
        if key in keys:
            continue
        chunk = index.chunks[row]
        if any(_overlaps(chunk, other) for other, _ in chosen):
            continue
        shape = None
        for pair in chosen:
            # sets this alike have sizes this alike: only then compare them
            if min(len(chunk.text), len(pair[0].text)) >= 0.75 * max(len(chunk.text), len(pair[0].text)):
                shape = shape if shape is not None else set(syllables(chunk.text))
                pair[1] = pair[1] if pair[1] is not None else set(syllables(pair[0].text))
                if _similar(shape, pair[1]):
                    break
        else:
            chosen.append([chunk, shape])
            keys.add(key)
            hits.append(
                Hit(
                    len(hits) + 1,
                    chunk.doc_id,
                    chunk.title,
                    chunk.heading,
                    chunk.text,
                    chunk.start,
                    chunk.end,
                    float(score),
                    int(row),
                    index.documents[chunk.doc_id].pages_of(chunk.start, chunk.end),
                )
            )
            if len(hits) == k:
                break
    return hits


def _overlaps(a, b) -> bool:
    if a.doc_id != b.doc_id:
        return False
    shared = min(a.end, b.end) - max(a.start, b.start)
    return shared > OVERLAP * min(a.end - a.start, b.end - b.start)


def _similar(a: set[str], b: set[str]) -> bool:
    return bool(a and b) and len(a & b) / len(a | b) >= NEAR_DUPLICATE
