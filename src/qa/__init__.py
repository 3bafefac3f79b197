"""qa: find and cite the passages of Vietnamese documents that answer a question."""

from .answer import Answer, AnswerSentence
from .api import Retriever
from .build import BuildReport
from .corpus import Skipped
from .documents import AddReport, DocumentInfo, RemoveReport
from .embed import Embedder
from .errors import (
    CorpusError,
    DiskFullError,
    DocumentNotFoundError,
    EmbedderError,
    GoldError,
    IndexCorruptError,
    IndexLocationError,
    IndexMismatchError,
    IndexNotFoundError,
    MissingToolError,
    QAError,
    QueryError,
    RerankerError,
    SettingsError,
    StoreError,
    UploadError,
)
from .highlight import highlight_spans
from .readers import SUFFIXES
from .retrieve import MAX_QUESTION_CHARS, MODES, Hit, Mode
from .settings import Settings
from .uploads import Duplicate, Rejected, Upload
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

# The JSON HTTP API needs FastAPI: imported only by those who serve it, not by every `import qa`.
_SERVER = ("API_BODY_LIMIT", "MAX_K", "create_api", "render_answer", "upload_body_limit")


def __getattr__(name: str):
    if name in _SERVER:
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module 'qa' has no attribute {name!r}")


__all__ = [
    "API_BODY_LIMIT",
    "MAX_K",
    "MAX_QUESTION_CHARS",
    "MODES",
    "SUFFIXES",
    "AddReport",
    "Answer",
    "AnswerSentence",
    "BasicAuth",
    "BodyLimit",
    "BuildReport",
    "CorpusError",
    "DiskFullError",
    "DocumentInfo",
    "DocumentNotFoundError",
    "Duplicate",
    "Embedder",
    "EmbedderError",
    "GoldError",
    "Hit",
    "IndexCorruptError",
    "IndexLocationError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "MissingToolError",
    "Mode",
    "QAError",
    "QueryError",
    "Rejected",
    "RemoveReport",
    "RerankerError",
    "Retriever",
    "SecurityHeaders",
    "Settings",
    "SettingsError",
    "Skipped",
    "StoreError",
    "Upload",
    "UploadError",
    "create_api",
    "exposure_warning",
    "hash_password",
    "highlight_spans",
    "listen",
    "load_users",
    "render_answer",
    "upload_body_limit",
    "verify_password",
]
