"""The `qa` command as a user runs it: a real process, real index, real model."""

import json
import os
import subprocess
import sys

QA = [sys.executable, "-m", "qa.cli"]


def run(*args, stdin=None, cwd=None):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [*QA, *args], capture_output=True, text=True, input=stdin, env=env, cwd=cwd, timeout=300
    )


def test_ask_json_lists_the_date_of_directive_12(seed_index):
    out = run("ask", "--json", "--index", str(seed_index), "Chỉ thị 12-CT/TW được ban hành ngày nào?")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["question"] == "Chỉ thị 12-CT/TW được ban hành ngày nào?"
    assert len(data["passages"]) == 5
    assert set(data["passages"][0]) == {"rank", "doc_id", "title", "heading", "text", "start", "end", "score"}
    assert any("05/01/2022" in p["text"] or "5-1-2022" in p["text"] for p in data["passages"])


def test_ask_prints_numbered_cited_passages(seed_index):
    out = run("--index", str(seed_index), "ask", "-k", "3", "--mode", "bm25", "Hà Nội đạt bao nhiêu điểm?")
    assert out.returncode == 0, out.stderr
    assert "[1] " in out.stdout and "[3] " in out.stdout and "[4] " not in out.stdout
    assert "80,77 điểm" in out.stdout


def test_errors_are_one_line_and_exit_non_zero(tmp_path):
    out = run("ask", "--index", str(tmp_path / "none"), "câu hỏi")
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0 and "qa index" in out.stderr
    assert "Traceback" not in out.stderr
    bad = run("index", "--corpus", str(tmp_path / "missing"), "--index", str(tmp_path / "i"))
    assert bad.returncode == 1 and "does not exist" in bad.stderr


def test_index_command_builds_then_reports_up_to_date(small_corpus, tmp_path):
    args = ("index", "--corpus", str(small_corpus), "--index", str(tmp_path / "idx"))
    first = run(*args)
    assert first.returncode == 0, first.stderr
    assert "2 added documents" in first.stdout
    assert "001_5890e04fe2056a11.txt: 65 characters dropped as web-page furniture (3%)" in first.stdout
    assert "embedding passages" in first.stderr  # the progress bar
    again = run(*args)
    assert again.returncode == 0 and "up to date" in again.stdout


def test_interactive_prompt_answers_until_empty_line(seed_index):
    out = run("--index", str(seed_index), stdin="Hà Nội đạt bao nhiêu điểm khảo sát?\n\n")
    assert out.returncode == 0, out.stderr
    assert "80,77 điểm" in out.stdout


def test_a_closed_pipe_ends_quietly(seed_index):
    """`qa ask … | head -1`: the reader goes away after one line."""
    proc = subprocess.Popen(
        [*QA, "ask", "--index", str(seed_index), "Chỉ thị 12-CT/TW được ban hành ngày nào?"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 0 and "Traceback" not in err and "BrokenPipe" not in err


def test_control_characters_of_a_document_never_reach_the_terminal(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "doc.txt").write_text(
        "Báo cáo \x1b[2J\x1b]0;pwned\x07 về hội nghị\u202e đã được gửi ngày 5-4-2024.\r\n", encoding="utf-8"
    )
    assert run("index", "--corpus", str(corpus), "--index", str(tmp_path / "i")).returncode == 0
    out = run("ask", "--index", str(tmp_path / "i"), "Báo cáo về hội nghị gửi ngày nào?")
    assert out.returncode == 0 and "5-4-2024" in out.stdout
    assert not any(c in out.stdout for c in "\x1b\x07\r\u202e")
    data = json.loads(run("ask", "--json", "--index", str(tmp_path / "i"), "Báo cáo gửi ngày nào?").stdout)
    assert "\x1b[2J" in data["passages"][0]["text"]  # the JSON keeps the verbatim text, escaped
