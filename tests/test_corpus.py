"""Which files of a folder become documents: links, odd names and odd files are skipped with a reason."""

import json
import os

import pytest

from qa import CorpusError
from qa.corpus import (
    RECORD,
    Contents,
    Record,
    Uploaded,
    corpus_files,
    read_record,
    record_locked,
    store,
    write_record,
)


def write(path, text="Nội dung văn bản.\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def reasons(found) -> dict[str, str]:
    return {s.file: s.reason for s in found.skipped}


def test_links_are_followed_only_inside_the_corpus(tmp_path):
    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    write(corpus / "a.txt")
    write(corpus / "sub" / "b.md")
    write(outside / "secret.txt", "mật khẩu")
    os.symlink("/etc/passwd", corpus / "passwd.txt")
    os.symlink(outside / "secret.txt", corpus / "secret.txt")
    os.symlink(outside, corpus / "linked-folder")
    os.symlink(corpus / "sub" / "b.md", corpus / "alias.md")  # inside: b.md is indexed once, by its name
    os.symlink(corpus, corpus / "sub" / "loop")  # a cycle is walked once
    os.symlink(corpus / "gone.txt", corpus / "broken.txt")
    found = corpus_files(corpus)
    assert sorted(found.files) == ["a.txt", "sub/b.md"]
    assert reasons(found) == {
        "alias.md": "a link to sub/b.md, which is indexed under its own name",
        "passwd.txt": "a link to a file outside the corpus",
        "secret.txt": "a link to a file outside the corpus",
        "linked-folder": "a link to a folder outside the corpus",
        "broken.txt": "a broken link",
    }


def test_a_name_that_is_not_utf8_is_skipped_with_a_readable_reason(tmp_path):
    write(tmp_path / "tốt.txt")
    bad = os.fsencode(tmp_path) + b"/b\xe1o-c\xe1o.txt"  # Latin-1 bytes of "báo-cáo"
    with open(bad, "wb") as f:
        f.write("Nội dung.".encode())
    found = corpus_files(tmp_path)
    assert list(found.files) == ["tốt.txt"]
    [skipped] = found.skipped
    assert skipped.file == "b\\udce1o-c\\udce1o.txt" and "rename" in skipped.reason
    skipped.file.encode("utf-8")  # printable and storable


def test_other_formats_are_reported_and_an_empty_corpus_says_what_was_skipped(tmp_path):
    write(tmp_path / "anh.png", "x")
    write(tmp_path / ".an.txt")  # hidden: an editor's or qa's own file, not a document
    os.symlink("/etc/hostname", tmp_path / "host.txt")
    with pytest.raises(CorpusError, match=r"no readable .*2 skipped: anh.png: .png: not a format qa reads"):
        corpus_files(tmp_path)
    write(tmp_path / "a.txt")
    assert reasons(corpus_files(tmp_path)) == {
        "anh.png": ".png: not a format qa reads (.txt .md .docx .doc .pdf .html .htm)",
        "host.txt": "a link to a file outside the corpus",
    }


def test_a_folder_named_like_a_document_is_not_one(tmp_path):
    write(tmp_path / "a.txt")
    write(tmp_path / "thu-muc.txt" / "c.txt")
    assert sorted(corpus_files(tmp_path).files) == ["a.txt", "thu-muc.txt/c.txt"]


def test_files_removed_from_the_index_are_left_out_silently(tmp_path):
    write(tmp_path / "a.txt")
    write(tmp_path / "sub" / "b.md")
    write_record(tmp_path, Record(excluded={"sub/b.md": "2024-05-01T08:00:00+07:00"}))
    found = corpus_files(tmp_path)
    assert list(found.files) == ["a.txt"] and found.skipped == ()
    assert read_record(tmp_path).excluded == {"sub/b.md": "2024-05-01T08:00:00+07:00"}


def test_a_damaged_record_reads_as_empty_and_is_kept_aside_when_replaced(tmp_path, caplog):
    write(tmp_path / "a.txt")
    (tmp_path / RECORD).write_text("[1, 2", encoding="utf-8")
    assert read_record(tmp_path) == Record() and "ignoring the record" in caplog.text
    assert list(corpus_files(tmp_path).files) == ["a.txt"]
    write_record(tmp_path, Record({"a.txt": Uploaded("A.TXT", "0" * 64, "2024-05-01T08:00:00+07:00")}))
    assert (tmp_path / ".qa-documents.damaged.json").read_text(encoding="utf-8") == "[1, 2"
    assert read_record(tmp_path).uploaded["a.txt"].file == "A.TXT"
    # hand edits: the entries that make sense are kept, the others dropped
    (tmp_path / RECORD).write_text(
        json.dumps(
            {
                "uploaded": {"a.txt": {"file": 1}, "b.txt": {"file": "b", "sha256": "x", "added": ""}},
                "excluded": ["a.txt"],
            }
        ),
        encoding="utf-8",
    )
    assert read_record(tmp_path) == Record({"b.txt": Uploaded("b", "x", "")}, {})


def test_a_stored_file_never_replaces_one_that_is_there(tmp_path):
    write(tmp_path / "bao-cao.txt", "của người dùng")
    os.symlink(tmp_path / "bao-cao.txt", tmp_path / "bao-cao (2).txt")
    assert store(tmp_path, "bao-cao.txt", "mới".encode()) == "bao-cao (3).txt"
    assert (tmp_path / "bao-cao.txt").read_text(encoding="utf-8") == "của người dùng"
    assert (tmp_path / "bao-cao (3).txt").read_text(encoding="utf-8") == "mới"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bao-cao (2).txt", "bao-cao (3).txt", "bao-cao.txt"]


def test_the_lock_clears_what_a_killed_change_left_behind(tmp_path):
    write(tmp_path / ".qa-upload-0123456789abcdef.tmp", "nửa tệp")
    write(tmp_path / f".{RECORD}.x1y2_z.tmp", "{")
    write(tmp_path / ".editor.tmp", "của người dùng")
    with record_locked(tmp_path):
        assert sorted(p.name for p in tmp_path.iterdir()) == [".editor.tmp", ".qa-documents.lock"]


def test_the_contents_find_a_file_by_its_bytes(tmp_path):
    corpus = tmp_path / "corpus"
    write(corpus / "a.txt", "một")
    write(corpus / "b.txt", "hai")
    write(corpus / "c.txt", "ba!")  # the size of "hai": told apart by their hashes
    write(tmp_path / "outside.txt", "bốn")
    write_record(corpus, Record(excluded={"b.txt": "", "../outside.txt": ""}))
    contents = Contents(corpus)
    assert contents.find(b"hai") is None and contents.find_excluded(b"hai") == "b.txt"
    assert contents.find(b"ba!") == "c.txt" and contents.find("một".encode()) == "a.txt"
    assert contents.find_excluded("bốn".encode()) is None  # a hand-edited record never reaches outside
    contents.include("d.txt", b"nam")
    assert contents.find(b"nam") == "d.txt"
