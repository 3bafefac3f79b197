"""The chat app as users meet it: the Gradio chat, the source viewer, a real server and a real browser."""

from __future__ import annotations

import html
import json
import logging
import re
import time

import pytest
from conftest import SEED_DOC
from served_app import ask, post, request, serve

from qa import Retriever, Settings
from qa.server import source_link

# A document id with every character a URL treats specially, a space, Vietnamese letters and a folder.
ODD_DOC = "thư mục/báo cáo #2 ?50% tiêm chủng.txt"


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
    yield from serve(index)


def test_source_viewer_serves_only_indexed_documents(server):
    status, _, page = request(server.url + f"/source/{SEED_DOC}?start=10&end=60")
    assert status == 200 and "<mark id='hit'>" in page.decode() and "Hà Nội chú trọng" in page.decode()
    for path in ("/source/..%2Fpyproject.toml", "/source/%2Fetc%2Fpasswd", "/source/nope.txt"):
        status, _, raw = request(server.url + path)
        assert status == 404 and "error" in json.loads(raw)


def _viewer(url: str, query: str) -> tuple[str, str]:
    """The document as the viewer shows it (tags removed), and the highlighted part."""
    status, _, raw = request(f"{url}/source/{SEED_DOC}?{query}")
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
    status, _, raw = request(f"{server.url}/source/{SEED_DOC}?{query}")
    assert status == 400 and set(json.loads(raw)) == {"error"}


def test_gradio_reports_no_usage(server):
    _, _, raw = request(server.url + "/config")
    assert json.loads(raw)["analytics_enabled"] is False


def test_source_links_survive_ids_with_url_characters(odd_server):
    link = html.unescape(source_link(ODD_DOC, 5, 25))
    assert "#" not in link.split("#hit")[0] and "?" not in link.split("?start=")[0]
    status, _, page = request(odd_server.url + link.split("#")[0])
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
        _, _, raw = request(
            server.url + "/gradio_api/call/respond",
            method="POST",
            body=json.dumps({"data": data}).encode(),
            headers={"content-type": "application/json"},
        )
        _, _, events = request(server.url + "/gradio_api/call/respond/" + json.loads(raw)["event_id"])
        kind, data = re.search(r"event: (\w+)\ndata: (.*)", events.decode()).groups()
        assert kind == "complete" and "Lỗi" in json.dumps(json.loads(data), ensure_ascii=False)
    assert "Traceback" not in server.log.read_text()


def test_chat_answers_cites_and_opens_the_source(server, browser):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(server.url)
    ask(page, "Hà Nội đạt bao nhiêu điểm trong đợt khảo sát về đối ngoại nhân dân?")
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

    ask(page, "Giá vé tàu hoả Hà Nội đi Sài Gòn dịp Tết là bao nhiêu?")
    page.locator(".qa-none").first.wait_for(timeout=60_000)
    assert "Không tìm thấy" in page.locator(".qa-none").first.inner_text()
    assert page.get_by_text("Các đoạn gần nhất").count() == 1
    assert page.locator(".qa-answer").count() == 1  # the first answer is still in the history
    ask(page, "Kinh phí hoạt động năm 2023 của HAUFO là bao nhiêu?")
    page.locator(".qa-none").nth(1).wait_for(timeout=60_000)
    assert "nhưng không nêu kinh phí hoạt động" in page.locator(".qa-none").nth(1).inner_text()
    page.close()


def test_chat_says_a_pasted_document_is_too_long_and_goes_on(server, browser):
    page = browser.new_page()
    page.goto(server.url)
    started = time.monotonic()
    ask(page, "Hà Nội đạt bao nhiêu điểm? " * 50_000)  # 1.35 million characters, 1.9 MB
    refusal = page.locator(".qa-none").first
    refusal.wait_for(timeout=30_000)
    assert "vượt giới hạn 2.000 ký tự" in refusal.inner_text()
    assert time.monotonic() - started < 30
    page.locator("#chat").get_by_label("Clear").click()  # the chat's bin icon forgets the history
    refusal.wait_for(state="detached")
    ask(page, "Hà Nội đạt bao nhiêu điểm trong đợt khảo sát về đối ngoại nhân dân?")
    page.locator(".qa-answer").first.wait_for(timeout=60_000)
    assert "80,77 điểm" in page.locator(".qa-answer").first.inner_text()
    assert page.locator(".qa-none").count() == 0 and page.locator(".qa-passage").count() == 5
    page.get_by_role("button", name="Xoá hội thoại").click()
    page.locator(".qa-answer").wait_for(state="detached")
    ask(page, "Giá vé tàu hoả Hà Nội đi Sài Gòn dịp Tết là bao nhiêu?")
    page.locator(".qa-none").first.wait_for(timeout=60_000)
    assert page.locator(".qa-answer").count() == 0  # nothing of the cleared chat comes back
    page.close()


def test_document_html_is_shown_as_text(odd_server, browser):
    page = browser.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(odd_server.url)
    ask(page, "Trang quản trị bị chèn mã gì vào biên bản họp?")
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
    ask(page, "Trạm y tế phường Bến Nghé tiêm vắc-xin sởi cho bao nhiêu trẻ em?")
    passage = page.locator(".qa-passage").filter(has_text="1.250 trẻ em").first
    passage.wait_for(timeout=60_000)
    with page.context.expect_page() as opened:
        passage.get_by_text("Xem trong văn bản").click()
    source = opened.value
    source.wait_for_load_state()
    assert "1.250 trẻ em" in source.locator("mark#hit").inner_text()
    assert ODD_DOC in source.locator("p.meta code").inner_text()
    page.close()


def test_a_running_server_answers_from_a_rebuilt_index(small_corpus, tmp_path, embedder, browser):
    index = tmp_path / "index"
    Retriever.build(small_corpus, index, settings=Settings(), embedder=embedder)
    served = serve(index)
    url = next(served).url
    try:
        question = {"question": "Đoàn đại biểu thăm Lào vào tháng mấy?", "k": 1}
        assert post(url, question)[1]["passages"][0]["doc_id"] != "moi.txt"
        (small_corpus / "moi.txt").write_text(
            "Đoàn đại biểu thăm Lào vào tháng 5 năm 2024.\n", encoding="utf-8"
        )
        Retriever.build(small_corpus, index, settings=Settings(), embedder=embedder)  # while it serves
        status, data = post(url, question)
        assert status == 200 and data["passages"][0]["doc_id"] == "moi.txt"
        assert json.loads(request(url + "/api/health")[2])["documents"] == 3
        page = browser.new_page()
        page.goto(url)
        page.get_by_text("3 tài liệu").wait_for(timeout=30_000)  # a page opened now lists the new one
        page.close()
    finally:
        served.close()
