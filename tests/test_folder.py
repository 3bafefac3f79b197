"""The index folder never costs the user a file, survives kills and races, and repairs itself."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from qa import (
    IndexCorruptError,
    IndexLocationError,
    IndexMismatchError,
    IndexNotFoundError,
    QAError,
    Retriever,
    Settings,
)
from qa.folder import MANIFEST, MARKER
from qa.index import Index

QA = [sys.executable, "-m", "qa.cli"]
QUESTION = "Văn phòng gửi giấy mời trước ngày nào?"


def qa(*args, user=None, cwd=None):
    return subprocess.run([*QA, *args], capture_output=True, text=True, timeout=300, user=user, cwd=cwd)


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def build(corpus, index, embedder, **kwargs):
    return Retriever.build(corpus, index, settings=Settings(), embedder=embedder, **kwargs)


@pytest.fixture
def tiny_corpus(tmp_path) -> Path:
    """Two short notes: every build of them takes well under a second."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "giay-moi.txt").write_text(
        "Văn phòng gửi giấy mời dự hội thảo trước ngày 5-4-2024.\n", encoding="utf-8"
    )
    (corpus / "ngan-sach.txt").write_text(
        "Ngân sách năm 2024 dành cho hội thảo là 200 triệu đồng.\n", encoding="utf-8"
    )
    return corpus


@pytest.mark.parametrize("where", ["the corpus", "inside the corpus", "around the corpus"])
def test_an_index_overlapping_the_corpus_is_refused_and_nothing_is_deleted(tmp_path, tiny_corpus, where):
    index = {
        "the corpus": tiny_corpus,
        "inside the corpus": tiny_corpus / "index",
        "around the corpus": tmp_path,
    }[where]
    before = tree(tmp_path)
    out = qa("index", "--corpus", str(tiny_corpus), "--index", str(index))
    assert out.returncode == 1 and "overlap" in out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert tree(tmp_path) == before


def test_a_working_folder_with_other_files_is_refused(tmp_path, tiny_corpus):
    work = tmp_path / "work"
    work.mkdir()
    (work / "bao-cao.docx").write_bytes(b"PK\x03\x04 report")
    (work / "texts-0123456789abcdef.txt").write_text("a user's file that looks like ours")
    before = tree(work)
    out = qa("index", "--corpus", str(tiny_corpus), "--index", ".", cwd=work)
    assert out.returncode == 1 and "not a qa index" in out.stderr and "NEW_FOLDER" in out.stderr
    assert tree(work) == before


def test_a_folder_with_another_tools_manifest_is_not_taken_for_an_index(tmp_path, tiny_corpus):
    project = tmp_path / "project"
    project.mkdir()
    (project / "manifest.json").write_text('{"format_version": 2, "files": ["app.js"]}')
    (project / "texts-0123456789abcdef.txt").write_text("giữ lại")
    (project / "app.js").write_text("x")
    before = tree(project)
    out = qa("index", "--corpus", str(tiny_corpus), "--index", str(project))
    assert out.returncode == 1 and "not a qa index" in out.stderr
    assert tree(project) == before


def test_an_index_path_that_is_a_file_is_refused_by_every_command(tmp_path, tiny_corpus):
    file = tmp_path / "notes.txt"
    file.write_text("giữ nguyên")
    for args in (("index", "--corpus", str(tiny_corpus)), ("ask", "câu hỏi")):
        out = qa(*args, "--index", str(file))
        assert out.returncode == 1 and "is a file" in out.stderr and "Traceback" not in out.stderr
    assert file.read_text() == "giữ nguyên"


def test_the_no_index_error_suggests_a_safe_command(tmp_path):
    with pytest.raises(IndexNotFoundError) as err:
        Retriever.load(tmp_path)
    assert "--index NEW_FOLDER" in str(err.value) and str(tmp_path) not in str(err.value).split("with:")[1]


def test_cleaning_deletes_only_the_index_own_files(tmp_path, tiny_corpus, embedder):
    index = tmp_path / "index"
    build(tiny_corpus, index, embedder)
    (index / "ghi-chu-cua-toi.txt").write_text("a note the user dropped into the index folder")
    (index / "texts-0123.txt").write_text("not of our naming")
    for n in range(3):
        (tiny_corpus / "giay-moi.txt").write_text(f"Văn phòng gửi giấy mời lần {n}.\n", encoding="utf-8")
        build(tiny_corpus, index, embedder)
    assert (index / "ghi-chu-cua-toi.txt").is_file() and (index / "texts-0123.txt").is_file()
    manifest = json.loads((index / MANIFEST).read_text())
    data = {p.name for p in index.iterdir() if p.name[0] != "." and p.name != MANIFEST}
    kept = set(manifest["files"].values()) | set(manifest["previous"])
    assert data - kept == {"ghi-chu-cua-toi.txt", "texts-0123.txt"}


