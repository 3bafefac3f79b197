"""Lexical index: BM25 over a sparse term-weight matrix, in two fields.

The exact field reads lower-cased, tone-folded syllables (and, by default, syllable
bigrams, which stand in for Vietnamese compound words); the folded field reads the
same text without diacritics, so "doi ngoai nhan dan" finds "đối ngoại nhân dân".
Scoring a query is a sum of a few sparse columns, so it stays fast at a million rows.
"""

from __future__ import annotations

import itertools
import math
import re
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
from scipy import sparse

from .text import fold_accents, has_diacritics, match_key, segmented_words

Tokenizer = Literal["syllable+bigram", "syllable", "word"]

K1 = 1.2
B = 0.75
POSTINGS_BUDGET = 300_000  # postings a query reads in full, per field
FOLLOW_UP = 2_000  # passages the commoner terms still add to once the budget is spent
# Weight of the accent-folded field when the question itself has diacritics: it
# still helps with typos and odd spellings, but it confuses "bàn" with "bạn".
FOLDED_WEIGHT_ACCENTED = 0.3

# Question words are rare in documents and in nearly every question: they seed the
# restorer so that "bao nhieu" becomes "bao nhiêu", not the corpus's "bảo nhiều".
QUESTION_PHRASES = (
    "bao nhiêu",
    "là gì",
    "như thế nào",
    "thế nào",
    "khi nào",
    "lúc nào",
    "ở đâu",
    "tại sao",
    "vì sao",
    "những gì",
    "ai là",
    "là ai",
    "nào",
    "mấy",
    "có phải",
    "bao giờ",
    "được không",
)

_RUN = re.compile(r"[^\W_]+(?:\s+[^\W_]+)*")  # syllables not separated by punctuation


def tokenize(text: str, *, scheme: Tokenizer, folded: bool = False) -> list[str]:
    key = match_key(text)
    return _tokens(fold_accents(key) if folded else key, scheme)


def _tokens(key: str, scheme: Tokenizer) -> list[str]:
    if scheme == "word":
        return [w.lower() for w in segmented_words(key)]
    tokens: list[str] = []
    for run in _RUN.findall(key):
        syllables = run.split()
        tokens.extend(syllables)
        if scheme == "syllable+bigram":
            tokens.extend(f"{a}_{b}" for a, b in itertools.pairwise(syllables))
    return tokens


