"""The quick evaluation that guards quality in `make test`, and the scoring rules."""

import json

import pytest
from conftest import ROOT, SEEDS

from qa import Settings
from qa.evaluate import GoldError, contains_answer, evaluate, read_gold, write_report

GOLD = ROOT / "eval" / "gold.jsonl"
FLOORS = json.loads((ROOT / "eval" / "floors.json").read_text())


def test_answer_spans_match_after_nfc_case_and_spaces():
    assert contains_answer("Ngày 5-1-2022,  Ban Bí thư", ("ngày 5-1-2022, ban",))
    nfd = "Hoa\u0300 bi\u0300nh"  # NFD "Hoà bình"
    assert contains_answer(nfd, ("hoà bình",))
    assert not contains_answer("hòa bình", ("hoà bình",))  # spans are verbatim, tone placement too


def test_gold_file_is_well_formed():
    questions = read_gold(GOLD)
    assert len(questions) >= 150
    assert {q.split for q in questions} == {"dev", "test"}
    assert {q.type for q in questions} >= {"fact", "paraphrase", "no_diacritics", "unanswerable"}
    texts = {p.name: p.read_text(encoding="utf-8") for p in SEEDS.glob("*.txt")}
    for q in questions:
        if q.answerable:
            assert any(contains_answer(texts[d], q.answers) for d in (q.doc, *q.docs)), q.id


def test_bad_gold_lines_name_the_line(tmp_path):
    bad = tmp_path / "gold.jsonl"
    bad.write_text('{"id": "a", "question": "x", "answer": "y"}\n{"question": "no id"}\n', encoding="utf-8")
    with pytest.raises(GoldError, match=r"gold.jsonl:2"):
        read_gold(bad)


def test_quick_evaluation_stays_above_the_recorded_floors(seed_index, tmp_path):
    report = evaluate(
        GOLD,
        corpus=SEEDS,
        index=seed_index,
        settings=Settings(),
        modes=("hybrid",),
        split=FLOORS["split"],
        baselines=False,
        calibrate_threshold=False,
    )
    scores = report.systems[0]
    measured = {
        "recall@5": scores.recall[5],
        "mrr": scores.mrr,
        "no_diacritics recall@5": scores.by_type["no_diacritics"]["recall@5"],
        "paraphrase recall@5": scores.by_type["paraphrase"]["recall@5"],
        "nothing found on unanswerable": scores.nothing_found_unanswerable,
    }
    for name, floor in FLOORS["floors"].items():
        assert measured[name] >= floor, f"{name} fell to {measured[name]:.3f}, floor {floor}"
    assert scores.nothing_found_answerable <= FLOORS["ceilings"]["nothing found on answerable"]
    assert scores.mean_passage_chars <= 700
    files = write_report(report, tmp_path)
    assert all(f.stat().st_size > 0 for f in files)
    assert "| qa hybrid |" in (tmp_path / "report.md").read_text(encoding="utf-8")
