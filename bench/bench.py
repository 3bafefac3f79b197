"""`make bench`: indexing throughput, query latency and memory, from the seeds to a million passages.

    .venv/bin/python bench/bench.py [--sizes 10000,100000,1000000] [--out bench/results]

1. The seed index: build time, passages/s and tokens/s, beside the raw embedder on the same texts.
2. Warm latency per mode over the gold questions and their unaccented forms; cold start to the
   first answer in a fresh process; resident memory.
3. Scale: passages synthesised from seed sentences, with vectors made from the real embeddings of
   those sentences (plus noise), so the vector space has the structure of real text. Our index as
   built (it picks exact or HNSW by size) is measured end to end in a fresh process; exact and
   HNSW FAISS indexes over the same vectors are timed side by side, HNSW's recall@10 against exact.
4. The usual recipe on the same data and questions: LangChain's FAISS vector store and rank_bm25.

The assistant is used through its public API; FAISS, LangChain and rank_bm25 are imported here
only as the alternatives being compared.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
import zlib
from pathlib import Path

import numpy as np
from tqdm import tqdm

from qa import Embedder, Retriever, Settings

ROOT = Path(__file__).resolve().parent.parent
K = 5
QUERIES_AT_SCALE = 200  # questions timed per mode at each size (half of them typed without diacritics)


def percentiles(ms: list[float]) -> dict[str, float]:
    a = np.array(ms)
    return {f"p{q}": round(float(np.percentile(a, q)), 2) for q in (50, 95, 99)}


def strip_accents(text: str) -> str:
    """What people type without a Vietnamese keyboard."""
    bare = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare.replace("đ", "d").replace("Đ", "D"))


def sentence_key(text: str) -> str:
    return " ".join(strip_accents(text).lower().replace("*", "").split())


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def questions_from(gold: Path) -> list[str]:
    asked = [json.loads(line)["question"] for line in gold.read_text(encoding="utf-8").splitlines() if line]
    return asked + [strip_accents(q) for q in asked]


# --- 1 and 2: the seed corpus ------------------------------------------------------------


def seed_figures(corpus: Path, questions: list[str], work: Path) -> tuple[dict, Retriever]:
    index = work / "seed-index"
    started = time.perf_counter()
    r = Retriever.build(corpus, index, settings=Settings(), progress=True)
    build = time.perf_counter() - started
    texts = r.passage_texts()
    tokens = sum(r.embedder.count_tokens(t) for t in texts)
    started = time.perf_counter()
    r.embedder.embed_passages(texts)
    raw = time.perf_counter() - started
    figures = {
        "documents": len(r.documents),
        "passages": len(texts),
        "tokens": tokens,
        "build_s": round(build, 2),
        "passages_per_s": round(len(texts) / build, 1),
        "tokens_per_s": round(tokens / build),
        "embedder_alone_s": round(raw, 2),
        "embedder_tokens_per_s": round(tokens / raw),
        "build_speed_vs_embedder": round(raw / build, 3),
    }
    r.search(questions[0])  # warm-up
    latency = {}
    for mode in ("hybrid", "dense", "bm25"):
        times = []
        for q in tqdm(questions, desc=f"seed {mode}", unit="query"):
            t = time.perf_counter()
            r.search(q, k=K, mode=mode)
            times.append((time.perf_counter() - t) * 1000)
        latency[mode] = percentiles(times)
    times = []
    for q in tqdm(questions[:50], desc="seed ask", unit="query"):
        t = time.perf_counter()
        r.ask(q, k=K)
        times.append((time.perf_counter() - t) * 1000)
    latency["ask (answer sentences)"] = percentiles(times)
    figures["latency_ms"] = latency
    figures["cold_start"] = cold_start(index, questions[0])
    return figures, r


def cold_start(index: Path, question: str, runs: int = 3) -> dict:
    """A fresh Python process: import, load the index, answer one question."""
    code = (
        "import resource, sys, time; t = time.perf_counter()\n"
        "from qa import Retriever\n"
        f"r = Retriever.load({str(index)!r}); a = r.ask({question!r})\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    walls, inside, memory = [], [], []
    for _ in range(runs):
        t = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
        )
        walls.append(time.perf_counter() - t)
        seconds, mb = map(float, out.stdout.split())
        inside.append(seconds)
        memory.append(mb)
    return {
        "to_first_answer_s": round(statistics.median(walls), 2),
        "in_process_s": round(statistics.median(inside), 2),
        "rss_mb": round(max(memory)),
    }


# --- 3 and 4: scale ----------------------------------------------------------------------


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


def seed_sentences(r: Retriever) -> list[str]:
    seen, out = set(), []
    for text in r.passage_texts():
        for s in re.split(r"(?<=[.!?])\s+", " ".join(text.replace("*", "").split())):
            words = len(s.split())
            if 8 <= words <= 45 and sentence_key(s) not in seen:
                seen.add(sentence_key(s))
                out.append(s)
    return out


def synthesise(size: int, sentences: list[str], folder: Path, *, per_document: int = 100) -> int:
    """`size` passages of 2-3 seed sentences (at most 90 syllables), each under its own heading,
    written as markdown documents of `per_document` passages, so each passage is one chunk."""
    rng = random.Random(size)
    folder.mkdir(parents=True, exist_ok=True)
    written, used = 0, set()
    for d in range(math.ceil(size / per_document)):
        lines = [f"# Tài liệu tổng hợp {d}", ""]
        for p in range(min(per_document, size - written)):
            for _ in range(50):  # distinct sentence sets while they last: passages differ
                chosen = rng.sample(sentences, rng.choice((2, 3)))
                if sum(len(s.split()) for s in chosen) <= 90 and frozenset(chosen) not in used:
                    break
            used.add(frozenset(chosen))
            lines += [f"## Mục {p + 1}", "", " ".join(chosen), ""]
        written += min(per_document, size - written)
        (folder / f"doc{d:06d}.md").write_text("\n".join(lines), encoding="utf-8")
    return written


def measure_our_index(index: Path, questions: list[str], qvectors: np.ndarray) -> dict:
    questions, qvectors = questions[:QUERIES_AT_SCALE], qvectors[:QUERIES_AT_SCALE]
    """Load our index in a fresh process and time each mode with precomputed question vectors."""
    code = f"""