def test_rebuild_repairs_a_damaged_data_file(tmp_path, tiny_corpus, embedder):
    index = tmp_path / "index"
    expected = build(tiny_corpus, index, embedder).search(QUESTION, k=1)
    for victim in ("vectors-*.npy", "texts-*.txt", "dense-*.faiss"):
        file = next(index.glob(victim))
        file.write_bytes(file.read_bytes()[:-7] + b"garbage")
        with pytest.raises(IndexCorruptError, match="--rebuild") as err:
            Index.load(index)
        assert f"--corpus {tiny_corpus.resolve()}" in str(err.value)  # the hint names the real corpus
        build(tiny_corpus, index, embedder, rebuild=True)
        assert Retriever.load(index, embedder=embedder).search(QUESTION, k=1) == expected


def test_a_plain_update_also_repairs_a_damaged_index(tmp_path, tiny_corpus, embedder):
    index = tmp_path / "index"
    build(tiny_corpus, index, embedder)
    file = next(index.glob("lexical-*.npy"))
    file.write_bytes(b"\0" * 100)
    build(tiny_corpus, index, embedder)
    assert "5-4-2024" in Retriever.load(index, embedder=embedder).search(QUESTION, k=1)[0].text


@pytest.mark.parametrize(
    "damage",
    [
        lambda m: m.pop("files"),
        lambda m: m.update(files=[]),
        lambda m: m.update(checksums="x"),
        lambda m: m["files"].pop("dense"),
        lambda m: m["files"].update(texts="../../etc/passwd"),
        lambda m: m.update(embedder=None),
        lambda m: m["embedder"].pop("id"),
        lambda m: m.update(documents=7),
        lambda m: m.clear(),
    ],
)
def test_a_manifest_of_the_wrong_shape_gives_the_clear_error(tmp_path, tiny_corpus, embedder, damage):
    index = tmp_path / "index"
    build(tiny_corpus, index, embedder)
    manifest = json.loads((index / MANIFEST).read_text())
    damage(manifest)
    (index / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises((IndexCorruptError, IndexMismatchError), match="qa index --rebuild"):
        Retriever.load(index, embedder=embedder)
    for shape in ("[]", "7", '"x"', "{"):
        (index / MANIFEST).write_text(shape)
        with pytest.raises(QAError, match="rebuild"):
            Index.load(index)


def test_index_files_can_be_served_by_another_account(tmp_path, tiny_corpus, embedder):
    index = tmp_path / "index"
    old = os.umask(0o022)
    try:
        build(tiny_corpus, index, embedder)
    finally:
        os.umask(old)
    for file in index.iterdir():
        assert file.stat().st_mode & 0o044 == 0o044, f"{file.name} is not readable by group and others"


@contextlib.contextmanager
def read_only(folder: Path):
    """A folder nobody can write to, root included (root ignores permission bits)."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield
        folder.chmod(0o755)
        return
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("root ignores permissions and chattr is not available here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_read_only_index_folder_fails_before_any_embedding(tmp_path, tiny_corpus):
    index = tmp_path / "index"
    index.mkdir()
    with read_only(index):
        out = qa("index", "--corpus", str(tiny_corpus), "--index", str(index))
    assert out.returncode == 1 and "cannot write to the index folder" in out.stderr
    assert "embedding" not in out.stderr and "Traceback" not in out.stderr


# --- crashes and races ----------------------------------------------------------------

KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import qa.folder
    from qa.cli import main
    real_put, real_write, calls, kill_at = qa.folder.put, qa.folder.atomic_write, [0], int(sys.argv[1])
    def before(folder, name, data):
        calls[0] += 1
        if calls[0] == kill_at:  # half a temporary file on disk, then the power goes
            with open(folder / f".{name}.killed.tmp", "wb") as f:
                f.write(data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
    def after():
        if calls[0] == -kill_at:  # right after this file is in place
            os.kill(os.getpid(), signal.SIGKILL)
    def put(path, role, suffix, pieces):
        data = b"".join(bytes(p) for p in pieces)
        before(path, f"{role}-{'0' * 16}{suffix}", data)
        written = real_put(path, role, suffix, [data])
        after()
        return written
    def write(target, data):
        before(target.parent, target.name, data)
        real_write(target, data)
        after()
    qa.folder.put, qa.folder.atomic_write = put, write
    sys.exit(main(sys.argv[2:]))
    """
)


