"""Gold questions: the JSON lines `qa eval` scores against, checked whole before any work.

A gold file is written by hand, so each line is checked for what the scoring relies on (the
types of its fields, a known split, type and kind, a question the search takes, no id twice),
and the first bad line is named with what to fix: a run is never lost to line 180 after the
index is built, and a string where a list belongs is never read letter by letter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from . import MAX_QUESTION_CHARS, GoldError

TYPES = ("fact", "definition", "list", "paraphrase", "no_diacritics", "multi_doc", "unanswerable")
KINDS = ("off_topic", "missing_detail", "false_premise")  # of unanswerable questions
SPLITS = ("dev", "test")
_SHAPE = '{"id", "question", "answer" (null when unanswerable), "alt_answers" (a list), "type", "split"}'


@dataclass(frozen=True)
class GoldQuestion:
    id: str
    question: str
    type: str
    split: str
    doc: str | None = None
    docs: tuple[str, ...] = ()
    answer: str | None = None
    alt_answers: tuple[str, ...] = ()
    unanswerable: str | None = None  # its kind, for an unanswerable question: one of KINDS

    @property
    def answerable(self) -> bool:
        return self.answer is not None

    @property
    def answers(self) -> tuple[str, ...]:
        return ((self.answer,) if self.answer else ()) + self.alt_answers


def read_gold(path: str | Path) -> list[GoldQuestion]:
    """The questions of a gold file, or a `GoldError` naming its first bad line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise GoldError(f"cannot read gold file {path}: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise GoldError(f"{path} is not UTF-8 text (byte {err.start}); save it as UTF-8") from None
    questions: list[GoldQuestion] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.split("\n"), 1):  # not splitlines: U+2028 may be in a string
        if not line.strip():
            continue
        try:
            q = _question(json.loads(line))
        except (ValueError, RecursionError, KeyError, TypeError) as err:
            why = f"no {err}" if isinstance(err, KeyError) else str(err) or type(err).__name__
            raise GoldError(
                f"{path}:{number} is not a gold question ({why}); each line is {_SHAPE}"
            ) from None
        if q.id in seen:
            raise GoldError(
                f"{path}:{number} has the id {q.id!r} of line {seen[q.id]}; give each question its own"
            )
        seen[q.id] = number
        questions.append(q)
    if not questions:
        raise GoldError(f"{path} has no questions")
    return questions


def _question(row: object) -> GoldQuestion:
    if not isinstance(row, dict):
        raise TypeError(f"a JSON object, not {type(row).__name__}")
    if isinstance(row["id"], bool) or not isinstance(row["id"], str | int) or not str(row["id"]).strip():
        raise TypeError(f"the id must be text or a whole number, not {row['id']!r}")
    question = _text(row, "question")
    if len(question) > MAX_QUESTION_CHARS:
        raise ValueError(f"the question is over {MAX_QUESTION_CHARS:,} characters, which search refuses")
    answer = None if row.get("answer") is None else _text(row, "answer")
    alternatives = row.get("alt_answers") or []
    if not isinstance(alternatives, list) or not all(isinstance(a, str) and a.strip() for a in alternatives):
        raise TypeError(f"alt_answers must be a list of answers, not {alternatives!r}")
    docs = row.get("docs") or []
    if not isinstance(docs, list) or not all(isinstance(d, str) for d in docs):
        raise TypeError(f"docs must be a list of document ids, not {docs!r}")
    if row.get("doc") is not None and not isinstance(row["doc"], str):
        raise TypeError(f"doc must be a document id, not {row['doc']!r}")
    for field, known, default in (("type", TYPES, "fact"), ("split", SPLITS, "test")):
        if row.get(field, default) not in known:
            raise ValueError(f"{field} must be one of {', '.join(known)}, not {row.get(field)!r}")
    if row.get("unanswerable") not in (None, *KINDS):
        raise ValueError(f"unanswerable must be one of {', '.join(KINDS)}, not {row['unanswerable']!r}")
    return GoldQuestion(
        id=str(row["id"]).strip(),
        question=question,
        type=row.get("type", "fact"),
        split=row.get("split", "test"),
        doc=row.get("doc"),
        docs=tuple(docs),
        answer=answer,
        alt_answers=tuple(alternatives),
        unanswerable=row.get("unanswerable"),
    )


def _text(row: dict, field: str) -> str:
    value = row[field]
    if not isinstance(value, str) or not value.strip():
        raise TypeError(f"{field} must be text, not {value!r}")
    return value