@dataclass(frozen=True)
class Field:
    """Term counts per passage and what BM25 needs to weigh them at query time.

    Counts are one byte each in a column-major sparse matrix, so a million passages of
    a hundred words fit in about 1.5 GB per field, and a query reads only its terms' columns.
    """

    vocabulary: dict[str, int]
    counts: sparse.csc_matrix  # rows: passages, columns: terms; term frequency, capped at 255
    idf: np.ndarray  # per term
    norm: np.ndarray  # per passage: K1 * (1 - B + B * length / average length)

    def score(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 of every passage. Terms are read rarest first; once POSTINGS_BUDGET postings
        are read, the commoner terms (small idf: "của", "nhân dân") only add to the
        FOLLOW_UP best passages so far, which bounds the cost of a query at any corpus size."""
        n = self.counts.shape[0]
        scores = np.zeros(n, dtype=np.float64)
        indptr = self.counts.indptr
        columns = sorted(
            {self.vocabulary[t] for t in terms if t in self.vocabulary},
            key=lambda c: indptr[c + 1] - indptr[c],
        )
        read, full, rest = 0, [], []
        for c in columns:
            size = indptr[c + 1] - indptr[c]
            if not full or read + size <= POSTINGS_BUDGET:
                full.append(c)
                read += size
            else:
                rest.append(c)
        if full:
            at = np.concatenate([np.arange(indptr[c], indptr[c + 1]) for c in full])
            rows = self.counts.indices[at]
            idf = np.repeat(self.idf[full], [indptr[c + 1] - indptr[c] for c in full])
            scores += np.bincount(rows, weights=self._weights(at, rows, idf), minlength=n)
        if rest:
            best = np.sort(np.argpartition(-scores, min(FOLLOW_UP, n - 1))[:FOLLOW_UP])
            for c in rest:
                postings = self.counts.indices[indptr[c] : indptr[c + 1]]
                where = np.minimum(np.searchsorted(postings, best), len(postings) - 1)
                hit = postings[where] == best
                at = indptr[c] + where[hit]
                scores[best[hit]] += self._weights(at, best[hit], self.idf[c])
        return scores.astype(np.float32)

    def _weights(self, at: np.ndarray, rows: np.ndarray, idf) -> np.ndarray:
        tf = self.counts.data[at].astype(np.float32)
        return idf * tf * (K1 + 1) / (tf + self.norm[rows])

    @property
    def document_frequency(self) -> np.ndarray:
        return np.diff(self.counts.indptr)


@dataclass(frozen=True)
class LexicalIndex:
    scheme: Tokenizer
    exact: Field
    folded: Field | None  # None: built without the accent-folded field

    def score(self, question: str) -> np.ndarray:
        """BM25 score of every passage; the folded field alone when the question has no diacritics."""
        exact = self.exact.score(tokenize(question, scheme=self.scheme))
        if self.folded is None:
            return exact
        folded = self.folded.score(tokenize(question, scheme=self.scheme, folded=True))
        if not has_diacritics(question):
            return folded
        return exact + FOLDED_WEIGHT_ACCENTED * folded

    def restore_diacritics(self, question: str) -> str:
        """Put back the diacritics of a question typed without them, as the corpus spells its words.

        A Viterbi pass over the syllables: candidates are corpus syllables that fold to
        the typed one, scored by how often the corpus writes each pair side by side.
        Words the corpus lacks stay as typed.
        """
        unigrams, bigrams, candidates = self._spellings
        pieces = re.findall(r"[^\W_]+|[\W_]+", question)
        chains: list[list[int]] = [[]]
        for i, piece in enumerate(pieces):
            if piece[0].isalnum():
                chains[-1].append(i)
            elif piece.strip():  # punctuation ends a phrase; spaces do not
                chains.append([])
        for chain in chains:
            spelled = _viterbi([pieces[i] for i in chain], unigrams, bigrams, candidates)
            for i, word in zip(chain, spelled):
                pieces[i] = word
        return "".join(pieces)

    @cached_property
    def _spellings(self):
        df = self.exact.document_frequency
        unigrams: dict[str, float] = {}
        bigrams: dict[tuple[str, str], float] = {}
        for term, column in self.exact.vocabulary.items():
            parts = term.split("_")
            if len(parts) == 2:
                bigrams[(parts[0], parts[1])] = float(df[column])
            elif len(parts) == 1:
                unigrams[term] = float(df[column])
        prior = max(unigrams.values(), default=1.0)
        for phrase in QUESTION_PHRASES:
            parts = phrase.split()
            for part in parts:
                unigrams[part] = unigrams.get(part, 0.0) + prior
            for a, b in itertools.pairwise(parts):
                bigrams[(a, b)] = bigrams.get((a, b), 0.0) + prior
        candidates: dict[str, list[str]] = {}
        for syllable in unigrams:
            candidates.setdefault(fold_accents(syllable), []).append(syllable)
        return unigrams, bigrams, candidates

    def arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for `np.savez`; vocabularies go to JSON beside them."""
        out = {}
        for name, field in self._fields():
            c = field.counts
            out |= {
                f"{name}_data": c.data,
                f"{name}_indices": c.indices,
                f"{name}_indptr": c.indptr,
                f"{name}_shape": np.array(c.shape),
                f"{name}_idf": field.idf,
                f"{name}_norm": field.norm,
            }
        return out

    def vocabularies(self) -> dict[str, list[str]]:
        return {
            name: sorted(field.vocabulary, key=field.vocabulary.__getitem__) for name, field in self._fields()
        }

    def _fields(self) -> list[tuple[str, Field]]:
        return [(name, f) for name, f in (("exact", self.exact), ("folded", self.folded)) if f is not None]

    @classmethod
    def from_arrays(cls, scheme: Tokenizer, arrays, vocabularies: dict[str, list[str]]) -> LexicalIndex:
        fields: dict[str, Field | None] = {"folded": None}
        for name in vocabularies:
            counts = sparse.csc_matrix(
                (arrays[f"{name}_data"], arrays[f"{name}_indices"], arrays[f"{name}_indptr"]),
                shape=tuple(arrays[f"{name}_shape"]),
            )
            vocabulary = {t: i for i, t in enumerate(vocabularies[name])}
            fields[name] = Field(vocabulary, counts, arrays[f"{name}_idf"], arrays[f"{name}_norm"])
        return cls(scheme, fields["exact"], fields["folded"])


def _viterbi(typed, unigrams, bigrams, candidates) -> list[str]:
    total = sum(unigrams.values()) or 1.0
    best: dict[str, tuple[float, list[str]]] = {}
    for word in typed:
        options = candidates.get(word.lower()) or [word.lower()]
        layer = {}
        for option in options:
            prior = unigrams.get(option, 0.0) / total
            if not best:
                layer[option] = (math.log(prior + 1e-6), [option])
                continue
            layer[option] = max(
                (score + math.log(bigrams.get((prev, option), 0.0) + 0.01 * prior + 1e-6), [*path, option])
                for prev, (score, path) in best.items()
            )
        best = layer
    path = max(best.values())[1] if best else []
    return [_like(spelled, word) for spelled, word in zip(path, typed)]


def _like(spelled: str, typed: str) -> str:
    """Keep the case the user typed."""
    if typed.isupper() and len(typed) > 1:
        return spelled.upper()
    return spelled[:1].upper() + spelled[1:] if typed[:1].isupper() else spelled


def build_lexical(texts: Sequence[str], *, scheme: Tokenizer, accent_field: bool = True) -> LexicalIndex:
    exact, folded = _FieldBuilder(), _FieldBuilder()
    for text in texts:
        key = match_key(text)
        exact.add(_tokens(key, scheme))
        if accent_field:
            folded.add(_tokens(fold_accents(key), scheme))
    return LexicalIndex(scheme, exact.build(), folded.build() if accent_field else None)


class _FieldBuilder:
    """Collects term ids passage by passage in compact arrays (a million passages fit);
    counting happens once, in numpy, at the end."""

    def __init__(self) -> None:
        self.vocabulary: dict[str, int] = {}
        self.ids = array("i")
        self.lengths = array("i")

    def add(self, tokens: list[str]) -> None:
        self.lengths.append(len(tokens))
        vocabulary = self.vocabulary
        self.ids.extend([vocabulary.setdefault(t, len(vocabulary)) for t in tokens])

    def build(self) -> Field:
        n, terms = len(self.lengths), len(self.vocabulary)
        lengths = np.frombuffer(self.lengths, dtype=np.int32)
        ids = np.frombuffer(self.ids, dtype=np.int32).astype(np.int64)
        rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
        pairs, counts = np.unique(ids * max(n, 1) + rows, return_counts=True)  # column-major order
        columns, rows = np.divmod(pairs, max(n, 1))
        indptr = np.concatenate([[0], np.cumsum(np.bincount(columns, minlength=terms))])
        counts = sparse.csc_matrix(
            (np.minimum(counts, 255).astype(np.uint8), rows.astype(np.int32), indptr), shape=(n, terms)
        )
        df = np.diff(indptr).astype(np.float32)
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        average = float(lengths.mean()) if n and lengths.mean() > 0 else 1.0
        norm = (K1 * (1 - B + B * lengths.astype(np.float32) / average)).astype(np.float32)
        return Field(self.vocabulary, counts, idf, norm)
