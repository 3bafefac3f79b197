"""The `qa` command as a user runs it: a real process, real index, real model."""

import json
import os
import subprocess
import sys

from qa import Retriever, Settings

QA = [sys.executable, "-m", "qa.cli"]


def run(*args, stdin=None, cwd=None):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [*QA, *args], capture_output=True, text=True, input=stdin, env=env, cwd=cwd, timeout=300
    )


def run_json(*args, code=0):
    out = run(*args)
    assert out.returncode == code, out.stderr
    return json.loads(out.stdout)


def test_ask_json_lists_the_date_of_directive_12(seed_index):
    out = run("ask", "--json", "--index", str(seed_index), "Chỉ thị 12-CT/TW được ban hành ngày nào?")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["question"] == "Chỉ thị 12-CT/TW được ban hành ngày nào?"
    assert len(data["passages"]) == 5
    assert set(data["passages"][0]) == {
        "rank",
        "doc_id",
        "title",
        "heading",
        "text",
        "start",
        "end",
        "score",
        "pages",
    }
    assert data["passages"][0]["pages"] == []  # .txt files have no pages
    assert any("05/01/2022" in p["text"] or "5-1-2022" in p["text"] for p in data["passages"])


def test_ask_prints_numbered_cited_passages(seed_index):
    out = run("--index", str(seed_index), "ask", "-k", "3", "--mode", "bm25", "Hà Nội đạt bao nhiêu điểm?")
    assert out.returncode == 0, out.stderr
    assert "[1] " in out.stdout and "[3] " in out.stdout and "[4] " not in out.stdout
    assert "80,77 điểm" in out.stdout


def test_ask_says_which_detail_the_documents_do_not_give(seed_index):
    out = run("--index", str(seed_index), "ask", "Kinh phí hoạt động năm 2023 của HAUFO là bao nhiêu?")
    assert out.returncode == 0, out.stderr
    assert "nhưng không nêu kinh phí hoạt động" in out.stdout and "Trả lời:" not in out.stdout
    assert "Các đoạn gần nhất" in out.stdout and "[1] " in out.stdout


def test_errors_are_one_line_and_exit_non_zero(tmp_path):
    out = run("ask", "--index", str(tmp_path / "none"), "câu hỏi")
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0 and "qa index" in out.stderr
    assert "Traceback" not in out.stderr
    bad = run("index", "--corpus", str(tmp_path / "missing"), "--index", str(tmp_path / "i"))
    assert bad.returncode == 1 and "does not exist" in bad.stderr
    zero = run("eval", "-k", "0", "--corpus", str(tmp_path / "missing"), "--index", str(tmp_path / "e"))
    assert zero.returncode == 1 and "k must be a whole number" in zero.stderr  # before the corpus is read
    assert not (tmp_path / "e").exists()


def test_index_command_builds_then_reports_up_to_date(small_corpus, tmp_path):
    args = ("index", "--corpus", str(small_corpus), "--index", str(tmp_path / "idx"))
    first = run(*args)
    assert first.returncode == 0, first.stderr
    assert "2 added documents" in first.stdout
    assert "001_5890e04fe2056a11.txt: 65 characters dropped as web-page furniture (3%)" in first.stdout
    assert "embedding passages" in first.stderr  # the progress bar
    again = run(*args)
    assert again.returncode == 0 and "up to date" in again.stdout


def test_interactive_prompt_answers_until_empty_line(seed_index):
    out = run("--index", str(seed_index), stdin="Hà Nội đạt bao nhiêu điểm khảo sát?\n\n")
    assert out.returncode == 0, out.stderr
    assert "80,77 điểm" in out.stdout


