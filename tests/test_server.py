"""The documents routes of the JSON API, on a real server with a login, over real HTTP."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from conftest import SEEDS
from served_app import read_response, request, serve

from qa import Retriever, Settings, hash_password
from qa.server import UPLOAD_FILES_PER_REQUEST

SEED_DOC = "001_5890e04fe2056a11.txt"  # the shortest seed page: quick to index
LOGIN = ("lan", "mật khẩu của Lan")
MAX_UPLOAD_MB = 1  # the server's QA_MAX_UPLOAD_MB: small, so the limits are cheap to pass
REPORT = "Báo cáo tiêm chủng quý 2.txt"
REPORT_TEXT = (
    "Báo cáo tiêm chủng quý 2\n\n"
    "Trạm y tế xã Phú Lương đã tiêm vắc-xin bại liệt cho 730 trẻ em trong quý 2 năm 2024, "
    "vượt 4% kế hoạch đề ra.\n"
)
NOTE = "ghi-chu-giao-ban.md"
NOTE_TEXT = "# Giao ban tháng 6\n\nPhòng tổ chức cán bộ sẽ nộp báo cáo thi đua trước ngày 20-6-2024.\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder):
    """A corpus of one seed page, its index, and the app serving it with one user."""
    corpus = tmp_path_factory.mktemp("documents") / "corpus"
    corpus.mkdir()
    (corpus / SEED_DOC).write_bytes((SEEDS / SEED_DOC).read_bytes())
    index = corpus.parent / "index"
    Retriever.build(corpus, index, settings=Settings(), embedder=embedder)
    env = {"QA_USERS": f"{LOGIN[0]}:{hash_password(LOGIN[1])}", "QA_MAX_UPLOAD_MB": str(MAX_UPLOAD_MB)}
    for server in serve(index, env=env):
        yield server, corpus


def _multipart(files: list[tuple[str, bytes]], *, field: str = "files") -> tuple[bytes, str]:
    """A multipart/form-data body with one part per file, and its Content-Type."""
    boundary = uuid.uuid4().hex
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + b"\r\n"
        for name, data in files
    )
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _upload(url: str, files: list[tuple[str, bytes]], **kwargs) -> tuple[int, dict]:
    body, kind = _multipart(files, **kwargs)
    status, _, raw = request(
        url + "/api/documents", method="POST", body=body, headers={"content-type": kind}, login=LOGIN
    )
    return status, json.loads(raw)


def _search(url: str, question: str) -> list[dict]:
    status, _, raw = request(
        url + "/api/search",
        method="POST",
        body=json.dumps({"question": question, "k": 3}).encode(),
        headers={"content-type": "application/json"},
        login=LOGIN,
    )
    assert status == 200, raw
    return json.loads(raw)["passages"]


def _listed(url: str) -> dict[str, dict]:
    status, _, raw = request(url + "/api/documents", login=LOGIN)
    assert status == 200
    return {d["id"]: d for d in json.loads(raw)["documents"]}


def _document(url: str, doc_id: str, suffix: str = "/file", method: str = "GET"):
    return request(f"{url}/api/documents/{quote(doc_id, safe='/')}{suffix}", method=method, login=LOGIN)


def test_an_uploaded_document_is_found_downloaded_and_removed(served):
    server, corpus = served
    status, report = _upload(
        server.url,
        [
            (REPORT, REPORT_TEXT.encode()),
            (NOTE, NOTE_TEXT.encode()),
            ("sơ đồ.png", b"\x89PNG\r\n"),
            ("rỗng.txt", b""),
        ],
    )
    assert status == 200 and report["duplicates"] == []
    added = {d["file"]: d for d in report["added"]}
    assert set(added) == {REPORT, NOTE} and all(d["uploaded"] and d["passages"] >= 1 for d in added.values())
    assert {(r["file"], r["kind"]) for r in report["rejected"]} == {
        ("sơ đồ.png", "type"),
        ("rỗng.txt", "empty"),
    }
    doc_id = added[REPORT]["id"]

    assert (
        _search(server.url, "Xã Phú Lương tiêm vắc-xin bại liệt cho bao nhiêu trẻ em?")[0]["doc_id"] == doc_id
    )
    listed = _listed(server.url)
    assert listed[doc_id]["file"] == REPORT and listed[doc_id]["title"] == "Báo cáo tiêm chủng quý 2"
    assert set(listed) == {SEED_DOC, doc_id, added[NOTE]["id"]}
    seed = listed[SEED_DOC]  # the user's own file, indexed by `qa index`
    assert (seed["file"], seed["format"], seed["pages"], seed["uploaded"], seed["ocr"]) == (
        SEED_DOC,
        "txt",
        0,
        False,
        False,
    )
    assert seed["size"] == (SEEDS / SEED_DOC).stat().st_size and seed["passages"] > 0

    status, headers, data = _document(server.url, doc_id)
    assert status == 200 and data == REPORT_TEXT.encode()
    assert headers["Content-Type"].startswith("text/plain")
    disposition = headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and unquote(disposition.split("UTF-8''")[1]) == REPORT
    assert _document(server.url, added[NOTE]["id"])[1]["Content-Type"].startswith("text/markdown")

    status, again = _upload(server.url, [("bản sao.txt", REPORT_TEXT.encode())])
    assert (
        status == 200
        and again["added"] == []
        and again["duplicates"] == [{"file": "bản sao.txt", "id": doc_id}]
    )

    status, _, raw = _document(server.url, doc_id, "", "DELETE")
    assert status == 200 and json.loads(raw) == {"removed": [doc_id]}
    assert all(p["doc_id"] != doc_id for p in _search(server.url, "Xã Phú Lương tiêm vắc-xin bại liệt"))
    assert doc_id not in _listed(server.url) and not (corpus / doc_id).exists()
    assert _document(server.url, doc_id)[0] == 404


def test_removing_the_users_own_file_keeps_it_on_disk(served):
    server, corpus = served
    status, _, raw = _document(server.url, SEED_DOC, "", "DELETE")
    assert status == 200 and json.loads(raw) == {"removed": [SEED_DOC]}
    assert (corpus / SEED_DOC).read_bytes() == (SEEDS / SEED_DOC).read_bytes()
    assert SEED_DOC not in _listed(server.url)
    status, report = _upload(server.url, [("lại.txt", (SEEDS / SEED_DOC).read_bytes())])  # the same bytes
    assert status == 200 and [d["id"] for d in report["added"]] == [SEED_DOC]  # back, under its own name
    assert _listed(server.url)[SEED_DOC]["uploaded"] is False


@pytest.mark.parametrize(
    ("doc_id", "suffix", "method"),
    [
        ("nope.txt", "/file", "GET"),
        ("nope.txt", "", "DELETE"),
        ("../../etc/passwd", "/file", "GET"),
        ("%2E%2E%2Fpyproject.toml", "/file", "GET"),
    ],
)
def test_unknown_documents_are_404(served, doc_id, suffix, method):
    server, corpus = served
    status, _, raw = _document(server.url, doc_id, suffix, method)
    error = json.loads(raw)["error"]
    assert status == 404 and "/api/documents" in error
    assert str(corpus.parent) not in error and "qa list" not in error  # no folder of the server's


def test_uploads_that_are_not_files_get_a_clear_400(served):
    url = served[0].url + "/api/documents"
    status, _, raw = request(
        url, method="POST", body=b'{"files": []}', headers={"content-type": "application/json"}, login=LOGIN
    )
    assert status == 400 and "multipart/form-data" in json.loads(raw)["error"]
    status, data = _upload(served[0].url, [(REPORT, b"x")], field="file")
    assert status == 400 and "`files`" in data["error"]


def test_a_file_over_the_size_limit_is_rejected_and_the_rest_go_in(served):
    big = b"Danh sach can bo.\n" * (MAX_UPLOAD_MB * 2**20 // 18 + 1)
    status, report = _upload(
        served[0].url, [("lớn.txt", big), ("nhỏ.txt", "Họp chi bộ ngày 3-7.\n".encode())]
    )
    assert status == 200 and [r["kind"] for r in report["rejected"]] == ["size"]
    assert [d["file"] for d in report["added"]] == ["nhỏ.txt"]


def test_a_request_over_the_upload_limit_is_refused_before_it_is_sent(served):
    """The limit is UPLOAD_FILES_PER_REQUEST files at QA_MAX_UPLOAD_MB each."""
    limit = UPLOAD_FILES_PER_REQUEST * MAX_UPLOAD_MB * 2**20
    port = int(served[0].url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        login = base64.b64encode(":".join(LOGIN).encode()).decode()
        s.sendall(
            f"POST /api/documents HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {login}\r\n"
            f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {2 * limit}\r\n\r\n".encode()
        )
        answer = read_response(s)
    assert answer.startswith(b"HTTP/1.1 413") and b'{"error":' in answer


def test_the_tab_takes_files_larger_than_other_ui_requests(served):
    """The chat's own requests stop at 1 MiB; the "Tài liệu" tab's uploads have the upload limit."""
    body, kind = _multipart([("lớn.txt", b"a" * 3 * 2**20)])
    status, _, raw = request(
        served[0].url + "/gradio_api/upload",
        method="POST",
        body=body,
        headers={"content-type": kind},
        login=LOGIN,
    )
    assert status == 200 and json.loads(raw)[0].endswith("lớn.txt")


def test_every_documents_route_asks_for_a_login(served):
    url = served[0].url
    for method, path in (
        ("GET", "/api/documents"),
        ("POST", "/api/documents"),
        ("DELETE", f"/api/documents/{SEED_DOC}"),
        ("GET", f"/api/documents/{SEED_DOC}/file"),
    ):
        status, _, raw = request(url + path, method=method)
        assert status == 401 and "error" in json.loads(raw), (method, path)
    assert (served[1] / SEED_DOC).exists()


def test_searches_answer_while_an_upload_is_indexed(served):
    """Indexing runs in a worker thread: the event loop keeps answering other requests."""
    url = served[0].url
    long_report = "".join(
        f"Mục {i}. Ủy ban nhân dân phường số {i} đã rà soát {i * 7} hộ dân và {i * 3} cơ sở kinh doanh "
        f"trong đợt kiểm tra phòng cháy năm {2000 + i % 25}.\n"
        for i in range(1, 40)
    )
    done: dict = {}
    upload = threading.Thread(
        target=lambda: done.update(
            zip(("status", "report"), _upload(url, [("kiểm tra.txt", long_report.encode())]))
        )
    )
    upload.start()
    answered = 0
    deadline = time.monotonic() + 120
    while upload.is_alive() and time.monotonic() < deadline:
        if _search(url, "Hà Nội đạt bao nhiêu điểm?"):
            answered += upload.is_alive()  # counted only if the upload was still going on
    upload.join()
    assert done["status"] == 200 and [d["file"] for d in done["report"]["added"]] == ["kiểm tra.txt"]
    assert answered >= 1, answered
    assert (
        _search(url, "Phường số 27 đã rà soát bao nhiêu hộ dân?")[0]["doc_id"]
        == done["report"]["added"][0]["id"]
    )


def _one_page_served(corpus: Path, index: Path, *, logs: Path, embedder):
    """One seed page in `corpus`, indexed at `index`, and the app serving it."""
    corpus.mkdir()
    (corpus / SEED_DOC).write_bytes((SEEDS / SEED_DOC).read_bytes())
    Retriever.build(corpus, index, settings=Settings(), embedder=embedder)
    yield from serve(index, env={"QA_USERS": f"{LOGIN[0]}:{hash_password(LOGIN[1])}"}, logs=logs)


def _leave_free(disk: Path, free: int) -> None:
    """Fill the disk with the test's own ballast file until `free` bytes are left."""
    (disk / "ballast").write_bytes(b"\0" * (shutil.disk_usage(disk).free - free))


