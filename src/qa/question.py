"""Question: what a question asks for, read before any passage is.

Three things decide whether passages answer a question, beyond how close they are:
its content terms (weighed by their rarity in the index, as BM25 weighs them), its
specific terms (names, numbers, codes such as "12-CT/TW", acronyms, quoted phrases:
a question about "2024" or "HAUFO" is not answered by a passage without them), and the
kind of value it asks for ("năm nào" a year, "bao nhiêu đại biểu" a number of
delegates). Phrases are compared as whole syllables, without diacritics when the
question has none.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .index import Index
from .lexical import tokenize
from .text import clean, fold_accents, has_diacritics, match_key, syllables, words

AnswerKind = Literal["date", "year", "number", "person", "place", "code"]
# What a question asks for, by its question phrase.
_ASKS: dict[AnswerKind, tuple[str, ...]] = {
    "date": ("ngày nào", "ngày tháng năm nào", "khi nào", "hôm nào", "bao giờ", "lúc nào", "thời gian nào"),
    "year": ("năm nào", "năm bao nhiêu", "giai đoạn nào", "thời kỳ nào"),
    "number": ("bao nhiêu", "mấy"),
    "person": ("ai", "đồng chí nào", "người nào", "đại sứ nào", "tác giả"),
    "place": ("ở đâu", "tại đâu", "tỉnh nào", "thành phố nào", "nước nào", "địa điểm nào", "nơi nào"),
    "code": ("số hiệu", "ký hiệu", "công văn nào", "văn bản nào", "số mấy"),
}
# Words too common, or too much a question's own ("nào", "bao nhiêu"), to say what it is about.
_QUESTION_WORDS = frozenset(
    syllables(
        "là và của có các những một được trong cho với đến từ nào gì ai bao nhiêu mấy thế nào sao vì "
        "đâu khi nay này đó thì mà ở về để đã sẽ đang như theo tại ra vào bị bởi hay hoặc không phải "
        "qua trên dưới giữa sau trước năm"
    )
)
# "khóa mấy", "lần thứ mấy", "số mấy" ask which one, not how many.
_ORDINAL_BEFORE = frozenset(syllables("thứ khóa khoá số kỳ đợt"))
# The longest phrase taken from a question to name what it counts or measures.
PHRASE_WORDS = 6
# Words that start a question before its subject: "Trong đợt khảo sát, … là bao nhiêu?".
_LEADING_WORDS = frozenset(syllables("trong theo ở tại từ khi để với về năm sau trước riêng hiện nay có"))
# Written-out numbers: "ba giải pháp", "hai bên".
_NUMBER_WORDS = frozenset(syllables("một hai ba bốn năm sáu bảy tám chín mười mươi trăm nghìn ngàn triệu tỷ"))
_VALUES = {
    "date": re.compile(
        r"\b\d{1,2}\s?[-/]\s?\d{1,2}(?:\s?[-/]\s?\d{2,4})?\b|\b(?:ngày|tháng)\s+\d{1,2}\b", re.I
    ),
    "year": re.compile(r"\b(?:1[89]|20)\d\d\b"),
    "number": re.compile(r"\b\d+(?:[.,]\d+)*\b"),
    "code": re.compile(r"\b\d+(?:/\d+)?[-/][A-ZĐ]+[\w/-]*"),  # 495-CV/BTGTU, 41/2013/QĐ-TTg
}
# The commonest Vietnamese family names, borne by about nine people in ten: what starts a
# person's name, where "Việt Nam" or "Mặt trận" are capitalised too.
_FAMILY_NAMES = frozenset(syllables("Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý"))
# Accent-folded: the words a place name follows ("tại Hà Nội", "tỉnh Quảng Bình").
_PLACE_WORDS = ("tai", "o", "tinh", "thanh pho", "huyen", "quan", "thu do", "nuoc")
_QUOTED = re.compile(r"[\"“«]([^\"”»]{3,})[\"”»]")
# A name this long (letters) may be written without spaces in the passages: "Báo Quốc tế" in
# "baoquocte.vn"; shorter ones would be found inside unrelated words.
MIN_SQUASHED = 6
# An acronym this long may be spelt out in the passages: "MTTQ" as "Mặt trận Tổ quốc".
MIN_SPELLED_ACRONYM = 4


@dataclass(frozen=True)
class Question:
    text: str
    folded: bool  # typed without diacritics: every comparison is made without them
    kinds: tuple[AnswerKind, ...]  # the kinds of value it asks for
    specific: tuple[str, ...]  # names, numbers, codes, acronyms and quoted phrases, as typed
    counted: str | None  # the noun of "bao nhiêu X" / "mấy X", as typed ("đại biểu"), when it has one
    measured: str | None  # what "X … là bao nhiêu?" measures, as typed ("Kinh phí hoạt động")
    weights: dict[str, float] = field(repr=False)  # content term → idf (terms the index lacks: the highest)


def read_question(index: Index, question: str) -> Question:
    """What `question` asks for, with its content terms weighed by `index`."""
    lexical = index.lexical
    folded = not has_diacritics(question)
    if folded and not lexical.has_folded:  # an index without the accent-folded field: re-accent
        question, folded = lexical.restore_diacritics(question), False
    rarest = float(np.log1p((lexical.passages + 0.5) / 0.5))  # idf of a term in no passage
    common = _FOLDED_QUESTION_WORDS if folded else _QUESTION_WORDS
    weights = {}
    for term in tokenize(question, scheme="syllable+bigram", folded=folded):
        if not all(part in common for part in term.split("_")):
            idf = lexical.idf_of(term, folded=folded)
            weights[term] = rarest if idf is None else idf
    counted = _counted(question)
    measured = None if counted else _measured(question)
    return Question(
        question, folded, asked_kinds(question), specific_terms(question), counted, measured, weights
    )


def coverage(question: Question, text: str) -> float:
    """The idf-weighted share of the question's content terms that `text` contains, 0..1."""
    total = sum(question.weights.values())
    if not total:
        return 0.0
    present = set(tokenize(text, scheme="syllable+bigram", folded=question.folded))
    return sum(w for term, w in question.weights.items() if term in present) / total


