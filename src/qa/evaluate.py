"""Evaluation: score retrieval and answers against a gold question set, beside the usual recipe.

Uses the public API only. A passage answers a question when its text contains the
gold answer span (or an alternative), compared after NFC, lower-casing and
whitespace collapsing. The usual recipe is LangChain's RecursiveCharacterTextSplitter
(1000 characters, 200 overlap) with the same embedder and an exact FAISS index, and
BM25 on plain syllables over the same passages. The default mode is also asked for its
answers: whether the highlighted sentences hold the gold answer (`holds_answer`), and
whether unanswerable questions, of each kind, get "not answered".
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import tempfile
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

from . import GoldError, Mode, Retriever, Settings, SettingsError
from .answer import ANSWER_PASSAGES
from .gold import KINDS, TYPES, GoldQuestion, read_gold
from .progress import progress_bars
from .report import CUTOFFS, Outcome, Report, SystemScores
from .report import check_out as check_out  # `qa eval` checks where it writes, then writes
from .report import write_report as write_report  # what `evaluate` returns
from .text import syllables

# The usual recipe, as a tutorial assembles it: no cleaning, character chunks, plain BM25.
RECIPE = {
    "boilerplate": False,
    "chunker": "recursive",
    "chunk_size": 1000,
    "chunk_overlap": 200,
    "context": "none",
    "tokenizer": "syllable",
    "accent_field": False,
    "restore_diacritics": False,
}

# Each lever of the default, changed alone (hybrid mode), to show what it is worth.
ABLATIONS: dict[str, dict] = {
    "without boilerplate removal": {"boilerplate": False},
    "title and heading in embedded text": {"context": "title+heading"},
    "chunks of 64 words": {"chunk_size": 64, "chunk_overlap": 16},
    "chunks of 150 words": {"chunk_size": 150, "chunk_overlap": 30},
    "no chunk overlap": {"chunk_overlap": 0},
    "BM25 on syllables only": {"tokenizer": "syllable"},
    "BM25 on pyvi words": {"tokenizer": "word"},
    "without the accent-folded field": {"accent_field": False},
    "reciprocal-rank fusion": {"fusion": "rrf"},
    "dense weight 0.3": {"dense_weight": 0.3},
    "dense weight 0.7": {"dense_weight": 0.7},
    "without diacritic restoration": {"restore_diacritics": False},
}


def normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


def contains_answer(text: str, answers: tuple[str, ...]) -> bool:
    haystack = normalise(text)
    return any(normalise(a) in haystack for a in answers)


def holds_answer(text: str, answers: tuple[str, ...]) -> bool:
    """Whether highlighted sentences hold an answer: its syllables run unbroken through them,
    compared lower-cased, with one tone placement, punctuation and markdown dropped, so every
    number and code of the answer appears with its parts in order. Looser rules (75% or 90% of
    the answer's syllables) accepted sentences that do not give the answer."""
    have = f" {' '.join(syllables(text))} "
    return any(f" {' '.join(syllables(a))} " in have for a in answers if syllables(a))


def score_system(
    name: str,
    retriever: Retriever,
    questions: list[GoldQuestion],
    *,
    mode: Mode,
    k: int = 10,
    judge: bool = False,
    progress: Callable[[int], None] | None = None,
) -> SystemScores:
    """Run every question; `judge` also asks for the answer: its verdict and highlighted sentences."""
    outcomes = []
    for q in questions:
        if judge:
            answer = retriever.ask(q.question, k=k, mode=mode)
            hits = list(answer.passages)
            highlighted = " ".join(s.text for s in answer.sentences)
            outcome = Outcome(
                q,
                None,
                hits[0] if hits else None,
                verdict=answer.verdict,
                relevance=answer.relevance,
                holds=bool(highlighted) and holds_answer(highlighted, q.answers) if q.answerable else None,
                within_reach=(
                    any(holds_answer(h.text, q.answers) for h in hits[:ANSWER_PASSAGES])
                    if q.answerable
                    else None
                ),
            )
        else:
            hits = retriever.search(q.question, k=k, mode=mode)
            outcome = Outcome(q, None, hits[0] if hits else None)
        rank = next((h.rank for h in hits if contains_answer(h.text, q.answers)), None)
        outcomes.append(dataclasses.replace(outcome, rank=rank if q.answerable else None))
        if progress:
            progress(1)
    return _scores(name, retriever, outcomes)


def _scores(name: str, retriever: Retriever, outcomes: list[Outcome]) -> SystemScores:
    answerable = [o for o in outcomes if o.question.answerable]
    n = max(len(answerable), 1)
    judged = bool(outcomes) and outcomes[0].verdict is not None

    def mrr(items):
        return sum(1 / o.rank for o in items if o.rank) / max(len(items), 1)

    by_type = {}
    for t in sorted({o.question.type for o in answerable}, key=lambda t: ((*TYPES, t)).index(t)):
        items = [o for o in answerable if o.question.type == t]
        by_type[t] = {
            "n": len(items),
            "recall@5": sum(1 for o in items if o.rank and o.rank <= 5) / len(items),
            "mrr": mrr(items),
        }
        if judged:
            by_type[t] |= _highlights(items)
    unanswerable = [o for o in outcomes if not o.question.answerable]
    lengths = [len(c) for c in retriever.passage_texts()]
    highlights = _highlights(answerable) if judged and answerable else {}
    return SystemScores(
        name=name,
        answerable=len(answerable),
        recall={c: sum(1 for o in answerable if o.rank and o.rank <= c) / n for c in CUTOFFS},
        mrr=mrr(answerable),
        ndcg=sum(1 / math.log2(o.rank + 1) for o in answerable if o.rank) / n,
        by_type=by_type,
        mean_passage_chars=statistics.mean(lengths) if lengths else 0.0,
        passages=len(lengths),
        nothing_found_unanswerable=(
            sum(1 for o in unanswerable if not o.found) / len(unanswerable)
            if judged and unanswerable
            else None
        ),
        nothing_found_answerable=(sum(1 for o in answerable if not o.found) / n if judged else None),
        by_kind=_kinds(unanswerable) if judged else {},
        within_reach=highlights.get("within reach"),
        highlight=highlights.get("highlight"),
        highlight_within_reach=highlights.get("highlight within reach"),
        outcomes=outcomes,
    )


def _highlights(items: list[Outcome]) -> dict[str, float]:
    """Shares of answerable questions: the answer within reach; held by the highlight; held by
    the highlight among those within reach."""
    reach = [o for o in items if o.within_reach]
    return {
        "within reach": len(reach) / len(items),
        "highlight": sum(bool(o.holds) for o in items) / len(items),
        "highlight within reach": sum(bool(o.holds) for o in reach) / len(reach) if reach else 0.0,
    }


def _kinds(unanswerable: list[Outcome]) -> dict[str, dict[str, float]]:
    """Per kind of unanswerable question (and all): how many, and the shares of each verdict."""
    groups = {kind: [o for o in unanswerable if o.question.unanswerable == kind] for kind in KINDS}
    groups = {k: v for k, v in groups.items() if v} | ({"all": unanswerable} if unanswerable else {})
    return {
        kind: {
            "n": len(items),
            "recognised": sum(o.verdict != "answered" for o in items) / len(items),
            "missing_detail": sum(o.verdict == "missing_detail" for o in items) / len(items),
            "not_found": sum(o.verdict == "not_found" for o in items) / len(items),
        }
        for kind, items in groups.items()
    }


def calibrate(outcomes: list[Outcome], *, false_rate: float = 0.05) -> float:
    """The cosine of question and closest leading passage that all but `false_rate` of the
    answerable questions reach: the verdict's reference point (`Settings.min_relevance`)."""
    values = sorted(o.relevance for o in outcomes if o.question.answerable and o.relevance is not None)
    if not values:
        raise GoldError("no answerable questions to calibrate on")
    return values[max(0, math.floor(false_rate * len(values)) - 1)] if false_rate else values[0]


def evaluate(
    gold: str | Path,
    *,
    corpus: str | Path,
    index: str | Path,
    settings: Settings,
    modes: tuple[Mode, ...] = ("hybrid", "dense", "bm25"),
    k: int = 10,
    split: str = "test",
    baselines: bool = True,
    ablations: bool = False,
    calibrate_threshold: bool = True,
    progress: bool = False,
) -> Report:
    """Score each mode of the assistant (and the usual recipe, and each lever) on one split."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:  # before hours of building, not after
        raise SettingsError(f"k must be a whole number of at least 1, not {k!r}; e.g. qa eval -k 10")
    started = time.perf_counter()
    questions = read_gold(gold)
    calibration = [q for q in questions if q.split == "dev"] if calibrate_threshold else []
    if calibrate_threshold and not any(q.answerable for q in calibration):  # before the build, not after
        raise GoldError(f"{gold} has no answerable dev question to calibrate the verdict on; add some")
    if split != "all":
        questions = [q for q in questions if q.split == split]
        if not questions:
            raise GoldError(f"no questions in split {split!r} of {gold}; use --split dev, test or all")
    with progress_bars(progress, unit="question") as open_bar:
        return _evaluate(
            gold,
            questions,
            calibration,
            corpus=corpus,
            index=index,
            settings=settings,
            modes=modes,
            k=k,
            split=split,
            baselines=baselines,
            ablations=ablations,
            open_bar=open_bar,
            started=started,
        )


def _evaluate(
    gold,
    questions,
    calibration,
    *,
    corpus,
    index,
    settings,
    modes,
    k,
    split,
    baselines,
    ablations,
    open_bar,
    started,
) -> Report:
    retriever = Retriever.build(corpus, index, settings=settings)
    scored = [(retriever, "")]
    if settings.store:  # the same index in the server store, scored beside the folder's
        served = Retriever.build(corpus, settings.store, settings=settings, embedder=retriever.embedder)
        scored.append((served, f" · {settings.store}"))

    def bar(total: int, label: str):
        return open_bar(total, label) if open_bar else None

    systems = [
        score_system(
            f"qa {mode}{suffix}",
            system,
            questions,
            mode=mode,
            k=k,
            judge=mode == settings.mode,
            progress=bar(len(questions), f"qa {mode}{suffix}"),
        )
        for system, suffix in scored
        for mode in modes
    ]
    calibrated = None
    if calibration:
        dev = score_system(
            "calibration",
            retriever,
            calibration,
            mode=settings.mode,
            k=k,
            judge=True,
            progress=bar(len(calibration), "calibrating on dev"),
        )
        calibrated = calibrate(dev.outcomes)
    lever_scores = []
    with tempfile.TemporaryDirectory(prefix="qa-eval-") as tmp:
        if baselines:
            recipe = _variant(corpus, Path(tmp) / "recipe", settings, RECIPE, retriever)
            for mode, name in (
                ("dense", "recipe: LangChain splitter + FAISS"),
                ("bm25", "recipe: BM25 syllables"),
            ):
                systems.append(
                    score_system(name, recipe, questions, mode=mode, k=k, progress=bar(len(questions), name))
                )
        if ablations:
            for n, (name, change) in enumerate(ABLATIONS.items()):
                variant = _variant(corpus, Path(tmp) / f"lever-{n}", settings, change, retriever)
                lever_scores.append(
                    score_system(
                        name, variant, questions, mode="hybrid", k=k, progress=bar(len(questions), name)
                    )
                )
    return Report(
        str(gold),
        split,
        k,
        dataclasses.asdict(settings),
        systems,
        lever_scores,
        calibrated,
        time.perf_counter() - started,
    )


def _variant(corpus, index: Path, settings: Settings, change: dict, default: Retriever) -> Retriever:
    """A retriever with `change` applied; a new index only when the change touches how it is built."""
    changed = dataclasses.replace(settings, **change)
    if changed.chunker_settings() == settings.chunker_settings():
        return Retriever(default.index, default.embedder, settings=changed)
    return Retriever.build(corpus, index, settings=changed, embedder=default.embedder)
