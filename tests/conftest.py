"""Shared fixtures: the real default embedder, a real index of the seed corpus, that index served by
app.py, a headless browser and app.py as a module."""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from served_app import launch_browser, serve

from qa import Retriever, Settings
from qa.embed import E5Embedder

ROOT = Path(__file__).resolve().parent.parent


def _seed_copy() -> Path:
    """The seed pages the gold questions were written on, copied: files a `make run` user adds to
    seeds/ through the app (and its .qa-documents.json) must not change what the tests see."""
    rows = [
        json.loads(line) for line in (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    names = {name for row in rows for name in [row.get("doc"), *row.get("docs", [])] if name}
    folder = Path(tempfile.mkdtemp(prefix="qa-seeds-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    for name in sorted(names):
        shutil.copy(ROOT / "seeds" / name, folder / name)
    return folder


SEEDS = _seed_copy()
SEED_DOC = "000_afc3e4fb20cb5761.txt"  # a seed page, for the routes that take a document id


@pytest.fixture(scope="session")
def embedder() -> E5Embedder:
    return E5Embedder()


class CountingE5(E5Embedder):
    """The real default embedder, counting the passages it is asked to embed."""

    def __init__(self):
        super().__init__()
        self.passages = 0

    def embed_passages(self, passages, **kwargs):
        self.passages += len(passages)
        return super().embed_passages(passages, **kwargs)


@pytest.fixture(scope="session")
def counting() -> CountingE5:
    """Tests reset `counting.passages` before the build they count."""
    return CountingE5()


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, embedder) -> Path:
    """The seed corpus indexed once for the whole run, with default settings."""
    path = tmp_path_factory.mktemp("seed-index") / "index"
    Retriever.build(SEEDS, path, settings=Settings(), embedder=embedder)
    return path


@pytest.fixture(scope="session")
def retriever(seed_index, embedder) -> Retriever:
    return Retriever.load(seed_index, settings=Settings(), embedder=embedder)


@pytest.fixture(scope="session")
def seed_store(tmp_path_factory, embedder) -> str:
    """The seed corpus in the Qdrant store (the client's local engine), built once for the run."""
    location = f"qdrant-local:{tmp_path_factory.mktemp('seed-store')}"
    Retriever.build(SEEDS, location, settings=Settings(), embedder=embedder)
    return location


@pytest.fixture(scope="session", params=["folder", "qdrant"])
def any_retriever(request, seed_index, embedder) -> Retriever:
    """The seed index in each store: retrieval tests that take it run once per store."""
    location = seed_index if request.param == "folder" else request.getfixturevalue("seed_store")
    return Retriever.load(location, settings=Settings(), embedder=embedder)


@pytest.fixture
def small_corpus(tmp_path) -> Path:
    """The shortest seed page and a markdown note: enough for index mechanics, quick to embed."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEEDS / "001_5890e04fe2056a11.txt", corpus)
    (corpus / "ghi-chu.md").write_text(
        "# Ghi chú họp giao ban\n\n"
        "Cuộc họp giao ban tháng 3 thống nhất tổ chức hội thảo về hòa bình vào ngày 12-4-2024.\n"
        "Văn phòng chịu trách nhiệm chuẩn bị tài liệu và gửi giấy mời trước ngày 5-4-2024.\n",
        encoding="utf-8",
    )
    return corpus


@pytest.fixture(scope="session")
def server(seed_index):
    """app.py serving the seed index, started once for the run: each start costs about 10 s."""
    yield from serve(seed_index)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for the module's browser tests."""
    yield from launch_browser()


@pytest.fixture(scope="module")
def app():
    """app.py as a module, for its functions."""
    spec = importlib.util.spec_from_file_location("qa_app", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def small_disk(tmp_path) -> Path:
    """A real file system of 4 MB (tmpfs), to fill up."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root (CI runs as root)")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True, text=True
    )
    if mounted.returncode:  # a container that forbids mounts
        pytest.skip(f"cannot mount a small file system here: {mounted.stderr.strip()}")
    yield disk
    subprocess.run(["umount", "--lazy", str(disk)], check=True)  # lazy: the test's index may be mapped
