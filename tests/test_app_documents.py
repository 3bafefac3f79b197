"""The "Tài liệu" tab, page citations and the viewer's pages: a real server, a real browser."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from conftest import SEEDS
from samples_pdf import make_text_pdf
from served_app import ask, request, serve

from qa import Retriever, Settings, Upload
from qa.server import source_page

OWN = "001_5890e04fe2056a11.txt"  # the user's own file, put in the corpus folder by hand
PDF = "bao-cao.pdf"
NOTE = "ghi-chu.md"  # another: an index keeps at least one document
FLOOD = "Kế hoạch phòng chống lụt bão.md"
FLOOD_TEXT = (
    "# Kế hoạch phòng chống lụt bão năm 2024\n\n"
    "Ban chỉ huy phòng chống thiên tai huyện Quốc Oai sẽ sơ tán 1.420 hộ dân ven sông Đáy "
    "trước ngày 15-7-2024.\n"
)


def _corpus(folder: Path) -> Path:
    """Two files of the user's own in a corpus folder."""
    corpus = folder / "corpus"
    corpus.mkdir()
    (corpus / OWN).write_bytes((SEEDS / OWN).read_bytes())
    (corpus / NOTE).write_text("# Ghi chú\n\nHọp giao ban vào thứ Hai hằng tuần.\n", encoding="utf-8")
    return corpus


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder):
    """The app over a corpus of the user's own two text files and a 3-page PDF report."""
    corpus = _corpus(tmp_path_factory.mktemp("tab"))
    pdf = make_text_pdf(corpus / PDF)
    index = corpus.parent / "index"
    Retriever.build(corpus, index, settings=Settings(), embedder=embedder)
    for server in serve(index):
        yield server, index, pdf


def test_each_file_gets_a_vietnamese_outcome(tmp_path, embedder, app):
    corpus = _corpus(tmp_path)
    retriever = Retriever.build(
        corpus, tmp_path / "index", settings=Settings(max_upload_mb=1), embedder=embedder
    )
    report = retriever.add_documents(
        [
            Upload(FLOOD, FLOOD_TEXT.encode()),
            Upload("bản sao.txt", (SEEDS / OWN).read_bytes()),
            Upload("lớn.txt", b"x" * (2**20 + 1)),
            Upload("rỗng.txt", b""),
            Upload("ảnh.png", b"\x89PNG"),
        ]
    )
    said = app.upload_outcome(report, limit_mb=1)
    lines = {
        html.unescape(name): (kind, html.unescape(says))
        for kind, name, says in re.findall(r"<li class='qa-(\w+)'><b>(.*?)</b>: (.*?)</li>", said)
    }
    assert lines[FLOOD] == ("added", "đã thêm: Kế hoạch phòng chống lụt bão năm 2024, 1 đoạn")
    assert lines["bản sao.txt"] == ("duplicate", f"đã có sẵn (trùng nội dung với {OWN})")
    assert lines["lớn.txt"][1].startswith("không thêm được: tệp lớn hơn giới hạn 1 MB cho mỗi tệp")
    assert lines["rỗng.txt"] == ("rejected", "không thêm được: tệp rỗng, không có nội dung")
    assert lines["ảnh.png"][1].startswith("không thêm được: định dạng này chưa đọc được; hãy gửi tệp .txt")
    gone = retriever.remove_documents([report.added[0].id, OWN])
    said = html.unescape(app.removal_outcome(gone, own={OWN}))
    assert f"{report.added[0].id}</b>: đã xoá" in said and "vẫn nằm nguyên" in said


def test_a_document_added_in_the_tab_is_cited_then_removed(served, browser, tmp_path):
    url, corpus = served[0].url, served[1].parent / "corpus"
    upload, empty = tmp_path / FLOOD, tmp_path / "rỗng.txt"
    upload.write_text(FLOOD_TEXT, encoding="utf-8")
    empty.write_bytes(b"")
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(url)
    page.get_by_role("tab", name="Tài liệu").click()
    page.locator("#upload input[type=file]").set_input_files([str(upload), str(empty)])
    added = page.locator("#outcome li.qa-added")
    added.wait_for(timeout=60_000)
    assert added.inner_text().startswith(f"{FLOOD}: đã thêm")
    assert page.locator("#outcome li.qa-rejected").inner_text() == (
        "rỗng.txt: không thêm được: tệp rỗng, không có nội dung"
    )
    table = page.locator("#documents")
    assert "Kế hoạch phòng chống lụt bão năm 2024" in table.inner_text() and OWN in table.inner_text()
    page.get_by_text("về 4 tài liệu").wait_for()  # the header counts it

    page.get_by_role("tab", name="Hỏi đáp").click()
    page.get_by_label("Chỉ tìm trong tài liệu").click()  # the chat can search it alone
    page.get_by_role("option", name="Kế hoạch phòng chống lụt bão năm 2024").wait_for()
    page.keyboard.press("Escape")
    ask(page, "Huyện Quốc Oai sơ tán bao nhiêu hộ dân ven sông Đáy?")
    cited = page.locator(".qa-passage").first
    cited.wait_for(timeout=60_000)
    assert "1.420 hộ dân" in cited.inner_text() and "lụt bão" in cited.inner_text()

    page.get_by_role("tab", name="Tài liệu").click()
    chooser = page.get_by_label("Chọn tài liệu để xoá")
    for title in ("Kế hoạch phòng chống lụt bão", "Nâng cao hiệu quả"):
        chooser.click()
        page.get_by_role("option", name=re.compile(title)).click()
    page.get_by_role("button", name="Xoá tài liệu đã chọn").click()
    page.get_by_role("button", name="Xác nhận xoá").click()
    page.locator("#outcome li", has_text="đã xoá").wait_for(timeout=60_000)
    assert "vẫn nằm nguyên" in page.locator("#outcome li", has_text=OWN).inner_text()
    assert "lụt bão" not in table.inner_text() and OWN not in table.inner_text()
    page.close()
    assert (corpus / OWN).exists() and not (corpus / FLOOD).exists()  # only the upload is deleted