import json, resource, time
import numpy as np
from qa import Embedder, Retriever, Settings

class Given(Embedder):
    name, dim = "bench-sentence-mix", {qvectors.shape[1]}
    def _encode(self, texts, *, query):
        raise RuntimeError("questions come embedded")

t = time.perf_counter()
r = Retriever.load({str(index)!r}, settings=Settings(), embedder=Given())
load_s = time.perf_counter() - t
questions = json.loads(open({str(index / "q.json")!r}, encoding="utf-8").read())
vectors = np.load({str(index / "q.npy")!r})
out = {{"load_s": round(load_s, 2), "passages": len(r), "dense_type": r.index.manifest["dense"]["type"]}}
for mode in ("hybrid", "dense", "bm25"):
    r.search(questions[0], vector=vectors[0], mode=mode)
    times = []
    for q, v in zip(questions, vectors):
        t = time.perf_counter()
        r.search(q, k={K}, mode=mode, vector=v)
        times.append((time.perf_counter() - t) * 1000)
    out[mode] = {{f"p{{p}}": round(float(np.percentile(times, p)), 2) for p in (50, 95, 99)}}
out["rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
for line in open("/proc/self/status"):
    if line.startswith(("RssAnon", "RssFile")):
        out[line.split(":")[0].lower() + "_mb"] = round(int(line.split()[1]) / 1024)
print(json.dumps(out))
"""
    (index / "q.json").write_text(json.dumps(questions, ensure_ascii=False), encoding="utf-8")
    np.save(index / "q.npy", qvectors)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout)


def faiss_side_by_side(vectors: np.ndarray, qvectors: np.ndarray, ours: Path) -> dict:
    """Exact and HNSW FAISS indexes over the same vectors: latency, recall@10, build time, memory."""
    import faiss

    from qa.index import EXACT_MAX, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M

    n, dim = vectors.shape
    out = {}
    t = time.perf_counter()
    flat = faiss.IndexFlatIP(dim)
    flat.add(np.ascontiguousarray(vectors))
    out["exact_build_s"] = round(time.perf_counter() - t, 2)
    out["exact_mb"] = round(n * dim * 4 / 2**20)
    times, tenth = [], []
    for v in qvectors:
        t = time.perf_counter()
        scores, _ = flat.search(v.reshape(1, -1), 10)
        times.append((time.perf_counter() - t) * 1000)
        tenth.append(scores[0][-1])
    out["exact_ms"] = percentiles(times)
    del flat
    built = json.loads((ours / "manifest.json").read_text())["files"]["dense"]
    if n > EXACT_MAX:  # our index already is this HNSW: time it as built
        hnsw = faiss.read_index(str(ours / built))
    else:
        t = time.perf_counter()
        hnsw = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        hnsw.train(vectors[np.random.default_rng(0).choice(n, min(n, 100_000), replace=False)])
        hnsw.add(vectors)
        out["hnsw_build_s"] = round(time.perf_counter() - t, 2)
    out["hnsw_mb"] = round(len(faiss.serialize_index(hnsw)) / 2**20)
    for ef in (128, HNSW_EF_SEARCH, 512):
        times, recall = [], []
        params = faiss.SearchParametersHNSW(efSearch=ef)
        for v, bar in zip(qvectors, tenth):
            t = time.perf_counter()
            _, ids = hnsw.search(v.reshape(1, -1), 50, params=params)
            # as our index does: candidates re-scored with the exact vectors
            top = ids[0][ids[0] >= 0]
            exact = np.sort(vectors[top] @ v)[::-1][:10]
            times.append((time.perf_counter() - t) * 1000)
            # a returned passage counts when it scores at least the exact 10th (ties are equal answers)
            recall.append(float(np.mean(exact >= bar - 1e-6)) if len(exact) == 10 else len(exact) / 10)
        out[f"hnsw_ef{ef}_ms"] = percentiles(times)
        out[f"hnsw_ef{ef}_recall@10"] = round(float(np.mean(recall)), 4)
    return out


def recipe_side_by_side(
    texts: list[str], vectors: np.ndarray, questions: list[str], qvectors: np.ndarray, *, bm25: bool
) -> dict:
    """LangChain's FAISS vector store and rank_bm25 on the same passages and questions."""
    from langchain_community.vectorstores import FAISS
    from langchain_community.vectorstores.utils import DistanceStrategy
    from langchain_core.embeddings import Embeddings

    class Unused(Embeddings):
        def embed_documents(self, texts):
            raise RuntimeError("vectors are given")

        def embed_query(self, text):
            raise RuntimeError("vectors are given")

    out = {}
    before = rss_mb()
    t = time.perf_counter()
    store = FAISS.from_embeddings(
        list(zip(texts, vectors)), Unused(), distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT
    )
    out["langchain_build_s"] = round(time.perf_counter() - t, 2)
    out["langchain_rss_growth_mb"] = round(rss_mb() - before)
    times = []
    for v in qvectors:
        t = time.perf_counter()
        store.similarity_search_by_vector(v.tolist(), k=K)
        times.append((time.perf_counter() - t) * 1000)
    out["langchain_dense_ms"] = percentiles(times)
    del store
    if bm25:
        from rank_bm25 import BM25Okapi

        def syllables(text: str) -> list[str]:
            return re.findall(r"\w+", unicodedata.normalize("NFC", text).lower())

        t = time.perf_counter()
        model = BM25Okapi([syllables(x) for x in texts])
        out["rank_bm25_build_s"] = round(time.perf_counter() - t, 2)
        times = []
        for q in questions[: 30 if len(texts) > 200_000 else 200]:
            t = time.perf_counter()
            scores = model.get_scores(syllables(q))
            np.argpartition(-scores, K)[:K]
            times.append((time.perf_counter() - t) * 1000)
        out["rank_bm25_ms"] = percentiles(times)
    return out


def folder_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.iterdir() if f.is_file()) / 2**20, 1)


