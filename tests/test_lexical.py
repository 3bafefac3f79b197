import numpy as np
import pytest

import qa.inverter
import qa.postings
from qa.lexical import LexicalIndex, build_lexical, tokenize

PASSAGES = [
    "Chỉ thị 12-CT/TW về đối ngoại nhân dân được ban hành ngày 5-1-2022.",
    "Hà Nội đạt 80,77 điểm trong đợt khảo sát về đối ngoại nhân dân.",
    "Mặt trận Tổ quốc Việt Nam phát triển quan hệ với 5 đối tác truyền thống.",
    "Hoà bình, hữu nghị và hợp tác là chủ trương của nhân dân Việt Nam.",
]


@pytest.fixture(autouse=True, params=["numpy", "compiled"])
def loops(request, monkeypatch):
    """Every search here runs with numpy's loops (a small index's) and with the compiled ones."""
    monkeypatch.setattr(qa.postings, "COMPILED_FROM", 0 if request.param == "compiled" else 10**12)


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


def _exhaustive_top(scores: np.ndarray, n: int) -> np.ndarray:
    best = np.lexsort((np.arange(len(scores)), -scores))[:n]
    return best[scores[best] > 0]


@pytest.mark.parametrize("seed", range(4))
def test_pruned_search_finds_the_exact_top(monkeypatch, seed):
    """Common terms read only for passages that can still rank: the best passages and their
    scores are those of reading every posting, and most passages drop out early."""
    rng = np.random.default_rng(seed)
    passages = [" ".join(rng.choice(WORDS, 30)) + f" mã {i % 97}" for i in range(3000)]
    index = build_lexical(passages, scheme="syllable+bigram")
    survivors = []  # passages still able to reach the top once the common terms are added
    finish = qa.postings._finish
    monkeypatch.setattr(qa.postings, "_finish", lambda *a: survivors.append(len(kept := finish(*a))) or kept)
    monkeypatch.setattr(qa.postings, "ESSENTIAL_BUDGET", 50)
    for question in ("hợp tác hữu nghị với nhân dân mã 17", "hop tac huu nghi ma 17"):
        full = index.score(question)
        rows, scores = index.top(index.terms(question), 20)
        assert all(passages[i].endswith("mã 17") for i in rows[:5])
        assert np.array_equal(rows, _exhaustive_top(full, 20))
        assert np.allclose(scores, full[rows], rtol=1e-6)
    assert survivors and max(survivors) < len(passages) / 10


def test_a_capped_search_still_finds_the_passages_that_hold_the_rare_terms(monkeypatch):
    """Past READ_MAX postings the common terms only complete the best passages found so far."""
    rng = np.random.default_rng(7)
    passages = [" ".join(rng.choice(WORDS, 30)) + f" mã {i % 97}" for i in range(3000)]
    index = build_lexical(passages, scheme="syllable+bigram")
    monkeypatch.setattr(qa.postings, "ESSENTIAL_BUDGET", 50)
    monkeypatch.setattr(qa.postings, "READ_MAX", 100)
    question = "hợp tác hữu nghị với nhân dân mã 17"
    rows, scores = index.top(index.terms(question), 5)
    assert all(passages[i].endswith("mã 17") for i in rows)
    assert np.allclose(scores, index.score(question)[rows], rtol=1e-6)  # scores stay exact


def test_search_within_some_passages_and_scores_of_given_passages():
    rng = np.random.default_rng(3)
    passages = [" ".join(rng.choice(WORDS, 30)) + f" mã {i % 97}" for i in range(3000)]
    index = build_lexical(passages, scheme="syllable+bigram")
    question = "đối ngoại nhân dân mã 5"
    full = index.score(question)
    some = np.arange(1, 3000, 7)
    rows, scores = index.top(index.terms(question), 10, rows=some)
    within = np.zeros_like(full)
    within[some] = full[some]
    assert np.array_equal(rows, _exhaustive_top(within, 10)) and np.allclose(scores, full[rows], rtol=1e-6)
    given = np.array([2999, 5, 1200, 0])
    assert np.allclose(index.scores_of(index.terms(question), given), full[given], rtol=1e-6)
    assert index.top(index.terms("không có từ nào"), 5)[0].size == 0


