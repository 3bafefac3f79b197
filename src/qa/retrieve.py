"""Retrieve: rank passages for a question by meaning, by words, or both fused.

Hybrid search fuses the dense and lexical scores (standardised, or by reciprocal rank), then collapses
passages that overlap in the source or say the same thing, so the k hits are k
different passages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
OVERLAP = 0.5  # share of the shorter passage two hits may share before one goes
NEAR_DUPLICATE = 0.9  # Jaccard similarity of syllable sets above which two passages are one


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
    question = canonical(question or "")
    if not question:
        raise QueryError("the question is empty; type a question in Vietnamese")
    if mode not in MODES:
        raise QueryError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if not isinstance(k, int) or k < 1:
        raise QueryError(f"k must be a whole number of at least 1, not {k!r}")
    rows = None
    if docs:
        unknown = sorted(set(docs) - set(index.documents))
        if unknown:
            raise QueryError(
                f"unknown document(s) {', '.join(unknown)}; the index has: {', '.join(index.documents)}"
            )
        rows = index.rows_of(list(docs))
    n = max(MIN_CANDIDATES, 10 * k)
    if mode in ("dense", "hybrid"):
        if vector is None:
            vector = embed_question(index, embedder, question, restore=restore)
        dense = index.search_dense(vector, n, rows=rows)
    if mode in ("bm25", "hybrid"):
        lexical_scores = index.lexical.score(question)
        lexical = _top(lexical_scores, n, rows=rows)
    if mode == "dense":
        ranked = list(zip(*(a.tolist() for a in dense)))
    elif mode == "bm25":
        ranked = list(zip(*(a.tolist() for a in lexical)))
    elif fusion == "rrf":
        ranked = _fuse_ranks([dense[0], lexical[0]], [dense_weight, 1 - dense_weight])
    else:
        pool = np.union1d(dense[0], lexical[0])
        ranked = _fuse_scores(
            pool, index.similarity(vector, pool), lexical_scores[pool], dense_weight=dense_weight
        )
    return _collapse(index, ranked, k)


def embed_question(index: Index, embedder: Embedder, question: str, *, restore: bool = True) -> np.ndarray:
    """The question's vector; one typed without diacritics is re-accented first (`restore`)."""
    spelled = canonical(question)
    if restore and not has_diacritics(spelled):
        spelled = index.lexical.restore_diacritics(spelled)
    return embedder.embed_query(spelled)


def _top(scores: np.ndarray, n: int, *, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The n best-scoring rows with a score above zero, best first."""
    if rows is not None:
        masked = np.zeros_like(scores)
        masked[rows] = scores[rows]
        scores = masked
    n = min(n, int(np.count_nonzero(scores > 0)))
    if n == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    top = np.argpartition(-scores, n - 1)[:n]
    top = top[np.argsort(-scores[top], kind="stable")]
    return top.astype(np.int64), scores[top]


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
    for row, score in ranked:
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
