"""Evaluation: score retrieval against a gold question set, beside the usual recipe.

Uses the public API only. A passage answers a question when its text contains the
gold answer span (or an alternative), compared after NFC, lower-casing and
whitespace collapsing. The usual recipe is LangChain's RecursiveCharacterTextSplitter
(1000 characters, 200 overlap) with the same embedder and an exact FAISS index, and
BM25 on plain syllables over the same passages.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
import tempfile
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import QAError, Retriever, Settings
from .progress import progress_bars
from .retrieve import Hit, Mode

TYPES = ("fact", "definition", "list", "paraphrase", "no_diacritics", "multi_doc", "unanswerable")
CUTOFFS = (1, 3, 5, 10)

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
BUILD_FIELDS = (
    "boilerplate",
    "chunker",
    "chunk_size",
    "chunk_overlap",
    "context",
    "tokenizer",
    "accent_field",
)


class GoldError(QAError):
    """The gold question file cannot be used."""


@dataclass(frozen=True)
class GoldQuestion:
    id: str
    question: str
    type: str
    split: str
    doc: str | None = None
    docs: tuple[str, ...] = ()
    answer: str | None = None
    alt_answers: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        return self.answer is not None

    @property
    def answers(self) -> tuple[str, ...]:
        return ((self.answer,) if self.answer else ()) + self.alt_answers


@dataclass(frozen=True)
class Outcome:
    question: GoldQuestion
    rank: int | None  # of the first passage containing the answer, within k
    found: bool | None  # the assistant's "found" verdict, for the systems that give one
    relevance: float | None
    first: Hit | None  # what came first


@dataclass(frozen=True)
class SystemScores:
    name: str
    answerable: int
    recall: dict[int, float]
    mrr: float
    ndcg: float
    by_type: dict[str, dict[str, float]]
    mean_passage_chars: float
    passages: int
    # share of unanswerable questions answered "nothing found", and of answerable ones
    nothing_found_unanswerable: float | None = None
    nothing_found_answerable: float | None = None
    outcomes: list[Outcome] = field(default_factory=list, repr=False)


def read_gold(path: str | Path) -> list[GoldQuestion]:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise GoldError(f"cannot read gold file {path}: {err.strerror}") from None
    questions = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            q = GoldQuestion(
                id=str(row["id"]),
                question=row["question"],
                type=row.get("type", "fact"),
                split=row.get("split", "test"),
                doc=row.get("doc"),
                docs=tuple(row.get("docs") or ()),
                answer=row.get("answer"),
                alt_answers=tuple(row.get("alt_answers") or ()),
            )
        except (ValueError, KeyError, TypeError) as err:
            raise GoldError(
                f"{path}:{number} is not a gold question ({err}); each line is a JSON object with "
                '"id", "question", "answer" (null when unanswerable), "type" and "split"'
            ) from None
        questions.append(q)
    if not questions:
        raise GoldError(f"{path} has no questions")
    return questions


def normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


def contains_answer(text: str, answers: tuple[str, ...]) -> bool:
    haystack = normalise(text)
    return any(normalise(a) in haystack for a in answers)


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
    """Run every question; `judge` also asks for the found / nothing-found verdict."""
    outcomes = []
    for q in questions:
        if judge:
            answer = retriever.ask(q.question, k=k, mode=mode)
            hits, found, relevance = list(answer.passages), answer.found, answer.relevance
        else:
            hits, found, relevance = retriever.search(q.question, k=k, mode=mode), None, None
        rank = next((h.rank for h in hits if contains_answer(h.text, q.answers)), None)
        outcomes.append(
            Outcome(q, rank if q.answerable else None, found, relevance, hits[0] if hits else None)
        )
        if progress:
            progress(1)
    return _scores(name, retriever, outcomes)


def _scores(name: str, retriever: Retriever, outcomes: list[Outcome]) -> SystemScores:
    answerable = [o for o in outcomes if o.question.answerable]
    n = max(len(answerable), 1)

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
    unanswerable = [o for o in outcomes if not o.question.answerable]
    judged = outcomes and outcomes[0].found is not None
    lengths = [len(c) for c in retriever.passage_texts()]
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
        outcomes=outcomes,
    )


def calibrate(outcomes: list[Outcome], *, false_rate: float = 0.05) -> float:
    """The relevance threshold that says "nothing found" on at most `false_rate` of answerable questions."""
    values = sorted(o.relevance for o in outcomes if o.question.answerable and o.relevance is not None)
    if not values:
        raise GoldError("no answerable questions to calibrate on")
    return values[max(0, math.floor(false_rate * len(values)) - 1)] if false_rate else values[0]


@dataclass
class Report:
    gold: str
    split: str
    k: int
    settings: dict
    systems: list[SystemScores]
    ablations: list[SystemScores]
    calibrated_min_relevance: float | None
    seconds: float


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
    started = time.perf_counter()
    questions = read_gold(gold)
    calibration = [q for q in questions if q.split == "dev"] if calibrate_threshold else []
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

    def bar(total: int, label: str):
        return open_bar(total, label) if open_bar else None

    systems = [
        score_system(
            f"qa {mode}",
            retriever,
            questions,
            mode=mode,
            k=k,
            judge=mode == settings.mode,
            progress=bar(len(questions), f"qa {mode}"),
        )
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
    if not any(getattr(changed, f) != getattr(settings, f) for f in BUILD_FIELDS):
        return Retriever(default.index, default.embedder, settings=changed)
    return Retriever.build(corpus, index, settings=changed, embedder=default.embedder)


def write_report(report: Report, out: str | Path) -> list[Path]:
    """report.json, report.md and chart.png in `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(
        json.dumps(_json(report), ensure_ascii=False, indent=2), encoding="utf-8"
    )
    (out / "report.md").write_text(_markdown(report), encoding="utf-8")
    _chart(report, out / "chart.png")
    return [out / "report.json", out / "report.md", out / "chart.png"]


def _json(report: Report) -> dict:
    def system(s: SystemScores) -> dict:
        d = {f.name: getattr(s, f.name) for f in dataclasses.fields(s) if f.name != "outcomes"}
        d["recall"] = {f"@{c}": v for c, v in s.recall.items()}
        return d

    default = report.systems[0]
    return {
        "gold": report.gold,
        "split": report.split,
        "k": report.k,
        "settings": report.settings,
        "seconds": round(report.seconds, 1),
        "calibrated_min_relevance": report.calibrated_min_relevance,
        "systems": [system(s) for s in report.systems],
        "ablations": [system(s) for s in report.ablations],
        "misses": [
            _miss(o) for o in default.outcomes if o.question.answerable and (not o.rank or o.rank > 5)
        ],
    }


def _miss(o: Outcome) -> dict:
    return {
        "id": o.question.id,
        "type": o.question.type,
        "question": o.question.question,
        "answer": o.question.answer,
        "rank": o.rank,
        "first": None if o.first is None else {"doc_id": o.first.doc_id, "text": o.first.text},
    }


def _row(s: SystemScores) -> str:
    nf = (
        f"{s.nothing_found_unanswerable:.2f} / {s.nothing_found_answerable:.2f}"
        if s.nothing_found_unanswerable is not None
        else "–"
    )
    recalls = " | ".join(f"{s.recall[c]:.3f}" for c in CUTOFFS)
    return f"| {s.name} | {recalls} | {s.mrr:.3f} | {s.ndcg:.3f} | {s.mean_passage_chars:.0f} | {nf} |"


def _markdown(report: Report) -> str:
    head = (
        "| system | R@1 | R@3 | R@5 | R@10 | MRR@10 | nDCG@10 | mean passage chars "
        "| nothing found: unanswerable / answerable |\n|---|---|---|---|---|---|---|---|---|"
    )
    default = report.systems[0]
    shown = {k: v for k, v in report.settings.items() if k not in ("corpus", "index")}
    lines = [
        f"# Retrieval evaluation ({report.split} split, k={report.k})",
        "",
        f"Gold: `{report.gold}`, {default.answerable} answerable questions. Settings: `{json.dumps(shown)}`.",
        "",
        head,
        *(_row(s) for s in report.systems),
        "",
        f"## {default.name} by question type",
        "",
        "| type | n | R@5 | MRR@10 |",
        "|---|---|---|---|",
        *(f"| {t} | {v['n']} | {v['recall@5']:.3f} | {v['mrr']:.3f} |" for t, v in default.by_type.items()),
    ]
    if report.calibrated_min_relevance is not None:
        lines += [
            "",
            f"Calibrated on the dev split: min_relevance = {report.calibrated_min_relevance:.4f} "
            '(at most 5% of answerable dev questions answered "nothing found").',
        ]
    if report.ablations:
        lines += [
            "",
            "## Ablation: each lever changed alone (hybrid)",
            "",
            head,
            _row(default),
            *(_row(s) for s in report.ablations),
        ]
    misses = [o for o in default.outcomes if o.question.answerable and (not o.rank or o.rank > 5)]
    lines += ["", f"## Questions {default.name} misses in the top 5 ({len(misses)})", ""]
    for o in misses:
        first = " ".join(o.first.text.split())[:160] if o.first else "(nothing)"
        where = f"rank {o.rank}" if o.rank else f"not in top {report.k}"
        lines.append(
            f"- **{o.question.id}** ({o.question.type}, {where}) {o.question.question}  \n"
            f"  answer: «{o.question.answer}»; first: `{o.first.doc_id if o.first else ''}` {first}"
        )
    lines.append("")
    return "\n".join(lines)


def _chart(report: Report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = report.systems + report.ablations
    names = [s.name for s in systems]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(systems) + 1.5))
    y = range(len(systems))
    ax.barh([i + 0.2 for i in y], [s.recall[5] for s in systems], height=0.4, label="Recall@5")
    ax.barh([i - 0.2 for i in y], [s.mrr for s in systems], height=0.4, label="MRR@10")
    ax.set_yticks(list(y), names)
    ax.invert_yaxis()
    ax.set_xlim(0.4, 1)
    ax.axvline(0.95, color="grey", linestyle=":", linewidth=1)
    ax.axvline(0.88, color="grey", linestyle="--", linewidth=1)
    ax.set_title(f"Retrieval on the {report.split} split (dotted: R@5 target, dashed: MRR target)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
