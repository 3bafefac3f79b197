"""HTML reader: the article of real pages, offline, in the encodings Vietnamese pages use."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from conftest import SEEDS
from samples import make_html, news_page, seed_page

import qa.readers.html
from qa.errors import CorpusError
from qa.readers import extract


def _read(path: Path):
    return extract(path.read_bytes(), name=path.name)


def _heading_lines(extracted) -> tuple[tuple[str, int], ...]:
    return tuple((extracted.text[h.start : h.end], h.level) for h in extracted.headings)


def _page(body: str, *, head: str = "") -> bytes:
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'>{head}</head><body>{body}</body></html>".encode()
    )


@pytest.fixture
def offline(monkeypatch):
    """Every attempt to open a connection or resolve a name fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize(
    ("encoding", "declare"),
    [("utf-8", True), ("utf-8", False), ("windows-1258", True), ("windows-1258", False), ("utf-16", False)],
)
def test_news_page_article_kept_verbatim_furniture_dropped(tmp_path, offline, encoding, declare):
    facts = make_html(tmp_path / "tin.html", encoding=encoding, declare=declare)
    got = _read(tmp_path / "tin.html")
    assert got.format == "html" and got.paragraphs
    lines = got.text.split("\n")
    assert [line for line in lines if line] == list(facts.lines)  # every sentence, in order, nothing else
    assert "\n".join(facts.rows) in got.text  # the table's rows, one block
    assert _heading_lines(got) == facts.headings
    assert got.title == facts.title and lines[0] == facts.title
    for furniture in facts.absent:
        assert furniture not in got.text


def test_lead_and_headline_outside_the_article_box_are_kept():
    """A news site's layout: headline and lead sit beside the article's box, not in it."""
    body = "".join(
        f"<p>Đoạn {i} của bài viết nói về công tác đối ngoại nhân dân của thành phố trong năm 2023.</p>"
        for i in range(1, 6)
    )
    page = _page(
        "<nav><a href='/'>Trang chủ</a> <a href='/the-gioi'>Thế giới</a></nav><div class='sidebar-1'>"
        "<h1 class='title-detail'>Thành phố đón 215 đoàn khách quốc tế</h1>"
        "<p class='description'>Sáu tháng đầu năm, số đoàn khách quốc tế đến thăm tăng 20%.</p>"
        f"<article class='fck_detail'>{body}</article></div>"
        "<div class='box-tin-lien-quan'><a href='/a'>Bài liên quan một</a>"
        "<a href='/b'>Bài liên quan hai</a></div>",
        head="<title>Thành phố đón 215 đoàn khách quốc tế - Báo Mới</title>",
    )
    got = extract(page, name="bao.html")
    lines = [line for line in got.text.split("\n") if line]
    assert lines[:2] == [
        "Thành phố đón 215 đoàn khách quốc tế",
        "Sáu tháng đầu năm, số đoàn khách quốc tế đến thăm tăng 20%.",
    ]
    assert len(lines) == 7 and "liên quan" not in got.text and "Trang chủ" not in got.text
    assert got.title == "Thành phố đón 215 đoàn khách quốc tế"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "<p>Cơ quan nghỉ lễ từ ngày 30-4 đến hết ngày 1-5.</p>",
            ["Cơ quan nghỉ lễ từ ngày 30-4 đến hết ngày 1-5."],
        ),
        (  # a headline trafilatura drops on a short page
            "<h1>Thông báo nghỉ lễ</h1><p>Cơ quan nghỉ lễ từ ngày 30-4.</p>"
            "<p>Trực ban: phòng Hành chính.</p>",
            ["Thông báo nghỉ lễ", "Cơ quan nghỉ lễ từ ngày 30-4.", "Trực ban: phòng Hành chính."],
        ),
        (  # an old portal: one layout cell, lines broken by <br>
            "<table><tr><td><b>THÔNG BÁO</b><br>Về việc nghỉ lễ<br><br>Cơ quan nghỉ lễ từ ngày 30-4."
            "<br>Trực ban: phòng Hành chính.</td></tr></table>",
            ["THÔNG BÁO", "Về việc nghỉ lễ", "Cơ quan nghỉ lễ từ ngày 30-4.", "Trực ban: phòng Hành chính."],
        ),
    ],
)
def test_short_pages_lose_nothing(body, expected):
    got = extract(_page(body), name="ngan.html")
    assert [line for line in got.text.split("\n") if line] == expected


