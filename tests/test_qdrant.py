"""The Qdrant store on the client's real local engine: the same answers as the folder store, updates by
document, reconnecting (from another process too), and a write killed half-way."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from qdrant_client import models

from qa import qdrant
from qa.chunk import chunk_document, contextualize
from qa.errors import IndexNotFoundError, SettingsError, StoreError
from qa.index import Index, write_index
from qa.ingest import parse_document
from qa.lexical import build_lexical
from qa.passage_table import PassageTable
from qa.qdrant import QdrantStore, close_local
from qa.qdrant_connection import Connection, parse_location
from qa.qdrant_lexical import field_tokens
from qa.retrieve import search
from qa.store import NewDocument, StoredDocument, open_store

CHUNKER = {
    "size": 30,
    "overlap": 5,
    "context": "title+heading",
    "tokenizer": "syllable+bigram",
    "method": "sentence",
    "boilerplate": True,
    "accent_field": True,
}

TEXTS = {
    "nghi-dinh.txt": (
        "Nghị định quy định chế độ làm việc của cán bộ, công chức\n\n"
        "Điều 5. Chế độ nghỉ phép hằng năm\n\n"
        "1. Cán bộ, công chức có đủ 12 tháng làm việc thì được nghỉ phép hằng năm 12 ngày làm việc.\n\n"
        "2. Người làm công việc nặng nhọc, độc hại được nghỉ 14 ngày làm việc mỗi năm.\n\n"
        "3. Cứ đủ 5 năm công tác thì số ngày nghỉ phép hằng năm được tăng thêm 1 ngày.\n\n"
        "4. Thủ trưởng cơ quan bố trí lịch nghỉ phép bảo đảm công việc không bị gián đoạn.\n\n"
        "Điều 6. Trách nhiệm thi hành\n\n"
        "Bộ trưởng Bộ Nội vụ hướng dẫn, kiểm tra việc thi hành Nghị định này trên phạm vi cả nước.\n"
    ),
    "cong-van.txt": (
        "Công văn số 45/UBND-VP về việc tổ chức hội nghị tổng kết\n\n"
        "Kính gửi: Các sở, ban, ngành và Ủy ban nhân dân các huyện, thị xã.\n\n"
        "Ủy ban nhân dân tỉnh đề nghị các đơn vị cử đại diện lãnh đạo dự hội nghị tổng kết công tác năm "
        "2023 vào lúc 8 giờ ngày 15 tháng 1 năm 2024 tại hội trường tỉnh.\n\n"
        "Đề nghị các đơn vị gửi danh sách đại biểu về Văn phòng Ủy ban nhân dân tỉnh trước ngày 10 tháng "
        "1 năm 2024 để tổng hợp.\n"
    ),
    "bao-cao.md": (
        "# Báo cáo kết quả giải ngân vốn đầu tư công quý III\n\n"
        "Trong quý III, tỉnh đã giải ngân được 1.250 tỷ đồng, đạt 68% kế hoạch vốn được giao.\n\n"
        "| Nguồn vốn | Kế hoạch (tỷ đồng) | Đã giải ngân (tỷ đồng) |\n"
        "|---|---|---|\n"
        "| Ngân sách trung ương | 900 | 610 |\n"
        "| Ngân sách địa phương | 940 | 640 |\n\n"
        "Nguyên nhân chậm giải ngân chủ yếu do vướng mắc trong công tác giải phóng mặt bằng.\n"
    ),
}
# Questions with and without diacritics, each with the document that answers it.
QUESTIONS = {
    "Cán bộ được nghỉ phép hằng năm bao nhiêu ngày?": "nghi-dinh.txt",
    "hoi nghi tong ket to chuc o dau": "cong-van.txt",
    "Tỉnh đã giải ngân bao nhiêu vốn đầu tư công trong quý III?": "bao-cao.md",
    "nguyen nhan cham giai ngan": "bao-cao.md",
}


def new_document(embedder, doc_id: str, text: str) -> NewDocument:
    """A document as the build hands it to a store: parsed, chunked, contextualised and embedded."""
    document = parse_document(text, doc_id=doc_id)
    chunks = tuple(chunk_document(document, size=CHUNKER["size"], overlap=CHUNKER["overlap"]))
    embedded = tuple(contextualize(c, context=CHUNKER["context"]) for c in chunks)
    keys = tuple(hashlib.sha1(t.encode("utf-8")).hexdigest().encode() for t in embedded)
    stored = StoredDocument(doc_id, document.title, hashlib.sha256(text.encode("utf-8")).hexdigest())
    return NewDocument(stored, document.text, chunks, embedded, keys, embedder.embed_passages(list(embedded)))


def manifest_of(embedder) -> dict:
    embedding = {
        "name": embedder.name,
        "segmented": embedder.segmented,
        "id": embedder.id,
        "dim": embedder.dim,
    }
    return {"embedder": embedding, "chunker": CHUNKER, "corpus": "/corpus"}


@pytest.fixture(scope="module")
def documents(embedder) -> list[NewDocument]:
    return [new_document(embedder, doc_id, text) for doc_id, text in TEXTS.items()]


@pytest.fixture
def location(tmp_path):
    yield f"qdrant-local:{tmp_path / 'store'}"
    close_local(tmp_path / "store")


@pytest.fixture
def store(location, documents, embedder):
    created = QdrantStore.create(location, manifest=manifest_of(embedder))
    created.write(documents, remove=[], skipped={"hong.pdf": ["abc", "no text"]})
    yield created
    created.close()


@pytest.fixture
def folder(tmp_path, documents, embedder) -> Index:
    """The folder store over the same documents, for the same answers."""
    path = tmp_path / "index"
    path.mkdir()
    by_id = sorted(documents, key=lambda d: d.stored.id)
    with PassageTable() as passages:
        for d in by_id:
            passages.add(d.stored.id, d.stored.title, d.text, d.chunks)
        write_index(
            path,
            documents={d.stored.id: d.stored for d in by_id},
            passages=passages,
            keys=[k for d in by_id for k in d.keys],
            vectors=np.concatenate([d.vectors for d in by_id]),
            lexical=build_lexical([t for d in by_id for t in d.embedded], scheme="syllable+bigram"),
            embedder=manifest_of(embedder)["embedder"],
            chunker=CHUNKER,
            corpus="/corpus",
            skipped={},
        )
    return Index.load(path)


def spans(store, rows) -> list[tuple[str, int, int]]:
    return [(store.chunks[r].doc_id, store.chunks[r].start, store.chunks[r].end) for r in rows]


def test_same_answers_as_the_folder_store(store, folder, embedder):
    assert len(store) == len(folder) and list(store.documents) == list(folder.documents)
    assert store.passage_counts() == folder.passage_counts()
    assert list(store.passages()) == list(folder.passages())
    for question, doc_id in QUESTIONS.items():
        # BM25: the same passages with the same scores, accented or not
        terms, folder_terms = store.lexical.terms(question), folder.lexical.terms(question)
        rows, scores = store.lexical.top(terms, 10)
        folder_rows, folder_scores = folder.lexical.top(folder_terms, 10)
        assert spans(store, rows) == spans(folder, folder_rows), question
        np.testing.assert_allclose(scores, folder_scores, rtol=1e-4)
        np.testing.assert_allclose(
            store.lexical.scores_of(terms, rows[::-1]), folder_scores[::-1], rtol=1e-4, atol=1e-5
        )
        # dense: the answering document first, same similarities
        vector = embedder.embed_query(question)
        dense_rows, sims = store.search_dense(vector, 5)
        assert store.chunks[dense_rows[0]].doc_id == doc_id
        np.testing.assert_allclose(sims, folder.search_dense(vector, 5)[1], atol=1e-5)
        np.testing.assert_allclose(store.similarity(vector, dense_rows), sims, atol=1e-5)
        # the whole retrieval, hybrid included: the same hits
        for mode in ("hybrid", "bm25", "dense"):
            hits = search(store, embedder, question, k=3, mode=mode)
            expected = search(folder, embedder, question, k=3, mode=mode)
            assert [(h.doc_id, h.start, h.end, h.text) for h in hits] == [
                (h.doc_id, h.start, h.end, h.text) for h in expected
            ]
            np.testing.assert_allclose([h.score for h in hits], [h.score for h in expected], atol=1e-4)
    for term, folded in (("nghỉ_phép", False), ("giai_ngan", True), ("của", False), ("zzz", False)):
        expected = folder.lexical.idf_of(term, folded=folded)
        found = store.lexical.idf_of(term, folded=folded)
        assert found is None if expected is None else found == pytest.approx(expected, rel=1e-5)
    assert folder.lexical.idf_of("zzz") is None and folder.lexical.idf_of("của") is not None
    for typed in ("can bo duoc nghi phep bao nhieu ngay", "giai ngan von dau tu cong", "hoi nghi tong ket"):
        assert store.lexical.restore_diacritics(typed) == folder.lexical.restore_diacritics(typed)
    assert store.lexical.restore_diacritics("giai ngan von") == "giải ngân vốn"


def test_a_search_among_some_documents(store, embedder):
    rows = store.rows_of(["cong-van.txt"])
    assert len(rows) == store.passage_counts()["cong-van.txt"]
    question = "Cán bộ được nghỉ phép bao nhiêu ngày?"
    found, _ = store.search_dense(embedder.embed_query(question), 10, rows=rows)
    assert set(found.tolist()) <= set(rows.tolist()) and len(found) == len(rows)
    found, _ = store.lexical.top(store.lexical.terms(question), 10, rows=rows)
    assert found.size and set(found.tolist()) <= set(rows.tolist())
    hits = search(store, embedder, question, k=2, docs=["cong-van.txt"])
    assert {h.doc_id for h in hits} == {"cong-van.txt"}


def test_the_documents_and_manifest_are_read_back(store, embedder):
    assert (
        store.embedder_id == embedder.id and store.manifest["embedder"] == manifest_of(embedder)["embedder"]
    )
    assert store.manifest["chunker"] == CHUNKER and store.manifest["skipped"] == {
        "hong.pdf": ["abc", "no text"]
    }
    assert store.manifest["documents"] == {d: s.sha256 for d, s in store.documents.items()}
    assert store.document_text("bao-cao.md").startswith("# Báo cáo kết quả giải ngân")
    assert store.option == f"--store {store.location}"
    chunk = store.chunks[store.rows_of(["nghi-dinh.txt"])[0]]
    assert chunk.title == "Nghị định quy định chế độ làm việc của cán bộ, công chức"
    assert store.document_text("nghi-dinh.txt")[chunk.start : chunk.end] == chunk.text


def test_add_then_remove_a_document(store, embedder):
    other = "Cán bộ được nghỉ phép hằng năm bao nhiêu ngày?"
    before = store.search_dense(embedder.embed_query(other), 3)
    extra = new_document(
        embedder, "tin-tuc.txt", "Tin tức\n\nĐoàn công tác thăm hỏi đồng bào vùng lũ Quảng Trị.\n"
    )
    store.write([extra], remove=[], skipped={})
    terms = store.lexical.terms("đồng bào vùng lũ")
    rows, _ = store.lexical.top(terms, 5)
    assert store.chunks[rows[0]].doc_id == "tin-tuc.txt" and store.lexical.idf_of("lũ") is not None

    store.write([], remove=["tin-tuc.txt"], skipped={})
    assert "tin-tuc.txt" not in store.documents
    assert store._call("count", store._passages, exact=True).count == len(store)
    rows, _ = store.lexical.top(store.lexical.terms("đồng bào vùng lũ"), 5)
    assert rows.size and not any("vùng lũ" in store.chunks[r].text for r in rows)  # "đồng" of "tỷ đồng"
    assert store.lexical.idf_of("lũ") is None
    after = store.search_dense(embedder.embed_query(other), 3)
    assert after[0].tolist() == before[0].tolist()
    np.testing.assert_allclose(after[1], before[1], atol=1e-6)


def test_replace_a_document(store, embedder):
    old_rows = store.rows_of(["cong-van.txt"])
    changed = TEXTS["cong-van.txt"].replace("hội trường tỉnh", "nhà văn hóa thiếu nhi")
    store.write([new_document(embedder, "cong-van.txt", changed)], remove=["cong-van.txt"], skipped={})
    assert store.documents["cong-van.txt"].sha256 == hashlib.sha256(changed.encode()).hexdigest()
    assert "nhà văn hóa thiếu nhi" in store.document_text("cong-van.txt")
    rows, _ = store.lexical.top(store.lexical.terms("nhà văn hóa thiếu nhi"), 3)
    assert "nhà văn hóa thiếu nhi" in store.chunks[rows[0]].text
    rows, _ = store.lexical.top(store.lexical.terms("hội trường"), 10)
    assert not any("hội trường" in store.chunks[r].text for r in rows)
    assert not set(store.rows_of(["cong-van.txt"]).tolist()) & set(old_rows.tolist())
    count = store._call("count", store._passages, exact=True).count
    assert count == len(store)  # the old version's passages are gone


def test_reconnect_in_this_process_and_another(store, location, embedder):
    question = "nguyen nhan cham giai ngan"
    terms = store.lexical.terms(question)
    expected = store.lexical.top(terms, 5)
    documents = store.documents
    store.close()
    again = open_store(location)
    assert again.documents == documents
    found = again.lexical.top(again.lexical.terms(question), 5)
    assert found[0].tolist() == expected[0].tolist()
    np.testing.assert_allclose(found[1], expected[1], rtol=1e-6)
    again.close()
    close_local(location.removeprefix("qdrant-local:"))
    script = (
        "import json, sys\nfrom qa.qdrant import QdrantStore\n"
        "s = QdrantStore.connect(sys.argv[1])\n"
        "rows, scores = s.lexical.top(s.lexical.terms(sys.argv[2]), 5)\n"
        "print(json.dumps({'documents': sorted(s.documents), 'rows': rows.tolist(), 'n': len(s)}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, location, question], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"documents": sorted(documents), "rows": expected[0].tolist(), "n": len(again)}


def test_create_with_another_embedder_starts_afresh(store, location, embedder):
    """A build with another model cannot mix its vectors with these: the collections are made anew."""
    other = manifest_of(embedder)
    other["embedder"] = {**other["embedder"], "id": "another-model", "dim": 8}
    fresh = QdrantStore.create(location, manifest=other)
    assert fresh.documents == {} and len(fresh) == 0 and fresh.embedder_id == "another-model"
    fresh.close()
    same = QdrantStore.create(location, manifest=manifest_of(embedder))
    assert same.documents == {}  # and back: recreated again, nothing mixed
    same.close()


def test_create_keeps_an_index_of_the_same_settings_unless_rebuilt(store, location, embedder):
    kept = QdrantStore.create(location, manifest=manifest_of(embedder))
    assert list(kept.documents) == list(store.documents)
    kept.close()
    rebuilt = QdrantStore.create(location, manifest=manifest_of(embedder), rebuild=True)
    assert rebuilt.documents == {}
    rebuilt.close()


def test_a_missing_index_says_how_to_build_one(tmp_path):
    location = f"qdrant-local:{tmp_path / 'empty'}"
    with pytest.raises(IndexNotFoundError, match="qa index --corpus DIR --store qdrant-local:"):
        QdrantStore.connect(location)
    close_local(tmp_path / "empty")


@pytest.mark.parametrize(
    "location",
    [
        "qdrant:/nohost",
        "http://localhost:6333/qa",
        "qdrant://localhost:notaport/qa",
        "qdrant://localhost:6333/bad name",
        "qdrant://localhost:6333/qa?replicas=0",
        "qdrant://localhost:6333/qa?ordering=fast",
        "qdrant://localhost:6333/qa?colour=blue",
        "qdrant://user:secret@localhost:6333/qa",
        "qdrant-local:",
        "qdrant-local:./x?shards=2",
    ],
)
def test_a_bad_location_shows_a_good_one(location):
    with pytest.raises(SettingsError, match="for example qdrant://localhost:6333/qa"):
        QdrantStore.connect(location)


def test_an_unreachable_server_is_a_store_error_quickly():
    started = time.perf_counter()
    with pytest.raises(
        StoreError, match=r"cannot reach the index server at qdrant://127\.0\.0\.1:1/qa.*README"
    ):
        QdrantStore.connect("qdrant://127.0.0.1:1/qa?timeout=2")
    assert time.perf_counter() - started < 5


def test_a_killed_write_is_never_seen_and_cleaned_by_the_next(store, embedder):
    """Passages of versions not committed: a new document and a new version of one."""
    question = "Hội nghị tổng kết công tác năm 2023 tổ chức ở đâu?"
    vector = embedder.embed_query(question)
    before = store.search_dense(vector, 50), store.lexical.top(store.lexical.terms(question), 50)
    killed = [
        new_document(embedder, "moi.txt", "Thông báo\n\nHội nghị tổng kết công tác năm 2023 họp ở Đà Lạt.\n"),
        new_document(embedder, "cong-van.txt", TEXTS["cong-van.txt"].replace("hội trường tỉnh", "Đà Lạt")),
    ]
    tokens = {
        d.stored.id: [field_tokens(t, scheme="syllable+bigram", folded_field=True) for t in d.embedded]
        for d in killed
    }
    store._stage(killed, tokens, {"exact": 20.0, "folded": 20.0}, pending=["moi.txt", "cong-van.txt"])
    written = sum(len(d.chunks) for d in killed)
    assert store._call("count", store._passages, exact=True).count == len(store) + written
    dense = store.search_dense(vector, 50)
    assert dense[0].tolist() == before[0][0].tolist()  # the same committed passages, none of the killed
    rows, _ = store.lexical.top(store.lexical.terms("Đà Lạt"), 50)
    assert rows.size and not any("Đà Lạt" in store.chunks[r].text for r in rows)  # "da" of "đã" only
    assert "Đà Lạt" not in " ".join(h.text for h in search(store, embedder, question, k=5))
    assert set(store.rows_of(["cong-van.txt", "moi.txt"]).tolist()) == set(
        store.rows_of(["cong-van.txt"]).tolist()
    )
    again = QdrantStore.connect(store.location)  # another reader sees the committed state only
    assert list(again.documents) == list(store.documents) and len(again) == len(store)
    again.close()

    store.write([], remove=[], skipped={})  # the next write, whatever it is, removes them
    assert store._call("count", store._passages, exact=True).count == len(store)
    assert store.manifest["pending"] == []


def test_the_stamp_changes_after_a_write(store, location, embedder, monkeypatch):
    """A write in this process is seen at once; another process's within STAMP_SECONDS."""
    reader = QdrantStore.connect(location)
    before = reader.stamp()
    store.write([], remove=["bao-cao.md"], skipped={})
    assert reader.stamp() != before and reader.stamp() == store.stamp()
    seen = reader.stamp()
    store.write([], remove=["cong-van.txt"], skipped={})
    monkeypatch.setattr(qdrant, "WRITTEN", {})  # as if another process had written
    assert reader.stamp() == seen  # read again only after STAMP_SECONDS
    monkeypatch.setattr(qdrant, "STAMP_SECONDS", 0.0)
    assert reader.stamp() != seen and reader.stamp() == store.stamp()
    reader.close()


