"""How the Qdrant store reaches its engine. Where it is: `qdrant://HOST:PORT/COLLECTION?options`
(a server; `qdrants://` for HTTPS) or `qdrant-local:FOLDER?collection=NAME` (the client's local engine,
for tests and trials).

The query options are the cluster's own knobs, passed through: `shards`, `replicas` and
`write_consistency` when the collections are created, `ordering` on writes, `read_consistency` on
reads, `timeout` on every request. The API key comes from QA_QDRANT_API_KEY, never from the URL.
Every call goes through a `Connection`, which turns the server's failures into `StoreError`.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import threading
from collections import OrderedDict
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

import httpx
from qdrant_client import QdrantClient
from qdrant_client.http.exceptions import ApiException, UnexpectedResponse

from .errors import IndexLocationError, SettingsError, StoreError

API_KEY_ENV = "QA_QDRANT_API_KEY"
DEFAULT_PORT = 6333  # Qdrant's REST port
DEFAULT_COLLECTION = "qa"
LOCAL_SCHEME = "qdrant-local:"
EXAMPLES = "qdrant://localhost:6333/qa?replicas=2&read_consistency=majority or qdrant-local:./qa-store"

Ordering = Literal["weak", "medium", "strong"]
ORDERINGS: tuple[Ordering, ...] = ("weak", "medium", "strong")
READ_CONSISTENCIES = ("all", "majority", "quorum")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
# What the client's local engine keeps in its folder: anything else there is the user's.
_LOCAL_FILES = frozenset({"meta.json", ".lock", "collection"})


@dataclass(frozen=True)
class Location:
    text: str  # as given: for messages and the `--store` option
    collection: str
    url: str | None = None  # a server's base URL
    path: Path | None = None  # the local engine's folder
    shards: int | None = None
    replicas: int | None = None
    write_consistency: int | None = None
    ordering: Ordering | None = None
    read_consistency: str | int | None = None
    timeout: int | None = None  # seconds


def parse_location(text: str) -> Location:
    """The location a store URL names, or a `SettingsError` with an example of a good one."""
    if text.startswith(LOCAL_SCHEME):
        return _local(text)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as err:
        raise _bad(text, str(err)) from None
    if parts.scheme not in ("qdrant", "qdrants") or not parts.hostname:
        raise _bad(text, "it must start with qdrant://HOST, qdrants://HOST or qdrant-local:")
    if parts.username or parts.password:
        raise _bad(text, f"no credentials in the URL: set {API_KEY_ENV} instead")
    collection = parts.path.strip("/") or DEFAULT_COLLECTION
    if not _NAME.fullmatch(collection):
        raise _bad(text, f"the collection name {collection!r} may hold only letters, digits, _ and -")
    http = "https" if parts.scheme == "qdrants" else "http"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    options = _options(text, parts.query)
    return Location(text, collection, url=f"{http}://{host}:{port or DEFAULT_PORT}", **options)


def _local(text: str) -> Location:
    folder, _, query = text[len(LOCAL_SCHEME) :].partition("?")
    if not folder:
        raise _bad(text, "name the folder: qdrant-local:FOLDER")
    pairs = dict(parse_qsl(query, keep_blank_values=True))
    unknown = set(pairs) - {"collection"}
    if unknown:
        raise _bad(text, f"the local engine takes only ?collection=NAME, not {', '.join(sorted(unknown))}")
    collection = pairs.get("collection") or DEFAULT_COLLECTION
    if not _NAME.fullmatch(collection):
        raise _bad(text, f"the collection name {collection!r} may hold only letters, digits, _ and -")
    return Location(text, collection, path=Path(folder).expanduser())


def _options(text: str, query: str) -> dict:
    out: dict = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in ("shards", "replicas", "write_consistency"):
            out[name] = _whole(text, name, value)
        elif name == "ordering":
            if value not in ORDERINGS:
                raise _bad(text, f"ordering must be one of {', '.join(ORDERINGS)}, not {value!r}")
            out["ordering"] = value
        elif name == "read_consistency":
            out["read_consistency"] = value if value in READ_CONSISTENCIES else _whole(text, name, value)
        elif name == "timeout":
            out["timeout"] = _whole(text, name, value)
        else:
            known = "shards, replicas, write_consistency, ordering, read_consistency, timeout"
            raise _bad(text, f"unknown option {name!r} (known: {known})")
    return out


def _whole(text: str, name: str, value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise _bad(text, f"{name} must be a whole number of at least 1, not {value!r}")
    return int(value)


def _bad(text: str, why: str) -> SettingsError:
    return SettingsError(f"store location {text!r} is not usable: {why}; for example {EXAMPLES}")


class Cache(OrderedDict):
    """The `size` most recently used entries."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key, value) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


