"""Managing documents: add, remove and list them on a real index with the real embedder."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import unicodedata
from pathlib import Path, PurePath

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from qa import CorpusError, DocumentNotFoundError, Retriever, Settings, Upload, UploadError
from qa.corpus import (
    MAX_NAME_BYTES,
    RECORD,
    Record,
    Uploaded,
    corpus_files,
    read_record,
    safe_name,
    store,
    write_record,
)
from qa.readers import SUFFIXES

OWN = "cong-van.txt"
OWN_TEXT = (
    "Công văn số 15/UBND về việc tổ chức tết trồng cây.\n\n"
    "Ủy ban nhân dân phường đề nghị các tổ dân phố trồng 500 cây xanh trước ngày 20-2-2024.\n"
)
NOTE_TEXT = (
    "# Ghi chú\n\nBuổi tập huấn phòng cháy chữa cháy diễn ra tại nhà văn hóa khu 3 vào sáng thứ Bảy.\n"
)
NEW_TEXT = "Báo cáo tuần\n\nĐoàn kiểm tra của Sở Y tế làm việc tại bệnh viện huyện Tam Nông ngày 14-5-2024.\n"
NEW_QUESTION = "Đoàn kiểm tra của Sở Y tế làm việc ở bệnh viện nào?"


@pytest.fixture
def library(tmp_path, embedder) -> Retriever:
    """A two-document corpus of the user's own files, indexed; uploads capped at 1 MiB."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / OWN).write_text(OWN_TEXT, encoding="utf-8")
    (corpus / "ghi-chu.md").write_text(NOTE_TEXT, encoding="utf-8")
    return Retriever.build(corpus, tmp_path / "index", settings=Settings(max_upload_mb=1), embedder=embedder)


def corpus_of(r: Retriever) -> Path:
    return Path(r.index.manifest["corpus"])


def test_an_added_document_is_listed_and_answers_at_once(library):
    report = library.add_documents([Upload("Báo cáo tuần.txt", NEW_TEXT.encode())])
    [info] = report.added
    assert (info.id, info.file, info.format, info.pages, info.uploaded) == (
        "Báo cáo tuần.txt",
        "Báo cáo tuần.txt",
        "txt",
        0,
        True,
    )
    assert info.passages >= 1 and info.size == len(NEW_TEXT.encode())
    assert report.build.added == ("Báo cáo tuần.txt",) and report.build.embedded >= 1
    assert not report.duplicates and not report.rejected
    assert (corpus_of(library) / "Báo cáo tuần.txt").read_text(encoding="utf-8") == NEW_TEXT
    answer = library.ask(NEW_QUESTION, k=1)  # the same Retriever, no reload asked for
    assert answer.passages[0].doc_id == "Báo cáo tuần.txt" and "Tam Nông" in answer.passages[0].text
    listed = {d.id: d for d in library.list_documents()}
    assert list(listed) == sorted(listed) == ["Báo cáo tuần.txt", OWN, "ghi-chu.md"]
    assert listed[OWN].uploaded is False and listed[OWN].file == OWN and listed[OWN].added[:2] == "20"
    assert library.document_file("Báo cáo tuần.txt").read_bytes() == NEW_TEXT.encode()
    assert library.document_pages("Báo cáo tuần.txt") == ()


def test_bad_files_are_rejected_with_a_reason_and_the_others_go_in(library, tmp_path):
    on_disk = tmp_path / "tren-dia.md"
    on_disk.write_text("Lịch trực ban tháng 6 do phòng Hành chính phân công.\n", encoding="utf-8")
    seen = []
    report = library.add_documents(
        [
            Upload("anh.png", b"\x89PNG"),
            Upload("trong.txt", b""),
            Upload("lon.txt", b"a" * (1024 * 1024 + 1)),
            Upload("moi.txt", NEW_TEXT.encode()),
            on_disk,
            str(tmp_path / "khong-co.txt"),
        ],
        progress=lambda done, total, label: seen.append((done, total, label)),
    )
    assert sorted(d.id for d in report.added) == ["moi.txt", "tren-dia.md"]
    kinds = {r.file: r.kind for r in report.rejected}
    assert kinds == {
        "anh.png": "type",
        "trong.txt": "empty",
        "lon.txt": "size",
        str(tmp_path / "khong-co.txt"): "unreadable",
    }
    reasons = " ".join(r.reason for r in report.rejected)
    assert ".png" in reasons and "QA_MAX_UPLOAD_MB" in reasons and "No such file" in reasons
    assert sorted(corpus_files(corpus_of(library)).files) == [
        "cong-van.txt",
        "ghi-chu.md",
        "moi.txt",
        "tren-dia.md",
    ]
    assert on_disk.exists()  # a file given by path is copied, not moved
    assert ("storing files" in {s[2] for s in seen}) and (6, 6, "storing files") in seen
    assert any(label == "embedding passages" and done == total for done, total, label in seen)