def test_a_closed_pipe_ends_quietly(seed_index):
    """`qa ask … | head -1`: the reader goes away after one line."""
    proc = subprocess.Popen(
        [*QA, "ask", "--index", str(seed_index), "Chỉ thị 12-CT/TW được ban hành ngày nào?"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 0 and "Traceback" not in err and "BrokenPipe" not in err


def test_control_characters_of_a_document_never_reach_the_terminal(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "doc.txt").write_text(
        "Báo cáo \x1b[2J\x1b]0;pwned\x07 về hội nghị\u202e đã được gửi ngày 5-4-2024.\r\n", encoding="utf-8"
    )
    assert run("index", "--corpus", str(corpus), "--index", str(tmp_path / "i")).returncode == 0
    out = run("ask", "--index", str(tmp_path / "i"), "Báo cáo về hội nghị gửi ngày nào?")
    assert out.returncode == 0 and "5-4-2024" in out.stdout
    assert not any(c in out.stdout for c in "\x1b\x07\r\u202e")
    data = json.loads(run("ask", "--json", "--index", str(tmp_path / "i"), "Báo cáo gửi ngày nào?").stdout)
    assert "\x1b[2J" in data["passages"][0]["text"]  # the JSON keeps the verbatim text, escaped


def test_add_list_and_remove_documents(tmp_path, embedder):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "cong-van.txt").write_text("Công văn về việc trồng cây xanh ở tổ dân phố.\n", encoding="utf-8")
    Retriever.build(corpus, index, settings=Settings(), embedder=embedder)
    new, empty = tmp_path / "Thông báo.TXT", tmp_path / "rong.md"
    new.write_text("Ủy ban nhân dân xã tiếp công dân vào sáng thứ Năm hằng tuần.\n", encoding="utf-8")
    empty.write_text("")

    added = run("add", "--index", str(index), str(new), str(empty))
    assert added.returncode == 1  # one file was rejected, the other added
    assert "Thông báo.TXT: added as Thông báo.txt (1 passage)" in added.stdout
    assert f"{empty}: rejected: the file is empty" in added.stdout
    assert "storing files" in added.stderr and "Traceback" not in added.stderr
    asked = run("ask", "--index", str(index), "-k", "1", "Ủy ban xã tiếp công dân vào ngày nào?")
    assert "Thông báo.txt" in asked.stdout

    docs = run_json("list", "--json", "--index", str(index))["documents"]
    assert [(d["id"], d["file"], d["uploaded"]) for d in docs] == [
        ("Thông báo.txt", "Thông báo.TXT", True),
        ("cong-van.txt", "cong-van.txt", False),
    ]
    assert set(docs[0]) == {
        "id",
        "title",
        "file",
        "format",
        "pages",
        "passages",
        "added",
        "size",
        "uploaded",
        "ocr",
    }
    table = run("list", "--index", str(index)).stdout.splitlines()
    assert table[0].split() == ["id", "title", "type", "pages", "passages", "added"] and len(table) == 3
    assert table[1].startswith("Thông báo.txt") and " txt " in table[1]

    report = run_json("add", "--json", "--index", str(index), str(new))
    assert report["duplicates"] == [{"file": str(new), "id": "Thông báo.txt"}] and report["added"] == []
    assert set(report) == {"added", "duplicates", "rejected", "build"}

    removed = run("remove", "--index", str(index), "Thông báo.txt", "khong-co.txt")
    assert removed.returncode == 1
    assert "Thông báo.txt: removed" in removed.stdout and "khong-co.txt: not a document" in removed.stdout
    assert not (corpus / "Thông báo.txt").exists() and new.exists()
    last = run("remove", "--json", "--index", str(index), "cong-van.txt")
    assert last.returncode == 1 and "add another document first" in last.stderr
    assert last.stderr.strip().count("\n") == 0 and "Traceback" not in last.stderr
    nothing = run_json("remove", "--json", "--index", str(index), "x.txt", code=1)
    assert (nothing["removed"], nothing["missing"]) == ([], ["x.txt"])
    assert (nothing["build"]["unchanged"], nothing["build"]["removed"]) == (["cong-van.txt"], [])


def test_document_commands_need_an_index(tmp_path):
    for args in (("list",), ("add", "a.txt"), ("remove", "a.txt")):
        out = run(*args, "--index", str(tmp_path / "none"))
        assert out.returncode == 1 and "no index" in out.stderr and "Traceback" not in out.stderr


def two_page_pdf(pages: list[str]) -> bytes:
    """A PDF with one line of ASCII text (Helvetica, not embedded) on each page."""
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    kids = []
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 760 Td ({text}) Tj ET"
        kids.append(f"{4 + 2 * i} 0 R")
        objects.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>"
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(pages)} >>"
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def test_ask_cites_the_page_of_a_pdf_passage(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    pages = [
        "Bien ban hop chi bo thang 3 nam 2024 tai hoi truong xa.",
        "Chi bo thong nhat to chuc le ky niem thanh lap doan vao ngay 26-3-2024.",
    ]
    (corpus / "bien-ban.pdf").write_bytes(two_page_pdf(pages))
    Retriever.build(corpus, tmp_path / "index", settings=Settings(), embedder=embedder)
    question = "Le ky niem thanh lap doan vao ngay nao?"
    data = run_json("ask", "--json", "--index", str(tmp_path / "index"), "-k", "1", question)
    pages = data["passages"][0]["pages"]
    assert 2 in pages and pages == list(range(pages[0], pages[-1] + 1))  # its text is on page 2
    shown = f"trang {pages[0]}" if len(pages) == 1 else f"trang {pages[0]}–{pages[-1]}"
    out = run("ask", "--index", str(tmp_path / "index"), "-k", "1", question)
    assert out.returncode == 0, out.stderr
    assert "26-3-2024" in out.stdout and f"— bien-ban.pdf, {shown}, ký tự" in out.stdout
    [listed] = run_json("list", "--json", "--index", str(tmp_path / "index"))["documents"]
    assert (listed["format"], listed["pages"], listed["ocr"]) == ("pdf", 2, False)
