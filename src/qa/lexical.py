"""Lexical index: BM25 over postings, in two fields.

The exact field reads lower-cased, tone-folded syllables (and, by default, syllable
bigrams, which stand in for Vietnamese compound words); the folded field reads the
same text without diacritics, so "doi ngoai nhan dan" finds "đối ngoại nhân dân".

Each field is postings (`postings.py`): plain arrays with the BM25 weights computed at
build time, memory-mapped on load. A search asks for the best few passages (`top`), found with
pruning of the common terms, and for the scores of the other method's candidates (`scores_of`):
never for an array of every passage's score.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np

from .inverter import FieldBuilder
from .postings import FIELD_ARRAYS, FORWARD_ARRAYS, Field, Forward, Term, Vocabulary, every, lookup, top
from .text import fold_accents, has_diacritics, match_key, segmented_words

Tokenizer = Literal["syllable+bigram", "syllable", "word"]

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
class LexicalIndex:
    scheme: Tokenizer
    exact: Field
    folded: Field | None  # None: built without the accent-folded field

    def terms(self, question: str) -> list[Term]:
        """The question's terms with their postings; the folded field alone when it has no diacritics."""
        exact = tokenize(question, scheme=self.scheme)
        if self.folded is None:
            return self.exact.terms(exact, 1.0)
        folded = self.folded.terms(tokenize(question, scheme=self.scheme, folded=True), 1.0)
        if not has_diacritics(question):
            return folded
        return self.exact.terms(exact, 1.0) + [
            dataclasses.replace(t, weight=FOLDED_WEIGHT_ACCENTED, bound=FOLDED_WEIGHT_ACCENTED * t.bound)
            for t in folded
        ]

    def top(
        self, terms: list[Term], n: int, *, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The `n` best passages by BM25 for a question's `terms` with a score above zero, and their
        scores, best first; among `rows` only, when given."""
        if rows is None:
            return top(terms, n, self.exact.passages)
        rows = np.unique(rows)  # each run searched once, at most one pass over it: never more than `every`
        found = lookup(terms, rows).astype(np.float32)
        rows, found = rows[found > 0], found[found > 0]
        best = np.lexsort((rows, -found))[:n]
        return rows[best].astype(np.int64), found[best]

    def scores_of(self, terms: list[Term], rows: np.ndarray) -> np.ndarray:
        """The BM25 scores of the given passages (another method's candidates) for a question's `terms`."""
        order = np.argsort(rows, kind="stable")
        out = np.empty(len(rows), dtype=np.float32)
        out[order] = lookup(terms, rows[order])
        return out

    def score(self, question: str) -> np.ndarray:
        """BM25 of every passage, every posting read: what `top` is checked against."""
        return every(self.terms(question), self.exact.passages)

    def restore_diacritics(self, question: str) -> str:
        """Put back the diacritics of a question typed without them, as the corpus spells its words."""
        return self._speller.restore(question)

    @cached_property
    def _speller(self) -> Speller:
        df = self.exact.document_frequency
        vocabulary = self.exact.vocabulary
        unigrams = {vocabulary.term(c): float(df[c]) for c in self.exact.unigrams.tolist()}

        def pairs(bigram: str) -> float:
            column = vocabulary.find(bigram)
            return float(self.exact.starts[column + 1] - self.exact.starts[column]) if column >= 0 else 0.0

        return Speller(unigrams, pairs)

    @property
    def passages(self) -> int:
        return self.exact.passages

    @property
    def has_folded(self) -> bool:
        return self.folded is not None

    def idf_of(self, term: str, *, folded: bool = False) -> float | None:
        """The BM25 idf of a term of the exact (or folded) field; None for a term no passage has."""
        field = self.folded if folded else self.exact
        column = field.vocabulary.find(term) if field is not None else -1
        return float(field.idf[column]) if column >= 0 else None

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array, by name, to be stored as plain files and memory-mapped back."""
        out = {}
        for name, field in self._fields():
            out |= {f"{name}_{a}": getattr(field, a) for a in FIELD_ARRAYS}
            if field.forward is not None:
                out |= {f"{name}_forward_{a}": getattr(field.forward, a) for a in FORWARD_ARRAYS}
            out |= {f"{name}_text": field.vocabulary.text, f"{name}_term_starts": field.vocabulary.starts}
        return out

    def _fields(self) -> list[tuple[str, Field]]:
        return [(name, f) for name, f in (("exact", self.exact), ("folded", self.folded)) if f is not None]

    @classmethod
    def from_arrays(
        cls, scheme: Tokenizer, arrays: Mapping[str, np.ndarray], *, passages: int
    ) -> LexicalIndex:
        fields: dict[str, Field | None] = {"folded": None}
        for name in ("exact", "folded"):
            if f"{name}_starts" in arrays:
                vocabulary = Vocabulary(arrays[f"{name}_text"], arrays[f"{name}_term_starts"])
                listed = f"{name}_forward_starts" in arrays  # not in an index written before the lists
                fields[name] = Field(
                    vocabulary,
                    *(arrays[f"{name}_{a}"] for a in FIELD_ARRAYS),
                    passages,
                    Forward(*(arrays[f"{name}_forward_{a}"] for a in FORWARD_ARRAYS)) if listed else None,
                )
        return cls(scheme, fields["exact"], fields["folded"])


class Speller:
    """Restores diacritics from a corpus's syllable and syllable-pair document frequencies.

    A Viterbi pass over the syllables: candidates are corpus syllables that fold to the
    typed one, scored by how often the corpus writes each pair side by side. Words the
    corpus lacks stay as typed. Pairs are looked up when needed: there can be millions.
    """

    def __init__(self, unigrams: Mapping[str, float], pairs: Callable[[str], float]) -> None:
        self.unigrams = dict(unigrams)
        self._pairs = pairs
        prior = max(self.unigrams.values(), default=1.0)
        self.phrases: dict[tuple[str, str], float] = {}
        for phrase in QUESTION_PHRASES:  # question words count as common
            parts = phrase.split()
            for part in parts:
                self.unigrams[part] = self.unigrams.get(part, 0.0) + prior
            for a, b in itertools.pairwise(parts):
                self.phrases[(a, b)] = self.phrases.get((a, b), 0.0) + prior
        self.candidates: dict[str, list[str]] = {}
        for syllable in self.unigrams:
            self.candidates.setdefault(fold_accents(syllable), []).append(syllable)
        self.total = sum(self.unigrams.values()) or 1.0

    def restore(self, question: str) -> str:
        pieces = re.findall(r"[^\W_]+|[\W_]+", question)
        chains: list[list[int]] = [[]]
        for i, piece in enumerate(pieces):
            if piece[0].isalnum():
                chains[-1].append(i)
            elif piece.strip():  # punctuation ends a phrase; spaces do not
                chains.append([])
        for chain in chains:
            spelled = self._viterbi([pieces[i] for i in chain])
            for i, word in zip(chain, spelled):
                pieces[i] = word
        return "".join(pieces)

    def _pair(self, a: str, b: str) -> float:
        """How many passages write `a b` side by side (question phrases count as common)."""
        return self._pairs(f"{a}_{b}") + self.phrases.get((a, b), 0.0)

    def _viterbi(self, typed: list[str]) -> list[str]:
        best: dict[str, tuple[float, list[str]]] = {}
        for word in typed:
            options = self.candidates.get(word.lower()) or [word.lower()]
            layer = {}
            for option in options:
                prior = self.unigrams.get(option, 0.0) / self.total
                if not best:
                    layer[option] = (math.log(prior + 1e-6), [option])
                    continue
                layer[option] = max(
                    (score + math.log(self._pair(prev, option) + 0.01 * prior + 1e-6), [*path, option])
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


def build_lexical(
    texts: Iterable[str], *, scheme: Tokenizer, accent_field: bool = True, folder: Path | None = None
) -> LexicalIndex:
    """The postings of `texts`, built in temporary files in `folder` (the system's when None)."""
    exact, folded = FieldBuilder(folder), FieldBuilder(folder)
    for text in texts:
        key = match_key(text)
        exact.add(_tokens(key, scheme))
        if accent_field:
            folded.add(_tokens(fold_accents(key), scheme))
    return LexicalIndex(scheme, exact.build(), folded.build() if accent_field else None)
