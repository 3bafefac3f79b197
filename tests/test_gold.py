"""Gold files are written by hand: every line is checked before any work, the first bad one named."""

from __future__ import annotations

import json

import pytest

from qa import MAX_QUESTION_CHARS, GoldError
from qa.gold import read_gold

GOOD = {
    "id": "q1",
    "question": "Chỉ thị 12 ban hành ngày nào?",
    "answer": "05/01/2022",
    "type": "fact",
    "split": "dev",
}


def gold_file(tmp_path, *rows, raw: bytes = b""):
    path = tmp_path / "gold.jsonl"
    path.write_bytes(b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows) + raw)
    return path


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"answer": 80}, "answer must be text"),
        ({"answer": ["05/01/2022"]}, "answer must be text"),
        ({"alt_answers": "ngày 5"}, "alt_answers must be a list"),
        ({"alt_answers": [None]}, "alt_answers must be a list"),
        ({"type": ["fact"]}, "type must be one of fact, definition"),
        ({"split": "val"}, "split must be one of dev, test, not 'val'"),
        ({"unanswerable": "maybe"}, "unanswerable must be one of"),
        ({"question": "   "}, "question must be text"),
        ({"question": "x" * (MAX_QUESTION_CHARS + 1)}, "which search refuses"),
        ({"id": None}, "the id must be text"),
        ({"docs": "a.txt"}, "docs must be a list"),
    ],
)
def test_a_bad_field_names_its_line_and_what_to_fix(tmp_path, change, says):
    path = gold_file(tmp_path, GOOD, {**GOOD, "id": "q2", **change})
    with pytest.raises(GoldError, match=rf"gold\.jsonl:2 is not a gold question \(.*{says}"):
        read_gold(path)


def test_broken_files_are_one_line_errors(tmp_path):
    with pytest.raises(GoldError, match=r"gold\.jsonl:2 has the id 'q1' of line 1"):
        read_gold(gold_file(tmp_path, GOOD, {**GOOD, "question": "Ai ký?"}))
    with pytest.raises(GoldError, match=r"is not UTF-8 text \(byte"):
        read_gold(gold_file(tmp_path, GOOD, raw=b'{"id": "q2", "question": "Ng\xe0y?"}\n'))
    with pytest.raises(GoldError, match=r"gold\.jsonl:2 is not a gold question"):
        read_gold(gold_file(tmp_path, GOOD, raw=b"[" * 100_000 + b"\n"))
    with pytest.raises(GoldError, match=r"gold\.jsonl:1 is not a gold question \(a JSON object, not list"):
        read_gold(gold_file(tmp_path, ["q1"]))


def test_what_json_allows_is_read_as_written(tmp_path):
    """A byte-order mark, a line separator inside a string, CRLF line ends, a numeric id."""
    answer = "ngày 05/01/2022\u2028(theo văn bản gốc)"
    path = gold_file(tmp_path, {**GOOD, "answer": answer}, {**GOOD, "id": 7})
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    first, second = read_gold(path)
    assert first.answer == answer and first.answers == (answer,) and second.id == "7"
