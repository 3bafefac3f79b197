"""What serving the app over HTTP needs besides questions: logins, safe response headers, the socket.

The two middlewares are plain ASGI, so they wrap any app (FastAPI, Gradio, both mounted together).
Login is HTTP Basic because a browser (the chat) and a script (the JSON API) both speak it with no
extra page or token; passwords are kept only as salted scrypt hashes, made by `hash_password`
(`python app.py --hash-password`) and listed in `QA_USERS` or the file named by `QA_USERS_FILE`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import errno
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import socket
import unicodedata
from collections.abc import Collection, Mapping
from pathlib import Path

from .errors import SettingsError

log = logging.getLogger(__name__)

# scrypt cost: the scrypt paper's interactive-login setting (N=2^14, r=8, p=1): 16 MiB and about
# 0.1 s of one core here per check. A good login is checked once per process, then remembered.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SALT_BYTES, KEY_BYTES = 16, 32
# A hash asking scrypt for more memory than this is refused when users are loaded: one bad line
# must not make every login allocate gigabytes.
MAX_SCRYPT_MEMORY = 256 * 2**20
# Logins (user and password, as a keyed digest) already checked; forgotten all at once when full.
REMEMBERED_LOGINS = 1024
BACKLOG = 2048  # connections the kernel queues before they are accepted (uvicorn's default)

_HOW_TO_HASH = "make a hash with: python app.py --hash-password"
# Checked when the user name is unknown, so a wrong name costs as long as a wrong password.
_UNKNOWN_USER = "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), "A" * 24, "A" * 43 + "="])
_SAFE_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
# For JSON and other responses that run nothing in a browser.
_STRICT_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def hash_password(password: str) -> str:
    """`scrypt$N$r$p$salt$key` (salt and key in base64) for a `user:hash` line."""
    if not password:
        raise SettingsError("the password is empty; type the password to hash")
    salt = os.urandom(SALT_BYTES)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_BYTES)
    encoded = [base64.b64encode(part).decode("ascii") for part in (salt, key)]
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), *encoded])


def verify_password(password: str, hashed: str) -> bool:
    """Whether `password` is the one `hashed` was made from (constant-time comparison)."""
    try:
        n, r, p, salt, key = _parse_hash(hashed)
    except SettingsError:
        return False
    return hmac.compare_digest(_scrypt(password, salt, n, r, p, len(key)), key)


def load_users(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """User name → password hash from `QA_USERS` ("alice:HASH,bob:HASH") and the file named by
    `QA_USERS_FILE` (a `user:HASH` a line, `#` comments); empty when neither is set: no login."""
    environ = os.environ if environ is None else environ
    entries = [
        (f"QA_USERS entry {number}", entry)
        for number, entry in enumerate((environ.get("QA_USERS") or "").split(","), 1)
        if entry.strip()
    ]
    if path := environ.get("QA_USERS_FILE"):
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as err:
            raise SettingsError(
                f"cannot read QA_USERS_FILE {path}: {err}; point it to a UTF-8 text file"
            ) from None
        entries += [
            (f"{path} line {number}", line)
            for number, line in enumerate(lines, 1)
            if line.strip() and not line.lstrip().startswith("#")
        ]
    users: dict[str, str] = {}
    for where, entry in entries:
        name, colon, hashed = (part.strip() for part in entry.partition(":"))
        if not colon or not name:
            raise SettingsError(f"{where} is not `user:hash`; {_HOW_TO_HASH}")
        if name in users:
            raise SettingsError(f"{where}: user {name!r} is listed twice; keep one line per user")
        _parse_hash(hashed, where=where)
        users[name] = hashed
    return users


class BasicAuth:
    """Asks every request (HTTP and WebSocket) but those to `open_paths` for a user name and password
    (HTTP Basic) matching `users`; answers 401 `{"error"}` with a `WWW-Authenticate` challenge, which
    makes a browser show its login box."""

    def __init__(self, app, *, users: Mapping[str, str], open_paths: Collection[str] = (), realm: str = "qa"):
        self.app = app
        self.users = dict(users)
        self.open_paths = frozenset(open_paths)
        self.challenge = f'Basic realm="{realm}", charset="UTF-8"'.encode()
        self._key = os.urandom(32)  # digests of remembered logins mean nothing outside this process
        self._remembered: set[bytes] = set()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] in ("http", "websocket") and scope["path"] not in self.open_paths:
            problem = await self._problem(scope)
            if problem is not None:
                await self._refuse(scope, send, problem)
                return
        await self.app(scope, receive, send)

    async def _problem(self, scope) -> str | None:
        """Why the request may not pass, or None when it may."""
        header = dict(scope["headers"]).get(b"authorization")
        if header is None:
            return "log in: this server asks for a user name and password (HTTP Basic)"
        credentials = _basic_credentials(header)
        if credentials is None:
            return "the Authorization header is not HTTP Basic with a UTF-8 `user:password`"
        user, password = credentials
        digest = hmac.digest(self._key, f"{user}:{password}".encode(), "sha256")
        if digest in self._remembered:
            return None
        hashed = self.users.get(user, _UNKNOWN_USER)
        # scrypt takes a tenth of a second: off the event loop, which keeps serving others.
        if not (await asyncio.to_thread(verify_password, password, hashed) and user in self.users):
            client = scope.get("client") or ("?", 0)
            log.warning("failed login from %s", client[0])
            return "wrong user name or password"
        if len(self._remembered) >= REMEMBERED_LOGINS:
            self._remembered.clear()
        self._remembered.add(digest)
        return None

    async def _refuse(self, scope, send, problem: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "login required"})
            return
        await _send_error(send, 401, problem, ((b"www-authenticate", self.challenge),))


class BodyLimit:
    """Refuses request bodies over a size with 413 `{"error"}` before reading them: at once when
    Content-Length says so, and for a streamed (chunked) body as soon as the count passes the limit.
    `limits`: (path prefix, bytes) pairs, the first match wins; `default` for other paths."""

    def __init__(self, app, *, default: int, limits: tuple[tuple[str, int], ...] = ()):
        self.app = app
        self.default = default
        self.limits = limits

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        limit = next((size for prefix, size in self.limits if path.startswith(prefix)), self.default)
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > limit:  # (the server refuses malformed ones itself)
            await _send_error(send, 413, _too_large(limit))
            return
        received, over, started = 0, False, False

        async def counted_receive():
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise _BodyTooLarge
            return message

        async def tracked_send(message) -> None:
            nonlocal started
            if over:  # whatever the app answers to _BodyTooLarge, the client gets the 413
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await _send_error(send, 413, _too_large(limit))


class _BodyTooLarge(Exception):
    """Raised into the app when the body it reads passes the limit."""


class SecurityHeaders:
    """Adds nosniff, no framing and no referrer to every response, and a Content-Security-Policy
    that allows nothing to responses under `strict_prefixes` that do not set their own."""

    def __init__(self, app, *, strict_prefixes: tuple[str, ...] = ()):
        self.app = app
        self.strict_prefixes = strict_prefixes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        strict = scope["path"].startswith(self.strict_prefixes)

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in _SAFE_HEADERS if name not in present]
                if strict and b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", _STRICT_CSP))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def listen(host: str, port: int) -> socket.socket:
    """A socket bound and listening on host:port, so the app says "serving" only once it is."""
    if not 1 <= port <= 65535:
        raise SettingsError(f"the port must be between 1 and 65535, not {port}; set --port or QA_PORT")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as err:
        raise SettingsError(
            f"cannot listen on {host!r}: {err.strerror}; set --host or QA_HOST to an address of this "
            "machine, e.g. 127.0.0.1"
        ) from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart at once after a stop
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as err:
        sock.close()
        fix = (
            "another program (maybe another copy of this app) is using it: stop it or choose "
            "another port with --port or QA_PORT"
            if err.errno == errno.EADDRINUSE
            else "choose another --host / --port (QA_HOST / QA_PORT)"
        )
        raise SettingsError(f"cannot listen on {host}:{port}: {err.strerror}; {fix}") from None
    return sock


def exposure_warning(address: str, *, login: bool) -> tuple[int, str] | None:
    """The log level and line to warn with when the app listens beyond this machine, or None."""
    ip = ipaddress.ip_address(address.partition("%")[0])
    if ip.is_loopback or (
        isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped and ip.ipv4_mapped.is_loopback
    ):
        return None
    if login:
        return logging.WARNING, (
            f"listening on {address}, reachable from other machines: logins and answers cross the "
            "network unencrypted unless a TLS proxy is in front"
        )
    return logging.ERROR, (
        f"listening on {address}, reachable from other machines, WITHOUT LOGIN: anyone who can reach "
        "this port reads every indexed document; set QA_USERS or QA_USERS_FILE "
        f"({_HOW_TO_HASH}) or listen on 127.0.0.1"
    )


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    # NFC: the same password typed on systems that compose Vietnamese letters differently matches.
    secret = unicodedata.normalize("NFC", password).encode("utf-8")
    return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, dklen=length, maxmem=2 * _memory(n, r, p))


def _memory(n: int, r: int, p: int) -> int:
    return 128 * r * (n + p + 2)


def _parse_hash(hashed: str, *, where: str = "the hash") -> tuple[int, int, int, bytes, bytes]:
    parts = hashed.split("$")
    try:
        if len(parts) != 6 or parts[0] != "scrypt":
            raise ValueError
        n, r, p = (int(part) for part in parts[1:4])
        salt, key = (base64.b64decode(part, validate=True) for part in parts[4:])
    except (ValueError, binascii.Error):
        raise SettingsError(f"{where}: the hash is not `scrypt$N$r$p$salt$key`; {_HOW_TO_HASH}") from None
    if n < 2 or n & (n - 1) or r < 1 or p < 1 or not salt or len(key) < 16:
        raise SettingsError(f"{where}: the scrypt hash has impossible parameters; {_HOW_TO_HASH}")
    if _memory(n, r, p) > MAX_SCRYPT_MEMORY:
        raise SettingsError(
            f"{where}: the scrypt hash needs {_memory(n, r, p) >> 20} MiB per check, more than "
            f"{MAX_SCRYPT_MEMORY >> 20}; {_HOW_TO_HASH}"
        )
    return n, r, p, salt, key


def _basic_credentials(header: bytes) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        user, colon, password = (
            base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if colon else None


def _too_large(limit: int) -> str:
    return f"the request body is over {limit:,} bytes, the most accepted here; send a shorter request"


async def _send_error(send, status: int, message: str, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    body = json.dumps({"error": message}).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})
