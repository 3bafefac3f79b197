"""The quick evaluation that guards quality in `make test`, and the scoring rules."""

import json
import subprocess
import sys

import pytest
from conftest import ROOT, SEEDS

from qa import Settings
from qa.evaluate import KINDS, GoldError, contains_answer, evaluate, holds_answer, read_gold, write_report

GOLD = ROOT / "eval" / "gold.jsonl"
FLOORS = json.loads((ROOT / "eval" / "floors.json").read_text())
OFFICE = FLOORS["office"]  # the second gold set: documents of other kinds, questions by another hand


def test_answer_spans_match_after_nfc_case_and_spaces():
    assert contains_answer("Ngày 5-1-2022,  Ban Bí thư", ("ngày 5-1-2022, ban",))
    nfd = "Hoa\u0300 bi\u0300nh"  # NFD "Hoà bình"
    assert contains_answer(nfd, ("hoà bình",))
    assert not contains_answer("hòa bình", ("hoà bình",))  # spans are verbatim, tone placement too


def test_highlight_holds_the_answer_as_an_unbroken_run_of_syllables():
    assert holds_answer("đã triển khai thực hiện **471** khoản viện trợ", ("471 khoản viện trợ",))
    assert holds_answer("Chỉ thị 12-CT/TW, ngày 05/01/2022", ("12-CT/TW ngày 05/01/2022",))
    assert not holds_answer("bảo vệ vững chắc Tổ quốc", ("bảo vệ vững chắc độc lập",))


def test_gold_file_is_well_formed():
    questions = read_gold(GOLD)
    assert len(questions) >= 150
    assert {q.split for q in questions} == {"dev", "test"}
    assert {q.type for q in questions} >= {"fact", "paraphrase", "no_diacritics", "unanswerable"}
    unanswerable = [q for q in questions if not q.answerable]
    assert len(unanswerable) >= 60 and all(q.type == "unanswerable" for q in unanswerable)
    for kind in KINDS:  # each kind in both splits, about evenly
        dev, test = (
            sum(q.unanswerable == kind and q.split == s for q in unanswerable) for s in ("dev", "test")
        )
        assert dev >= 5 and test >= 5 and abs(dev - test) <= 2, kind
    assert all(q.unanswerable is None for q in questions if q.answerable)
    texts = {p.name: p.read_text(encoding="utf-8") for p in SEEDS.glob("*.txt")}
    for q in questions:
        if q.answerable:
            assert any(contains_answer(texts[d], q.answers) for d in (q.doc, *q.docs)), q.id


def test_bad_gold_lines_name_the_line(tmp_path):
    bad = tmp_path / "gold.jsonl"
    bad.write_text('{"id": "a", "question": "x", "answer": "y"}\n{"question": "no id"}\n', encoding="utf-8")
    with pytest.raises(GoldError, match=r"gold.jsonl:2"):
        read_gold(bad)


def quick_evaluation(gold, *, corpus, index, split):
    """The default settings' hybrid report on one split, without baselines or calibration."""
    return evaluate(
        gold,
        corpus=corpus,
        index=index,
        settings=Settings(),
        modes=("hybrid",),
        split=split,
        baselines=False,
        calibrate_threshold=False,
    )


def check_floors(measured: dict[str, float], answerable_refused: float, limits: dict) -> None:
    for name, floor in limits["floors"].items():
        assert measured[name] >= floor, f"{name} fell to {measured[name]:.3f}, floor {floor}"
    ceiling = limits["ceilings"]["answerable not answered"]
    assert answerable_refused <= ceiling, f"{answerable_refused:.3f} > {ceiling}"


def test_quick_evaluation_stays_above_the_recorded_floors(seed_index, tmp_path):
    report = quick_evaluation(GOLD, corpus=SEEDS, index=seed_index, split=FLOORS["split"])
    scores = report.systems[0]
    measured = {
        "recall@5": scores.recall[5],
        "mrr": scores.mrr,
        "no_diacritics recall@5": scores.by_type["no_diacritics"]["recall@5"],
        "paraphrase recall@5": scores.by_type["paraphrase"]["recall@5"],
        "unanswerable recognised": scores.nothing_found_unanswerable,
        "highlight holds answer": scores.highlight,
        "highlight holds answer within reach": scores.highlight_within_reach,
    }
    check_floors(measured, scores.nothing_found_answerable, FLOORS)
    assert scores.by_kind["all"]["recognised"] == scores.nothing_found_unanswerable
    assert set(scores.by_kind) == {*KINDS, "all"}
    assert scores.mean_passage_chars <= 700
    files = write_report(report, tmp_path)
    assert all(f.stat().st_size > 0 for f in files)
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| qa hybrid |" in markdown and "| false_premise |" in markdown and "| paraphrase |" in markdown
    verdicts = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["verdicts"]
    assert {v["verdict"] for v in verdicts} <= {"answered", "missing_detail", "not_found"}


def test_office_gold_file_is_well_formed():
    questions = read_gold(ROOT / OFFICE["gold"])
    corpus = ROOT / OFFICE["corpus"]
    texts = {p.name: p.read_text(encoding="utf-8") for p in corpus.iterdir()}
    assert len(questions) >= 90 and len({q.id for q in questions}) == len(questions)
    assert {q.split for q in questions} == {"dev", "test"}
    for kind in KINDS:
        assert sum(q.unanswerable == kind and q.split == "test" for q in questions) >= 5, kind
    answerable = [q for q in questions if q.answerable]
    assert len({q.doc for q in answerable}) >= 25  # spread over the documents, not a few of them
    for q in answerable:
        assert any(contains_answer(texts[d], q.answers) for d in (q.doc, *q.docs)), q.id


def test_quick_evaluation_on_office_documents_stays_above_the_recorded_floors(tmp_path):
    """The rules tuned on the seeds must hold on letters, articles, lists and tables too."""
    gold, corpus = ROOT / OFFICE["gold"], ROOT / OFFICE["corpus"]
    scores = quick_evaluation(gold, corpus=corpus, index=tmp_path / "index", split=OFFICE["split"]).systems[0]
    measured = {
        "recall@5": scores.recall[5],
        "mrr": scores.mrr,
        "unanswerable recognised": scores.nothing_found_unanswerable,
        "highlight holds answer": scores.highlight,
    }
    check_floors(measured, scores.nothing_found_answerable, OFFICE)


def test_eval_never_writes_over_a_report_it_did_not_write(tmp_path):
    """A folder holding the user's report.md, or a file, as --out: one line before any work."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "report.md").write_text("# Báo cáo của tôi\n", encoding="utf-8")
    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    for out, says in ((mine, "holds report.md that qa did not write"), (a_file, "is a file")):
        args = [
            "eval",
            "--gold",
            str(GOLD),
            "--corpus",
            str(SEEDS),
            "--index",
            str(tmp_path / "i"),
            "--out",
            str(out),
        ]
        done = subprocess.run(
            [sys.executable, "-m", "qa.cli", *args], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 1 and says in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert not (tmp_path / "i").exists()  # refused before the index was built
    assert (mine / "report.md").read_text(encoding="utf-8") == "# Báo cáo của tôi\n"