def asked_kinds(question: str) -> tuple[AnswerKind, ...]:
    """The kinds of value the question asks for, by its question phrases."""
    folded = not has_diacritics(question)
    key = phrase_key(question, folded=folded)
    return tuple(kind for kind, phrases in _ASK_KEYS[folded].items() if any(p in key for p in phrases))


def specific_terms(question: str) -> tuple[str, ...]:
    """Quoted phrases; words with a digit ("12-CT/TW", "2023"); acronyms ("HAUFO"); runs of two or
    more capitalised words ("Thừa Thiên Huế"), the question's first word left out ("Theo Chỉ thị").
    A lone capitalised word is a common noun written with a capital ("Thủ đô") as often as a name."""
    terms = [m.group(1) for m in _QUOTED.finditer(question)]
    acronyms = set()
    for word in words(question):
        if any(c.isdigit() for c in word):
            terms.append(word)
        elif len(word) >= 2 and word.isupper():
            terms.append(word)
            acronyms.add(word)
    for start, run in _capitalised_runs(question):
        names = [w for w in run.split(" ")[1 if start == 0 else 0 :] if w not in acronyms]
        if len(names) >= 2:
            terms.append(" ".join(names))
    return tuple(dict.fromkeys(terms))


def _counted(question: str) -> str | None:
    """The noun counted by "bao nhiêu X" or "mấy X", as typed: the words after the question
    phrase up to a common one, at most `PHRASE_WORDS` ("hội hữu nghị song phương")."""
    folded = not has_diacritics(question)
    keys = comparison_syllables(question, folded=folded)
    how_many = (("bao", "nhieu" if folded else "nhiêu"), ("may" if folded else "mấy",))
    ordinal = _FOLDED_ORDINAL_BEFORE if folded else _ORDINAL_BEFORE
    for i in range(len(keys)):
        for phrase in how_many:
            end = i + len(phrase)
            if tuple(keys[i:end]) == phrase and not (i and keys[i - 1] in ordinal):
                counted = _phrase(question, keys, end)
                if counted:
                    return counted
    return None


def _phrase(question: str, keys: list[str], start: int) -> str | None:
    """The question's words from syllable `start` up to a common word or a number, at most
    `PHRASE_WORDS`, as typed; None when there are none."""
    common = _FOLDED_QUESTION_WORDS if not has_diacritics(question) else _QUESTION_WORDS
    end = start
    while (
        end < min(len(keys), start + PHRASE_WORDS) and keys[end] not in common and not keys[end].isdecimal()
    ):
        end += 1
    return " ".join(_SYLLABLE.findall(clean(question))[start:end]) or None


def _measured(question: str) -> str | None:
    """What "X … là bao nhiêu?" measures: its opening words, as typed ("Kinh phí hoạt động" of
    "Kinh phí hoạt động năm 2023 của HAUFO là bao nhiêu?"); None when it opens otherwise."""
    folded = not has_diacritics(question)
    keys = comparison_syllables(question, folded=folded)
    if not phrase_key(question, folded=folded).endswith(_HOW_MUCH_END[folded]) or len(keys) <= 5:
        return None
    if keys[0] in (_FOLDED_LEADING_WORDS if folded else _LEADING_WORDS):
        return None
    measured = _phrase(question, keys, 0)
    return measured if measured and len(measured.split()) >= 2 else None


