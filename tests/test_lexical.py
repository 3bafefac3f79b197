import numpy as np
import pytest

import qa.postings
from qa.lexical import build_lexical, tokenize

PASSAGES = [
    "Chỉ thị 12-CT/TW về đối ngoại nhân dân được ban hành ngày 5-1-2022.",
    "Hà Nội đạt 80,77 điểm trong đợt khảo sát về đối ngoại nhân dân.",
    "Mặt trận Tổ quốc Việt Nam phát triển quan hệ với 5 đối tác truyền thống.",
    "Hoà bình, hữu nghị và hợp tác là chủ trương của nhân dân Việt Nam.",
]


def test_syllable_bigrams_and_one_tone_placement():
    assert tokenize("Hoà bình", scheme="syllable+bigram") == ["hòa", "bình", "hòa_bình"]
    assert tokenize("Hòa bình!", scheme="syllable") == ["hòa", "bình"]
    assert tokenize("đối ngoại", scheme="syllable", folded=True) == ["doi", "ngoai"]


def test_unaccented_question_scores_through_the_folded_field():
    index = build_lexical(PASSAGES, scheme="syllable+bigram")
    assert int(np.argmax(index.score("ha noi dat bao nhieu diem khao sat"))) == 1
    assert int(np.argmax(index.score("hòa bình hữu nghị"))) == 3  # "Hoà" in the text
    without = build_lexical(PASSAGES, scheme="syllable+bigram", accent_field=False)
    assert without.folded is None and without.score("ha noi dat bao nhieu diem")[1] == 0


WORDS = [
    "đối",
    "ngoại",
    "nhân",
    "dân",
    "hữu",
    "nghị",
    "hợp",
    "tác",
    "hòa",
    "bình",
    "phát",
    "triển",
    "thủ",
    "đô",
    "mặt",
    "trận",
    "tổ",
    "quốc",
]


@pytest.mark.parametrize("seed", range(4))
def test_pruned_scoring_keeps_the_exact_top(monkeypatch, seed):
    """Common terms read only for passages that can still rank: the best passages and their
    scores are those of reading every posting, and fewer passages are scored."""
    rng = np.random.default_rng(seed)
    passages = [" ".join(rng.choice(WORDS, 30)) + f" mã {i % 97}" for i in range(3000)]
    index = build_lexical(passages, scheme="syllable+bigram")
    question = "hợp tác hữu nghị với nhân dân mã 17"
    full = index.score(question)
    monkeypatch.setattr(qa.postings, "ESSENTIAL_BUDGET", 50)
    monkeypatch.setattr(qa.postings, "EXACT_DEPTH", 20)
    pruned = index.score(question)
    top = np.argsort(-full, kind="stable")[:20]
    assert all(passages[i].endswith("mã 17") for i in top[:5])
    assert np.array_equal(np.argsort(-pruned, kind="stable")[:20], top)
    assert np.allclose(pruned[top], full[top], rtol=1e-6)
    assert np.count_nonzero(pruned) < np.count_nonzero(full)  # the common terms were not read in full


def test_vocabulary_finds_every_term_and_nothing_else():
    index = build_lexical(PASSAGES, scheme="syllable+bigram")
    vocabulary = index.exact.vocabulary
    terms = list(vocabulary)
    assert terms == sorted(terms, key=lambda t: t.encode("utf-8")) and len(terms) == len(set(terms))
    assert [vocabulary[t] for t in terms] == list(range(len(terms)))
    assert "nhân_dân" in vocabulary and "nhân dân" not in vocabulary and "zzz" not in vocabulary
    assert index.exact.document_frequency[vocabulary["nhân_dân"]] == 3


def test_restoring_diacritics_from_the_corpus():
    index = build_lexical(PASSAGES, scheme="syllable+bigram")
    assert index.restore_diacritics("Ha Noi dat bao nhieu diem?") == "Hà Nội đạt bao nhiêu điểm?"
