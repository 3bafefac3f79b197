"""`make bench`: indexing throughput, query latency and memory, from the seeds to a million passages.

    .venv/bin/python bench/bench.py [--sizes 10000,100000,1000000 | --quick] [--out bench/results]

1. The seed index: build time, passages/s and tokens/s, beside the raw embedder on the same texts.
2. Warm latency per mode over the gold questions and their unaccented forms; cold start to the
   first answer in a fresh process; resident memory.
3. Scale (`scale.py`): synthetic passages from seed sentences, built and served in fresh processes:
   build time and peak memory, load time and peak memory, settled memory, dense recall@10 against
   exact search on the embedded gold questions, latency per mode; FAISS and the usual recipe beside.
4. The report (`report.py`): results.json, results.md and scale.png, the figures before issue 12 beside.

The assistant is used through its public API; FAISS, LangChain and rank_bm25 are imported only
as the alternatives being compared.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from report import markdown, plots
from scale import HWM, percentiles, save_table, scale, sentence_key, strip_accents
from tqdm import tqdm

from qa import Retriever, Settings

ROOT = Path(__file__).resolve().parent.parent
K = 5
QUICK_SIZES = "10000,100000"


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
        "import sys, time; t = time.perf_counter()\n"
        "from qa import Retriever\n"
        f"r = Retriever.load({str(index)!r}); a = r.ask({question!r})\n"
        f"print(time.perf_counter() - t, {HWM})"
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


def seed_sentences(r: Retriever) -> list[str]:
    seen, out = set(), []
    for text in r.passage_texts():
        for s in re.split(r"(?<=[.!?])\s+", " ".join(text.replace("*", "").split())):
            words = len(s.split())
            if 8 <= words <= 45 and sentence_key(s) not in seen:
                seen.add(sentence_key(s))
                out.append(s)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="seeds")
    parser.add_argument("--gold", default="eval/gold.jsonl")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES} only (about 5 minutes)")
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args()
    started = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    questions = questions_from(Path(args.gold))
    sizes = [int(s) for s in (QUICK_SIZES if args.quick else args.sizes).split(",") if s]
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        work = Path(tmp)
        seed, r = seed_figures(Path(args.corpus), questions, work)
        sentences = seed_sentences(r)
        vectors = r.embedder.embed_passages(sentences, progress=None)
        save_table({sentence_key(s): v for s, v in zip(sentences, vectors)}, work / "table.pkl")
        qvectors = np.stack([r.embed_question(q) for q in tqdm(questions, desc="embedding questions")])
        results = {
            "machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}",
            "load_average": ", ".join(f"{x:.1f}" for x in os.getloadavg()),
            "command": " ".join(["bench/bench.py", *sys.argv[1:]]),
            "seed": seed,
            "seed_sentences": len(sentences),
            "scale": [],
        }
        for size in sizes:
            print(f"scale {size:,}: load average {os.getloadavg()[0]:.1f}", flush=True)
            results["scale"].append(
                scale(size, sentences, work / "table.pkl", r.embedder.dim, questions, qvectors, work)
            )
            results["seconds"] = time.perf_counter() - started
            (out / "results.json").write_text(
                json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8"
            )
    results["seconds"] = time.perf_counter() - started
    (out / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    (out / "results.md").write_text(markdown(results, out), encoding="utf-8")
    plots(results, out)
    print(markdown(results, out))


if __name__ == "__main__":
    main()
