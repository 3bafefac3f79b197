"""The optional reranker: a real cross-encoder, built here from a random-initialised config, offline."""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import SEEDS

from qa import QueryError, Retriever, Settings, SettingsError
from qa.cli import main
from qa.errors import RerankerError
from qa.rerank import RERANK_CANDIDATES, Reranker

QUESTION = "Chỉ thị 12-CT/TW được ban hành ngày nào?"
VOCAB_WORDS = 1000  # the seed corpus's commonest syllables: passages read as words, not [UNK]


def build_cross_encoder(folder: Path, *, hidden: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """A BERT cross-encoder with random weights and a WordPiece vocabulary of seed syllables, saved
    as `save_pretrained` does. A wide initialisation spreads its scores, so passages differ."""
    torch = pytest.importorskip("torch")
    from transformers import BertConfig, BertForSequenceClassification

    counts = collections.Counter(
        word for f in SEEDS.iterdir() for word in re.findall(r"\w+", f.read_text(encoding="utf-8").lower())
    )
    vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        *"-/?.,:",
        *(w for w, _ in counts.most_common(VOCAB_WORDS)),
    ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "BertTokenizer", "do_lower_case": True, "strip_accents": False}),
        encoding="utf-8",
    )
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=512,
        num_labels=1,
        initializer_range=0.5,
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_cross_encoder(tmp_path_factory.mktemp("reranker") / "tiny")


@pytest.fixture(scope="module")
def reranked(retriever, tiny) -> Retriever:
    """The seed index, searched with the tiny cross-encoder after fusion."""
    return Retriever(retriever.index, retriever.embedder, settings=Settings(reranker=str(tiny)))


def where(hits) -> list[tuple[str, int]]:
    return [(h.doc_id, h.start) for h in hits]


def test_the_k_hits_are_the_fused_candidates_the_model_scores_best(retriever, reranked, tiny):
    from sentence_transformers import CrossEncoder

    pool = retriever.search(QUESTION, k=RERANK_CANDIDATES)
    scores = CrossEncoder(str(tiny), device="cpu").predict([(QUESTION, h.text) for h in pool])
    best = sorted(range(len(pool)), key=lambda i: -scores[i])[:5]

    hits = reranked.search(QUESTION, k=5)
    assert where(hits) == [where(pool)[i] for i in best]
    assert [h.score for h in hits] == pytest.approx([float(scores[i]) for i in best], abs=1e-5)
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert where(hits) != where(pool[:5])  # the model's order is not the fused one
    assert [h.text for h in hits] == [pool[i].text for i in best]  # verbatim passages, unchanged
    assert where(reranked.ask(QUESTION, k=5).passages) == where(hits)  # the answer reads them too


def test_k_above_the_candidate_pool_reranks_k_passages(retriever, reranked):
    k = RERANK_CANDIDATES + 5
    hits = reranked.search(QUESTION, k=k)
    assert [h.rank for h in hits] == list(range(1, k + 1))
    assert set(where(hits)) == set(where(retriever.search(QUESTION, k=k)))
    with pytest.raises(QueryError, match="at least 1"):
        reranked.search(QUESTION, k=0)


def test_a_question_typed_without_diacritics_reaches_the_model_re_accented(retriever, reranked, tiny):
    from sentence_transformers import CrossEncoder

    plain = "chi thi 12 ban hanh ngay nao"
    spelled = retriever.index.lexical.restore_diacritics(plain)
    assert spelled.startswith("chỉ thị")
    hits = reranked.search(plain, k=3)
    model = CrossEncoder(str(tiny), device="cpu")
    scores = [h.score for h in hits]
    assert scores == pytest.approx(model.predict([(spelled, h.text) for h in hits]), abs=1e-5)
    assert scores != pytest.approx(model.predict([(plain, h.text) for h in hits]), abs=1e-5)


def test_the_document_filter_still_holds(reranked):
    doc = next(iter(reranked.documents))
    assert {h.doc_id for h in reranked.search(QUESTION, k=5, docs=[doc])} == {doc}


