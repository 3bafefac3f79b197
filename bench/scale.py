"""Scale figures for `make bench`: synthetic passages from seed sentences, built and served apart.

Passages are 2-3 seed sentences; their vectors are made from the real embeddings of those sentences
(plus noise), so the vector space has the structure of real text, and the questions are the gold
questions embedded by the real embedder. The build and the serving process each run alone, so their
peak resident memory is theirs. Dense recall@10 is our index's search against exact search over the
same stored vectors; FAISS indexes (exact; HNSW at other efSearch values) and the usual recipe (LangChain's
FAISS store, rank_bm25) are timed beside it on the same data and questions.
"""

from __future__ import annotations

import json
import math
import pickle
import random
import re
import subprocess
import sys
import time
import unicodedata
import zlib
from pathlib import Path

import numpy as np

from qa import Embedder

ROOT = Path(__file__).resolve().parent.parent
K = 5
QUERIES_AT_SCALE = 200  # questions timed per mode at each size (half of them typed without diacritics)
# rank_bm25 scores every passage in Python: 8-10 s a question at 1M (bench/results.previous.json),
# 6 minutes of the half hour; above this size it is left out.
RANK_BM25_MAX = 100_000
EF_SEARCH = (256, 512, 1024, 2048, 4096)  # HNSW's recall and time at each, beside the one chosen


def percentiles(ms: list[float]) -> dict[str, float]:
    a = np.array(ms)
    return {f"p{q}": round(float(np.percentile(a, q)), 2) for q in (50, 95, 99)}


def strip_accents(text: str) -> str:
    """What people type without a Vietnamese keyboard."""
    bare = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare.replace("đ", "d").replace("Đ", "D"))


def sentence_key(text: str) -> str:
    return " ".join(strip_accents(text).lower().replace("*", "").split())


class SentenceMixEmbedder(Embedder):
    """Vectors for synthetic passages: the normalised sum of their sentences' real vectors, plus noise."""

    name = "bench-sentence-mix"

    def __init__(self, sentence_vectors: dict[str, np.ndarray], dim: int) -> None:
        self.table = sentence_vectors
        self.dim = dim

    def _encode(self, texts: list[str], *, query: bool) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            rng = np.random.default_rng(zlib.crc32(text.encode()))
            parts = [
                self.table[k] for k in map(sentence_key, re.split(r"(?<=[.!?])\s+", text)) if k in self.table
            ]
            v = np.sum(parts, axis=0) if parts else rng.standard_normal(self.dim)
            v = v / np.linalg.norm(v) + rng.normal(0, 0.01, self.dim)
            out[i] = v / np.linalg.norm(v)
        return out


def synthesise(size: int, sentences: list[str], folder: Path, *, per_document: int = 100) -> int:
    """`size` passages of 2-3 seed sentences (at most 90 syllables), each under its own heading,
    written as markdown documents of `per_document` passages, so each passage is one chunk."""
    rng = random.Random(size)
    folder.mkdir(parents=True, exist_ok=True)
    written, used, tries = 0, set(), 50
    for d in range(math.ceil(size / per_document)):
        lines = [f"# Tài liệu tổng hợp {d}", ""]
        for p in range(min(per_document, size - written)):
            for _ in range(tries):  # distinct sentence sets while they last: passages differ
                chosen = rng.sample(sentences, rng.choice((2, 3)))
                if sum(len(s.split()) for s in chosen) <= 90 and frozenset(chosen) not in used:
                    break
            else:  # they have run out (about 220,000 sets of 110 seed sentences): stop looking
                tries = 1
            used.add(frozenset(chosen))
            lines += [f"## Mục {p + 1}", "", " ".join(chosen), ""]
        written += min(per_document, size - written)
        (folder / f"doc{d:06d}.md").write_text("\n".join(lines), encoding="utf-8")
    return written


def _run(code: str) -> dict:
    """Run `code` in a fresh Python process; it prints one JSON object."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.splitlines()[-1])


# Peak memory is the child's own VmHWM: ru_maxrss of a child started by `subprocess` starts at its
# parent's resident size (Linux keeps it across exec), which made a 13.9 GB "load peak" of the bench
# process's own 1M build in the figures before issue 12.
HWM = "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) / 1024"


def build(corpus: Path, index: Path, table: Path, dim: int) -> dict:
    """Build in a fresh process: wall time and that process's peak resident memory."""
    return _run(f"""
import json, pickle, sys, time
sys.path.insert(0, {str(ROOT / "bench")!r})
from scale import SentenceMixEmbedder
from qa import Retriever, Settings
embedder = SentenceMixEmbedder(pickle.load(open({str(table)!r}, "rb")), {dim})
t = time.perf_counter()
r = Retriever.build({str(corpus)!r}, {str(index)!r}, settings=Settings(), embedder=embedder)
seconds = time.perf_counter() - t
print(json.dumps({{"build_s": round(seconds, 1), "passages": len(r), "build_peak_mb": round({HWM})}}))
""")


