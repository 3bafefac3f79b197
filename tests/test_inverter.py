"""The postings of many passages are built on disk: never all in memory, and nothing left behind."""

from __future__ import annotations

import tracemalloc

import numpy as np

import qa.inverter
from qa.inverter import FieldBuilder
from qa.lexical import tokenize
from tests.test_lexical import OFFICE_TEXTS


def test_the_postings_are_never_all_in_memory_while_they_are_built(monkeypatch, tmp_path):
    """Memory a build allocates stays a fraction of its postings' size: they are written to temporary
    files a block of passages, then a slice of terms, at a time (blocks of 100 passages and slices of
    1,000 postings here, for 6,000 passages)."""
    monkeypatch.setattr(qa.inverter, "BUILD_BLOCK", 100)
    monkeypatch.setattr(qa.inverter, "WEIGHT_SLICE", 1_000)
    tokens = [tokenize(t, scheme="syllable+bigram") for t in OFFICE_TEXTS * 1200]
    tracemalloc.start()
    try:
        builder = FieldBuilder(tmp_path)
        for passage in tokens:
            builder.add(passage)
        tracemalloc.reset_peak()
        field = builder.build()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    postings_bytes = field.rows.nbytes + field.weights.nbytes
    assert len(field.rows) > 160_000
    assert peak < postings_bytes / 3, (peak, postings_bytes)
    assert list(tmp_path.iterdir()) == []  # the temporary files have no name
    # the postings read back: every passage holding "oresol" is the medical list
    column = field.vocabulary["oresol"]
    rows = field.rows[field.starts[column] : field.starts[column + 1]]
    assert np.array_equal(rows, np.arange(1, 6000, len(OFFICE_TEXTS)))