def test_loaded_once_when_threads_ask_together(retriever, tiny, monkeypatch):
    loads = []

    class Counting(Reranker):
        def __init__(self, name):
            loads.append(name)
            super().__init__(name)

    monkeypatch.setattr("qa.api.Reranker", Counting)
    shared = Retriever(retriever.index, retriever.embedder, settings=Settings(reranker=str(tiny)))
    questions = [QUESTION, "Hà Nội đạt bao nhiêu điểm?", "chi thi 12 ban hanh ngay nao"]
    results: dict[int, list] = {}
    threads = [
        threading.Thread(target=lambda i=i, q=q: results.__setitem__(i, shared.search(q)))
        for i, q in enumerate(questions)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loads == [str(tiny)]
    assert [where(results[i]) for i in range(len(questions))] == [where(shared.search(q)) for q in questions]


def test_settings_take_the_flag_over_the_environment_over_none():
    assert Settings.from_env({}).reranker is None
    assert Settings.from_env({"QA_RERANKER": ""}).reranker is None
    assert Settings.from_env({"QA_RERANKER": "/models/a"}).reranker == "/models/a"
    assert Settings.from_env({"QA_RERANKER": "/models/a"}, reranker="/models/b").reranker == "/models/b"
    with pytest.raises(SettingsError, match="leave it unset"):
        Settings(reranker=" ")


def test_cli_flag_wins_over_qa_reranker(seed_index, reranked, tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QA_RERANKER", str(tmp_path / "not-a-model"))
    assert main(["ask", "--json", "--index", str(seed_index), "--reranker", str(tiny), QUESTION]) == 0
    passages = json.loads(capsys.readouterr().out)["passages"]
    expected = reranked.search(QUESTION, k=5)
    assert [(p["doc_id"], p["start"], p["rank"]) for p in passages] == [
        (h.doc_id, h.start, h.rank) for h in expected
    ]
    assert [p["score"] for p in passages] == pytest.approx([h.score for h in expected], abs=1e-5)

    monkeypatch.setenv("QA_RERANKER", str(tiny))  # the environment alone turns it on
    assert main(["ask", "--json", "--index", str(seed_index), QUESTION]) == 0
    assert json.loads(capsys.readouterr().out)["passages"] == passages


def test_every_asking_command_takes_the_flag(capsys):
    for command in (["ask", "--help"], ["chat", "--help"], ["eval", "--help"], ["--help"]):
        with pytest.raises(SystemExit) as done:
            main(command)
        assert done.value.code == 0 and "--reranker NAME_OR_PATH" in capsys.readouterr().out


def test_a_folder_that_is_no_model_says_so(retriever, tmp_path):
    (tmp_path / "empty").mkdir()
    r = Retriever(retriever.index, retriever.embedder, settings=Settings(reranker=str(tmp_path / "empty")))
    with pytest.raises(RerankerError, match="cannot load reranker") as caught:
        r.search(QUESTION)
    assert "\n" not in str(caught.value) and "cross-encoder" in str(caught.value)


def run(*args, **env):
    """`qa` in its own process, with QA_ and HF_ variables only from `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "HF_"))}
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args],
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=300,
    )


def test_a_model_that_cannot_be_loaded_is_one_line_from_the_cli(seed_index, tmp_path):
    missing = str(tmp_path / "no-model")
    hub_name = "qa-test/no-such-reranker"  # not cached: refused at once, the hub never asked
    outs = {
        "no folder": run("ask", "--index", str(seed_index), "--reranker", missing, QUESTION),
        "chat": run("--index", str(seed_index), "--reranker", missing),  # fails before its prompt
        "not cached": run("ask", "--index", str(seed_index), QUESTION, QA_RERANKER=hub_name),
    }
    for out in outs.values():
        assert out.returncode == 1, out.stdout
        assert out.stderr.startswith("qa: error: ") and out.stderr.strip().count("\n") == 0, out.stderr
        assert "Traceback" not in out.stderr and "Gõ câu hỏi" not in out.stdout
        assert "hf download" in out.stderr
    assert "no reranker model folder at" in outs["no folder"].stderr and outs["chat"].stdout == ""
    assert "not in the Hugging Face cache" in outs["not cached"].stderr


def test_import_and_search_without_a_reranker_leave_torch_unloaded(seed_index):
    code = (
        "import sys; from qa import Retriever; r = Retriever.load(sys.argv[1]); r.ask(sys.argv[2]); "
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))"
    )
    env = {k: v for k, v in os.environ.items() if k != "QA_RERANKER"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(seed_index), QUESTION],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
