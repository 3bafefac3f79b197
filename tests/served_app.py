"""app.py as tests meet it: a process on a free local port, plain HTTP requests, a headless browser.

Not `served.py`: bench/served.py has that name and tests/test_load.py puts bench/ on the import path.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import NamedTuple

import pytest

APP = Path(__file__).resolve().parent.parent / "app.py"
STARTUP_TIMEOUT_S = 120  # a start takes about 10 s here; the rest is room for a busy 2-core machine
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Served(NamedTuple):
    """A running app: where it answers, its process id (to read its memory) and its log."""

    url: str
    pid: int
    log: Path


def free_port() -> int:
    """A port nothing listens on now, so parallel servers never collide."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_app(*args: str, env: dict | None = None, stdin: str = "") -> subprocess.CompletedProcess:
    """Run `app.py` to completion, as a user runs it from the command line."""
    return subprocess.run(
        [sys.executable, str(APP), *args],
        cwd=APP.parent,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def serve(index: Path, env: dict | None = None, *, logs: Path | None = None):
    """Start `app.py` on a free port; yield it once it answers; stop it. Its log goes to `logs`
    (the index's parent folder unless given)."""
    port = free_port()
    log = open((logs or index.parent) / f"app-{port}.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, str(APP), "--index", str(index), "--port", str(port)],
        cwd=APP.parent,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(url + "/api/health", timeout=2):
                    break
            except OSError:  # refused, or accepted while the model still loads and timed out
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(Path(log.name).read_text()) from None
                time.sleep(0.5)
        yield Served(url, proc.pid, Path(log.name))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def request(url: str, *, method="GET", body: bytes | None = None, headers=None, login=None):
    """(status, headers, body) of one request; `login`: (user, password) for HTTP Basic."""
    headers = dict(headers or {})
    if login:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(login).encode()).decode()
    req = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def post(url: str, body, *, login=None) -> tuple[int, dict]:
    """POST a question (a dict, or raw bytes to send as they are) to `/api/search`: (status, JSON)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, _, raw = request(
        url + "/api/search",
        method="POST",
        body=data,
        headers={"content-type": "application/json"},
        login=login,
    )
    return status, json.loads(raw)


def read_response(s: socket.socket) -> bytes:
    """Status, headers and body of one response with a Content-Length, read off a raw socket."""
    data = b""
    while (part := s.recv(65536)) and not complete(data := data + part):
        pass
    return data


def complete(data: bytes) -> bool:
    """Whether `data` holds a whole response: the headers and as many body bytes as they announce."""
    head, ended, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"content-length: (\d+)", head, re.I)
    return bool(ended) and length is not None and len(body) >= int(length.group(1))


def launch_browser():
    """Yield headless Chromium; skip the tests that need it when Chromium or Playwright is missing."""
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium: install Debian's chromium (apt-get install chromium) to run browser tests")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_FLAGS)
        yield browser
        browser.close()


def ask(page, question: str) -> None:
    """Type a question into the chat and send it, as a user does."""
    page.get_by_placeholder("Nhập câu hỏi").fill(question)
    page.keyboard.press("Enter")