def test_nothing_to_add_is_an_error_and_nothing_new_builds_nothing(library):
    with pytest.raises(UploadError, match="no files given"):
        library.add_documents([])
    report = library.add_documents([Upload("anh.jpg", b"x")])
    assert report.rejected[0].kind == "type" and not report.build.touched
    assert report.build.passages == len(library)


def test_the_same_bytes_are_not_stored_twice(library):
    first = library.add_documents(
        [Upload("moi.txt", NEW_TEXT.encode()), Upload("lan-2.txt", NEW_TEXT.encode())]
    )
    assert [d.id for d in first.added] == ["moi.txt"]
    assert [(d.file, d.id) for d in first.duplicates] == [("lan-2.txt", "moi.txt")]
    again = library.add_documents(
        [Upload("ban-sao.txt", OWN_TEXT.encode()), Upload("moi.txt", NEW_TEXT.encode())]
    )
    assert [(d.file, d.id) for d in again.duplicates] == [("ban-sao.txt", OWN), ("moi.txt", "moi.txt")]
    assert not again.added and not again.build.touched
    assert sorted(p.name for p in corpus_of(library).iterdir() if not p.name.startswith(".")) == [
        OWN,
        "ghi-chu.md",
        "moi.txt",
    ]


def test_a_taken_name_gets_a_number_and_no_file_is_overwritten(library):
    corpus = corpus_of(library)
    report = library.add_documents(
        [Upload(OWN, NEW_TEXT.encode()), Upload(OWN, b"Thong bao lich hop chi bo thang 7.\n")]
    )
    assert [d.id for d in report.added] == ["cong-van (2).txt", "cong-van (3).txt"]
    assert (corpus / OWN).read_text(encoding="utf-8") == OWN_TEXT
    assert [d.file for d in report.added] == [OWN, OWN]


def test_names_are_made_safe(library, tmp_path):
    report = library.add_documents(
        [
            Upload("../../etc/passwd.txt", b"Mat khau cua he thong.\n"),
            Upload("con\x00trol\x1b[2J.txt", b"Ky tu dieu khien.\n"),
            Upload("ẩn.TXT", "Tài liệu ẩn danh.\n".encode()),
            Upload(".an.md", b"Tep an.\n"),
            Upload("dài" * 200 + ".md", "Một tên tệp rất dài.\n".encode()),
        ]
    )
    ids = [d.id for d in report.added]
    assert ids[:4] == ["passwd.txt", "control[2J.txt", "ẩn.txt", "an.md"]
    assert len(ids[4].encode()) <= MAX_NAME_BYTES and ids[4].startswith("dàidài") and ids[4].endswith(".md")
    corpus = corpus_of(library)
    assert all((corpus / doc_id).is_file() and "/" not in doc_id for doc_id in ids)
    assert not (tmp_path / "etc").exists()
    assert [d.file for d in report.added][:3] == ["passwd.txt", "con\x00trol\x1b[2J.txt", "ẩn.TXT"]


def test_removing_an_uploaded_document_deletes_its_file(library):
    library.add_documents([Upload("moi.txt", NEW_TEXT.encode())])
    report = library.remove_documents(["moi.txt", "khong-co.txt"])
    assert report.removed == ("moi.txt",) and report.missing == ("khong-co.txt",)
    assert report.build.removed == ("moi.txt",)
    assert not (corpus_of(library) / "moi.txt").exists()
    assert "moi.txt" not in library.documents
    assert all(h.doc_id != "moi.txt" for h in library.search(NEW_QUESTION, k=3))
    again = library.add_documents([Upload("moi.txt", NEW_TEXT.encode())])  # back, under its name
    assert [d.id for d in again.added] == ["moi.txt"]
    assert library.search(NEW_QUESTION, k=1)[0].doc_id == "moi.txt"


