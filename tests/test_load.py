"""bench/load.py against a real server on a tiny index: it counts answers and catches differences."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest
from conftest import ROOT

from qa import Retriever, Settings

sys.path.insert(0, str(ROOT / "bench"))  # bench/load.py imports bench/served.py
spec = importlib.util.spec_from_file_location("bench_load", ROOT / "bench" / "load.py")
load = sys.modules["bench_load"] = importlib.util.module_from_spec(spec)  # bench/ is not a package
spec.loader.exec_module(load)

GOLD = [
    {"question": "Cuộc họp giao ban tháng 3 thống nhất tổ chức hội thảo về gì?", "doc": "ghi-chu.md"},
    {"question": "Ai chịu trách nhiệm chuẩn bị tài liệu?", "doc": "ghi-chu.md"},
    {"question": "hoi thao ve hoa binh to chuc ngay nao", "doc": None},
]


@pytest.fixture
def tiny(small_corpus, embedder, tmp_path):
    """A two-document index and its gold file: three questions, one typed without diacritics."""
    index = tmp_path / "index"
    Retriever.build(small_corpus, index, settings=Settings(), embedder=embedder)
    gold = tmp_path / "gold.jsonl"
    gold.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in GOLD), encoding="utf-8")
    return index, load.queries_from(gold, variants=1)


def test_load_client_counts_identical_answers_and_catches_different_or_failed_ones(tiny, tmp_path):
    index, queries = tiny
    assert len(queries) == 8  # three questions, one also with k 1/10, dense, bm25 and its document
    with load.serve(index, log=tmp_path / "server.log") as server:
        report = load.run(server, queries, load.Plan(clients=4, per_client=5))
        c = report["concurrent"]
        assert (report["sequential"]["requests"], report["sequential"]["errors"]) == (8, 0)
        assert (c["planned"], c["same"], c["differed"], c["error"], c["timeout"]) == (20, 20, 0, 0, 0)
        assert c["answers_per_s"] > 0 and c["latency_ms"]["p50"] > 0
        assert report["server"]["rss_mb"]["max"] > 50 and report["passed"]
        assert "| concurrent | 4 | 20 | 20 | 0 | 0 | 0 | 0 |" in load.markdown(report)

        expected = [r.body for r in load.sequential(server.url, queries[:2])]
        assert expected[1]["question"] == queries[1].question and expected[1]["passages"]
        expected[1]["passages"][0]["score"] += 0.001  # as if a concurrent answer had drifted
        tally, _ = load.concurrent(server.url, queries[:2], expected, load.Plan(clients=2, per_client=2))
        assert (tally.counts["same"], tally.counts["differed"]) == (2, 2)
        assert {e["request"]["question"] for e in tally.examples} == {queries[1].question}
        assert tally.examples[0]["difference"].startswith("$.passages[0].score: ")

        slow = load.Plan(clients=1, per_client=2, timeout_s=0.001)
        tally, _ = load.concurrent(server.url, queries[:1], expected[:1], slow)
        assert tally.counts["timeout"] == 2 and tally.counts["same"] == 0