def test_lists_nested_lists_and_headings_with_line_breaks():
    page = _page(
        "<article><h2>Hồ sơ gồm<br>các giấy tờ sau</h2><ol><li>Đơn đề nghị cấp giấy phép xây dựng.</li>"
        "<li>Bản sao giấy tờ về quyền sử dụng đất:<ul><li>Giấy chứng nhận quyền sử dụng đất.</li></ul></li>"
        "</ol><p>Hồ sơ nộp tại bộ phận một cửa của Ủy ban nhân dân huyện trong giờ hành chính.</p></article>"
    )
    got = extract(page, name="ho-so.html")
    assert got.text == (
        "Hồ sơ gồm các giấy tờ sau\n\n- Đơn đề nghị cấp giấy phép xây dựng.\n"
        "- Bản sao giấy tờ về quyền sử dụng đất:\n- Giấy chứng nhận quyền sử dụng đất.\n\n"
        "Hồ sơ nộp tại bộ phận một cửa của Ủy ban nhân dân huyện trong giờ hành chính."
    )
    assert _heading_lines(got) == (("Hồ sơ gồm các giấy tờ sau", 2),)


def test_legacy_font_page_is_read_as_vietnamese():
    """A page typed in a TCVN3 font, declared Latin-1 as such pages were."""
    text = "Céng hoµ x· héi chñ nghÜa ViÖt Nam. Th«ng b¸o vÒ viÖc tæ chøc héi nghÞ tæng kÕt n¨m."
    page = f"<html><head><meta charset='iso-8859-1'></head><body><p>{text}</p></body></html>"
    got = extract(page.encode("latin-1"), name="cu.htm")
    assert got.text == "Cộng hoà xã hội chủ nghĩa Việt Nam. Thông báo về việc tổ chức hội nghị tổng kết năm."


def test_entities_and_decomposed_letters_come_out_nfc():
    page = _page("<p>Vi&#7879;t Nam &amp; b&#7841;n b&egrave; qu&#7889;c t&#7871;, Vie\u0323\u0302t Nam.</p>")
    assert extract(page, name="nfc.html").text == "Việt Nam & bạn bè quốc tế, Việt Nam."


def test_seed_pages_keep_every_line(offline):
    """The five seed texts as plain pages (a <p> per line): trafilatura alone drops a repeated line."""
    for seed in sorted(SEEDS.glob("*.txt")):
        got = extract(seed_page(seed.read_text(encoding="utf-8")), name=f"{seed.stem}.html")
        kept = set(got.text.split("\n"))
        for line in seed.read_text(encoding="utf-8").splitlines():
            assert " ".join(line.split()) in kept or not line.strip(), (seed.name, line)


@pytest.mark.parametrize("data", [b"", b"   \n", b"<html><body></body></html>", b"<p></p>"])
def test_empty_pages_give_empty_text(data):
    got = extract(data, name="rong.html")
    assert got.text == "" and got.headings == ()


@pytest.mark.parametrize("data", [os.urandom(2000) + b"\x00\x00", b"%PDF-1.7\n\x00\x01\x02binary" * 50])
def test_binary_file_named_html_raises_corpus_error(data):
    with pytest.raises(CorpusError) as err:
        extract(data, name="hong.html")
    assert "hong.html" in str(err.value) and "remove it" in str(err.value)


def test_page_declared_utf8_with_a_damaged_byte_keeps_its_text():
    page = (
        news_page()
        .encode("utf-8")
        .replace("Kết quả nổi bật".encode(), b"K\xe1t qu\xe1\xba\xa3 n\xe1\xbb\x95i b\xe1\xba\xadt")
    )
    got = extract(page, name="hong-mot-byte.html")
    assert "Thành phố tiếp tục quảng bá hình ảnh Thủ đô nghìn năm văn hiến với bạn bè quốc tế." in got.text
    assert "\ufffd" in got.text  # the damaged letter only