def test_a_write_from_another_thread(store, embedder):
    """The app adds documents from its worker threads: the local engine must take writes from any."""
    extra = new_document(
        embedder, "tin-tuc.txt", "Tin tức\n\nĐoàn công tác thăm hỏi đồng bào vùng lũ Quảng Trị.\n"
    )
    failures: list[BaseException] = []

    def write() -> None:
        try:
            store.write([extra], remove=[], skipped={})
        except BaseException as err:  # reported below, in the test's thread
            failures.append(err)

    worker = threading.Thread(target=write)
    worker.start()
    worker.join(60)
    assert failures == [] and "tin-tuc.txt" in store.documents


def test_the_cluster_knobs_of_the_url_reach_the_engine(tmp_path, documents, embedder, monkeypatch):
    """shards, replicas and write consistency at creation, write ordering on every write, read
    consistency on every read: what a cluster needs, passed through (the local engine ignores them)."""
    url = "qdrant://db:6333/qa?shards=3&replicas=2&write_consistency=2&ordering=strong&read_consistency=majority"
    knobs = parse_location(url)
    local = dataclasses.replace(
        parse_location(f"qdrant-local:{tmp_path / 'store'}"),
        **{
            name: getattr(knobs, name)
            for name in ("shards", "replicas", "write_consistency", "ordering", "read_consistency")
        },
    )
    monkeypatch.setattr(qdrant, "parse_location", lambda text: local)
    calls: list[tuple[str, dict]] = []
    real = Connection.__call__

    def recording(self, method, *args, **kwargs):
        calls.append((method, kwargs))
        return real(self, method, *args, **kwargs)

    monkeypatch.setattr(Connection, "__call__", recording)
    store = QdrantStore.create(url, manifest=manifest_of(embedder))
    store.write(documents[:1], remove=[], skipped={})
    store.search_dense(documents[0].vectors[0], 3)
    store.close()
    close_local(tmp_path / "store")
    created = [kw for method, kw in calls if method == "create_collection"]
    assert created and all(
        (kw["shard_number"], kw["replication_factor"], kw["write_consistency_factor"]) == (3, 2, 2)
        for kw in created
    )
    writes = [kw for method, kw in calls if method in ("upsert", "delete")]
    assert writes and all(kw["ordering"] == models.WriteOrdering.STRONG for kw in writes)
    reads = [kw for method, kw in calls if method in ("query_points", "scroll", "retrieve")]
    assert reads and all(kw["consistency"] == models.ReadConsistencyType.MAJORITY for kw in reads)


