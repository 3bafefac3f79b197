"""Building: one bad file is skipped with its reason and never stops the rest; repeats embed once."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

import docx
import numpy as np
import pytest

import qa.build
import qa.parsing
from qa import DiskFullError, Retriever, Settings

GOOD = "Văn phòng gửi giấy mời dự hội thảo trước ngày 5-4-2024."


@pytest.fixture
def bad_corpus(tmp_path) -> Path:
    """One good file among files that each once stopped a whole build."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "tot.txt").write_text(GOOD + "\n", encoding="utf-8")
    (corpus / "utf16-le.txt").write_bytes("Hoà bình".encode("utf-16")[:-1])  # odd length
    (corpus / "surrogate.txt").write_bytes(b"\xff\xfe" + "Ch".encode("utf-16-le") + b"\x00\xd8")
    (corpus / "anh.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    (corpus / "khong-doc-duoc.txt").write_text("Bí mật.\n", encoding="utf-8")
    with open(os.fsencode(corpus) + b"/t\xean-l\xf4i.txt", "wb") as f:  # a Latin-1 file name
        f.write("Tên tệp hỏng.\n".encode())
    os.symlink("/etc/passwd", corpus / "passwd.txt")
    # Windows-1258, a legacy encoding: decoded, not skipped
    (corpus / "cu.txt").write_bytes(windows_1258("Ngân sách hội thảo là 200 triệu đồng.\n"))
    return corpus


def windows_1258(text: str) -> bytes:
    """Windows-1258 as Vietnamese editors wrote it: letters with their hats, tones as combining marks."""
    tones = "\u0300\u0301\u0303\u0309\u0323"
    out = []
    for char in text:
        parts = unicodedata.normalize("NFD", char)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones))
        out.append(base + "".join(c for c in parts if c in tones))
    return "".join(out).encode("cp1258")


def unreadable(monkeypatch, name: str) -> None:
    """`name` cannot be read, even by root (who ignores permission bits)."""
    real = Path.read_bytes

    def read_bytes(self):
        if self.name == name:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)


def test_bad_files_are_skipped_with_their_reason_and_the_rest_is_indexed(
    bad_corpus, tmp_path, counting, monkeypatch
):
    unreadable(monkeypatch, "khong-doc-duoc.txt")
    r = Retriever.build(bad_corpus, tmp_path / "index", settings=Settings(), embedder=counting)
    assert set(r.documents) == {"tot.txt", "cu.txt"}
    reasons = {s.file: s.reason for s in r.report.skipped}
    assert set(reasons) == {
        "utf16-le.txt",
        "surrogate.txt",
        "anh.txt",
        "khong-doc-duoc.txt",
        "t\\udcean-l\\udcf4i.txt",
        "passwd.txt",
    }
    assert "Permission denied" in reasons["khong-doc-duoc.txt"]
    assert "outside the corpus" in reasons["passwd.txt"] and "rename" in reasons["t\\udcean-l\\udcf4i.txt"]
    assert "5-4-2024" in r.search("Giấy mời gửi trước ngày nào?", k=1)[0].text
    assert "200 triệu đồng" in r.search("Ngân sách hội thảo là bao nhiêu?", k=1)[0].text


def test_an_unchanged_bad_file_is_reported_again_without_rebuilding(bad_corpus, tmp_path, counting):
    index = tmp_path / "index"
    first = Retriever.build(bad_corpus, index, settings=Settings(), embedder=counting)
    manifest = (index / "manifest.json").stat().st_mtime_ns
    again = Retriever.build(bad_corpus, index, settings=Settings(), embedder=counting)
    assert not again.report.touched and (index / "manifest.json").stat().st_mtime_ns == manifest
    assert {s.file for s in again.report.skipped} == {s.file for s in first.report.skipped}
    (bad_corpus / "anh.txt").write_text("Ảnh đã được thay bằng văn bản về hội nghị.\n", encoding="utf-8")
    fixed = Retriever.build(bad_corpus, index, settings=Settings(), embedder=counting)
    assert fixed.report.added == ("anh.txt",) and "anh.txt" not in {s.file for s in fixed.report.skipped}


