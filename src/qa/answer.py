"""Answer: the sentences that best answer a question, or a plain "nothing found".

The retrieved passages are always returned. On top of them, the answer is the one or
two sentences of the leading passages that best answer the question, each citing the
passage it comes from. Sentences are scored without a model call, so picking them costs
about a millisecond instead of an embedding per sentence: how much of the question's
wording a sentence repeats, each term weighed by its rarity in the index (BM25's idf);
whether it holds a value of the kind the question asks for that the question does not
already give (a date for "ngày nào", a number for "bao nhiêu", ...); and its passage's
rank. On the gold questions this finds the answer more often than the embedder's
sentence similarity did (bench/answer_sentences.py). When even the best passage is far
from the question (cosine below a threshold calibrated on the gold questions), the
corpus most likely does not answer it, and the answer says so instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

from .chunk import split_sentences
from .index import Index
from .lexical import tokenize
from .retrieve import Hit
from .text import fold_accents, has_diacritics, match_key, syllables, words

_WORD = re.compile(r"\w+(?:[-/.]\w+)*")
# Accent-folded: the words too common to be worth highlighting.
_FUNCTION_WORDS = {
    "la",
    "va",
    "cua",
    "co",
    "cac",
    "nhung",
    "mot",
    "duoc",
    "trong",
    "cho",
    "voi",
    "den",
    "tu",
    "nao",
    "gi",
    "ai",
    "bao",
    "nhieu",
    "the",
    "do",
    "nay",
    "khi",
    "thi",
    "ma",
    "o",
    "ve",
    "de",
    "da",
    "se",
    "dang",
    "nhu",
    "theo",
    "tai",
    "ra",
    "vao",
    "len",
    "bi",
    "boi",
    "hay",
    "hoac",
}

ANSWER_PASSAGES = 3  # the answer is drawn from the sentences of this many leading passages
MIN_SENTENCE_WORDS = 3  # shorter pieces are headings and list markers, never an answer
# The weights below were tuned on the gold set's dev split only (bench/answer_sentences.py,
# 77 answerable questions): each is where dev scores best (the smallest such margin), with
# neighbouring values one to three questions behind. Coverage, the base score, runs from 0 to 1.
# Added for a value of the kind asked for. Dev hits: 0 → 62, 0.1–0.3 → 63, 0.5 → 61.
KIND_BONUS = 0.2
# Taken off per passage rank below the first, since retrieval has judged the passages as a
# whole. Dev hits, best sentence alone: 0 → 56, 0.02 → 59, 0.05 → 60, 0.1 → 59, 0.2 → 57.
RANK_PENALTY = 0.05
# A second sentence joins when it scores this close to the best. Dev hits: 0 → 60, 0.05 → 61,
# 0.1 → 63, 0.2 → 63; 0.1 shows 1.3 sentences per answer (0.2: 1.5, as many as the embedder).
SECOND_SENTENCE_MARGIN = 0.1

AnswerKind = Literal["date", "year", "number", "person", "place", "code"]
# What a question asks for, by its question phrase (whole syllables, compared without
# diacritics when the question has none).
_ASKS: dict[AnswerKind, tuple[str, ...]] = {
    "date": ("ngày nào", "ngày tháng năm nào", "khi nào", "hôm nào", "bao giờ", "lúc nào", "thời gian nào"),
    "year": ("năm nào", "năm bao nhiêu", "giai đoạn nào", "thời kỳ nào"),
    "number": ("bao nhiêu", "mấy"),
    "person": ("ai", "đồng chí nào", "người nào", "đại sứ nào", "tác giả"),
    "place": ("ở đâu", "tại đâu", "tỉnh nào", "thành phố nào", "nước nào", "địa điểm nào", "nơi nào"),
    "code": ("số hiệu", "ký hiệu", "công văn nào", "văn bản nào", "số mấy"),
}
_VALUES = {
    "date": re.compile(
        r"\b\d{1,2}\s?[-/]\s?\d{1,2}(?:\s?[-/]\s?\d{2,4})?\b|\b(?:ngày|tháng)\s+\d{1,2}\b", re.I
    ),
    "year": re.compile(r"\b(?:1[89]|20)\d\d\b"),
    "number": re.compile(r"\b\d+(?:[.,]\d+)*\b"),
    "code": re.compile(r"\b\d+(?:/\d+)?[-/][A-ZĐ]+[\w/-]*"),  # 495-CV/BTGTU, 41/2013/QĐ-TTg
}
# The commonest Vietnamese family names, borne by about nine people in ten: what starts a
# person's name, where "Việt Nam" or "Mặt trận" are capitalised too.
_FAMILY_NAMES = frozenset(syllables("Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý"))
# Accent-folded: the words a place name follows ("tại Hà Nội", "tỉnh Quảng Bình").
_PLACE_WORDS = ("tai", "o", "tinh", "thanh pho", "huyen", "quan", "thu do", "nuoc")


class Candidate(NamedTuple):
    """A sentence of a leading passage, which the answer may show."""

    hit: Hit
    start: int  # in the document
    end: int
    text: str  # verbatim: document[start:end]


class Features(NamedTuple):
    """What each candidate sentence's score is made of, one array entry per candidate."""

    coverage: np.ndarray  # idf-weighted share of the question's terms it contains, 0..1
    kind: np.ndarray  # 1 where it holds a value of the kind asked for that the question lacks
    rank: np.ndarray  # its passage's rank, 1 = best


