"""Which sentences the answer highlights: how often they hold the gold answer, and their cost.

    .venv/bin/python bench/answer_sentences.py [--gold eval/gold.jsonl] [--corpus seeds] [--index DIR]
        [--repeat 5]

Builds the seed index (in a temporary folder, or at --index, reused when up to date), then,
for every answerable gold question, retrieves the passages as `Retriever.ask` does and scores
the same candidate sentences (those of the `ANSWER_PASSAGES` leading passages) several ways:

    embedder       the scorer `qa.answer` used before: each sentence embedded at question
                   time, cosine with the question's vector; second sentence within 0.015
    coverage       idf-weighted share of the question's terms the sentence contains
    + rank         minus RANK_PENALTY per passage rank below the first
    + kind         plus KIND_BONUS for a date / year / number / name / place / code the
                   question asks for and does not give
    + count        plus COUNT_BONUS for a number right before the noun of "bao nhiêu X"
    + heading      minus HEADING_PENALTY for a title or heading that mostly repeats the question
    + list         plus LIST_BONUS for a list item when the question asks for a list: what
                   `qa.answer` ships
    + passage cos  plus the question's cosine with the sentence's passage (already computed
                   for the verdict), relative to the best passage's

each as `qa.answer.pick` picks its sentences (the best; the runner-up within a margin, or the
sentence continuing the best one; a signature or byline for a "who" question whose sentences
name nobody) and with the best sentence alone, which compares the scorers without that help. The verdict
(answered or not) is the same for every scorer and is left out: sentences are scored for every
answerable question (how many the verdict does not answer is printed).

A highlight holds the answer by `qa.evaluate.holds_answer`, the rule `qa eval` reports: the gold
answer's syllables (or an alternative's) occur in the highlighted sentences as one unbroken run,
compared with `qa.text.syllables`: lower case, one tone placement, punctuation and markdown
dropped. Every number, code (28-CT/TW) and date of the answer must then appear with its parts in
the same order. Looser rules that accept a share of the answer's syllables or syllable pairs (75%
and 90% were tried) matched sentences that do not give the answer: "bảo vệ vững chắc độc lập, chủ
quyền quốc gia" found in "Giữ vững mục tiêu độc lập, chủ quyền, ... bảo vệ vững chắc Tổ quốc ...
quốc gia".

Weights are tuned on the dev split only; the test split is reported, not tuned on. Time per
`answer()` call is measured warm, on the same questions, hits and vectors, `--repeat` times,
in wall-clock and CPU time.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa import Retriever, Settings
from qa.answer import (
    ANSWER_PASSAGES,
    SECOND_SENTENCE_MARGIN,
    Candidate,
    Features,
    answer,
    candidate_sentences,
    pick,
    sentence_features,
    sentence_scores,
)
from qa.embed import E5Embedder
from qa.evaluate import holds_answer
from qa.question import AnswerKind, read_question
from qa.text import canonical

ROOT = Path(__file__).resolve().parent.parent
EMBEDDER_MARGIN = 0.015  # the second-sentence margin the embedder scorer shipped with
PASSAGE_COSINE_WEIGHT = 1.0  # 1, 2 and 5 tried on dev: none beat leaving it out (1 and 2 tie)
TYPES = ("fact", "definition", "list", "paraphrase", "no_diacritics", "multi_doc")


@dataclass(frozen=True)
class Case:
    """One answerable gold question with what retrieval gave it."""

    id: str
    question: str
    answers: tuple[str, ...]
    type: str
    split: str
    found: bool  # the verdict answers it
    kinds: tuple[AnswerKind, ...]  # what the question asks for
    candidates: list[Candidate]
    features: Features
    passage_cosine: np.ndarray  # per candidate: its passage's cosine minus the best passage's
    embedder_scores: np.ndarray  # per candidate: cosine of its embedding with the question's
    embedder_ms: float  # what computing embedder_scores took


def load_gold(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r.get("answer")]


def prepare(retriever: Retriever, rows: list[dict]) -> list[Case]:
    index, cases = retriever.index, []
    for row in rows:
        vector = retriever.embed_question(row["question"])
        hits = retriever.search(row["question"], vector=vector)
        rows_of = np.array([h.row for h in hits], dtype=np.int64)
        cosines = index.similarity(vector, rows_of)
        candidates = candidate_sentences(hits[:ANSWER_PASSAGES])
        verdict = answer(
            index, row["question"], hits, vector=vector, min_relevance=retriever.settings.min_relevance
        )
        if not candidates:
            continue
        question = read_question(index, row["question"])
        start = time.perf_counter()
        embedder_scores = retriever.embedder.embed_passages([canonical(c.text) for c in candidates]) @ vector
        embedder_ms = 1000 * (time.perf_counter() - start)
        cases.append(
            Case(
                id=row["id"],
                question=row["question"],
                answers=(row["answer"], *(row.get("alt_answers") or ())),
                type=row["type"],
                split=row["split"],
                found=verdict.found,
                kinds=question.kinds,
                candidates=candidates,
                features=sentence_features(index, question, candidates),
                passage_cosine=np.array([cosines[c.hit.rank - 1] for c in candidates]) - cosines.max(),
                embedder_scores=embedder_scores,
                embedder_ms=embedder_ms,
            )
        )
    return cases


Scorer = Callable[[Case], np.ndarray]
OFF = {"kind_bonus": 0, "count_bonus": 0, "rank_penalty": 0, "heading_penalty": 0, "list_bonus": 0}


def _with(*names: str) -> Scorer:
    """The shipped scores with only `names` of the bonuses and penalties switched on."""
    off = {k: v for k, v in OFF.items() if k not in names}
    return lambda c: sentence_scores(c.features, **off)


SCORERS: dict[str, tuple[Scorer, float]] = {  # name → (scores, second-sentence margin)
    "embedder (before)": (lambda c: c.embedder_scores, EMBEDDER_MARGIN),
    "coverage": (_with(), SECOND_SENTENCE_MARGIN),
    "+ rank": (_with("rank_penalty"), SECOND_SENTENCE_MARGIN),
    "+ kind": (_with("rank_penalty", "kind_bonus"), SECOND_SENTENCE_MARGIN),
    "+ count": (_with("rank_penalty", "kind_bonus", "count_bonus"), SECOND_SENTENCE_MARGIN),
    "+ heading": (
        _with("rank_penalty", "kind_bonus", "count_bonus", "heading_penalty"),
        SECOND_SENTENCE_MARGIN,
    ),
    "+ list (shipped)": (lambda c: sentence_scores(c.features), SECOND_SENTENCE_MARGIN),
    "+ passage cos": (
        lambda c: sentence_scores(c.features) + PASSAGE_COSINE_WEIGHT * c.passage_cosine,
        SECOND_SENTENCE_MARGIN,
    ),
}


def outcomes(cases: list[Case], scorer: Scorer, margin: float | None) -> list[tuple[bool, int, int]]:
    """Per case: (holds the answer, sentences highlighted, characters highlighted); with no
    `margin`, the best sentence alone."""
    out = []
    for case in cases:
        scores = scorer(case)
        picked = (
            [int(np.argmax(scores))]
            if margin is None
            else pick(scores, case.candidates, margin=margin, kinds=case.kinds)
        )
        chosen = [case.candidates[i].text for i in picked]
        out.append((holds_answer(" ".join(chosen), case.answers), len(chosen), sum(map(len, chosen))))
    return out


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact binomial p-value of wins against losses (ties dropped)."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(wins, losses) + 1)) / 2**n
    return min(1.0, 2 * tail)


def table(cases: list[Case], split: str) -> None:
    mine = [c for c in cases if c.split == split]
    types = [t for t in TYPES if any(c.type == t for c in mine)]
    ceiling = sum(any(holds_answer(x.text, c.answers) for x in c.candidates) for c in mine)
    not_found = sum(not c.found for c in mine)
    print(
        f"\n{split}: {len(mine)} answerable questions; the answer is in some candidate sentence for "
        f"{ceiling}; the verdict does not answer {not_found} (the same for every scorer)"
    )
    header = ["scorer", "picks", "all", *types, "sent/ans", "chars/ans", "vs embedder (won/lost, p)"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    before = {}
    for alone in (False, True):
        for name, (scorer, margin) in SCORERS.items():
            got = outcomes(mine, scorer, None if alone else margin)
            hits = [g[0] for g in got]
            base = before.setdefault(alone, hits)
            won = sum(h and not b for h, b in zip(hits, base))
            lost = sum(b and not h for h, b in zip(hits, base))
            by_type = [
                f"{sum(h for h, c in zip(hits, mine) if c.type == t)}/{sum(c.type == t for c in mine)}"
                for t in types
            ]
            row = [
                name,
                "best only" if alone else "as shipped",
                f"{sum(hits)}/{len(hits)} ({sum(hits) / len(hits):.0%})",
                *by_type,
                f"{np.mean([g[1] for g in got]):.2f}",
                f"{np.mean([g[2] for g in got]):.0f}",
                "" if hits is base else f"+{won} / -{lost}, p={sign_test(won, lost):.2f}",
            ]
            print("| " + " | ".join(row) + " |")


def timings(retriever: Retriever, rows: list[dict], cases: list[Case], repeat: int) -> None:
    """Warm time per `answer()` call, wall clock and CPU (other work on the machine inflates
    the first, not the second), beside what the embedder's sentence scoring took."""
    prepared = []
    for row in rows:
        vector = retriever.embed_question(row["question"])
        prepared.append((row["question"], retriever.search(row["question"], vector=vector), vector))
    wall, cpu = [], []
    for _ in range(repeat):
        for question, hits, vector in prepared:
            start, start_cpu = time.perf_counter(), time.thread_time()
            answer(
                retriever.index,
                question,
                hits,
                vector=vector,
                min_relevance=retriever.settings.min_relevance,
            )
            wall.append(1000 * (time.perf_counter() - start))
            cpu.append(1000 * (time.thread_time() - start_cpu))
    before = [c.embedder_ms for c in cases]
    print(f"\nanswer(), warm, {len(wall)} calls ({len(rows)} questions x {repeat}):")
    print(f"  wall p50 {np.percentile(wall, 50):.2f} ms, p95 {np.percentile(wall, 95):.2f} ms")
    print(f"  CPU  p50 {np.percentile(cpu, 50):.2f} ms, p95 {np.percentile(cpu, 95):.2f} ms")
    print(
        f"embedder sentence scoring (before), {len(before)} questions: "
        f"wall p50 {np.percentile(before, 50):.0f} ms, p95 {np.percentile(before, 95):.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gold", type=Path, default=ROOT / "eval" / "gold.jsonl")
    parser.add_argument(
        "--corpus", type=Path, default=ROOT / "seeds", help="e.g. tests/data/clean for eval/gold-office.jsonl"
    )
    parser.add_argument(
        "--index", type=Path, help="index folder to build or reuse (default: a temporary one)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="times each answer() call is timed")
    args = parser.parse_args()
    rows = load_gold(args.gold)
    with tempfile.TemporaryDirectory() as scratch:
        path = args.index or Path(scratch) / "index"
        retriever = Retriever.build(args.corpus, path, settings=Settings(), embedder=E5Embedder())
        cases = prepare(retriever, rows)
        for split in ("dev", "test"):
            table(cases, split)
        timings(retriever, rows, cases, args.repeat)


if __name__ == "__main__":
    main()
