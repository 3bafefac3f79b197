"""BM25's loops compiled (numba, for large indexes) and in numpy (small ones) give the same numbers,
to the bit, on postings and passages' term lists built from text."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa import kernels, kernels_numpy
from qa.lexical import build_lexical
from qa.postings import K1

WORDS = ["đối", "ngoại", "nhân", "dân", "hữu", "nghị", "hợp", "tác", "hòa", "bình", "phát", "triển"]


@pytest.fixture(scope="module")
def field():
    rng = np.random.default_rng(1)
    passages = [" ".join(rng.choice(WORDS, rng.integers(1, 80))) + f" mã {i % 97}" for i in range(3000)]
    return build_lexical(passages, scheme="syllable+bigram").exact


def test_both_add_search_and_pick_the_same(field):
    rng = np.random.default_rng(2)
    keys = np.sort(rng.choice(3000, 700, replace=False)).astype(np.int64)
    terms = field.terms(list(field.vocabulary), 0.3)
    assert len(terms) > 200
    for term in terms:
        results = []
        for loops in (kernels, kernels_numpy):
            scores, found = np.linspace(0, 1, 3000), np.linspace(1, 2, 700)
            loops.add(scores, term.rows, term.weights, np.float32(term.weight))
            loops.gather(term.rows, term.weights, np.float32(term.weight), keys, found)
            results.append((scores, found))
        assert all(np.array_equal(a, b) for a, b in zip(*results))
    scores = rng.random(3000)
    scores[::3] = 0
    assert np.array_equal(kernels.reaching(scores, 0.2, 0.9), kernels_numpy.reaching(scores, 0.2, 0.9))
    assert np.array_equal(kernels.reaching(scores, 0.0, -np.inf), np.flatnonzero(scores))


def test_both_complete_passages_from_their_lists_alike(field):
    rng = np.random.default_rng(3)
    forward = field.forward
    idf, lift = field.idf[forward.common], np.float32(K1 + 1)
    lists = forward.starts, forward.ids, forward.counts, forward.norm, idf, lift
    for _ in range(20):
        keys = np.sort(rng.choice(3000, rng.integers(1, 3000), replace=False)).astype(np.int64)
        weight = np.zeros(len(forward.common), dtype=np.float32)
        asked = rng.choice(len(forward.common), min(30, len(forward.common)), replace=False)
        weight[asked] = rng.choice([1.0, 0.3], len(asked))
        compiled = rng.random(len(keys))
        plain = compiled.copy()
        kernels.complete(*lists, weight, keys, compiled)
        kernels_numpy.complete(*lists, weight, keys, plain)
        assert np.array_equal(compiled, plain)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.25, 3.0, 7.0]), min_size=1, max_size=300),
    st.lists(st.floats(0.001, 10.0), max_size=300),
    st.integers(1, 80),
)
def test_both_pick_the_best_passages_ties_to_the_lower_row(repeated, spread, m):
    """The m best of the passages with a score, as sorting them all by score then row would: scores
    drawn from a few values (ties at every rank) and from a range."""
    scores = np.array(repeated + spread)
    alive = np.flatnonzero(scores)
    expected = np.sort(alive[np.lexsort((alive, -scores[alive]))][:m])
    assert np.array_equal(kernels.best(scores, alive, m), expected)
    assert np.array_equal(kernels_numpy.best(scores, alive, m), expected)


def test_the_best_of_many_passages_are_the_best_to_the_row():
    """Many passages, few of them asked for: the ones whose scores share a score range with others."""
    rng = np.random.default_rng(4)
    scores = np.round(rng.random(200_000) ** 4, 6)  # crowded at the bottom, ties everywhere
    scores[rng.random(len(scores)) < 0.3] = 0
    alive = np.flatnonzero(scores)
    for m in (1, 200, 2000, len(alive) - 1):
        expected = np.sort(alive[np.lexsort((alive, -scores[alive]))][:m])
        assert np.array_equal(kernels.best(scores, alive, m), expected)
        assert np.array_equal(kernels_numpy.best(scores, alive, m), expected)
