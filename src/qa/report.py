"""Report: what an evaluation measured, and how it is written (report.json, report.md, chart.png).

The retrieval tables (recall, MRR, nDCG per system and per question type) come first; then
the answers of the default system: whether the highlighted sentences hold the gold answer,
per question type, and how the verdict treats unanswerable questions, per kind.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .answer import ANSWER_PASSAGES
from .errors import SettingsError

if TYPE_CHECKING:
    from .gold import GoldQuestion
    from .retrieve import Hit

CUTOFFS = (1, 3, 5, 10)


@dataclass(frozen=True)
class Outcome:
    question: GoldQuestion
    rank: int | None  # of the first passage containing the answer, within k
    first: Hit | None  # what came first
    # for the systems asked for answers (`Retriever.ask`), else None:
    verdict: str | None = None  # "answered", "missing_detail" or "not_found"
    relevance: float | None = None
    holds: bool | None = None  # the highlighted sentences hold the gold answer (answerable only)
    within_reach: bool | None = None  # the answer is in the passages the sentences are drawn from

    @property
    def found(self) -> bool | None:
        return None if self.verdict is None else self.verdict == "answered"


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
    # share of unanswerable questions not answered, and of answerable ones (for systems that answer)
    nothing_found_unanswerable: float | None = None
    nothing_found_answerable: float | None = None
    # unanswerable kind → {"n", "recognised", "missing_detail", "not_found"} (shares of n)
    by_kind: dict[str, dict[str, float]] = field(default_factory=dict)
    # shares of answerable questions: the answer is in the passages the sentences are drawn
    # from; the highlighted sentences hold it; they hold it among those within reach
    within_reach: float | None = None
    highlight: float | None = None
    highlight_within_reach: float | None = None
    outcomes: list[Outcome] = field(default_factory=list, repr=False)


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


FILES = ("report.json", "report.md", "chart.png")


def check_out(out: str | Path) -> Path:
    """The folder `write_report` may write in: refused, before any work, when it is a file or holds
    a report.md, report.json or chart.png that is not a report of ours (it would be overwritten)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SettingsError(f"--out {str(out)!r} is a file; pass a folder for {', '.join(FILES)}")
    if (found := [name for name in FILES if (out / name).exists()]) and not _ours(out / FILES[0]):
        raise SettingsError(
            f"{str(out)!r} holds {', '.join(found)} that qa did not write; pass --out with a new folder "
            "or one holding an earlier report"
        )
    return out


def _ours(file: Path) -> bool:
    try:
        written = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(written, dict) and {"gold", "split", "systems"} <= written.keys()


def write_report(report: Report, out: str | Path) -> list[Path]:
    """report.json, report.md and chart.png in `out` (`check_out`)."""
    out = check_out(out)
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
        "verdicts": [_verdict(o) for o in default.outcomes if o.verdict is not None],
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


def _verdict(o: Outcome) -> dict:
    return {
        "id": o.question.id,
        "type": o.question.type,
        "unanswerable": o.question.unanswerable,
        "verdict": o.verdict,
        "highlight_holds_answer": o.holds,
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
        "| not answered: unanswerable / answerable |\n|---|---|---|---|---|---|---|---|---|"
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
        "| type | n | R@5 | MRR@10 | answer within reach | highlight holds answer | of those within reach |",
        "|---|---|---|---|---|---|---|",
        *(_type_row(t, v) for t, v in default.by_type.items()),
    ]
    if default.highlight is not None:
        overall = {
            "n": default.answerable,
            "recall@5": default.recall[5],
            "mrr": default.mrr,
            "within reach": default.within_reach,
            "highlight": default.highlight,
            "highlight within reach": default.highlight_within_reach,
        }
        lines += [
            _type_row("all", overall),
            "",
            "Within reach: the gold answer is in the passages the answer sentences are drawn from "
            f"(the first {ANSWER_PASSAGES}). The highlight holds the answer when the gold answer's "
            "syllables run unbroken through the highlighted sentences; a question answered "
            '"not found" holds nothing.',
        ]
    if default.by_kind:
        lines += [
            "",
            f"## {default.name}: unanswerable questions by kind",
            "",
            "| kind | n | recognised | said missing detail | said not found |",
            "|---|---|---|---|---|",
            *(
                f"| {kind} | {v['n']:.0f} | "
                + " | ".join(f"{v[c]:.2f}" for c in ("recognised", "missing_detail", "not_found"))
                + " |"
                for kind, v in default.by_kind.items()
            ),
            "",
            f"Answerable questions not answered: {default.nothing_found_answerable:.3f} "
            f"({round(default.nothing_found_answerable * default.answerable)} of {default.answerable}).",
        ]
    if report.calibrated_min_relevance is not None:
        lines += [
            "",
            f"Calibrated on the dev split: min_relevance = {report.calibrated_min_relevance:.4f} "
            "(the cosine 95% of answerable dev questions reach with their closest leading passage: "
            "the verdict's reference point for the dense signal).",
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


def _type_row(t: str, v: dict[str, float | None]) -> str:
    cells = [_share(v.get(k)) for k in ("within reach", "highlight", "highlight within reach")]
    return f"| {t} | {v['n']:.0f} | {v['recall@5']:.3f} | {v['mrr']:.3f} | " + " | ".join(cells) + " |"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


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