@dataclass(frozen=True)
class AnswerSentence:
    text: str  # verbatim: document[start:end]
    rank: int  # of the passage it cites, [rank]
    start: int
    end: int
    score: float  # how well it answers the question: `sentence_scores`


@dataclass(frozen=True)
class Answer:
    question: str
    found: bool
    sentences: tuple[AnswerSentence, ...]
    passages: tuple[Hit, ...]
    relevance: float  # cosine of the question and its closest passage

    def to_dict(self) -> dict:
        """The JSON form every interface prints: `qa ask --json`, the HTTP API."""
        return {
            "question": self.question,
            "found": self.found,
            "answer": [
                {"text": s.text, "cites": s.rank, "start": s.start, "end": s.end} for s in self.sentences
            ],
            "passages": [
                {
                    "rank": h.rank,
                    "doc_id": h.doc_id,
                    "title": h.title,
                    "heading": h.heading,
                    "text": h.text,
                    "start": h.start,
                    "end": h.end,
                    "score": round(h.score, 6),
                    "pages": list(h.pages),
                }
                for h in self.passages
            ],
        }


def highlight_spans(text: str, question: str) -> list[tuple[int, int]]:
    """Where the question's words occur in `text`: case and tone placement never matter, and
    diacritics only for words typed without them ("ha noi" lights up "Hà Nội", "nội" does not
    light up "nói").

    Words as common as "là", "có" or "của" would light up every line, so they never count.
    """
    exact, folded = set(), set()
    for word in words(question):
        bare = fold_accents(word).lower()
        if bare not in _FUNCTION_WORDS:
            (exact if has_diacritics(word) else folded).add(match_key(word) if has_diacritics(word) else bare)
    return [
        (m.start(), m.end())
        for m in _WORD.finditer(text)
        if match_key(m.group()) in exact or fold_accents(m.group()).lower() in folded
    ]


def answer(
    index: Index,
    question: str,
    hits: list[Hit],
    *,
    vector: np.ndarray,
    min_relevance: float,
) -> Answer:
    """Judge the hits for `question` (embedded as `vector`) and pick the answer sentences.

    No model is called: the sentences are scored with the index's term statistics.
    """
    rows = np.array([index.row_of(h.doc_id, h.start, h.end) for h in hits], dtype=np.int64)
    relevance = float(index.similarity(vector, rows).max()) if len(rows) else 0.0
    found = relevance >= min_relevance
    sentences = _best_sentences(index, question, hits[:ANSWER_PASSAGES]) if found else ()
    return Answer(question, found, sentences, tuple(hits), relevance)


def _best_sentences(index: Index, question: str, hits: list[Hit]) -> tuple[AnswerSentence, ...]:
    candidates = candidate_sentences(hits)
    if not candidates:
        return ()
    scores = sentence_scores(sentence_features(index, question, candidates))
    chosen = [(candidates[i], float(scores[i])) for i in pick(scores, candidates)]
    return tuple(AnswerSentence(c.text, c.hit.rank, c.start, c.end, score) for c, score in chosen)


def candidate_sentences(hits: list[Hit]) -> list[Candidate]:
    """The sentences of the hits long enough to answer anything, in reading order."""
    candidates = [
        Candidate(hit, hit.start + a, hit.start + b, hit.text[a:b])
        for hit in hits
        for a, b in split_sentences(hit.text)
    ]
    return [c for c in candidates if len(c.text.split()) >= MIN_SENTENCE_WORDS]


