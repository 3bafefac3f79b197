"""Answer: the sentences that best answer a question, or a plain "nothing found".

The retrieved passages are always returned. On top of them, the answer is the one or
two sentences of the leading passages closest to the question in the embedder's
space, each citing the passage it comes from. When even the best passage is far from
the question (cosine below a threshold calibrated on the gold questions), the
corpus most likely does not answer it, and the answer says so instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .chunk import split_sentences
from .embed import Embedder
from .index import Index
from .retrieve import Hit
from .text import canonical, fold_accents, has_diacritics, match_key, words

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
SECOND_SENTENCE_MARGIN = 0.015  # a second sentence joins the answer when it scores this close


@dataclass(frozen=True)
class AnswerSentence:
    text: str  # verbatim: document[start:end]
    rank: int  # of the passage it cites, [rank]
    start: int
    end: int
    score: float


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
    embedder: Embedder,
    question: str,
    hits: list[Hit],
    *,
    vector: np.ndarray,
    min_relevance: float,
) -> Answer:
    """Judge the hits for `question` (embedded as `vector`) and pick the answer sentences."""
    rows = np.array([index.row_of(h.doc_id, h.start, h.end) for h in hits], dtype=np.int64)
    relevance = float(index.similarity(vector, rows).max()) if len(rows) else 0.0
    found = relevance >= min_relevance
    sentences = _best_sentences(embedder, vector, hits[:ANSWER_PASSAGES]) if found else ()
    return Answer(question, found, sentences, tuple(hits), relevance)


def _best_sentences(embedder: Embedder, vector: np.ndarray, hits: list[Hit]) -> tuple[AnswerSentence, ...]:
    candidates = [
        (hit, hit.start + a, hit.start + b, hit.text[a:b])
        for hit in hits
        for a, b in split_sentences(hit.text)
    ]
    candidates = [c for c in candidates if len(c[3].split()) >= 3]
    if not candidates:
        return ()
    scores = embedder.embed_passages([canonical(c[3]) for c in candidates]) @ vector
    order = np.argsort(-scores, kind="stable")
    best = float(scores[order[0]])
    chosen = [i for i in order[:2] if scores[i] >= best - SECOND_SENTENCE_MARGIN]
    chosen.sort(key=lambda i: (candidates[i][0].rank, candidates[i][1]))
    return tuple(
        AnswerSentence(
            candidates[i][3], candidates[i][0].rank, candidates[i][1], candidates[i][2], float(scores[i])
        )
        for i in chosen
    )
