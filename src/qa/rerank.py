"""Rerank: re-score the best fused passages with a cross-encoder that reads question and passage together.

Optional (`Settings.reranker`, `QA_RERANKER`, `--reranker`): a sentence-transformers `CrossEncoder`,
by local folder or by a hub name already in the Hugging Face cache (with hub access, `hf download
BAAI/bge-reranker-v2-m3` puts it there). Nothing is downloaded at run time: a question never waits
for the hub, and an offline server fails at once instead of retrying for a minute.

It reorders the passages search found; the index does not change. A reranked hit's `score` is the
model's score for the pair (`CrossEncoder.predict`: for a one-label model the sigmoid of its logit,
0 to 1), not the fused score, and ranks are renumbered. sentence-transformers and torch are
imported only when a reranker is loaded.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import RerankerError
from .retrieve import Hit

log = logging.getLogger(__name__)

# Fused candidates the cross-encoder re-scores per question, chosen on the dev questions of the seed
# index: the fused top 10 holds the answer for 98.7% of them and a pool of 20 or 30 adds none. The
# cost is linear in the pool: 10 pairs took 0.03 s with a 2-layer test model, 0.7-1.8 s with a
# MiniLM-L6-sized one and 10-20 s with one the size of bge-reranker-v2-m3 (random weights, on this
# project's 2-core machine under load), so a large reranker wants a GPU or a smaller model.
RERANK_CANDIDATES = 10
# Question and passage together, in model tokens: a passage is about 100 pyvi words (150-250
# tokens), so 512 cuts nothing and bounds the cost of models that accept 8,192.
MAX_PAIR_TOKENS = 512
BATCH_PAIRS = 32  # pairs per forward pass: one pass for the default pool
_DOWNLOAD = "with hub access, fetch one once with: hf download BAAI/bge-reranker-v2-m3"


class Reranker:
    """A loaded cross-encoder; safe to share between threads (one scoring at a time)."""

    def __init__(self, name: str) -> None:
        self.name = name
        local = Path(name).expanduser()
        if not local.exists() and (local.is_absolute() or name.startswith((".", "~"))):
            raise RerankerError(
                f"no reranker model folder at {name}; pass the folder of a cross-encoder saved with "
                f"save_pretrained, or the hub name of one in the Hugging Face cache ({_DOWNLOAD})"
            )
        try:
            from sentence_transformers import CrossEncoder
            from transformers.utils import logging as transformers_logging
        except ImportError:
            raise RerankerError(
                "a reranker needs the sentence-transformers package: pip install sentence-transformers"
            ) from None
        bars = transformers_logging.is_progress_bar_enabled()
        transformers_logging.disable_progress_bar()  # no "Loading weights" bar in the terminal
        try:
            self._model = CrossEncoder(
                str(local) if local.exists() else name,
                device="cpu",
                local_files_only=True,
                max_length=MAX_PAIR_TOKENS,
            )
        except Exception as err:  # the library raises many kinds; all mean "not loadable"
            where = "" if local.exists() else "no such folder, and not in the Hugging Face cache: "
            raise RerankerError(
                f"cannot load reranker {name!r} ({where}{type(err).__name__}: {_first_line(err)}); pass "
                f"the folder of a cross-encoder, or the hub name of one in the Hugging Face cache "
                f"({_DOWNLOAD}); leave QA_RERANKER and --reranker unset to search without one"
            ) from None
        finally:
            if bars:
                transformers_logging.enable_progress_bar()
        self._lock = threading.Lock()  # a fast tokenizer shared by threads fails with "Already borrowed"

    def scores(self, question: str, passages: Sequence[str]) -> np.ndarray:
        """The model's score of each (question, passage) pair, higher for a better answer."""
        if not passages:
            return np.empty(0, dtype=np.float32)
        pairs = [(question, passage) for passage in passages]
        with self._lock:
            scores = self._model.predict(pairs, batch_size=BATCH_PAIRS, show_progress_bar=False)
        return np.asarray(scores, dtype=np.float32).reshape(len(pairs))

    def rerank(self, question: str, hits: Sequence[Hit], *, k: int) -> list[Hit]:
        """The k hits the model scores best, best first, each with its score and its new rank.

        Equal scores keep the fused order.
        """
        scores = self.scores(question, [hit.text for hit in hits])
        order = np.argsort(-scores, kind="stable")[:k]
        return [
            dataclasses.replace(hits[i], rank=rank, score=float(scores[i]))
            for rank, i in enumerate(order.tolist(), 1)
        ]


def _first_line(err: Exception) -> str:
    """The exception's message on one line: library messages run to paragraphs."""
    lines = str(err).strip().splitlines()
    return lines[0] if lines else "no message"
