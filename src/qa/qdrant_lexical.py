"""BM25 on the Qdrant store: the folder store's two fields as sparse vectors the server scores; and
the points a write stores.

Each passage stores, per field ("exact", "folded"), its saturated term frequencies
tf * (K1 + 1) / (tf + K1 * (1 - B + B * len / avgdl)); the collection's `Modifier.IDF` makes the server
multiply in ln(1 + (N - df + 0.5) / (df + 0.5)) from its live statistics, so adding or removing a
document rewrites no other passage. A query's value for a term is its field's weight (1.0, or
FOLDED_WEIGHT_ACCENTED), so the server's sum is `LexicalIndex.score` term for term.

Terms become sparse indices by a 32-bit hash: two terms of one passage that collide add up, and at
millions of bigrams a few will; the document frequencies kept beside (for `idf_of` and the speller)
are by term, exact. avgdl is the average when a document was written: a document written earlier
keeps its time's average (a drift of a few percent after many updates), and a rebuild makes it exact.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from qdrant_client import models

from .lexical import FOLDED_WEIGHT_ACCENTED, Speller, Tokenizer, tokenize
from .postings import K1, B
from .store import NewDocument
from .text import has_diacritics

if TYPE_CHECKING:
    from .qdrant import QdrantStore

FIELDS = ("exact", "folded")
TF_MAX = 255  # the folder store keeps a term's count in a passage in one byte
# Passages each field's server-side search passes to the sum: a passage outside one field's list counts
# 0 there. Every passage with a term of the question is in both lists up to this many such passages, so
# the sum is exact at the sizes the local engine serves (the seed corpus: 123 passages); beyond, a
# passage of the true top would have to rank below this in both fields at once to be misscored.
LEXICAL_DEPTH = 1_000


def term_id(term: str) -> int:
    """The sparse index of a term: 32 bits, as Qdrant's sparse indices are."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest(), "little")


def field_tokens(text: str, *, scheme: Tokenizer, folded_field: bool) -> dict[str, list[str]]:
    """A passage's tokens per field, exactly as `lexical.build_lexical` reads its embedded text."""
    out = {"exact": tokenize(text, scheme=scheme)}
    if folded_field:
        out["folded"] = tokenize(text, scheme=scheme, folded=True)
    return out


def passage_vector(tokens: list[str], average: float) -> models.SparseVector:
    """The saturated term frequencies of a passage with `tokens` in a field whose mean length is
    `average`: what `postings.FieldBuilder` multiplies by the idf."""
    norm = K1 * (1 - B + B * len(tokens) / (average or 1.0))
    values: dict[int, float] = {}
    for term, count in Counter(tokens).items():
        tf = min(count, TF_MAX)
        index = term_id(term)
        values[index] = values.get(index, 0.0) + tf * (K1 + 1) / (tf + norm)
    return _sparse(values)


def _sparse(values: Mapping[int, float]) -> models.SparseVector:
    indices = sorted(values)
    return models.SparseVector(indices=indices, values=[float(values[i]) for i in indices])


@dataclass(frozen=True)
class QueryTerms:
    """A question's distinct terms per field, each weighed as the folder store weighs its field."""

    exact: tuple[str, ...]
    folded: tuple[str, ...]
    folded_weight: float

    def __bool__(self) -> bool:
        return bool(self.exact or self.folded)

    def prefetches(self, depth: int) -> list[models.Prefetch]:
        fields = (("exact", self.exact, 1.0), ("folded", self.folded, self.folded_weight))
        return [
            models.Prefetch(query=_sparse(_weights(terms, weight)), using=name, limit=depth)
            for name, terms, weight in fields
            if terms
        ]


def _weights(terms: tuple[str, ...], weight: float) -> dict[int, float]:
    out: dict[int, float] = {}
    for term in terms:
        out[term_id(term)] = out.get(term_id(term), 0.0) + weight
    return out


