"""Properties of text normalisation, chunking and the passage table, checked on generated text
(hypothesis).

Example counts are kept small so this file runs in well under a minute. For a long fuzz
run set QA_FUZZ=1, which multiplies every example count by 50:

    QA_FUZZ=1 .venv/bin/python -m pytest tests/test_properties.py -q
"""

import itertools
import os
import random
import re
import unicodedata

from hypothesis import example, given, settings
from hypothesis import strategies as st

from qa.chunk import chunk_document
from qa.ingest import parse_document
from qa.passage_table import PassageTable
from qa.text import canonical, fold_accents, fold_tones, match_key, nfc

FUZZ = 50 if os.environ.get("QA_FUZZ") == "1" else 1


def examples(n: int) -> settings:
    return settings(max_examples=n * FUZZ, deadline=None)


# --- Vietnamese-like text -------------------------------------------------------------

ONSETS = [*str.split("b c ch d đ g gh gi h k kh l m n ng ngh nh p ph qu r s t th tr v x"), ""]
NUCLEI = str.split(
    "a ă â e ê i o ô ơ u ư y oa oe uy ia iê ua uô ươ ưa ai ao au ay âu ây eo êu oi ôi ơi ui ưu uyê"
)
CODAS = ["", "", "c", "ch", "m", "n", "ng", "nh", "p", "t"]
TONES = ["", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"]  # none, huyền, sắc, hỏi, ngã, nặng
CASES = [str.lower, str.lower, str.lower, str.title, str.upper]


def _syllable(onset: str, nucleus: str, tone: int, at: int, coda: str, case: int) -> str:
    """A syllable with its tone mark on any vowel of the nucleus (old, new or odd placement)."""
    at %= len(nucleus)
    toned = nucleus[: at + 1] + TONES[tone] + nucleus[at + 1 :]
    return CASES[case](nfc(onset + toned + coda))


syllables = st.builds(
    _syllable,
    st.sampled_from(ONSETS),
    st.sampled_from(NUCLEI),
    st.integers(0, len(TONES) - 1),
    st.integers(0, 2),
    st.sampled_from(CODAS),
    st.integers(0, len(CASES) - 1),
)
# what sits between syllables in real and broken documents
others = st.sampled_from(
    [
        *str.split('. , ; : ! ? … ... - – — ( ) " “ ” * ** # /'),
        *str.split("12-CT/TW 05/01/2022 1. I. TP. C. 😀 🇻🇳 中文 русский ١٢٣"),
        "e\u0301",
    ]
)
tokens = st.one_of(syllables, syllables, syllables, others, st.integers(0, 10**6).map(str))
separators = st.sampled_from([" ", " ", " ", " ", "  ", "\t", "\n", " \n", "\u00a0"])


@st.composite
def sentences(draw) -> str:
    words = draw(st.lists(tokens, min_size=1, max_size=30))
    return "".join(w + draw(separators) for w in words).strip() + draw(
        st.sampled_from(["", ".", "!", "?", "…"])
    )


paragraphs = st.lists(sentences(), min_size=1, max_size=6).map(" ".join)


_rng = random.Random(0)
_POOL = [
    _syllable(_rng.choice(ONSETS), _rng.choice(NUCLEI), _rng.randrange(len(TONES)), 0, _rng.choice(CODAS), 0)
    for _ in range(300)
]


def _run(rng: random.Random, n: int, symbols: bool) -> str:
    """A paragraph of `n` syllables with no clause punctuation (the chunker's worst case),
    with or without wordless symbols among them."""
    pool = _POOL + ["–", "-", "😀", "…", "*"] * 3 if symbols else _POOL
    return " ".join(rng.choice(pool) for _ in range(n))


long_runs = st.builds(_run, st.randoms(use_true_random=False), st.integers(50, 2500), st.booleans())
repeated = st.builds(
    lambda p, k, sep: sep.join([p] * k), paragraphs, st.integers(2, 40), st.sampled_from(["\n", "\n\n"])
)
anything = st.text(max_size=300)
documents = st.builds(
    lambda parts, seps: "".join(p + s for p, s in zip(parts, seps)),
    st.lists(
        st.one_of(paragraphs, paragraphs, paragraphs, long_runs, repeated, anything), min_size=1, max_size=8
    ),
    st.lists(st.sampled_from(["\n", "\n\n", "\n\n\n", "\r\n", " "]), min_size=8, max_size=8),
)


# --- normalisation ---------------------------------------------------------------------

vietnamese = st.lists(st.one_of(syllables, others), max_size=20).map(" ".join)
MARKUP = "*_#`"
plain_text = st.one_of(vietnamese, st.text(max_size=80))
markdown = st.text(st.sampled_from(MARKUP + " \n\taà"), max_size=20)
_MARKS = re.compile(r"[\u0300-\u036f]")


@examples(300)
@given(st.one_of(plain_text, markdown))
def test_tone_and_accent_folding_are_idempotent(text):
    for key in (nfc, fold_tones, fold_accents):
        assert key(key(text)) == key(text), key.__name__


@examples(300)
@given(plain_text)
def test_keys_are_idempotent(text):
    for key in (match_key, canonical):
        assert key(key(text)) == key(text), key.__name__


@examples(300)
@given(markdown)
def test_clean_is_idempotent_on_markdown(text):
    assert match_key(match_key(text)) == match_key(text)
    assert canonical(canonical(text)) == canonical(text)


@examples(300)
@given(st.one_of(plain_text, markdown))
def test_keys_do_not_depend_on_the_unicode_normal_form(text):
    for form in ("NFC", "NFD"):
        variant = unicodedata.normalize(form, text)
        for key in (nfc, fold_tones, match_key, canonical, fold_accents):
            assert key(variant) == key(text), (key.__name__, form)


@examples(300)
@given(
    st.sampled_from([o for o in ONSETS if o != "qu"]),
    st.sampled_from(["oa", "oe", "uy"]),
    st.integers(1, len(TONES) - 1),
    st.integers(0, len(CASES) - 1),
    st.sampled_from(["", " ", ",", ".", "\n"]),
)
@example("h", "oa", 1, 0, "")  # hoà / hòa
@example("th", "uy", 3, 0, " ")  # thuỷ / thủy
def test_old_and_new_tone_placement_give_one_key(onset, nucleus, tone, case, after):
    old = _syllable(onset, nucleus, tone, 0, "", case) + after  # "hòa", "thủy"
    new = _syllable(onset, nucleus, tone, 1, "", case) + after  # "hoà", "thuỷ"
    assert old != new
    assert fold_tones(new) == fold_tones(old) == old
    assert match_key(new) == match_key(old)
    assert canonical(new) == canonical(old)


@examples(100)
@given(st.integers(1, len(TONES) - 1), st.sampled_from(["", "nh", "n"]), st.integers(0, len(CASES) - 1))
@example(2, "", 0)  # quý
def test_tone_on_y_after_qu_stays(tone, coda, case):
    word = _syllable("qu", "y", tone, 0, coda, case)
    assert fold_tones(word) == word
    assert match_key(word) == word.lower()


@examples(300)
@given(st.lists(syllables, max_size=20).map(" ".join))
def test_accent_folding_leaves_plain_ascii_of_vietnamese(text):
    folded = fold_accents(text)
    assert folded.isascii()
    assert fold_accents(fold_tones(text)) == folded


@examples(300)
@given(st.text(max_size=80))
def test_accent_folding_removes_every_vietnamese_mark_from_any_text(text):
    folded = fold_accents(text)
    assert not _MARKS.search(unicodedata.normalize("NFD", folded))
    assert "đ" not in folded and "Đ" not in folded
    assert fold_accents(folded) == folded


# --- chunk spans ----------------------------------------------------------------------

SETTINGS = [(10, 0), (10, 3), (16, 5), (40, 0), (40, 12), (100, 20)]


def _check_spans(text: str, doc_id: str, size: int, overlap: int) -> None:
    document = parse_document(text, doc_id=doc_id, boilerplate=False)
    chunks = chunk_document(document, size=size, overlap=overlap)
    covered = bytearray(len(document.text))
    for chunk in chunks:
        assert chunk.text == document.text[chunk.start : chunk.end]
        assert chunk.text and chunk.text == chunk.text.strip()
        covered[chunk.start : chunk.end] = b"\1" * (chunk.end - chunk.start)
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    assert all(a.end <= b.end for a, b in itertools.pairwise(chunks))
    if overlap == 0:
        assert all(a.end <= b.start for a, b in itertools.pairwise(chunks))
    for n, block in enumerate(document.blocks):
        if block.kind == "heading":  # a chunk never runs across a heading
            assert not any(c.start < block.start < c.end for c in chunks)
        elif block.kind == "text" or n:  # prose: all but headings and an opening title
            missed = "".join(document.text[i] for i in range(block.start, block.end) if not covered[i])
            assert not missed.strip(), missed[:80]
    with PassageTable() as table:  # the build's table: each passage read back, also by its UTF-8 bytes
        table.add(doc_id, document.title, document.text, chunks)
        columns, encoded = table.columns(), document.text.encode("utf-8")
        assert b"".join(table.text_pieces()) == encoded
        for row, chunk in enumerate(chunks):
            assert table[row] == chunk
            assert (
                encoded[columns["byte_start"][row] : columns["byte_end"][row]].decode("utf-8") == chunk.text
            )


@examples(60)
@given(documents, st.sampled_from(["x.txt", "x.md"]), st.sampled_from(SETTINGS))
def test_chunks_are_verbatim_ordered_and_cover_every_block(text, doc_id, setting):
    _check_spans(text, doc_id, *setting)


@examples(20)
@given(long_runs, st.sampled_from(SETTINGS))
def test_long_unpunctuated_paragraphs_chunk(text, setting):
    _check_spans("Tiêu đề\n" + text + "\n", "x.txt", *setting)


@examples(100)
@given(st.text(max_size=400), st.sampled_from(SETTINGS))
def test_any_unicode_text_chunks(text, setting):
    _check_spans(text, "x.txt", *setting)


@examples(30)
@given(documents, st.sampled_from([(50, 10), (200, 40), (1000, 200)]))
def test_recursive_chunks_are_verbatim_and_ordered(text, setting):
    document = parse_document(text, doc_id="x.txt", boilerplate=False)
    chunks = chunk_document(document, size=setting[0], overlap=setting[1], method="recursive")
    assert all(c.text == document.text[c.start : c.end] for c in chunks)
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