def test_old_portal_layout_keeps_its_headline_and_not_its_menus_or_site_name():
    """A table-laid portal page: menu column, breadcrumb, a <span> headline, other news, banner."""
    menu = "".join(f"<tr><td><a href='/m{i}'>Chuyên mục {i}</a></td></tr>" for i in range(12))
    others = "".join(f"<li><a href='/r{i}'>Tin cũ số {i} về hoạt động của Ủy ban</a></li>" for i in range(6))
    article = [
        "(Sơn Tịnh) - Ngày 17/10, Ủy ban MTTQ huyện trao 50 triệu đồng hỗ trợ 5 hộ nghèo mua bò giống.",
        "Mỗi hộ được hỗ trợ 10 triệu đồng từ Quỹ Vì người nghèo của huyện để phát triển kinh tế.",
        "Dịp này, Ủy ban MTTQ huyện cũng đã trao 20 suất quà cho các gia đình khó khăn.",
    ]
    page = _page(
        "<form id='form1'><table><tr><td colspan=2>CỔNG THÔNG TIN ĐIỆN TỬ HUYỆN SƠN TỊNH</td></tr>"
        f"<tr><td valign=top><table>{menu}</table></td><td valign=top>"
        "<div class='breadcrumb'><a href='/'>Trang chủ</a> » <a href='/tt'>Tin tức</a></div>"
        "<span class='title'>Sơn Tịnh hỗ trợ 50 triệu đồng cho hộ nghèo mua bò giống</span><br>"
        "<span class='date'>Ngày đưa: 18/10/2019</span><br>"
        f"<div class='content'>{''.join(f'<p>{line}</p>' for line in article)}</div>"
        f"<div class='other'><b>Các tin khác</b><ul>{others}</ul></div></td></tr>"
        "<tr><td colspan=2>Bản quyền thuộc UBND huyện Sơn Tịnh.</td></tr></table></form>",
        head="<title>Cổng thông tin điện tử huyện Sơn Tịnh</title>",
    )
    got = extract(page, name="cong.html")
    lines = [line for line in got.text.split("\n") if line]
    assert lines == [
        "Sơn Tịnh hỗ trợ 50 triệu đồng cho hộ nghèo mua bò giống",
        "Ngày đưa: 18/10/2019",
        *article,
    ]
    assert got.title == ""  # the <title> is the site's name, printed in its banner: ingest finds the headline


def test_a_page_of_very_many_blocks_is_read_block_by_block_in_full(monkeypatch):
    """trafilatura's time grows faster than the page: past the limit it is not asked, and every
    paragraph is kept, the menu is not."""
    monkeypatch.setattr(qa.readers.html, "TRAFILATURA_MAX_BLOCKS", 30)
    monkeypatch.setattr(qa.readers.html, "_trafilatura", lambda page: pytest.fail("trafilatura was asked"))
    menu = "".join(f'<li><a href="/muc-{i}">Chuyên mục {i}</a></li>' for i in range(8))
    paragraphs = [
        f"Đoạn {i}: Ủy ban nhân dân huyện triển khai kế hoạch số {i} về phòng chống thiên tai."
        for i in range(40)
    ]
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    page = f"<html><body><nav><ul>{menu}</ul></nav><article>{body}</article></body></html>"
    text = extract(page.encode(), name="dai.html").text
    assert text.split("\n\n") == paragraphs


@pytest.mark.parametrize("declared", ["rot13", "base64", "utf-16", "cp037"])
def test_a_charset_that_cannot_be_the_pages_is_not_believed(declared):
    """The <meta> was read as ASCII, so a charset that does not write markup as ASCII is a lie."""
    page = (
        '<html><head><meta charset="{}"><title>Thông báo</title></head><body><p>Ủy ban nhân dân '
        "huyện thông báo lịch họp giao ban vào sáng thứ Hai hằng tuần.</p></body></html>"
    )
    data = page.format(declared).encode("cp1258", "ignore")  # 8-bit, as old pages are
    assert (
        extract(data, name="cu.html").text
        == extract(page.format("").encode("cp1258", "ignore"), name="cu.html").text
    )


def test_a_doctype_with_an_internal_subset_is_not_read_as_text():
    page = (
        '<!DOCTYPE html [\n<!ENTITY c "giao ban">\n]>\n<html><head><title>Thông báo</title></head>'
        "<body><p>Ủy ban nhân dân huyện thông báo lịch họp vào thứ Hai.</p></body></html>"
    )
    got = extract(page.encode(), name="ent.html")
    assert got.title == "Thông báo" and got.text.startswith("Thông báo\n\nỦy ban") and "]>" not in got.text