def _refused_as_full(server, corpus: Path, status: int, body: dict, *, listed, says: str) -> None:
    """507 with the reason, the upload not left in the corpus, and the same documents listed."""
    assert status == 507, body
    assert says in body["error"], body
    assert sorted(p.name for p in corpus.iterdir() if not p.name.startswith(".qa-")) == [SEED_DOC]
    assert _listed(server.url) == listed


def test_an_upload_that_fills_the_disk_gets_507_and_changes_nothing(tmp_path, small_disk, embedder):
    """The index's disk fills up while an upload is indexed: the index answers as before."""
    corpus = tmp_path / "corpus"
    for server in _one_page_served(corpus, small_disk / "index", logs=tmp_path, embedder=embedder):
        before = _search(server.url, "Hà Nội đạt bao nhiêu điểm?")
        listed = _listed(server.url)
        _leave_free(small_disk, 64 * 1024)
        status, body = _upload(server.url, [(REPORT, (REPORT_TEXT * 300).encode())])
        _refused_as_full(server, corpus, status, body, listed=listed, says="the disk holding the index")
        assert "unchanged" in body["error"]
        assert _search(server.url, "Hà Nội đạt bao nhiêu điểm?") == before


@pytest.fixture
def corpus_on_small_disk(tmp_path, small_disk, embedder):
    """A corpus of one seed page on a 4 MB disk, its index on another, and the app serving it."""
    corpus = small_disk / "corpus"
    for server in _one_page_served(corpus, tmp_path / "index", logs=tmp_path, embedder=embedder):
        yield server, corpus