# Kill points: before (n) and right after (-n) the n-th of a build's eight writes (seven data
# files, then the manifest).
KILL_POINTS = [*range(1, 9), *range(-1, -9, -1)]


def test_kill_9_at_every_write_leaves_the_previous_index_usable(tmp_path, tiny_corpus, embedder):
    index, pristine = tmp_path / "index", tmp_path / "pristine"
    build(tiny_corpus, pristine, embedder)
    expected = Retriever.load(pristine, embedder=embedder).search(QUESTION, k=2)
    (tiny_corpus / "moi.txt").write_text("Đoàn đại biểu thăm Lào vào tháng 5 năm 2024.\n", encoding="utf-8")
    for point in KILL_POINTS:
        shutil.rmtree(index, ignore_errors=True)
        shutil.copytree(pristine, index)
        args = ["index", "--corpus", str(tiny_corpus), "--index", str(index)]
        out = subprocess.run(
            [sys.executable, "-c", KILLER, str(point), *args], capture_output=True, timeout=300
        )
        assert out.returncode == -signal.SIGKILL, (point, out.stderr)
        r = Retriever.load(index, embedder=embedder)
        if point == -8:  # killed right after the manifest swap: the new index is whole
            assert "moi.txt" in r.documents
        else:
            assert r.search(QUESTION, k=2) == expected and "moi.txt" not in r.documents
        build(tiny_corpus, index, embedder)  # the next run finishes the job and cleans up
        assert "moi.txt" in Retriever.load(index, embedder=embedder).documents
        assert not [p.name for p in index.iterdir() if p.name.endswith(".tmp")]
        manifest = json.loads((index / MANIFEST).read_text())
        data = {p.name for p in index.iterdir() if p.name[0] != "." and p.name != MANIFEST}
        assert data == set(manifest["files"].values()) | set(manifest["previous"]), point


READER = textwrap.dedent(
    """
    import os, sys, time
    from qa.index import Index
    loads = errors = 0
    index, stop, ready, deadline = sys.argv[1], sys.argv[2], sys.argv[3], time.monotonic() + 300
    while time.monotonic() < deadline and not os.path.exists(stop):
        try:
            loaded = Index.load(index)
            loaded.document_text(next(iter(loaded.documents)))
            loads += 1
            if loads == 1:
                open(ready, "w").close()
        except Exception as err:
            errors += 1
            print(type(err).__name__, err, file=sys.stderr)
    print(loads, errors)
    """
)


def test_readers_never_see_a_half_built_or_deleted_index(tmp_path, tiny_corpus, embedder):
    index = tmp_path / "index"
    build(tiny_corpus, index, embedder)
    stop = tmp_path / "stop"
    ready = [tmp_path / f"ready-{n}" for n in range(2)]
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(index), str(stop), str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in ready
    ]
    deadline = time.monotonic() + 120  # on a busy machine starting Python and loading takes a while
    while not all(p.exists() for p in ready) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        for n in range(8):
            text = f"Giấy mời số {n} gửi trước ngày 5-4.\n"
            (tiny_corpus / "giay-moi.txt").write_text(text, encoding="utf-8")
            build(tiny_corpus, index, embedder)
    finally:
        stop.touch()
    for reader in readers:
        out, err = reader.communicate(timeout=60)
        loads, errors = map(int, out.split())
        assert errors == 0 and loads > 0, err


def test_a_stale_manifest_is_retried_on_the_new_one(tmp_path, tiny_corpus, embedder, monkeypatch):
    """A reader that read the manifest two builds ago finds its files gone and loads the newest."""
    import qa.folder

    index = tmp_path / "index"
    build(tiny_corpus, index, embedder)
    stale = qa.folder.read_manifest(index)
    for n in range(2):
        (tiny_corpus / "giay-moi.txt").write_text(f"Giấy mời lần {n}.\n", encoding="utf-8")
        build(tiny_corpus, index, embedder)
    real, calls = qa.folder.read_manifest, []

    def first_stale(path):
        calls.append(path)
        return stale if len(calls) == 1 else real(path)

    monkeypatch.setattr(qa.folder, "read_manifest", first_stale)
    loaded = Index.load(index)
    assert len(calls) > 1 and "lần 1" in loaded.document_text("giay-moi.txt")


def test_the_marker_is_written_and_an_old_index_is_adopted(tmp_path, tiny_corpus, embedder):
    index = tmp_path / "index"
    build(tiny_corpus, index, embedder)
    assert (index / MARKER).is_file()
    (index / MARKER).unlink()  # an index built before the marker existed
    build(tiny_corpus, index, embedder)
    assert (index / MARKER).is_file()


def test_location_errors_are_qa_errors():
    assert issubclass(IndexLocationError, QAError)