def test_removing_a_users_own_file_keeps_it_on_disk_and_out_of_every_index(library, tmp_path, embedder):
    corpus = corpus_of(library)
    report = library.remove_documents([OWN])
    assert report.removed == (OWN,)
    assert (corpus / OWN).read_text(encoding="utf-8") == OWN_TEXT  # never deleted
    assert OWN not in library.documents
    assert all(h.doc_id != OWN for h in library.search("trồng 500 cây xanh", k=3))
    assert json.loads((corpus / RECORD).read_text(encoding="utf-8"))["excluded"].keys() == {OWN}
    # `qa index` on the same folder honours the removal: the same index, and a new one
    again = Retriever.build(corpus, library.index.path, settings=Settings(), embedder=embedder)
    assert not again.report.touched and OWN not in again.documents
    fresh = Retriever.build(corpus, tmp_path / "fresh", settings=Settings(), embedder=embedder)
    assert set(fresh.documents) == {"ghi-chu.md"}
    assert OWN not in {s.file for s in fresh.report.skipped}  # left out silently
    # adding its bytes again brings the user's own file back, not a copy
    back = library.add_documents([Upload("cong van.txt", OWN_TEXT.encode())])
    assert [(d.id, d.uploaded) for d in back.added] == [(OWN, False)]
    assert sorted(p.name for p in corpus.iterdir() if not p.name.startswith(".")) == [OWN, "ghi-chu.md"]
    assert library.search("trồng 500 cây xanh", k=1)[0].doc_id == OWN


def test_unknown_ids_and_the_last_document(library):
    assert library.remove_documents(["khong-co.txt"]).missing == ("khong-co.txt",)
    with pytest.raises(DocumentNotFoundError, match="qa list"):
        library.document_file("../index/manifest.json")
    with pytest.raises(DocumentNotFoundError):
        library.document_pages("khong-co.txt")
    library.remove_documents(["ghi-chu.md"])
    with pytest.raises(CorpusError, match="add another document first"):
        library.remove_documents([OWN])
    assert set(library.documents) == {OWN} and (corpus_of(library) / OWN).exists()


def test_a_file_the_build_cannot_read_is_rejected_and_not_left_behind(library):
    report = library.add_documents(
        [Upload("hong.pdf", b"%PDF-1.7 this is not a PDF"), Upload("moi.txt", NEW_TEXT.encode())]
    )
    assert [d.id for d in report.added] == ["moi.txt"]
    [bad] = report.rejected
    assert (bad.file, bad.kind) == ("hong.pdf", "unreadable") and bad.reason
    assert not (corpus_of(library) / "hong.pdf").exists()
    record = json.loads((corpus_of(library) / RECORD).read_text(encoding="utf-8"))
    assert set(record["uploaded"]) == {"moi.txt"}


def killed_add(corpus: Path, name: str, data: bytes) -> str:
    """What `qa add` killed during its index update leaves: the file stored and recorded, not indexed."""
    doc_id = store(corpus, safe_name(name), data)
    uploaded = {
        **read_record(corpus).uploaded,
        doc_id: Uploaded(name, hashlib.sha256(data).hexdigest(), "2024-05-14T09:00:00+07:00"),
    }
    write_record(corpus, Record(uploaded))
    return doc_id


def test_a_file_a_killed_add_left_unindexed_is_indexed_when_added_again(library):
    corpus = corpus_of(library)
    killed_add(corpus, "moi.txt", NEW_TEXT.encode())
    assert "moi.txt" not in library.documents
    report = library.add_documents([Upload("moi.txt", NEW_TEXT.encode())])
    assert [(d.id, d.file, d.uploaded) for d in report.added] == [("moi.txt", "moi.txt", True)]
    assert not report.duplicates and not report.rejected
    assert library.ask(NEW_QUESTION, k=1).passages[0].doc_id == "moi.txt"
    again = library.add_documents([Upload("ban-sao.txt", NEW_TEXT.encode())])  # indexed now: a duplicate
    assert [(d.file, d.id) for d in again.duplicates] == [("ban-sao.txt", "moi.txt")] and not again.added
    library.remove_documents(["moi.txt"])
    assert not (corpus / "moi.txt").exists()


def test_a_file_left_unindexed_that_cannot_be_read_is_rejected_and_only_qas_own_deleted(library):
    corpus = corpus_of(library)
    broken = b"%PDF-1.7 this is not a PDF"
    killed_add(corpus, "hong.pdf", broken)
    (corpus / "cua-toi.pdf").write_bytes(broken + b" either")  # the user's own, put there by hand
    report = library.add_documents([Upload("hong.pdf", broken), Upload("cua toi.pdf", broken + b" either")])
    assert sorted((r.file, r.kind) for r in report.rejected) == [
        ("cua toi.pdf", "unreadable"),
        ("hong.pdf", "unreadable"),
    ]
    assert all(r.reason for r in report.rejected) and not report.added and not report.duplicates
    assert not (corpus / "hong.pdf").exists() and (corpus / "cua-toi.pdf").read_bytes() == broken + b" either"
    assert not read_record(corpus).uploaded


def test_a_file_name_that_is_not_utf8_keeps_its_readable_part(library, tmp_path):
    path = os.fsencode(tmp_path) + b"/x\xff.txt"
    with open(path, "wb") as f:
        f.write(NEW_TEXT.encode())
    given = os.fsdecode(path)  # as `qa add` gets it from the command line
    [info] = library.add_documents([given]).added
    assert (info.id, info.file) == ("x_.txt", "x\\udcff.txt")
    assert (corpus_of(library) / "x_.txt").read_bytes() == NEW_TEXT.encode()