def serve(index: Path, questions: list[str], qvectors: np.ndarray) -> dict:
    """Load our index in a fresh process, then time each mode with the questions' vectors given (wall
    and CPU time: other processes inflate wall time); its peak memory after loading and after serving,
    its settled memory, its dense top-10 rows, and BM25's top 10 against scoring every posting."""
    (index / "q.json").write_text(json.dumps(questions, ensure_ascii=False), encoding="utf-8")
    np.save(index / "q.npy", qvectors)
    return _run(f"""
import json, time
import numpy as np
from qa import Embedder, Retriever, Settings

def status(key):
    return int(next(l for l in open("/proc/self/status") if l.startswith(key)).split()[1]) / 1024

class Given(Embedder):
    name, dim = "bench-sentence-mix", {qvectors.shape[1]}
    def _encode(self, texts, *, query):
        raise RuntimeError("questions come embedded")

before = status("VmRSS")
t = time.perf_counter()
r = Retriever.load({str(index)!r}, settings=Settings(), embedder=Given())
load_s = time.perf_counter() - t
out = {{"load_s": round(load_s, 2), "passages": len(r), "dense_index": r.index.manifest["dense"],
    "before_load_mb": round(before), "load_peak_mb": round(status("VmHWM"))}}
questions = json.loads(open({str(index / "q.json")!r}, encoding="utf-8").read())
vectors = np.load({str(index / "q.npy")!r})
def pp(ms):
    return {{f"p{{p}}": round(float(np.percentile(ms, p)), 2) for p in (50, 95, 99)}}

cpu = {{"questions": len(questions)}}
for mode in ("hybrid", "dense", "bm25"):
    r.search(questions[0], vector=vectors[0], mode=mode)
    times, used = [], []
    for q, v in zip(questions, vectors):
        t, c = time.perf_counter(), time.process_time()
        r.search(q, k={K}, mode=mode, vector=v)
        times.append((time.perf_counter() - t) * 1000)
        used.append((time.process_time() - c) * 1000)
    out[mode], cpu[mode] = pp(times), {{"cpu_ms": pp(used)}}
out["dense_top10"] = [r.index.search_dense(v, 10)[0].tolist() for v in vectors]
out["peak_mb"], out["settled_mb"] = round(status("VmHWM")), round(status("VmRSS"))
out["rssanon_mb"], out["rssfile_mb"] = round(status("RssAnon")), round(status("RssFile"))
lexical, pruned, every, same = r.index.lexical, [], [], 0
for q in questions:  # the pruned top 10 against scoring every posting (ties: equal scores)
    c = time.process_time()
    rows, scores = lexical.top(lexical.terms(q), 50)
    pruned.append((time.process_time() - c) * 1000)
    c = time.process_time()
    full = lexical.score(q)
    every.append((time.process_time() - c) * 1000)
    best = np.lexsort((np.arange(len(full)), -full))[:10]
    same += bool(np.array_equal(rows[:10], best) or np.allclose(scores[:10], full[best], rtol=1e-5))
cpu["score_pruned_cpu_ms"], cpu["score_every_posting_cpu_ms"] = pp(pruned), pp(every)
cpu["bm25_top10_rows_identical_to_every_posting"] = same
out["cpu_time"] = cpu
print(json.dumps(out))
""")


def recall(found: list[list[int]], vectors: np.ndarray, exact_tenth: np.ndarray, qvectors) -> float:
    """Share of the exact top 10 found; a passage scoring at least the exact 10th counts (ties are
    equal answers)."""
    hits = []
    for rows, v, bar in zip(found, qvectors, exact_tenth):
        scores = vectors[np.sort(rows)] @ v if rows else np.empty(0)
        hits.append(min(10, int(np.sum(scores >= bar - 1e-6))) / 10)
    return round(float(np.mean(hits)), 4)