def test_a_file_without_text_is_skipped_with_the_reason_not_listed_empty(tmp_path, counting):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "tot.txt").write_text(GOOD + "\n", encoding="utf-8")
    (corpus / "rong.txt").write_bytes(b"")
    (corpus / "khoang-trang.txt").write_text(" \u00a0\u200b\n\t\u200b \n", encoding="utf-8")  # invisible
    (corpus / "gach.md").write_text("---\n***\n", encoding="utf-8")
    index = tmp_path / "index"
    r = Retriever.build(corpus, index, settings=Settings(), embedder=counting)
    assert set(r.documents) == {"tot.txt"} and r.report.added == ("tot.txt",)
    reasons = {s.file: s.reason for s in r.report.skipped}
    assert set(reasons) == {"rong.txt", "khoang-trang.txt", "gach.md"}
    assert all(reason.startswith("no text to index") for reason in reasons.values())
    (corpus / "rong.txt").write_text("Hội nghị tổng kết năm họp vào sáng thứ Hai.\n", encoding="utf-8")
    again = Retriever.build(corpus, index, settings=Settings(), embedder=counting)
    assert again.report.added == ("rong.txt",) and {s.file for s in again.report.skipped} == {
        "khoang-trang.txt",
        "gach.md",
    }


def test_the_cli_lists_what_it_skipped_and_succeeds(bad_corpus, tmp_path):
    args = ["index", "--corpus", str(bad_corpus), "--index", str(tmp_path / "i")]
    out = subprocess.run(
        [sys.executable, "-m", "qa.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "3 added documents" in out.stdout and "skipped 5 file(s):" in out.stdout
    assert "utf16-le.txt: " in out.stdout and "passwd.txt: a link to a file outside the corpus" in out.stdout
    assert "Traceback" not in out.stderr


def zip_bomb(path: Path) -> None:
    """A small Word file whose document.xml unpacks to 129 MiB, over the reader's limit: paragraphs
    of "a"s, 1 KiB each."""
    made = io.BytesIO()
    docx.Document().save(made)
    line = b"<w:p><w:r><w:t>" + b"a" * 991 + b"</w:t></w:r></w:p>"
    with zipfile.ZipFile(made) as z, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bomb:
        for info in z.infolist():
            if info.filename != "word/document.xml":
                bomb.writestr(info.filename, z.read(info))
        head, tail = z.read("word/document.xml").split(b"<w:body>")
        bomb.writestr("word/document.xml", head + b"<w:body>" + line * (129 << 10) + tail)


def test_a_zip_bomb_or_a_too_long_text_is_skipped_with_its_reason_and_the_rest_is_indexed(
    tmp_path, counting, monkeypatch
):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "tot.txt").write_text(GOOD + "\n", encoding="utf-8")
    zip_bomb(corpus / "bom.docx")
    monkeypatch.setattr(qa.parsing, "MAX_TEXT_CHARS", 10_000)
    (corpus / "dai.txt").write_text("Hội thảo bàn về ngân sách. " * 400, encoding="utf-8")  # 10,800 chars
    (corpus / "rat-dai.md").write_text("Hội thảo. " * 4_000, encoding="utf-8")  # 56 KB: refused unread
    r = Retriever.build(corpus, tmp_path / "index", settings=Settings(), embedder=counting)
    assert set(r.documents) == {"tot.txt"}
    reasons = {s.file: s.reason for s in r.report.skipped}
    assert reasons["bom.docx"].startswith("bom.docx unpacks to ")
    assert "(word/document.xml: 129.0 MiB), more than qa reads (128 MiB): a zip bomb" in reasons["bom.docx"]
    assert reasons["dai.txt"].startswith("dai.txt holds 10,800 characters of text, more than qa indexes")
    assert "more than qa indexes from one file (10,000 characters); split it" in reasons["dai.txt"]
    assert reasons["rat-dai.md"].startswith("rat-dai.md is 0.1 MB of plain text, more than qa indexes")
    assert "5-4-2024" in r.search("Giấy mời gửi trước ngày nào?", k=1)[0].text


def test_repeated_text_is_embedded_once_and_k_distinct_passages_come_back(tmp_path, counting, monkeypatch):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    paragraphs = [
        f"Điều {n}. Cơ quan thứ {n} chịu trách nhiệm báo cáo kết quả thực hiện nhiệm vụ số {n} "
        f"trước ngày {n} tháng {n % 12 + 1} hằng năm."
        for n in range(1, 9)
    ]
    repeated = "Quy định chung về báo cáo được áp dụng cho mọi cơ quan, đơn vị trong hệ thống."
    for copy in range(60):  # the same notice in sixty files, before the distinct articles
        (corpus / f"thong-bao-{copy:02}.txt").write_text(repeated + "\n", encoding="utf-8")
    for n, paragraph in enumerate(paragraphs):
        (corpus / f"dieu-{n}.txt").write_text(paragraph + "\n", encoding="utf-8")
    counting.passages = 0
    monkeypatch.setattr(qa.build, "EMBED_SLICE", 3)  # embedded a few texts at a time, copies filled in
    r = Retriever.build(corpus, tmp_path / "index", settings=Settings(), embedder=counting)
    assert len(r) == 68 and counting.passages == r.report.embedded == len(set(r.passage_texts()))
    vectors = {}
    for text, vector in zip(r.passage_texts(), r.index.vectors):
        vectors.setdefault(text, vector)
        assert np.array_equal(vectors[text], vector) and abs(float(np.linalg.norm(vector)) - 1) < 1e-3
    for mode in ("hybrid", "dense", "bm25"):
        hits = r.search("Cơ quan nào chịu trách nhiệm báo cáo quy định chung?", k=5, mode=mode)
        assert len(hits) == 5 and len({h.text for h in hits}) == 5, mode


# 64 KB: full at the build's first temporary file; 256 KB: once five of the new index's files are written
# (the new build needs about 300 KB)
@pytest.mark.parametrize("slack_kb", [64, 256])
def test_a_full_disk_stops_the_build_in_one_line_and_keeps_the_previous_index(
    small_corpus, small_disk, counting, capsys, slack_kb
):
    """The disk fills up while a changed corpus is built: the user is told in one line, the previous
    index answers as before, and the space the build's own files took is given back."""
    from qa.cli import main

    index = small_disk / "index"
    question = "Văn phòng gửi giấy mời trước ngày nào?"
    built = Retriever.build(small_corpus, index, settings=Settings(), embedder=counting)
    before = built.search(question, k=2)
    files = sorted(p.name for p in index.iterdir())
    ballast = small_disk / "ballast"  # the test's own file: all but `slack_kb` of what is left
    ballast.write_bytes(b"\0" * (shutil.disk_usage(small_disk).free - slack_kb * 1024))
    free = shutil.disk_usage(small_disk).free
    (small_corpus / "ghi-chu.md").write_text(
        "# Ghi chú\n\n" + "Văn phòng gửi giấy mời dự hội thảo trước ngày 9-4-2024.\n" * 200, encoding="utf-8"
    )

    with pytest.raises(DiskFullError, match=r"disk holding the index .* is full .* index is unchanged"):
        Retriever.build(small_corpus, index, settings=Settings(), embedder=counting)
    assert sorted(p.name for p in index.iterdir()) == files  # nothing half-written is left
    assert shutil.disk_usage(small_disk).free == free
    assert Retriever.load(index, settings=Settings(), embedder=counting).search(question, k=2) == before

    assert main(["index", "--corpus", str(small_corpus), "--index", str(index)]) == 1
    err = capsys.readouterr().err  # after the progress bar
    assert err.splitlines()[-1].startswith("qa: error: the disk holding the index")
    assert err.count("qa: error") == 1 and "Traceback" not in err

    ballast.unlink()
    after = Retriever.build(small_corpus, index, settings=Settings(), embedder=counting)
    assert "9-4-2024" in after.search(question, k=1)[0].text
