"""Logins, password hashes, startup errors and where the app listens (src/qa/web.py): a real server,
real HTTP, a real browser."""

from __future__ import annotations

import json
import logging
import re
import socket
import unicodedata

import pytest
from conftest import SEED_DOC
from served_app import ask, post, request, run_app, serve

from qa import SettingsError, exposure_warning, load_users, verify_password

PASSWORDS = {"alice": "mật khẩu của Alice", "bob": "b0b-secret"}


@pytest.fixture(scope="module")
def hashes() -> dict[str, str]:
    """Made by the documented command, the password piped on standard input."""
    made = {}
    for user, password in PASSWORDS.items():
        result = run_app("--hash-password", stdin=password + "\n")
        assert result.returncode == 0, result.stderr
        made[user] = result.stdout.strip()
    return made


@pytest.fixture(scope="module")
def locked_server(seed_index, hashes, tmp_path_factory):
    """Alice's login comes from QA_USERS, Bob's from the file QA_USERS_FILE names."""
    users_file = tmp_path_factory.mktemp("users") / "users.txt"
    users_file.write_text(f"# staff\nbob:{hashes['bob']}\n", encoding="utf-8")
    yield from serve(
        seed_index, env={"QA_USERS": f"alice:{hashes['alice']}", "QA_USERS_FILE": str(users_file)}
    )


def test_without_login_every_route_but_health_is_refused(locked_server):
    for path, method in (
        ("/", "GET"),
        ("/api/search", "POST"),
        (f"/source/{SEED_DOC}", "GET"),
        ("/config", "GET"),
    ):
        status, headers, raw = request(locked_server.url + path, method=method)
        assert status == 401, path
        assert headers["WWW-Authenticate"].startswith("Basic realm=") and set(json.loads(raw)) == {"error"}
    assert request(locked_server.url + "/api/health")[0] == 200
    assert "login required for 2 user(s)" in locked_server.log.read_text()


def test_api_clients_log_in_with_basic_auth(locked_server):
    question = {"question": "Hà Nội đạt bao nhiêu điểm?", "k": 2}
    for user, password in PASSWORDS.items():
        status, data = post(locked_server.url, question, login=(user, password))
        assert status == 200 and len(data["passages"]) == 2
    for login in (("alice", "wrong"), ("bob", PASSWORDS["alice"]), ("mallory", "x")):
        status, data = post(locked_server.url, question, login=login)
        assert status == 401 and "wrong user name or password" in data["error"]


def test_browser_users_log_in_and_chat(locked_server, browser):
    stranger = browser.new_context()
    with pytest.raises(Exception, match="ERR_INVALID_AUTH_CREDENTIALS"):  # the login box, dismissed
        stranger.new_page().goto(locked_server.url)
    stranger.close()
    stranger = browser.new_context(http_credentials={"username": "alice", "password": "wrong"})
    response = stranger.new_page().goto(locked_server.url)
    assert response.status == 401 and "wrong user name or password" in response.text()
    stranger.close()
    context = browser.new_context(http_credentials={"username": "alice", "password": PASSWORDS["alice"]})
    page = context.new_page()
    page.goto(locked_server.url)
    ask(page, "Hà Nội đạt bao nhiêu điểm trong đợt khảo sát về đối ngoại nhân dân?")
    page.locator(".qa-answer").first.wait_for(timeout=60_000)
    assert "80,77 điểm" in page.locator(".qa-answer").first.inner_text()
    context.close()


def test_password_hashes_are_salted_scrypt(hashes):
    alice, bob = hashes["alice"], hashes["bob"]
    assert alice.startswith("scrypt$16384$8$1$") and PASSWORDS["alice"] not in alice
    assert verify_password(PASSWORDS["alice"], alice) and not verify_password(PASSWORDS["bob"], alice)
    assert verify_password(unicodedata.normalize("NFD", PASSWORDS["alice"]), alice)  # typed decomposed
    assert verify_password(PASSWORDS["bob"], bob)
    again = run_app("--hash-password", stdin=PASSWORDS["bob"] + "\n").stdout.strip()
    assert again != bob and verify_password(PASSWORDS["bob"], again)  # a new salt each time


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"QA_USERS": "alice"}, "QA_USERS entry 1 is not `user:hash`"),
        ({"QA_USERS": "alice:plaintext"}, "not `scrypt$N$r$p$salt$key`"),
        ({"QA_USERS": "a:scrypt$1048576$64$1$AAAA$" + "A" * 44}, "MiB per check"),
        ({"QA_USERS_FILE": "/nonexistent/users.txt"}, "cannot read QA_USERS_FILE"),
    ],
)
def test_bad_user_lists_are_refused_with_a_fix(env, says):
    with pytest.raises(SettingsError, match=re.escape(says)):
        load_users(env)


def test_startup_errors_are_one_line(seed_index):
    result = run_app("--index", str(seed_index), "--port", "99999")
    assert result.returncode == 1 and result.stderr.strip().splitlines() == [
        "qa: error: the port must be between 1 and 65535, not 99999; set --port or QA_PORT"
    ]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_app("--index", str(seed_index), "--port", str(port))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and "Address already in use" in lines[0]
    assert lines[0].startswith("qa: error: cannot listen on 127.0.0.1:") and "serving" not in result.stdout
    result = run_app("--index", str(seed_index), env={"QA_USERS": "alice:nothash"})
    assert result.returncode == 1 and result.stderr.startswith("qa: error: QA_USERS entry 1")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("address", "login", "level"),
    [
        ("127.0.0.1", False, None),
        ("::1", False, None),
        ("0.0.0.0", True, logging.WARNING),
        ("0.0.0.0", False, logging.ERROR),
        ("::", False, logging.ERROR),
    ],
)
def test_listening_beyond_this_machine_is_warned_about(address, login, level):
    warning = exposure_warning(address, login=login)
    assert (warning and warning[0]) == level
    if level == logging.ERROR:
        assert "WITHOUT LOGIN" in warning[1] and "QA_USERS" in warning[1]


def test_responses_carry_security_headers(server):
    for path in ("/", "/api/health", f"/source/{SEED_DOC}?start=0&end=5", "/api/nope"):
        _, headers, _ = request(server.url + path)
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "no-referrer", path
    _, headers, page = request(server.url + "/api/health")
    assert headers["Content-Security-Policy"].startswith("default-src 'none'")
    _, headers, page = request(server.url + f"/source/{SEED_DOC}?start=0&end=5")
    nonce = re.search(r"'nonce-([^']+)'", headers["Content-Security-Policy"]).group(1)
    assert "script-src" not in headers["Content-Security-Policy"] and b"<script" not in page
    assert f'<style nonce="{nonce}">'.encode() in page
