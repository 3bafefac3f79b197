"""The loops of `kernels` in numpy, with the same results to the bit, for small indexes.

Loading numba and LLVM costs a process about 1.3 s to its first answer and 150 MB resident
(bench/results: the seed index's cold start went from 0.61 s to 2.17 s), more than a small index's
searches ever take in numpy.
"""

from __future__ import annotations

import numpy as np


def add(scores: np.ndarray, rows: np.ndarray, weights: np.ndarray, weight: np.float32) -> None:
    """`scores[rows] += weight * weights`, the product in float32 (a run holds each passage once)."""
    scores[rows] += weight * weights


def gather(
    rows: np.ndarray, weights: np.ndarray, weight: np.float32, keys: np.ndarray, out: np.ndarray
) -> None:
    """`out[i] += weight * weights[j]` wherever `rows[j] == keys[i]`, for sorted `keys`."""
    if not len(rows):
        return
    where = np.minimum(np.searchsorted(rows, keys), len(rows) - 1)
    hit = rows[where] == keys
    out[hit] += weight * weights[where[hit]]


def complete(
    starts: np.ndarray,
    ids: np.ndarray,
    counts: np.ndarray,
    norm: np.ndarray,
    idf: np.ndarray,
    lift: np.float32,
    weight: np.ndarray,
    keys: np.ndarray,
    out: np.ndarray,
) -> None:
    """`out[i] += weight[t] * BM25` of each term `t` passage `keys[i]` lists that has a weight, in
    the order `kernels.complete` adds them."""
    sizes = starts[keys + 1] - starts[keys]
    key = np.repeat(np.arange(len(keys)), sizes)  # each entry's place in `keys`
    entry = np.repeat(starts[keys] - np.cumsum(sizes) + sizes, sizes) + np.arange(len(key))
    term = ids[entry]
    asked = weight[term] != 0
    key, entry, term = key[asked], entry[asked], term[asked]
    f = counts[entry].astype(np.float32)
    np.add.at(out, key, weight[term] * (idf[term] * f * lift / (f + norm[keys[key]])))


def reaching(scores: np.ndarray, bound: float, floor: float) -> np.ndarray:
    """The passages, in order, with a score above zero that `bound` more would lift to `floor`."""
    return np.flatnonzero((scores != 0) & (scores + bound >= floor))


def best(scores: np.ndarray, alive: np.ndarray, m: int) -> np.ndarray:
    """The `m` passages of `alive` with the highest scores (on a tie, the lower row), in order."""
    if len(alive) <= m:
        return alive.copy()
    return np.sort(alive[np.argsort(-scores[alive], kind="stable")[:m]])
