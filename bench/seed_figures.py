"""Seed-scale figures: index build time, passages, and warm query latency per mode.

    .venv/bin/python bench/seed_figures.py [--corpus seeds] [--gold eval/gold.jsonl]

Uses the public API only; builds into a temporary folder so the real index is untouched.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from qa import Retriever, Settings


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="seeds")
    parser.add_argument("--gold", default="eval/gold.jsonl")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the questions per mode")
    args = parser.parse_args()
    questions = [
        json.loads(line)["question"] for line in Path(args.gold).read_text(encoding="utf-8").splitlines()
    ]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        r = Retriever.build(args.corpus, Path(tmp) / "index", settings=Settings(), progress=True)
        build = time.perf_counter() - started
        lengths = [len(c.text) for c in r.index.chunks]
        print(
            f"build: {build:.1f}s for {len(r.documents)} documents, {len(r)} passages "
            f"({len(r) / build:.1f} passages/s); mean passage {statistics.mean(lengths):.0f} chars"
        )
        r.search(questions[0])  # warm-up
        for mode in ("hybrid", "dense", "bm25"):
            times = []
            for q in tqdm(questions * args.repeat, desc=mode, unit="query"):
                t = time.perf_counter()
                r.search(q, k=5, mode=mode)
                times.append((time.perf_counter() - t) * 1000)
            print(
                f"{mode:6s}: p50 {percentile(times, 0.5):.1f} ms, p95 {percentile(times, 0.95):.1f} ms "
                f"over {len(times)} queries"
            )


if __name__ == "__main__":
    main()
