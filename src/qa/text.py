"""Vietnamese text normalisation: the matching keys every later stage compares on.

Displayed text is never rewritten; these functions only produce keys for matching.
This is the only module that knows pyvi.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Tones live on different vowels in the old ("hòa", "thủy") and new ("hoà", "thuỷ")
# spelling; both occur, even inside one document. Keys use the old placement.
_TONED = {
    "a": "àáảãạ",
    "e": "èéẻẽẹ",
    "y": "ỳýỷỹỵ",
    "o": "òóỏõọ",
    "u": "ùúủũụ",
}
_NEW_TO_OLD = {}
for _first, _second in (("o", "a"), ("o", "e"), ("u", "y")):
    for _tone, _mark in enumerate(_TONED[_second]):
        _NEW_TO_OLD[_first + _mark] = _TONED[_first][_tone] + _second
        _NEW_TO_OLD[_first.upper() + _mark.upper()] = _TONED[_first].upper()[_tone] + _second.upper()
        _NEW_TO_OLD[_first.upper() + _mark] = _TONED[_first].upper()[_tone] + _second
# Only an open syllable moves its tone ("hoàn" is the same in both styles) and "qu"
# is a consonant ("quý" keeps its tone on y).
_NEW_TONE = re.compile(r"(?<![qQ])(" + "|".join(map(re.escape, _NEW_TO_OLD)) + r")(?!\w)")

_WORD = re.compile(r"\w+(?:[-/.]\w+)*", re.UNICODE)
_SYLLABLE = re.compile(r"\w+", re.UNICODE)
# Emphasis and code marks go first, then the heading marks their removal may expose, so
# that clean(clean(x)) == clean(x) ("_*_", " # x", "*# x").
_EMPHASIS = re.compile(r"[*`]+")
_UNDERLINE = re.compile(r"_{2,}")
_HEADING_MARK = re.compile(r"^\s*(?:#{1,6}\s+)+", re.MULTILINE)
_SPACE = re.compile(r"\s+")
_VOWEL_MARKS = re.compile(r"[\u0300-\u036f]")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def fold_tones(text: str) -> str:
    """Put every tone mark where the old spelling puts it, so "hoà" == "hòa"."""
    return _NEW_TONE.sub(lambda m: _NEW_TO_OLD[m.group(1)], nfc(text))


def fold_accents(text: str) -> str:
    """Strip all diacritics and đ, as people type when they skip the Vietnamese keyboard."""
    stripped = _VOWEL_MARKS.sub("", unicodedata.normalize("NFD", text))
    return nfc(stripped.replace("đ", "d").replace("Đ", "D"))


def has_diacritics(text: str) -> bool:
    return fold_accents(text) != nfc(text)


def clean(text: str) -> str:
    """Prose without markdown emphasis or line breaks: what models and tokenisers read."""
    text = _HEADING_MARK.sub("", _UNDERLINE.sub("", _EMPHASIS.sub("", nfc(text))))
    return _SPACE.sub(" ", text).strip()


def canonical(text: str) -> str:
    """What models read: clean text with one tone placement, case and diacritics kept."""
    return fold_tones(clean(text))


def match_key(text: str) -> str:
    """The exact-match key: clean, NFC, lower case, one tone placement."""
    return fold_tones(clean(text).lower())


def syllables(text: str) -> list[str]:
    """Lower-cased, tone-folded syllables; punctuation dropped."""
    return _SYLLABLE.findall(match_key(text))


def words(text: str) -> list[str]:
    """Alphanumeric tokens as the reader sees them ("12-CT/TW" stays whole)."""
    return _WORD.findall(nfc(text))


@lru_cache(maxsize=1)
def _pyvi():
    from pyvi import ViTokenizer

    return ViTokenizer


def segment(text: str) -> str:
    """pyvi word segmentation: syllables of one word joined by "_" ("đối_ngoại")."""
    text = clean(text)
    if not text:
        return ""
    return _pyvi().tokenize(text)


def segmented_words(text: str) -> list[str]:
    """Vietnamese words as pyvi segments them, punctuation dropped."""
    return [token for token in segment(text).split() if _SYLLABLE.search(token)]


@lru_cache(maxsize=1 << 16)
def count_words(text: str) -> int:
    """pyvi words in `text`; cached, since sentences recur (quotes, boilerplate, sizing passes)."""
    return len(segmented_words(text))