def scale(
    size: int,
    sentences: list[str],
    table: dict,
    dim: int,
    questions: list[str],
    qvectors: np.ndarray,
    work: Path,
    *,
    bm25_max: int,
) -> dict:
    corpus, index = work / f"corpus-{size}", work / f"index-{size}"
    synthesise(size, sentences, corpus)
    embedder = SentenceMixEmbedder(table, dim)
    t = time.perf_counter()
    r = Retriever.build(corpus, index, settings=Settings(), embedder=embedder, progress=True)
    build = time.perf_counter() - t
    texts = r.passage_texts()
    vectors = np.load(next(index.glob("vectors-*.npy")), mmap_mode="r")
    row = {
        "passages": len(texts),
        "build_s": round(build, 1),
        "build_passages_per_s": round(len(texts) / build),
        "disk_mb": folder_mb(index),
    }
    del r
    row["ours"] = measure_our_index(index, questions, qvectors)
    row["faiss"] = faiss_side_by_side(vectors, qvectors[:QUERIES_AT_SCALE], index)
    row["recipe"] = recipe_side_by_side(
        texts, vectors, questions[:QUERIES_AT_SCALE], qvectors[:QUERIES_AT_SCALE], bm25=size <= bm25_max
    )
    return row


# --- report ------------------------------------------------------------------------------


