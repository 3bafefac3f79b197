"""qa: find and cite the passages of Vietnamese documents that answer a question."""

from .answer import Answer, AnswerSentence, highlight_spans
from .api import Retriever
from .embed import Embedder
from .errors import (
    CorpusError,
    EmbedderError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    QAError,
    QueryError,
)
from .retrieve import Hit
from .settings import Settings, SettingsError

__all__ = [
    "Answer",
    "AnswerSentence",
    "CorpusError",
    "Embedder",
    "EmbedderError",
    "Hit",
    "IndexCorruptError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "QAError",
    "QueryError",
    "Retriever",
    "Settings",
    "SettingsError",
    "highlight_spans",
]