def sentence_features(index: Index, question: str, candidates: list[Candidate]) -> Features:
    """How each candidate relates to the question, from the index's BM25 statistics.

    Terms are syllables and syllable pairs, weighed by the idf of the index's field; a
    question typed without diacritics is compared without them, as the lexical search does.
    """
    lexical = index.lexical
    folded = not has_diacritics(question)
    field = lexical.folded if folded else lexical.exact
    if field is None:  # an index built without the accent-folded field: re-accent the question
        question, folded, field = lexical.restore_diacritics(question), False, lexical.exact
    # A term the index has never seen is in none of its passages: it cannot tell sentences apart.
    weights = {
        term: float(field.idf[field.vocabulary[term]])
        for term in set(tokenize(question, scheme="syllable+bigram", folded=folded))
        if term in field.vocabulary
    }
    total = sum(weights.values())
    coverage = np.zeros(len(candidates))
    if total > 0:
        for i, c in enumerate(candidates):
            present = set(tokenize(c.text, scheme="syllable+bigram", folded=folded))
            coverage[i] = sum(w for term, w in weights.items() if term in present) / total
    kinds, given = asked_kinds(question), _key(question)
    kind = [any(_key(v) not in given for k in kinds for v in _values(c.text, k)) for c in candidates]
    rank = [c.hit.rank for c in candidates]
    return Features(coverage, np.array(kind, dtype=np.float64), np.array(rank, dtype=np.float64))


def sentence_scores(
    features: Features, *, kind_bonus: float = KIND_BONUS, rank_penalty: float = RANK_PENALTY
) -> np.ndarray:
    """Coverage, plus `kind_bonus` for a value of the kind asked for, minus `rank_penalty` per rank."""
    return features.coverage + kind_bonus * features.kind - rank_penalty * (features.rank - 1)


def pick(
    scores: np.ndarray, candidates: list[Candidate], *, margin: float = SECOND_SENTENCE_MARGIN
) -> list[int]:
    """The best sentence, and the runner-up when it scores within `margin`, in reading order."""
    order = np.argsort(-scores, kind="stable")
    best = float(scores[order[0]])
    chosen = [int(i) for i in order[:2] if scores[i] >= best - margin]
    return sorted(chosen, key=lambda i: (candidates[i].hit.rank, candidates[i].start))


def asked_kinds(question: str) -> list[AnswerKind]:
    """The kinds of value the question asks for, by its question phrases."""
    folded = not has_diacritics(question)
    key = _key(question, folded=folded)
    return [kind for kind, phrases in _ASK_KEYS[folded].items() if any(p in key for p in phrases)]


def _values(sentence: str, kind: AnswerKind) -> list[str]:
    """The values of this kind the sentence holds."""
    if kind in _VALUES:
        return _VALUES[kind].findall(sentence)
    runs = _capitalised_runs(sentence)
    if kind == "person":  # a family name and the capitalised words after it: "Nguyễn Ngọc Kỳ"
        people = []
        for _, text in runs:
            names = text.split(" ")
            people += [
                " ".join(names[i:]) for i in range(len(names) - 1) if match_key(names[i]) in _FAMILY_NAMES
            ]
        return people
    # the few characters before a run hold the longest place word ("thành phố") and more
    return [text for start, text in runs if _key(sentence[max(0, start - 16) : start]).endswith(_PLACE_KEYS)]


def _capitalised_runs(sentence: str) -> list[tuple[int, str]]:
    """(start, text) of each run of capitalised words separated by single spaces: names."""
    runs: list[list[re.Match]] = []
    for m in _WORD.finditer(sentence):
        if not m.group()[0].isupper():
            continue
        if runs and sentence[runs[-1][-1].end() : m.start()] == " ":
            runs[-1].append(m)
        else:
            runs.append([m])
    return [(run[0].start(), sentence[run[0].start() : run[-1].end()]) for run in runs]


def _key(text: str, *, folded: bool = True) -> str:
    """Syllables between spaces, so that `in` matches whole syllables only."""
    key = " ".join(syllables(text))
    return f" {fold_accents(key) if folded else key} "


_PLACE_KEYS = tuple(_key(w) for w in _PLACE_WORDS)
_ASK_KEYS = {  # by whether the question is compared without diacritics
    folded: {kind: [_key(p, folded=folded) for p in phrases] for kind, phrases in _ASKS.items()}
    for folded in (False, True)
}
