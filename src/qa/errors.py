"""Every error the library raises says what happened and how to fix it."""


class QAError(Exception):
    """Base class: catch this to handle any failure of the assistant."""


class CorpusError(QAError):
    """The corpus folder or one of its files cannot be read."""


class EmbedderError(QAError):
    """The embedding model cannot be loaded or used."""


class IndexLocationError(QAError):
    """The index folder cannot be used: a file, overlapping the corpus, holding other files, read-only."""


class IndexNotFoundError(QAError):
    """There is no index where one was expected."""


class IndexMismatchError(QAError):
    """The index was built by another embedder, chunker or format version."""


class DiskFullError(QAError):
    """The disk ran out of space while an index or an added file was written; nothing changed."""


class IndexCorruptError(QAError):
    """An index file is missing or does not match its checksum."""


class QueryError(QAError):
    """The question or the search options are not usable."""


class MissingToolError(CorpusError):
    """A file needs a program or package that is not installed; the message names what to install."""


class UploadError(QAError):
    """A file given to `add` cannot go into the corpus: its type, its size, or an empty file."""


class DocumentNotFoundError(QAError):
    """No indexed document has the id asked for."""


class RerankerError(QAError):
    """The reranking model cannot be loaded or used."""


class SettingsError(QAError):
    """A setting has a value the assistant cannot use."""


class GoldError(QAError):
    """The gold question file for `qa eval` cannot be read or has no usable questions."""


class StoreError(QAError):
    """The index server cannot be reached or used."""