def test_an_upload_bigger_than_the_corpus_disk_has_left_gets_507_and_stores_nothing(corpus_on_small_disk):
    server, corpus = corpus_on_small_disk
    listed = _listed(server.url)
    _leave_free(corpus.parent, 184 * 1024)
    status, body = _upload(server.url, [(REPORT, (REPORT_TEXT * 1800).encode())])  # 300 KB
    _refused_as_full(server, corpus, status, body, listed=listed, says="is full")
    assert "nothing was added" in body["error"]


def test_a_disk_that_fills_up_at_the_record_gets_507_and_leaves_no_file_behind(corpus_on_small_disk):
    server, corpus = corpus_on_small_disk
    listed = _listed(server.url)
    data = (REPORT_TEXT * 70).encode()  # 12 KB: the file fits, the record of it does not
    _leave_free(corpus.parent, -(-len(data) // 4096) * 4096)  # tmpfs gives whole 4 KiB pages
    status, body = _upload(server.url, [(REPORT, data)])
    _refused_as_full(server, corpus, status, body, listed=listed, says="is full")
    assert "nothing was added" in body["error"]
    assert not (corpus / ".qa-documents.json").exists()  # the record as it was: none
    (corpus.parent / "ballast").unlink()
    status, body = _upload(server.url, [(REPORT, data)])  # space again: it goes in, not a "duplicate"
    assert status == 200 and [d["id"] for d in body["added"]] == [REPORT], body