class QdrantLexical:
    """`store.Lexical` over a Qdrant store: the server ranks; df statistics come from the documents."""

    def __init__(self, store: QdrantStore, *, scheme: Tokenizer, has_folded: bool, df: dict[str, Counter]):
        self._store, self.scheme, self.has_folded, self._df = store, scheme, has_folded, df

    @property
    def passages(self) -> int:
        return len(self._store)

    def terms(self, question: str) -> QueryTerms:
        """The folder store's choice of fields: the folded one alone for a question without diacritics."""
        exact = tuple(sorted(set(tokenize(question, scheme=self.scheme))))
        if not self.has_folded:
            return QueryTerms(exact, (), 0.0)
        folded = tuple(sorted(set(tokenize(question, scheme=self.scheme, folded=True))))
        if not has_diacritics(question):
            return QueryTerms((), folded, 1.0)
        return QueryTerms(exact, folded, FOLDED_WEIGHT_ACCENTED)

    def top(
        self, terms: QueryTerms, n: int, *, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The `n` best committed passages with a score above zero, best first, ties by row."""
        if not terms or n < 1 or (rows is not None and len(rows) == 0):
            return np.empty(0, np.int64), np.empty(0, np.float32)
        found = self._store._ranked(lambda limit: self._query(terms, limit, rows=rows), n)
        found = [(row, score) for row, score in found if score > 0]
        found.sort(key=lambda item: (-item[1], item[0]))
        return (
            np.array([row for row, _ in found], dtype=np.int64),
            np.array([score for _, score in found], dtype=np.float32),
        )

    def scores_of(self, terms: QueryTerms, rows: np.ndarray) -> np.ndarray:
        """The scores of the given passages, 0 for those without a term of the question."""
        out = np.zeros(len(rows), dtype=np.float32)
        if not terms or len(rows) == 0:
            return out
        points = self._query(terms, len(rows), rows=rows, payload=False)
        score = {int(p.id): p.score for p in points}
        out[:] = [score.get(int(row), 0.0) for row in rows.tolist()]
        return out

    def _query(self, terms: QueryTerms, limit: int, *, rows: np.ndarray | None, payload: bool = True) -> list:
        """One server-side query: each field's best passages, their scores summed (a missing one is 0)."""
        prefetches = terms.prefetches(max(limit, LEXICAL_DEPTH))
        names = [f"$score[{i}]" for i in range(len(prefetches))]
        formula = models.FormulaQuery(
            formula=models.SumExpression(sum=names), defaults=dict.fromkeys(names, 0.0)
        )
        return self._store._query(prefetch=prefetches, query=formula, limit=limit, rows=rows, payload=payload)

    def idf_of(self, term: str, *, folded: bool = False) -> float | None:
        """The BM25 idf of a term in the committed passages; None for a term no passage has."""
        field = "folded" if folded else "exact"
        df = self._df[field].get(term, 0) if field in self._df else 0
        if df == 0:
            return None
        return math.log1p((self.passages - df + 0.5) / (df + 0.5))

    def restore_diacritics(self, question: str) -> str:
        return self._speller.restore(question)

    @cached_property
    def _speller(self) -> Speller:
        exact = self._df["exact"]
        unigrams = {term: float(df) for term, df in exact.items() if "_" not in term}
        pairs: Callable[[str], float] = lambda bigram: float(exact.get(bigram, 0))  # noqa: E731
        return Speller(unigrams, pairs)


def document_statistics(
    tokens: list[dict[str, list[str]]],
) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """A document's contribution to the df statistics (term → passages with it) and its token totals,
    per field, from its passages' tokens."""
    df: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for passage in tokens:
        for field, found in passage.items():
            counter = df.setdefault(field, {})
            for term in set(found):
                counter[term] = counter.get(term, 0) + 1
            totals[field] = totals.get(field, 0) + len(found)
    return df, totals


def _point_id(text: str) -> int:
    """A 63-bit point id: Qdrant ids are unsigned, retrieval's rows int64."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def passage_id(doc_id: str, sha256: str, start: int, end: int) -> int:
    """The id of a passage of one version of a document: a new version never overwrites the old one."""
    return _point_id(f"{doc_id}\0{sha256}\0{start}\0{end}")


def document_id(doc_id: str) -> int:
    return _point_id(f"document\0{doc_id}")


def stale_passages(doc_id: str, *, keep: str | None = None) -> models.Filter:
    """The passages of `doc_id`, but for those of version `keep`."""
    version = [models.FieldCondition(key="sha256", match=models.MatchValue(value=keep))] if keep else []
    document = models.FieldCondition(key="doc_id", match=models.MatchValue(value=doc_id))
    return models.Filter(must=[document], must_not=version)


def passage_points(
    doc: NewDocument, tokens: list[dict[str, list[str]]], averages: dict
) -> Iterator[models.PointStruct]:
    """A new document version's passages as points: vectors, and what `Chunk` and `key` need."""
    sha = doc.stored.sha256
    for i, chunk in enumerate(doc.chunks):
        vector = {"dense": np.asarray(doc.vectors[i], dtype=np.float32).tolist()}
        vector |= {field: passage_vector(found, averages[field]) for field, found in tokens[i].items()}
        payload = {
            "doc_id": doc.stored.id,
            "sha256": sha,
            "heading": chunk.heading,
            "text": chunk.text,
            "start": chunk.start,
            "end": chunk.end,
            "words": chunk.words,
            "key": bytes(doc.keys[i]).decode("ascii"),
        }
        point_id = passage_id(doc.stored.id, sha, chunk.start, chunk.end)
        yield models.PointStruct(id=point_id, vector=vector, payload=payload)


def document_point(doc: NewDocument, tokens: list[dict[str, list[str]]]) -> models.PointStruct:
    """The point that commits a document version: its catalog entry, text and df statistics."""
    df, totals = document_statistics(tokens)
    entry = {k: v for k, v in dataclasses.asdict(doc.stored).items() if k not in ("offset", "length")}
    payload = entry | {"pages": list(doc.stored.pages), "text": doc.text, "passages": len(doc.chunks)}
    payload |= {"tokens": totals, "df": df}
    return models.PointStruct(id=document_id(doc.stored.id), vector={}, payload=payload)