def test_passages_list_their_common_terms_with_the_weights_of_their_runs_to_the_bit():
    """A common term's weight in a passage, worked out again from the passage's own list (`Forward`),
    is the weight its run stores, to the bit; a rare term (in under 1% of passages) is not listed,
    and is scored from its run."""
    rng = np.random.default_rng(11)
    passages = [" ".join(rng.choice(WORDS, rng.integers(3, 60))) + f" mã {i % 997}" for i in range(3000)]
    index = build_lexical(passages, scheme="syllable+bigram")
    everyone = np.arange(3000)
    for field in (index.exact, index.folded):
        terms = field.terms(list(field.vocabulary), 1.0)
        listed, rare = [t for t in terms if t.listed >= 0], [t for t in terms if t.listed < 0]
        assert len(listed) > 300 and len(rare) > 900  # the words and their pairs; "mã 17" is in 3 passages
        for term in listed:
            alone = np.zeros(len(field.forward.common), dtype=np.float32)
            alone[term.listed] = 1.0
            worked_out = np.zeros(3000)
            field.forward.add(field.idf, alone, everyone, worked_out)
            assert np.array_equal(worked_out, qa.postings.every([term], 3000))
        for term in rare[:50]:
            assert np.array_equal(qa.postings.lookup([term], everyone), qa.postings.every([term], 3000))


def test_an_index_written_before_the_lists_finds_the_same_top():
    """Without the passages' lists (an index built by an earlier version) the common terms are searched
    in their runs: the same passages come back."""
    rng = np.random.default_rng(5)
    passages = [" ".join(rng.choice(WORDS, 30)) + f" mã {i % 97}" for i in range(3000)]
    index = build_lexical(passages, scheme="syllable+bigram")
    arrays = index.arrays()
    stored = LexicalIndex.from_arrays(index.scheme, arrays, passages=3000)  # as an index file holds them
    bare = LexicalIndex.from_arrays(
        index.scheme, {name: a for name, a in arrays.items() if "_forward_" not in name}, passages=3000
    )
    assert stored.exact.forward.ids is index.exact.forward.ids and stored.folded.forward is not None
    assert bare.exact.forward is None and bare.folded.forward is None
    for question in ("hợp tác hữu nghị với nhân dân mã 17", "hop tac huu nghi ma 17", "đối ngoại nhân dân"):
        rows, scores = index.top(index.terms(question), 20)
        bare_rows, bare_scores = bare.top(bare.terms(question), 20)
        assert np.array_equal(rows, bare_rows) and np.allclose(scores, bare_scores, rtol=1e-6)


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


OFFICE_TEXTS = [
    "Điều 5. Trách nhiệm thi hành\n1. Các sở, ban, ngành chịu trách nhiệm thi hành Quyết định này.\n"
    "2. Ủy ban nhân dân cấp huyện báo cáo kết quả trước ngày 15/12/2024.",
    "Thuốc cần mang theo: paracetamol 500 mg…\n- dung dịch oresol…\n- băng gạc vô trùng…",
    "Chỉ tiêu | Kế hoạch | Thực hiện\nDoanh thu | 120 tỷ đồng | 131,5 tỷ đồng",
    "Kính gửi: Sở Nội vụ tỉnh Lào Cai.",
    "Hòa bình, hữu nghị, hợp tác là chủ trương nhất quán; hoà bình là khát vọng của nhân dân.",
]


def test_postings_built_in_small_blocks_and_slices_are_those_built_at_once(monkeypatch):
    """The build gathers postings per block of passages and computes weights a slice of postings at a
    time, to bound its memory at a million passages: on office documents unlike the seeds, blocks of
    2 passages and slices of 7 postings give the very same arrays as one block and one slice."""
    texts = [f"{t} Mục {i}." for i in range(7) for t in OFFICE_TEXTS]
    whole = build_lexical(texts, scheme="syllable+bigram").arrays()
    monkeypatch.setattr(qa.inverter, "BUILD_BLOCK", 2)
    monkeypatch.setattr(qa.inverter, "WEIGHT_SLICE", 7)
    pieces = build_lexical(texts, scheme="syllable+bigram").arrays()
    assert whole.keys() == pieces.keys() and len(whole["exact_rows"]) > 20 * 7
    for name, array in whole.items():
        assert np.array_equal(array, pieces[name]), name
    index = build_lexical(texts, scheme="syllable+bigram")
    rows, _ = index.top(index.terms("thuốc mang theo oresol"), 3)
    assert all("oresol" in texts[r] for r in rows)
