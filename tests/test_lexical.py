import numpy as np
import pytest

import qa.lexical
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


def test_spent_budget_keeps_the_best_passage_and_its_score(monkeypatch):
    rng = np.random.default_rng(0)
    words = [
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
    passages = [" ".join(rng.choice(words, 30)) + f" mã {i}" for i in range(3000)]
    index = build_lexical(passages, scheme="syllable+bigram")
    question = "hợp tác hữu nghị mã 17"
    full = index.score(question)
    monkeypatch.setattr(qa.lexical, "POSTINGS_BUDGET", 50)
    monkeypatch.setattr(qa.lexical, "FOLLOW_UP", 100)
    pruned = index.score(question)
    best = int(np.argmax(full))
    assert passages[best].endswith("mã 17")
    assert int(np.argmax(pruned)) == best and pruned[best] == pytest.approx(full[best])
    assert np.count_nonzero(pruned) < np.count_nonzero(full)  # the common terms were not read in full


def test_restoring_diacritics_from_the_corpus():
    index = build_lexical(PASSAGES, scheme="syllable+bigram")
    assert index.restore_diacritics("Ha Noi dat bao nhieu diem?") == "Hà Nội đạt bao nhiêu điểm?"
