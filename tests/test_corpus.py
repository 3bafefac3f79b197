"""Which files of a folder become documents: links, odd names and odd files are skipped with a reason."""

import os

import pytest

from qa import CorpusError
from qa.corpus import corpus_files


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
    os.symlink(corpus / "sub" / "b.md", corpus / "alias.md")  # inside: fine
    os.symlink(corpus, corpus / "sub" / "loop")  # a cycle is walked once
    os.symlink(corpus / "gone.txt", corpus / "broken.txt")
    found = corpus_files(corpus)
    assert sorted(found.files) == ["a.txt", "alias.md", "sub/b.md"]
    assert reasons(found) == {
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


def test_other_formats_are_ignored_and_an_empty_corpus_says_what_was_skipped(tmp_path):
    write(tmp_path / "anh.png", "x")
    os.symlink("/etc/hostname", tmp_path / "host.txt")
    with pytest.raises(CorpusError, match=r"no readable .*1 skipped: host.txt: a link to a file outside"):
        corpus_files(tmp_path)


def test_a_folder_named_like_a_document_is_not_one(tmp_path):
    write(tmp_path / "a.txt")
    write(tmp_path / "thu-muc.txt" / "c.txt")
    assert sorted(corpus_files(tmp_path).files) == ["a.txt", "thu-muc.txt/c.txt"]
