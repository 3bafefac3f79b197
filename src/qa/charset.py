"""Charset: turn a corpus file's bytes into NFC text, legacy Vietnamese encodings included.

Staff keep files from before Unicode: Windows-1258, TCVN3 (TCVN 5712:1993, the ".VnTime"
fonts) and VNI-Windows. Their bytes are rarely valid UTF-8, and no byte marks which one a
file is in, so each is tried and the decoding whose accented words read as Vietnamese
syllables wins. UTF-8 is always tried first: a file that is valid UTF-8 is UTF-8.
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Callable
from functools import lru_cache
from operator import methodcaller
from typing import NamedTuple

from .errors import CorpusError
from .text import nfc

log = logging.getLogger(__name__)


class Decoded(NamedTuple):
    text: str  # NFC
    encoding: str  # "utf-8", "utf-8-sig", "utf-16", "utf-32", "windows-1258", "tcvn3", "vni", "windows-1252"


# A legacy decoding is accepted when this share of its accented words are Vietnamese
# syllables. Measured on the seed pages and tests/test_charset.py's texts in every legacy
# encoding: the right reading scores 0.998-1.0 (misses: typos, foreign names), the wrong
# ones at most 0.28, and Western European text at most 0.33 in any reading. 0.8 leaves a
# fifth of the words to names and typos and stays far above every wrong reading.
_VIETNAMESE_MIN_SHARE = 0.8
# Text in no Vietnamese encoding is read as Windows-1252 when this share of its accented
# words look like Western words. Measured: 1.0 on French, German, Spanish, Italian,
# Portuguese and English; Vietnamese in Windows-1258 or TCVN3 scores 0.51-0.85 (VNI, made of
# Windows-1252 letters, scores 0.96, but is recognised as Vietnamese before this test).
_WESTERN_MIN_SHARE = 0.9
# Non-ASCII bytes that belong to well-formed UTF-8 sequences: above this share the file is
# UTF-8 with a few damaged bytes, not a legacy encoding (legacy Vietnamese text: <= 0.05).
_UTF8_MIN_SHARE = 0.5
# Detection reads the first 64 KiB, some 10,000 words, where a few dozen suffice (every seed
# line with 3+ accented words is read right alone), so a big file is decoded once, not 4 times.
_SAMPLE_BYTES = 1 << 16
_TONES = "\u0300\u0301\u0303\u0309\u0323"  # grave, acute, tilde, hook, dot below

# --- TCVN 5712:1993 VN1 (what glibc's iconv calls TCVN5712-1); VN3/"ABC" is its subset ----
_TCVN_RUNS = (
    (0x01, "ÚỤ"),
    (0x04, "ỪỬỮ"),
    (0x11, "ỨỰỲỶỸÝỴ"),
    (0x80, "ÀẢÃÁẠẶẬÈẺẼÉẸỆÌỈĨÍỊÒỎÕÓỌỘỜỞỠỚỢÙỦŨ"),
    (0xA1, "ĂÂÊÔƠƯĐăâêôơưđẰ"),
    (0xB0, "\u0300\u0309\u0303\u0301\u0323àảãáạẲằẳẵắẴẮẦẨẪẤỀặầẩẫấậèỂẻẽéẹềểễếệìỉỄẾỒĩíịòỔỏõóọồổỗốộờởỡớợ"),
    (0xEF, "ùỖủũúụừửữứựỳỷỹýỵỐ"),
)
TCVN3 = {byte + i: char for byte, run in _TCVN_RUNS for i, char in enumerate(run)}
# ABC files saved from Word as text carry Windows-1252 punctuation (“ ” … –) in 0x80-0x9F,
# where VN1 puts capitals: both readings are tried, ABC's first as it wins ties.
_TCVN_ABC = "".join(
    bytes([b]).decode("cp1252")
    if 0x80 <= b < 0xA0 and b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
    else TCVN3.get(b, chr(b))
    for b in range(256)
)
_TCVN_VN1 = "".join(TCVN3.get(b, chr(b)) for b in range(256))
# TCVN3 (VN3) has no capital toned letters: headings show lowercase codes in capital fonts.
_TCVN_LOWER = "".join(c for c in TCVN3.values() if c.islower() and not c.isascii())
_TCVN_UPPER = str.maketrans(_TCVN_LOWER, _TCVN_LOWER.upper())

# --- VNI-Windows: a base letter then a mark byte, read here as Windows-1252 characters -----
_VNI_TONE = dict(zip("ùøûõï", "\u0301\u0300\u0309\u0303\u0323"))
_VNI_CIRCUMFLEX = {"â": "\u0302"} | {m: "\u0302" + t for m, t in zip("áàåãä", _VNI_TONE.values())}
_VNI_BREVE = {"ê": "\u0306"} | {m: "\u0306" + t for m, t in zip("éèúüë", _VNI_TONE.values())}
_VNI_BASES = {  # VNI base character: (Unicode letter, marks it takes)
    "a": ("a", _VNI_TONE | _VNI_CIRCUMFLEX | _VNI_BREVE),
    "e": ("e", _VNI_TONE | _VNI_CIRCUMFLEX),
    "o": ("o", _VNI_TONE | _VNI_CIRCUMFLEX),
    "ô": ("ơ", _VNI_TONE),
    "u": ("u", _VNI_TONE),
    "ö": ("ư", _VNI_TONE),
    "y": ("y", {m: t for m, t in _VNI_TONE.items() if m != "ï"}),  # ỵ is a byte of its own
}


def _vni_table() -> dict[str, str]:
    table = dict(zip("ôöñæóòîÔÖÑÆÓÒÎ", "ơưđỉĩịỵƠƯĐỈĨỊỴ"))
    for base, (letter, marks) in _VNI_BASES.items():
        for mark, combining in marks.items():
            # capitals take capital marks ("ÑIEÀU") or, in sentence case, small ones ("Ñieàu")
            for b, m in ((base, mark), (base.upper(), mark.upper()), (base.upper(), mark)):
                table[b + m] = nfc((letter.upper() if b.isupper() else letter) + combining)
    return table


VNI = _vni_table()
_VNI_MARKS = "".join(_VNI_TONE | _VNI_CIRCUMFLEX | _VNI_BREVE)
_VNI_MARKS += _VNI_MARKS.upper()
# A mark byte left without a base is no letter: it scores as such, and reads back as itself.
_STRAY = {m: chr(0xE000 + i) for i, m in enumerate(_VNI_MARKS)}
_UNSTRAY = str.maketrans({v: k for k, v in _STRAY.items()})
_VNI_READ = VNI | _STRAY
_VNI_SEQUENCE = re.compile("|".join(sorted(map(re.escape, _VNI_READ), key=len, reverse=True)))

_READ_CP1252: Callable[[bytes], str] = methodcaller("decode", "cp1252")
_READERS: tuple[tuple[str, Callable[[bytes], str]], ...] = (  # ties go to the first
    ("tcvn3", lambda data: data.decode("latin-1").translate(_TCVN_ABC)),
    ("tcvn3", lambda data: data.decode("latin-1").translate(_TCVN_VN1)),
    ("windows-1258", methodcaller("decode", "cp1258")),
    ("vni", lambda data: _VNI_SEQUENCE.sub(lambda m: _VNI_READ[m.group()], data.decode("cp1252"))),
)

# --- Vietnamese syllable: onset + rhyme, one tone on the vowel that carries it -------------
_ONSETS = ("", *"bcdđghklmnprstvx", "ch", "gh", "gi", "kh", "ng", "nh", "ph", "qu", "th", "tr", "ngh")
_OPEN = (
    "ai ao au ay âu ây eo êu ia iu oi ôi ơi ui ưi ưu ưa ua uơ oai oay oao oeo uây uôi ươi ươu uya uyu iêu yêu"
)
_CLOSED = "ă â iê yê uô ươ oă uâ uyê oo"  # only before a final consonant
_BOTH = "a e ê i o ô ơ u ư y oa oe uê uy"


def _rhymes() -> frozenset[str]:
    """Every rhyme, bare and with each tone where the spelling puts it (old or new style)."""
    bare = _OPEN.split() + _BOTH.split()
    bare += [n + c for n in (_CLOSED + " " + _BOTH).split() for c in ("c", "m", "n", "ng", "p", "t")]
    bare += [n + c for n in ("a", "ê", "i", "y", "oa", "uê", "uy") for c in ("ch", "nh")]
    rhymes = set(bare)
    for rhyme in bare:
        nucleus = rhyme.rstrip("cghmnpt")
        coda = rhyme[len(nucleus) :]
        marked = [i for i, v in enumerate(nucleus) if v in "ăâêôơư"]
        if marked:  # "được", "người": the last vowel with a diacritic
            spots = marked[-1:]
        elif coda:  # "hoàn", "quýt": the last vowel
            spots = [len(nucleus) - 1]
        elif nucleus in ("oa", "oe", "uy"):  # "hòa" and "hoà" are both in use
            spots = [0, 1]
        else:  # "tài", "mùa"; "ngoài", "khuỷu"
            spots = [1] if len(nucleus) == 3 else [0]
        # a syllable ending in a stop (c, ch, p, t) takes only the acute or the dot below
        tones = "\u0301\u0323" if coda in ("c", "ch", "p", "t") else _TONES
        rhymes.update(nfc(rhyme[: i + 1] + t + rhyme[i + 1 :]) for i in spots for t in tones)
    return frozenset(rhymes)


_RHYMES = _rhymes()
# Words split at spaces, digits, ASCII and typographic punctuation; a "marked" word has a
# character outside printable ASCII, and only those tell encodings apart.
_WORD = re.compile(r"[^\s\d!-/:-@\[-`{-~\u00a0…“”‘’–—«»•€₫]+")
_WESTERN = "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝßàáâãäåæçèéêëìíîïñòóôõöøùúûüýÿŒœŠšŽžŸ"
# Symbols a Western word may start or end with ("£5", "20°C", "¿Dónde"); inside a word
# they are other code pages' letters ("Za¿ó³æ" is Polish in Windows-1250).
_WESTERN_SYMBOLS = "¡¢£¥§©ª®°±²³¹º¼½¾¿×÷"
_WESTERN_WORD = re.compile(rf"[A-Za-z]*(?:[{_WESTERN}]{{1,2}}[A-Za-z]+)*[{_WESTERN}]{{0,2}}")
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_ASCII = bytes(range(128))


def decode(data: bytes, *, name: str) -> Decoded:
    """`data` as NFC text: UTF-8/16/32 by BOM or validity, else a detected legacy encoding.

    Raises CorpusError (naming `name`) for binary data, broken UTF-16/32 and text in no
    encoding we can recognise; never a UnicodeError.
    """
    for bom, codec in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return _checked(_decode_unicode(data, codec, name=name), codec, name=name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        bad = err.start
    else:
        bom = text.startswith("\ufeff")
        return _checked(text.removeprefix("\ufeff"), "utf-8-sig" if bom else "utf-8", name=name)
    if b"\x00" in data:
        raise CorpusError(
            f"{name} contains NUL bytes: it is a binary file, or UTF-16/UTF-32 without a byte-order "
            "mark; remove it from the corpus or re-save it as UTF-8"
        )
    high = len(data.translate(None, _ASCII))
    if sum(map(len, _UTF8_SEQUENCE.findall(data))) > _UTF8_MIN_SHARE * high:
        raise CorpusError(
            f"{name} is UTF-8 with invalid bytes (byte 0x{data[bad]:02x} at offset {bad}); "
            "the file is damaged or was cut short: restore it or re-save it as UTF-8"
        )
    return _checked(*_legacy(data, name=name), name=name)


def _decode_unicode(data: bytes, codec: str, *, name: str) -> str:
    unit = 4 if codec == "utf-32" else 2
    if len(data) % unit:
        raise CorpusError(
            f"{name} is {codec.upper()} with an odd number of bytes ({len(data)}): it was cut short; "
            "restore it or re-save it as UTF-8"
        )
    try:
        return data.decode(codec)
    except UnicodeDecodeError as err:
        raise CorpusError(
            f"{name} is not valid {codec.upper()} ({err.reason} at offset {err.start}); re-save it as UTF-8"
        ) from None


def _checked(text: str, encoding: str, *, name: str) -> Decoded:
    if "\x00" in text:
        raise CorpusError(f"{name} contains NUL characters: it is not a text file; remove it from the corpus")
    text = nfc(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise CorpusError(
            f"{name} contains a lone surrogate at character {err.start}; re-save it as UTF-8"
        ) from None
    return Decoded(text, encoding)


def _legacy(data: bytes, *, name: str) -> tuple[str, str]:
    """The Vietnamese reading most of whose accented words are syllables, else Windows-1252."""
    sample, scored = data[:_SAMPLE_BYTES], []
    for encoding, read in _READERS:
        try:
            scored.append((_vietnamese_share(nfc(read(sample))), encoding, read))
        except UnicodeDecodeError:  # a byte the code page leaves undefined
            continue
        log.debug("%s as %s: %.2f of accented words are Vietnamese", name, encoding, scored[-1][0])
    share, encoding, read = max(scored, key=lambda s: s[0])  # on a tie, the first reader
    if share < _VIETNAMESE_MIN_SHARE:
        if not _looks_western(sample):
            raise CorpusError(
                f"{name} is not UTF-8 and does not read as Vietnamese in Windows-1258, TCVN3 or VNI "
                f"(best: {encoding}, {share:.0%} of accented words are Vietnamese); convert it to "
                f"UTF-8, e.g. iconv -f WINDOWS-1258 -t UTF-8 {name} > fixed.txt"
            )
        encoding, read = "windows-1252", _READ_CP1252
    try:
        text = nfc(read(data))
    except UnicodeDecodeError as err:
        raise CorpusError(
            f"{name} reads as {encoding}, but byte 0x{data[err.start]:02x} at offset {err.start} is "
            f"not in {encoding}; convert it to UTF-8, e.g. iconv -f WINDOWS-1258 -t UTF-8 {name} > fixed.txt"
        ) from None
    log.info("%s is not UTF-8; read it as %s", name, encoding)
    return (_restore_capitals(text) if encoding == "tcvn3" else text).translate(_UNSTRAY), encoding


def _restore_capitals(text: str) -> str:
    """Upper-case the lowercase-coded letters of all-caps TCVN3 words and lines.

    A word with two capitals and such a letter ("VIệT") is all caps; so is every word of a
    line with such a word and no other lowercase letter ("CộNG HOà Xã HộI"), but not
    "Số 189-CV/BTG", which could be either.
    """

    def capitals(span: str, least: int) -> bool:
        rest = [c for c in span if c.isalpha() and c not in _TCVN_LOWER]
        return len(rest) >= least and all(c.isupper() for c in rest)

    def word(m: re.Match[str]) -> str:
        w = m.group()
        return w.translate(_TCVN_UPPER) if not w.islower() and capitals(w, 2) else w

    def line(m: re.Match[str]) -> str:
        fixed = _WORD.sub(word, m.group())
        return m.group().translate(_TCVN_UPPER) if fixed != m.group() and capitals(m.group(), 1) else fixed

    return re.sub(r"[^\n]+", line, text)


def _marked(text: str) -> list[str]:
    return [w for w in _WORD.findall(text) if not (w.isascii() and w.isprintable())]


def _vietnamese_share(text: str) -> float:
    """The share of marked words that are Vietnamese syllables.

    A lone toned vowel ("ở", "à") says little for a reading, and would let a quote read as
    "Ỏ" or a French "à" count as Vietnamese: it only counts against, as junk does.
    """
    words = [w for w in _marked(text) if len(w) > 1 or not is_syllable(w)]
    return sum(map(is_syllable, words)) / len(words) if words else 0.0


@lru_cache(maxsize=1 << 16)
def is_syllable(word: str) -> bool:
    """Is `word` one Vietnamese syllable as spelt (onset, rhyme, the tone where it goes), in any case?

    Exact, where a letter pattern is not: "nghiêng", "khuỷu", "hoà" are; "tion", "tàì", "cãt" are not.
    """
    word = nfc(word.lower())
    return any(word.startswith(onset) and word[len(onset) :] in _RHYMES for onset in _ONSETS)


def _looks_western(sample: bytes) -> bool:
    """Windows-1252 text whose accented words look like French, German, Spanish ..."""
    try:
        text = sample.decode("cp1252")
    except UnicodeDecodeError:
        return False
    if any(not c.isprintable() and not c.isspace() for c in text):
        return False
    words = [w.strip(_WESTERN_SYMBOLS) for w in _marked(text)]
    # a Western word has ASCII letters around its accented ones ("où", "Mädchen", "à")
    plausible = sum(
        1 for w in words if _WESTERN_WORD.fullmatch(w) and (len(w) <= 2 or any(c.isascii() for c in w))
    )
    return plausible >= _WESTERN_MIN_SHARE * len(words)
