"""Highlight: where a question's words occur in a passage, for the reader's eye.

Matching keys only: the passage shown stays verbatim, these are spans into it.
"""

from __future__ import annotations

import re

from .text import fold_accents, has_diacritics, match_key, words

_WORD = re.compile(r"\w+(?:[-/.]\w+)*")
# Accent-folded: the words too common to be worth highlighting.
_FUNCTION_WORDS = {
    "la",
    "va",
    "cua",
    "co",
    "cac",
    "nhung",
    "mot",
    "duoc",
    "trong",
    "cho",
    "voi",
    "den",
    "tu",
    "nao",
    "gi",
    "ai",
    "bao",
    "nhieu",
    "the",
    "do",
    "nay",
    "khi",
    "thi",
    "ma",
    "o",
    "ve",
    "de",
    "da",
    "se",
    "dang",
    "nhu",
    "theo",
    "tai",
    "ra",
    "vao",
    "len",
    "bi",
    "boi",
    "hay",
    "hoac",
}


def highlight_spans(text: str, question: str) -> list[tuple[int, int]]:
    """Where the question's words occur in `text`: case and tone placement never matter, and
    diacritics only for words typed without them ("ha noi" lights up "Hà Nội", "nội" does not
    light up "nói").

    Words as common as "là", "có" or "của" would light up every line, so they never count.
    """
    exact, folded = set(), set()
    for word in words(question):
        bare = fold_accents(word).lower()
        if bare not in _FUNCTION_WORDS:
            (exact if has_diacritics(word) else folded).add(match_key(word) if has_diacritics(word) else bare)
    return [
        (m.start(), m.end())
        for m in _WORD.finditer(text)
        if match_key(m.group()) in exact or fold_accents(m.group()).lower() in folded
    ]