# The local engine allows one client per folder per process: every store on a folder shares it, and
# its calls take the folder's lock (the engine is not thread-safe).
_LOCAL: dict[Path, list] = {}  # folder → [client, lock, stores using it]
_LOCAL_LOCK = threading.Lock()


def claim_local(path: Path, text: str) -> None:
    """Refuse, before the engine reads or writes there, a folder that is not a new or empty one or
    the local engine's own: it would add its files among the user's, or fail on their meta.json."""
    if path.exists() and not path.is_dir():
        raise IndexLocationError(f"{text} names a file, {str(path)!r}; name a new folder for the local store")
    others = sorted(e.name for e in os.scandir(path) if e.name not in _LOCAL_FILES) if path.is_dir() else []
    if not others and (path / "meta.json").exists() and not _engine_meta(path / "meta.json"):
        others = ["meta.json"]
    if others:
        raise IndexLocationError(
            f"{str(path)!r} holds files that are not a local Qdrant store ({', '.join(others[:3])}"
            f"{', …' if len(others) > 3 else ''}); qa uses only a new or empty folder or a local store "
            "it made: pass --store qdrant-local:NEW_FOLDER"
        )


def _engine_meta(file: Path) -> bool:
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and isinstance(meta.get("collections"), dict)


def close_local(path: str | Path) -> None:
    """Release the local engine of `path`, so that another process can open that folder."""
    with _LOCAL_LOCK:
        entry = _LOCAL.pop(Path(path).resolve(), None)
    if entry is not None:
        with entry[1]:
            entry[0].close()


@atexit.register
def _close_every_local() -> None:
    """Close the local engines before the interpreter tears down what their own cleanup imports."""
    for path in list(_LOCAL):
        close_local(path)


class Connection:
    """A client and the lock its calls take; every failure of the server becomes a `StoreError`."""

    def __init__(self, where: Location) -> None:
        self.where = where
        if where.path is None:
            key = os.environ.get(API_KEY_ENV) or None
            self.client = QdrantClient(
                url=where.url, api_key=key, timeout=where.timeout, check_compatibility=False
            )
            self.lock = nullcontext()
            return
        path = where.path.resolve()
        with _LOCAL_LOCK:
            if path not in _LOCAL:
                claim_local(path, where.text)
                try:
                    # every call takes the folder's lock, so its sqlite file may serve any thread (the engine
                    # refuses other threads where sqlite is built less thread-safe, as on macOS)
                    client = QdrantClient(path=str(path), force_disable_check_same_thread=True)
                    _LOCAL[path] = [client, threading.RLock(), 0]
                except RuntimeError as err:  # the folder's lock is held by another process
                    raise StoreError(
                        f"the local store {where.text} is open in another process ({err}); close that "
                        "process first, or use a Qdrant server (qdrant://HOST:6333/qa) to share one index"
                    ) from None
            _LOCAL[path][2] += 1
            self.client, self.lock = _LOCAL[path][0], _LOCAL[path][1]

    def __call__(self, method: str, *args, **kwargs):
        with self.lock:
            try:
                return getattr(self.client, method)(*args, **kwargs)
            except UnexpectedResponse as err:
                if err.status_code in (401, 403):
                    raise StoreError(
                        f"the index server at {self.where.text} refused the request ({err.status_code}); "
                        f"set {API_KEY_ENV} to the server's API key"
                    ) from None
                raise StoreError(f"the index server at {self.where.text} failed: {err}") from None
            except (ApiException, httpx.HTTPError, OSError) as err:
                reason = getattr(err, "source", err)
                raise StoreError(
                    f"cannot reach the index server at {self.where.text} ({reason}); start the server "
                    '(see README "Qdrant"), or check the address in QA_STORE / --store'
                ) from None

    def close(self) -> None:
        if self.where.path is None:
            self.client.close()
            return
        path = self.where.path.resolve()
        with _LOCAL_LOCK:
            entry = _LOCAL.get(path)
            if entry is None or entry[0] is not self.client:
                return
            entry[2] -= 1
            if entry[2] > 0:
                return
            del _LOCAL[path]
        with self.lock:
            self.client.close()