def comparison_syllables(text: str, *, folded: bool) -> list[str]:
    """Syllables as compared: lower case, one tone placement, "05" as "5", no diacritics if `folded`."""
    return [str(int(s)) if s.isdecimal() else s for s in syllables(fold_accents(text) if folded else text)]


def is_number(key: str, *, folded: bool) -> bool:
    """Whether a comparison key is a number, in digits or in words."""
    return key.isdecimal() or key in (_FOLDED_NUMBER_WORDS if folded else _NUMBER_WORDS)


@dataclass(frozen=True)
class TextKeys:
    """What specific terms are looked up in: a text's syllables, the initials of its runs of
    words, and its letters run together without diacritics (web addresses: "baoquocte.vn")."""

    syllables: frozenset[str]
    initials: str
    squashed: str


def text_keys(text: str, *, folded: bool) -> TextKeys:
    bare = fold_accents(match_key(text))
    runs = " ".join("".join(s[0] for s in run.split()) for run in _RUN.findall(bare))
    return TextKeys(frozenset(comparison_syllables(text, folded=folded)), runs, _NOT_ALNUM.sub("", bare))


def states_count(question: Question, sentence: str) -> bool:
    """Whether the sentence puts a number right before the noun the question counts: "150 đại
    biểu" for "bao nhiêu đại biểu"."""
    if not question.counted:
        return False
    noun = comparison_syllables(question.counted, folded=question.folded)[0]
    keys = comparison_syllables(sentence, folded=question.folded)
    return any(k == noun and is_number(n, folded=question.folded) for n, k in itertools.pairwise(keys))


def has_term(term: str, keys: TextKeys, *, folded: bool) -> bool:
    """Whether a specific term occurs in a text: all its syllables; for a long acronym, the
    initials of consecutive words ("MTTQ"); for a name, its letters run together."""
    if all(k in keys.syllables for k in comparison_syllables(term, folded=folded)):
        return True
    if any(c.isdigit() for c in term):
        return False
    if term.isupper():
        return len(term) >= MIN_SPELLED_ACRONYM and fold_accents(term).lower() in keys.initials
    return (
        len(squashed := _NOT_ALNUM.sub("", fold_accents(term).lower())) >= MIN_SQUASHED
        and squashed in keys.squashed
    )


def phrase_key(text: str, *, folded: bool = True) -> str:
    """Syllables between spaces, so that `in` matches whole syllables only."""
    key = " ".join(syllables(text))
    return f" {fold_accents(key) if folded else key} "


def values(sentence: str, kind: AnswerKind) -> list[str]:
    """The values of this kind the sentence holds."""
    if kind in _VALUES:
        return _VALUES[kind].findall(sentence)
    runs = _capitalised_runs(sentence)
    if kind == "person":  # a family name and the capitalised words after it: "Nguyễn Ngọc Kỳ"
        people = []
        for _, text in runs:
            names = text.split(" ")
            people += [
                " ".join(names[i:]) for i in range(len(names) - 1) if match_key(names[i]) in _FAMILY_NAMES
            ]
        return people
    # the few characters before a run hold the longest place word ("thành phố") and more
    return [
        text for start, text in runs if phrase_key(sentence[max(0, start - 16) : start]).endswith(_PLACE_KEYS)
    ]


def _capitalised_runs(text: str) -> list[tuple[int, str]]:
    """(start, text) of each run of capitalised words separated by single spaces: names."""
    runs: list[list[re.Match]] = []
    for m in _WORD.finditer(text):
        if not m.group()[0].isupper():
            continue
        if runs and text[runs[-1][-1].end() : m.start()] == " ":
            runs[-1].append(m)
        else:
            runs.append([m])
    return [(run[0].start(), text[run[0].start() : run[-1].end()]) for run in runs]


_WORD = re.compile(r"\w+(?:[-/.]\w+)*")
_NOT_ALNUM = re.compile(r"[\W_]+")
_SYLLABLE = re.compile(r"\w+")
_RUN = re.compile(r"[^\W_]+(?:\s+[^\W_]+)*")
_HOW_MUCH_END = {folded: phrase_key("là bao nhiêu", folded=folded) for folded in (False, True)}
_PLACE_KEYS = tuple(phrase_key(w) for w in _PLACE_WORDS)
_FOLDED_QUESTION_WORDS = frozenset(fold_accents(w) for w in _QUESTION_WORDS)
_FOLDED_ORDINAL_BEFORE = frozenset(fold_accents(w) for w in _ORDINAL_BEFORE)
_FOLDED_LEADING_WORDS = frozenset(fold_accents(w) for w in _LEADING_WORDS)
_FOLDED_NUMBER_WORDS = frozenset(fold_accents(w) for w in _NUMBER_WORDS)
_ASK_KEYS = {  # by whether the question is compared without diacritics
    folded: {kind: [phrase_key(p, folded=folded) for p in phrases] for kind, phrases in _ASKS.items()}
    for folded in (False, True)
}
