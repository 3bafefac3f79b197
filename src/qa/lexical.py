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
from collections import Counter
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
        df = np.diff(self.exact.weights.indptr)
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
            name: sorted(field.vocabulary, key=field.vocabulary.__getitem__) for name, field in self._fields()
        }

    def _fields(self) -> list[tuple[str, Field]]:
        return [(name, f) for name, f in (("exact", self.exact), ("folded", self.folded)) if f is not None]

    @classmethod
    def from_arrays(cls, scheme: Tokenizer, arrays, vocabularies: dict[str, list[str]]) -> LexicalIndex:
        fields: dict[str, Field | None] = {"folded": None}
        for name in vocabularies:
            weights = sparse.csc_matrix(
                (arrays[f"{name}_data"], arrays[f"{name}_indices"], arrays[f"{name}_indptr"]),
                shape=tuple(arrays[f"{name}_shape"]),
            )
            fields[name] = Field({t: i for i, t in enumerate(vocabularies[name])}, weights)
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
    return LexicalIndex(
        scheme,
        _build_field([tokenize(t, scheme=scheme) for t in texts]),
        _build_field([tokenize(t, scheme=scheme, folded=True) for t in texts]) if accent_field else None,
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