def test_viewer_marks_each_page_and_keeps_the_highlight_on_the_text():
    text = "Trang một.\nTrang hai, phần đầu. Phần cuối.\nTrang ba."
    pages = (0, 11, 42)
    page = source_page("Báo cáo", "bao-cao.pdf", text, 20, 45, pages=pages, nonce="n")
    pre = re.search(r"<pre>(.*)</pre>", page, re.S).group(1)
    markers = re.findall(r"<span class='page' id='trang-(\d)'>— Trang \d —</span>", pre)
    assert markers == ["1", "2", "3"]
    shown = html.unescape(re.sub(r"<span class='page'[^>]*>[^<]*</span>", "", pre))
    hit = re.search(r"<mark id='hit'>(.*?)</mark>", shown, re.S).group(1)
    assert re.sub(r"<[^>]+>", "", shown) == text and hit == text[20:45]
    assert "— Trang 3 —" in re.search(r"<mark id='hit'>(.*?)</mark>", pre, re.S).group(1)  # inside the hit
    assert 'href="/api/documents/bao-cao.pdf/file" download>Tải bản gốc</a>' in page


def test_a_pdf_is_cited_by_page_and_shown_with_its_pages(served, embedder, app):
    server, index, pdf = served
    retriever = Retriever.load(index, settings=Settings(), embedder=embedder)
    question = "Năm 2025 Sở đào tạo kỹ năng số cho bao nhiêu cán bộ cấp xã?"
    hit = retriever.search(question, k=1, docs=[PDF])[0]
    assert hit.pages == (3,) and "2.000 cán bộ" in hit.text
    reply = app.chat_reply(retriever, question, [], 1, "hybrid", [PDF])[-1]["content"]
    assert f"<b>{html.escape(pdf.title)}</b> <span class='qa-page'>(trang 3)</span>" in reply
    status, _, raw = request(
        server.url + "/api/search",
        method="POST",
        body=json.dumps({"question": question, "k": 1, "docs": [PDF]}).encode(),
        headers={"content-type": "application/json"},
    )
    assert status == 200 and json.loads(raw)["passages"][0]["pages"] == [3]

    status, _, raw = request(f"{server.url}/source/{PDF}?start={hit.start}&end={hit.end}")
    pre = re.search(r"<pre>(.*)</pre>", raw.decode(), re.S).group(1)
    assert re.findall(r"— Trang (\d) —", pre) == ["1", "2", "3"]
    for number, start in enumerate(retriever.document_pages(PDF), 1):  # each marker where its page starts
        before = pre.split(f"<span class='page' id='trang-{number}'>")[0]
        assert (
            len(html.unescape(re.sub(r"<span class='page'[^>]*>[^<]*</span>|<[^>]+>", "", before))) == start
        )
    assert "2.000 cán bộ" in re.search(r"<mark id='hit'>(.*?)</mark>", pre, re.S).group(1)

    link = re.search(r'<a href="([^"]+)" download>Tải bản gốc</a>', raw.decode()).group(1)
    status, headers, data = request(server.url + html.unescape(link))
    assert status == 200 and data == pdf.path.read_bytes() and headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"].endswith(f"filename*=UTF-8''{PDF}")


def test_the_upload_step_takes_only_files_uploaded_to_it(served, tmp_path):
    """A request naming a file elsewhere on the server (Gradio checks none in a mounted app) is
    refused: the file is neither copied into the corpus nor indexed, nor served."""
    server, index, _ = served
    secret = tmp_path / "bi-mat.txt"
    secret.write_text("Mật khẩu của máy chủ là hoa-sen-2024.\n", encoding="utf-8")
    listed = json.loads(request(server.url + "/api/documents")[2])
    file = {"path": str(secret), "orig_name": secret.name, "meta": {"_type": "gradio.FileData"}}
    body = json.dumps({"data": [[file], []]}).encode()
    status, _, raw = request(
        server.url + "/gradio_api/call/add",
        method="POST",
        body=body,
        headers={"content-type": "application/json"},
    )
    assert status == 200, raw
    events = request(server.url + f"/gradio_api/call/add/{json.loads(raw)['event_id']}")[2].decode()
    assert "event: error" in events and "hoa-sen" not in events
    assert json.loads(request(server.url + "/api/documents")[2]) == listed
    assert request(server.url + "/api/documents/bi-mat.txt/file")[0] == 404
    corpus = Path(json.loads((index / "manifest.json").read_text(encoding="utf-8"))["corpus"])
    assert not (corpus / secret.name).exists()