def qa_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_a_local_store_never_settles_among_the_users_files(small_corpus, tmp_path):
    """A folder of the user's, a foreign meta.json, a file, or the corpus: one line, nothing written."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "ghi-chu.txt").write_text("Việc của tôi.\n", encoding="utf-8")
    other = tmp_path / "other"
    other.mkdir()
    (other / "meta.json").write_text('{"my": "settings"}', encoding="utf-8")
    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    refused = {
        notes: "holds files that are not a local Qdrant store (ghi-chu.txt)",
        other: "holds files that are not a local Qdrant store (meta.json)",
        a_file: "names a file",
        small_corpus / "store": "overlap",
    }
    for folder, why in refused.items():
        out = qa_cli("index", "--corpus", str(small_corpus), "--store", f"qdrant-local:{folder}")
        assert out.returncode == 1 and why in out.stderr and "Traceback" not in out.stderr, out.stderr
    asked = qa_cli("--store", f"qdrant-local:{other}", "ask", "Hội thảo tổ chức ngày nào?")
    assert (
        asked.returncode == 1
        and "not a local Qdrant store" in asked.stderr
        and "Traceback" not in asked.stderr
    )
    assert sorted(p.name for p in notes.iterdir()) == ["ghi-chu.txt"]
    assert sorted(p.name for p in other.iterdir()) == ["meta.json"]
    assert (other / "meta.json").read_text(encoding="utf-8") == '{"my": "settings"}'
    assert a_file.read_text(encoding="utf-8") == "x" and not (small_corpus / "store").exists()