def markdown(results: dict) -> str:
    s = results["seed"]
    lines = [
        "# Benchmarks",
        "",
        f"Machine: {results['machine']}. Command: `make bench` ({results['seconds']:.0f} s).",
        "",
        "## Seed corpus",
        "",
        f"Build: {s['build_s']} s for {s['documents']} documents, {s['passages']} passages, "
        f"{s['tokens']} tokens ({s['passages_per_s']} passages/s, {s['tokens_per_s']} tokens/s). "
        "Embedder alone on the same texts: "
        f"{s['embedder_alone_s']} s ({s['embedder_tokens_per_s']} tokens/s); the whole build runs at "
        f"{100 * s['build_speed_vs_embedder']:.0f}% of the embedder's speed.",
        "",
        "Cold start to the first answer (fresh process, existing index): "
        f"{s['cold_start']['to_first_answer_s']} s; resident memory {s['cold_start']['rss_mb']} MB.",
        "",
        "| warm query, k=5 | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|",
        *(f"| {m} | {v['p50']} | {v['p95']} | {v['p99']} |" for m, v in s["latency_ms"].items()),
        "",
        "## Scale (question embedding excluded)",
        "",
        "| passages | build s | disk MB | RSS MB (anon + file) | dense index | hybrid p50/p95 "
        "| dense p50/p95 | bm25 p50/p95 | exact FAISS p50/p95 | HNSW ef256 p50/p95 | HNSW recall@10 "
        "| HNSW MB "
        "| LangChain FAISS p50/p95 | rank_bm25 p50/p95 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["scale"]:
        o, f, rc = row["ours"], row["faiss"], row["recipe"]

        def pp(d):
            return f"{d['p50']} / {d['p95']}" if d else "–"

        lines.append(
            f"| {row['passages']:,} | {row['build_s']} | {row['disk_mb']} "
            f"| {o['rss_mb']} ({o['rssanon_mb']} + {o['rssfile_mb']}) | {o['dense_type']} "
            f"| {pp(o['hybrid'])} | {pp(o['dense'])} | {pp(o['bm25'])} | {pp(f['exact_ms'])} "
            f"| {pp(f['hnsw_ef256_ms'])} | {f['hnsw_ef256_recall@10']} | {f['hnsw_mb']} "
            f"| {pp(rc['langchain_dense_ms'])} | {pp(rc.get('rank_bm25_ms'))} |"
        )
    lines += [
        "",
        "Full figures (build times of each alternative, other efSearch values): `results.json`.",
        "",
    ]
    return "\n".join(lines)


def plots(results: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["scale"]
    sizes = [r["passages"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    for label, get in (
        ("ours hybrid p95", lambda r: r["ours"]["hybrid"]["p95"]),
        ("ours dense p95", lambda r: r["ours"]["dense"]["p95"]),
        ("ours bm25 p95", lambda r: r["ours"]["bm25"]["p95"]),
        ("exact FAISS p95", lambda r: r["faiss"]["exact_ms"]["p95"]),
        ("HNSW ef256 p95", lambda r: r["faiss"]["hnsw_ef256_ms"]["p95"]),
        ("LangChain FAISS p95", lambda r: r["recipe"]["langchain_dense_ms"]["p95"]),
    ):
        a.plot(sizes, [get(r) for r in rows], marker="o", label=label)
    bm = [(r["passages"], r["recipe"]["rank_bm25_ms"]["p95"]) for r in rows if "rank_bm25_ms" in r["recipe"]]
    if bm:
        a.plot(*zip(*bm), marker="o", label="rank_bm25 p95")
    a.set(xscale="log", yscale="log", xlabel="passages", ylabel="ms per query", title="Query latency (p95)")
    a.legend(fontsize=8)
    b.plot(sizes, [r["ours"]["rss_mb"] for r in rows], marker="o", label="our process RSS")
    b.plot(sizes, [r["disk_mb"] for r in rows], marker="o", label="our index on disk")
    b.plot(sizes, [r["faiss"]["exact_mb"] for r in rows], marker="o", label="exact FAISS index")
    b.plot(sizes, [r["faiss"]["hnsw_mb"] for r in rows], marker="o", label="HNSW-SQ8 index")
    b.set(xscale="log", yscale="log", xlabel="passages", ylabel="MB", title="Memory and disk")
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "scale.png", dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="seeds")
    parser.add_argument("--gold", default="eval/gold.jsonl")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--bm25-max", type=int, default=1_000_000, help="largest size to run rank_bm25 on")
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args()
    started = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    questions = questions_from(Path(args.gold))
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        work = Path(tmp)
        seed, r = seed_figures(Path(args.corpus), questions, work)
        sentences = seed_sentences(r)
        vectors = r.embedder.embed_passages(sentences, progress=None)
        table = {sentence_key(s): v for s, v in zip(sentences, vectors)}
        qvectors = np.stack([r.embed_question(q) for q in tqdm(questions, desc="embedding questions")])
        results = {
            "machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}",
            "seed": seed,
            "seed_sentences": len(sentences),
            "scale": [],
        }
        for size in (int(s) for s in args.sizes.split(",") if s):
            results["scale"].append(
                scale(
                    size, sentences, table, r.embedder.dim, questions, qvectors, work, bm25_max=args.bm25_max
                )
            )
            results["seconds"] = time.perf_counter() - started
            (out / "results.json").write_text(
                json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8"
            )
    results["seconds"] = time.perf_counter() - started
    (out / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    (out / "results.md").write_text(markdown(results), encoding="utf-8")
    plots(results, out)
    print(markdown(results))


if __name__ == "__main__":
    main()