def faiss_side_by_side(vectors: np.ndarray, qvectors: np.ndarray, ours: Path) -> dict:
    """Exact FAISS over the same vectors (the recall reference), and our HNSW at other efSearch values."""
    import faiss

    n, dim = vectors.shape
    out = {}
    t = time.perf_counter()
    flat = faiss.IndexFlatIP(dim)
    for at in range(0, n, 100_000):
        flat.add(np.ascontiguousarray(vectors[at : at + 100_000]))
    out["exact_build_s"] = round(time.perf_counter() - t, 2)
    out["exact_mb"] = round(n * dim * 4 / 2**20)
    times, tenth = [], []
    for v in qvectors:
        t = time.perf_counter()
        scores, _ = flat.search(v.reshape(1, -1), 10)
        times.append((time.perf_counter() - t) * 1000)
        tenth.append(scores[0][-1])
    out["exact_ms"] = percentiles(times)
    out["tenth"] = np.array(tenth)
    del flat
    manifest = json.loads((ours / "manifest.json").read_text())
    if manifest["dense"]["type"] == "flat":
        return out
    file = ours / manifest["files"]["dense"]
    hnsw = faiss.read_index(str(file), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
    out["hnsw_mb"] = round(file.stat().st_size / 2**20)
    for ef in EF_SEARCH:
        times, found = [], []
        params = faiss.SearchParametersHNSW(efSearch=ef)
        for v in qvectors:
            t = time.perf_counter()
            _, ids = hnsw.search(v.reshape(1, -1), 50, params=params)
            top = np.sort(ids[0][ids[0] >= 0])
            order = np.argsort(-(vectors[top] @ v))[:10]  # re-scored as our index does
            times.append((time.perf_counter() - t) * 1000)
            found.append(top[order].tolist())
        out[f"hnsw_ef{ef}_ms"] = percentiles(times)
        out[f"hnsw_ef{ef}_recall@10"] = recall(found, vectors, out["tenth"], qvectors)
    return out


def recipe_side_by_side(
    texts: list[str], vectors: np.ndarray, questions: list[str], qvectors: np.ndarray, *, bm25: bool
) -> dict:
    """LangChain's FAISS vector store and rank_bm25 on the same passages and questions, when installed
    (neither is a dependency of qa)."""
    try:
        from langchain_community.vectorstores import FAISS
        from langchain_community.vectorstores.utils import DistanceStrategy
        from langchain_core.embeddings import Embeddings
    except ImportError:
        return {"missing": "langchain-community is not installed: pip install langchain-community rank-bm25"}

    class Unused(Embeddings):
        def embed_documents(self, texts):
            raise RuntimeError("vectors are given")

        def embed_query(self, text):
            raise RuntimeError("vectors are given")

    out = {}
    t = time.perf_counter()
    store = FAISS.from_embeddings(
        list(zip(texts, np.asarray(vectors))), Unused(), distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT
    )
    out["langchain_build_s"] = round(time.perf_counter() - t, 2)
    times = []
    for v in qvectors:
        t = time.perf_counter()
        store.similarity_search_by_vector(v.tolist(), k=K)
        times.append((time.perf_counter() - t) * 1000)
    out["langchain_dense_ms"] = percentiles(times)
    del store
    if bm25:
        try:
            from rank_bm25 import BM25Okapi
        except ImportError:
            return out | {"missing": "rank-bm25 is not installed: pip install rank-bm25"}

        def syllables(text: str) -> list[str]:
            return re.findall(r"\w+", unicodedata.normalize("NFC", text).lower())

        t = time.perf_counter()
        model = BM25Okapi([syllables(x) for x in texts])
        out["rank_bm25_build_s"] = round(time.perf_counter() - t, 2)
        times = []
        for q in questions:
            t = time.perf_counter()
            scores = model.get_scores(syllables(q))
            np.argpartition(-scores, K)[:K]
            times.append((time.perf_counter() - t) * 1000)
        out["rank_bm25_ms"] = percentiles(times)
    return out


def folder_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.iterdir() if f.is_file()) / 2**20, 1)


def scale(size: int, sentences: list[str], table: Path, dim: int, questions, qvectors, work: Path) -> dict:
    """Every figure at one corpus size."""
    from qa import Retriever, Settings

    corpus, index = work / f"corpus-{size}", work / f"index-{size}"
    synthesise(size, sentences, corpus)
    questions, qvectors = questions[:QUERIES_AT_SCALE], qvectors[:QUERIES_AT_SCALE]
    row = build(corpus, index, table, dim)
    row["build_passages_per_s"] = round(row["passages"] / row["build_s"])
    row["disk_mb"] = folder_mb(index)
    row["ours"] = serve(index, questions, qvectors)
    row["cpu_time"] = row["ours"].pop("cpu_time")
    vectors = np.load(next(index.glob("vectors-*.npy")), mmap_mode="r")
    row["faiss"] = faiss_side_by_side(vectors, qvectors, index)
    row["ours"]["dense_recall@10"] = recall(
        row["ours"].pop("dense_top10"), vectors, row["faiss"].pop("tenth"), qvectors
    )
    texts = Retriever.load(index, settings=Settings(), embedder=SentenceMixEmbedder({}, dim)).passage_texts()
    row["recipe"] = recipe_side_by_side(texts, vectors, questions, qvectors, bm25=size <= RANK_BM25_MAX)
    return row


def save_table(table: dict, path: Path) -> None:
    with path.open("wb") as f:
        pickle.dump(table, f)
