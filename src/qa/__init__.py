"""qa: find and cite the passages of Vietnamese documents that answer a question."""

from .answer import Answer, AnswerSentence, highlight_spans
from .api import Retriever
from .build import BuildReport
from .corpus import Skipped
from .embed import Embedder
from .errors import (
    CorpusError,
    EmbedderError,
    IndexCorruptError,
    IndexLocationError,
    IndexMismatchError,
    IndexNotFoundError,
    QAError,
    QueryError,
)
from .retrieve import MAX_QUESTION_CHARS, MODES, Hit, Mode
from .settings import Settings, SettingsError
from .web import (
    BasicAuth,
    BodyLimit,
    SecurityHeaders,
    exposure_warning,
    hash_password,
    listen,
    load_users,
    verify_password,
)

__all__ = [
    "MAX_QUESTION_CHARS",
    "MODES",
    "Answer",
    "AnswerSentence",
    "BasicAuth",
    "BodyLimit",
    "BuildReport",
    "CorpusError",
    "Embedder",
    "EmbedderError",
    "Hit",
    "IndexCorruptError",
    "IndexLocationError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "Mode",
    "QAError",
    "QueryError",
    "Retriever",
    "SecurityHeaders",
    "Settings",
    "SettingsError",
    "Skipped",
    "exposure_warning",
    "hash_password",
    "highlight_spans",
    "listen",
    "load_users",
    "verify_password",
]
