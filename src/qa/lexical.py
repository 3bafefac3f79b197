"""Lexical index: BM25 over a sparse term-weight matrix, in two fields.

The exact field reads lower-cased, tone-folded syllables (and, by default, syllable
bigrams, which stand in for Vietnamese compound words); the folded field reads the
same text without diacritics, so "doi ngoai nhan dan" finds "đối ngoại nhân dân".
Scoring a query is a sum of a few sparse columns, so it stays fast at a million rows.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import sparse

from .text import fold_accents, has_diacritics, match_key, segmented_words

Tokenizer = Literal["syllable+bigram", "syllable", "word"]

K1 = 1.2
B = 0.75
# Weight of the accent-folded field when the question itself has diacritics: it
# still helps with typos and odd spellings, but it confuses "bàn" with "bạn".
FOLDED_WEIGHT_ACCENTED = 0.3

_RUN = re.compile(r"[^\W_]+(?:\s+[^\W_]+)*")  # syllables not separated by punctuation


def tokenize(text: str, *, scheme: Tokenizer, folded: bool = False) -> list[str]:
    key = match_key(text)
    if folded:
        key = fold_accents(key)
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
    vocabulary: dict[str, int]
    weights: sparse.csc_matrix  # rows: passages, columns: terms; BM25 weight of term in passage

    def score(self, terms: Sequence[str]) -> np.ndarray:
        columns = sorted({self.vocabulary[t] for t in terms if t in self.vocabulary})
        if not columns:
            return np.zeros(self.weights.shape[0], dtype=np.float32)
        return np.asarray(self.weights[:, columns].sum(axis=1), dtype=np.float32).ravel()


@dataclass(frozen=True)
class LexicalIndex:
    scheme: Tokenizer
    exact: Field
    folded: Field

    def score(self, question: str) -> np.ndarray:
        """BM25 score of every passage; the folded field alone when the question has no diacritics."""
        folded = self.folded.score(tokenize(question, scheme=self.scheme, folded=True))
        if not has_diacritics(question):
            return folded
        exact = self.exact.score(tokenize(question, scheme=self.scheme))
        return exact + FOLDED_WEIGHT_ACCENTED * folded

    def arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for `np.savez`; vocabularies go to JSON beside them."""
        out = {}
        for name, field in (("exact", self.exact), ("folded", self.folded)):
            w = field.weights
            out |= {
                f"{name}_data": w.data,
                f"{name}_indices": w.indices,
                f"{name}_indptr": w.indptr,
                f"{name}_shape": np.array(w.shape),
            }
        return out

    def vocabularies(self) -> dict[str, list[str]]:
        return {
            name: sorted(field.vocabulary, key=field.vocabulary.__getitem__)
            for name, field in (("exact", self.exact), ("folded", self.folded))
        }

    @classmethod
    def from_arrays(cls, scheme: Tokenizer, arrays, vocabularies: dict[str, list[str]]) -> LexicalIndex:
        fields = {}
        for name in ("exact", "folded"):
            weights = sparse.csc_matrix(
                (arrays[f"{name}_data"], arrays[f"{name}_indices"], arrays[f"{name}_indptr"]),
                shape=tuple(arrays[f"{name}_shape"]),
            )
            fields[name] = Field({t: i for i, t in enumerate(vocabularies[name])}, weights)
        return cls(scheme, fields["exact"], fields["folded"])


def build_lexical(texts: Sequence[str], *, scheme: Tokenizer) -> LexicalIndex:
    return LexicalIndex(
        scheme,
        _build_field([tokenize(t, scheme=scheme) for t in texts]),
        _build_field([tokenize(t, scheme=scheme, folded=True) for t in texts]),
    )


def _build_field(documents: list[list[str]]) -> Field:
    vocabulary: dict[str, int] = {}
    rows, cols, counts = [], [], []
    lengths = np.array([len(d) for d in documents], dtype=np.float32)
    for row, tokens in enumerate(documents):
        for term, count in Counter(tokens).items():
            rows.append(row)
            cols.append(vocabulary.setdefault(term, len(vocabulary)))
            counts.append(count)
    n = len(documents)
    tf = np.array(counts, dtype=np.float32)
    rows_a = np.array(rows, dtype=np.int64)
    cols_a = np.array(cols, dtype=np.int64)
    df = np.bincount(cols_a, minlength=len(vocabulary)).astype(np.float32)
    idf = np.log1p((n - df + 0.5) / (df + 0.5))
    average = float(lengths.mean()) if n and lengths.mean() > 0 else 1.0
    norm = K1 * (1 - B + B * lengths[rows_a] / average)
    data = idf[cols_a] * tf * (K1 + 1) / (tf + norm)
    weights = sparse.csc_matrix((data.astype(np.float32), (rows_a, cols_a)), shape=(n, len(vocabulary)))
    return Field(vocabulary, weights)