def test_a_name_uploaded_in_nfd_is_recorded_and_shown_in_nfc(library):
    name = "Báo cáo tuần.txt"
    [info] = library.add_documents([Upload(unicodedata.normalize("NFD", name), NEW_TEXT.encode())]).added
    assert info.id == info.file == name
    assert [d.file for d in library.list_documents() if d.uploaded] == [name]
    record = json.loads((corpus_of(library) / RECORD).read_text(encoding="utf-8"))
    assert record["uploaded"][name]["file"] == name


def test_all_documents_stay_the_same_when_the_corpus_is_indexed_again(library, tmp_path, embedder):
    library.add_documents(
        [Upload("moi.txt", NEW_TEXT.encode()), Upload("b.md", b"# Lich hop\n\nHop giao ban thu Hai.\n")]
    )
    library.remove_documents(["ghi-chu.md", "b.md"])
    fresh = Retriever.build(corpus_of(library), tmp_path / "again", settings=Settings(), embedder=embedder)
    assert fresh.documents == library.documents and set(fresh.documents) == {OWN, "moi.txt"}


def test_searches_keep_answering_while_documents_are_added(library):
    question = "Buổi tập huấn phòng cháy chữa cháy diễn ra ở đâu?"
    adding = threading.Event()
    answers, failures = [], []

    def ask():
        while adding.is_set():
            try:
                answers.append(library.ask(question, k=1).passages[0].doc_id)
            except Exception as err:  # the assertion below reports it
                failures.append(err)

    adding.set()
    asker = threading.Thread(target=ask)
    asker.start()
    try:
        long = "\n\n".join(
            f"Đoạn {n}: hội nghị cán bộ lần thứ {n} bàn kế hoạch năm {2000 + n}." for n in range(40)
        )
        library.add_documents([Upload("dai.txt", long.encode())])
    finally:
        adding.clear()
        asker.join(timeout=60)
    assert not failures and len(answers) > 1 and set(answers) == {"ghi-chu.md"}
    assert "dai.txt" in library.documents


def test_a_damaged_record_is_set_aside_and_no_file_is_lost(library, caplog):
    library.add_documents([Upload("moi.txt", NEW_TEXT.encode())])
    corpus = corpus_of(library)
    (corpus / RECORD).write_text('{"uploaded": {"moi.txt": ', encoding="utf-8")
    listed = {d.id: d for d in library.list_documents()}
    assert listed["moi.txt"].uploaded is False  # not known to be ours: never deleted
    assert "ignoring the record" in caplog.text
    library.remove_documents(["moi.txt"])
    assert (corpus / "moi.txt").exists() and "moi.txt" not in library.documents
    assert (corpus / ".qa-documents.damaged.json").read_text(encoding="utf-8") == '{"uploaded": {"moi.txt": '
    (corpus / RECORD).write_text('{"uploaded": [1, 2], "excluded": {"ghi-chu.md": 5}}', encoding="utf-8")
    assert set(corpus_files(corpus).files) == {OWN, "moi.txt"}  # the readable part still counts


SUFFIX_CASES = [".txt", ".TXT", ".Md", ".pdf", ".docx", ".HTM", ".exe", ".tar.GZ", ".jpeg"]
ANY_TEXT = st.text(st.characters(exclude_categories=()))  # lone surrogates and controls too


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
@example("../../etc/passwd")
@example("con\x00trol.txt")
@example("...")
def test_a_safe_name_is_safe_for_any_input(name):
    safe = safe_name(name)
    assert safe and "/" not in safe and "\\" not in safe and "\x00" not in safe
    assert not safe.startswith((".", " ", "-")) and not safe.endswith((" ", "."))
    assert len(safe.encode("utf-8")) <= MAX_NAME_BYTES
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in safe)
    assert unicodedata.is_normalized("NFC", safe)
    assert safe_name(safe) == safe


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT, st.sampled_from(SUFFIX_CASES))
def test_a_safe_name_keeps_the_type_a_name_states(stem, suffix):
    assert PurePath(safe_name(stem + suffix)).suffix == "." + suffix.rsplit(".", 1)[1].lower()


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT.filter(lambda name: "." not in name))
@example("a" * 195 + "\u2024txt")
def test_a_safe_name_gives_no_type_to_a_name_without_one(name):
    assert PurePath(safe_name(name)).suffix == ""


def test_cutting_a_long_name_never_makes_up_a_type():
    assert PurePath(safe_name("a" * 195 + ".txt" + "é" * 10)).suffix.lower() not in SUFFIXES
