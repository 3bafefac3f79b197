"""The loops over postings, compiled with numba.

In numpy each step of a search is a call that makes a temporary: the gathered weights, a mask over
every passage, a binary search's positions. At a million passages a question's common terms hold
millions of postings, and those temporaries cost more than the adding (bench/results/results.md).
Compiled, a posting costs about a nanosecond, and the search runs without the GIL, beside the dense
search in its thread. Compiled once, then cached next to this file.
"""

from __future__ import annotations

import numba
import numpy as np

_compiled = numba.njit(nogil=True, cache=True)
# Equal score ranges `best` counts passages in, to sort only those of the top ranges: at 1M synthetic
# passages, picking the best 2,000 of a median 284k this way took 1.0 ms at the mean against 3.9-4.7 ms
# for numpy's `argpartition` (the bench questions, same hour); the top ranges held 2,017 passages at the
# median, 2,120 at p95, 10,141 at most (equal scores: the synthetic corpus repeats passages).
BINS = 4096


@_compiled
def add(scores: np.ndarray, rows: np.ndarray, weights: np.ndarray, weight: np.float32) -> None:
    """`scores[rows] += weight * weights`, the product in float32 as the reference sums it."""
    for i in range(rows.shape[0]):
        scores[rows[i]] += weight * weights[i]


@_compiled
def gather(
    rows: np.ndarray, weights: np.ndarray, weight: np.float32, keys: np.ndarray, out: np.ndarray
) -> None:
    """`out[i] += weight * weights[j]` wherever `rows[j] == keys[i]`, for sorted `keys`.

    Each key is searched for from where the last one was found, in steps that double (galloping):
    a few keys in a long run cost a binary search each, many keys cost one pass over the run."""
    n, j = rows.shape[0], 0
    for i in range(keys.shape[0]):
        if j >= n:
            return
        key = keys[i]
        if rows[j] < key:
            low, step = j, 1  # rows[low] < key
            while low + step < n and rows[low + step] < key:
                low += step
                step *= 2
            high = min(low + step, n)  # rows[high] >= key, or the end
            while high - low > 1:
                middle = (low + high) >> 1
                if rows[middle] < key:
                    low = middle
                else:
                    high = middle
            j = high
        if j < n and rows[j] == key:
            out[i] += weight * weights[j]


@_compiled
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
    """`out[i] += weight[t] * BM25` of each term `t` passage `keys[i]` lists (`postings.Forward`) that
    has a weight, that BM25 worked out in float32 in the build's order: idf * tf * lift / (tf + norm)."""
    for i in range(keys.shape[0]):
        passage = keys[i]
        for entry in range(starts[passage], starts[passage + 1]):
            term = ids[entry]
            if weight[term] != 0:
                f = np.float32(counts[entry])
                out[i] += weight[term] * (idf[term] * f * lift / (f + norm[passage]))


@_compiled
def reaching(scores: np.ndarray, bound: float, floor: float) -> np.ndarray:
    """The passages, in order, with a score above zero that `bound` more would lift to `floor`.

    Counted, then written, without branches: whether a passage reaches is a coin toss to the
    processor, and a branch on it cost 4.3 ms a million passages against 0.8 (/tmp/s/micro2.py)."""
    count = 0
    for row in range(scores.shape[0]):
        count += (scores[row] != 0) & (scores[row] + bound >= floor)
    found, at = np.empty(count + 1, np.int64), 0  # one spare: every passage is written, then kept or not
    for row in range(scores.shape[0]):
        found[at] = row
        at += (scores[row] != 0) & (scores[row] + bound >= floor)
    return found[:count]


@_compiled
def best(scores: np.ndarray, alive: np.ndarray, m: int) -> np.ndarray:
    """The `m` passages of `alive` with the highest scores (on a tie, the lower row), in order.

    Three passes over them: the lowest and highest score, how many fall in each of BINS equal ranges
    between, then those of the top ranges that hold `m`; only these are sorted."""
    if alive.shape[0] <= m:
        return alive.copy()
    low, high = np.inf, -np.inf
    for i in range(alive.shape[0]):
        low, high = min(low, scores[alive[i]]), max(high, scores[alive[i]])
    scale = BINS / (high - low) if high > low else np.inf
    if scale < np.inf:  # not when all scores are equal, or nearly so: then all of them are sorted
        counts = np.zeros(BINS + 1, np.int64)
        for i in range(alive.shape[0]):
            counts[int((scores[alive[i]] - low) * scale)] += 1
        top, kept = BINS, counts[BINS]
        while kept < m:
            top -= 1
            kept += counts[top]
        found, at = np.empty(kept + 1, np.int64), 0  # one spare, as in `reaching`
        for i in range(alive.shape[0]):
            found[at] = alive[i]
            at += int((scores[alive[i]] - low) * scale) >= top
        alive = found[:kept]
    values = np.empty(alive.shape[0])
    for i in range(alive.shape[0]):
        values[i] = -scores[alive[i]]
    return np.sort(alive[np.argsort(values, kind="mergesort")[:m]])
