"""What answering costs beside searching: warm `ask` against warm `search` at seed scale.

    .venv/bin/python bench/ask.py [--out bench/results] [--repeat 2]

Builds the seed index from scratch in a temporary folder (the indexing time is reported: the
answer needs nothing precomputed, so `ask` adds no indexing cost), warms both calls up, then
times every gold question `--repeat` times through `Retriever.search` and `Retriever.ask`
(k=5, the default), alternating the two so both see the same machine load. Both embed the
question; `ask` also judges the passages and picks the answer sentences, without a model
call. Since the embedder's time swings with the machine's load and hides that part, the
difference of the two calls on the same question (CPU time) is reported too. Wall-clock and
CPU time (this thread's) per call, p50 and p95. On a busy machine the embedder's worker
threads wait for a core while this one spins, so both clocks inflate; the calls alternate so
that `search` and `ask` see the same load. Results: ask.json and ask.md in --out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from qa import Retriever, Settings

ROOT = Path(__file__).resolve().parent.parent
TARGET = 2.0  # issue 10: warm `ask` p95 at most twice warm `search` p95


def timed(call, question: str) -> tuple[float, float]:
    """(wall ms, CPU ms) of one call."""
    wall, cpu = time.perf_counter(), time.thread_time()
    call(question)
    return 1000 * (time.perf_counter() - wall), 1000 * (time.thread_time() - cpu)


def percentiles(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(float(np.percentile(values, 50)), 2),
        "p95": round(float(np.percentile(values, 95)), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gold", type=Path, default=ROOT / "eval" / "gold.jsonl")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--repeat", type=int, default=2, help="times each question is timed per call")
    args = parser.parse_args()
    lines = args.gold.read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        retriever = Retriever.build(ROOT / "seeds", Path(scratch) / "index", settings=Settings())
        indexing = time.perf_counter() - started
        calls = {"search": retriever.search, "ask": retriever.ask}
        for question in questions[:10]:
            for call in calls.values():
                call(question)
        wall: dict[str, list[float]] = {name: [] for name in calls}
        cpu: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(args.repeat):
            for question in questions:
                for name, call in calls.items():
                    w, c = timed(call, question)
                    wall[name].append(w)
                    cpu[name].append(c)
        passages = len(retriever)
    load = os.getloadavg()[1]  # over the last 5 minutes: how busy the machine was meanwhile
    result = {
        "machine": f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores",
        "load_average": round(load, 2),
        "passages": passages,
        "questions": len(questions),
        "calls_each": len(wall["ask"]),
        "indexing_s": round(indexing, 2),
        "wall_ms": {name: percentiles(v) for name, v in wall.items()},
        "cpu_ms": {name: percentiles(v) for name, v in cpu.items()},
    }
    result["ask_minus_search_cpu_ms"] = percentiles([a - b for a, b in zip(cpu["ask"], cpu["search"])])
    ratio = result["wall_ms"]["ask"]["p95"] / result["wall_ms"]["search"]["p95"]
    added = result["ask_minus_search_cpu_ms"]
    result["ask_over_search_p95"] = round(ratio, 2)
    md = [
        "# `ask` beside `search`, warm, at seed scale",
        "",
        f"Command: `.venv/bin/python bench/ask.py`. Seed index built from scratch in {indexing:.1f} s "
        f"({passages} passages; `ask` needs nothing more at index time). {len(questions)} gold questions "
        f"x {args.repeat}, k=5, the calls alternating. Load average {load:.1f} on {os.cpu_count()} cores "
        "(other work on the machine slows the embedder, in `search` and `ask` alike).",
        "",
        "| call | wall p50 ms | wall p95 ms | CPU p50 ms | CPU p95 ms |",
        "|---|---|---|---|---|",
        *(
            f"| {name} | {result['wall_ms'][name]['p50']} | {result['wall_ms'][name]['p95']} | "
            f"{result['cpu_ms'][name]['p50']} | {result['cpu_ms'][name]['p95']} |"
            for name in calls
        ),
        "",
        f"Warm `ask` p95 is {ratio:.2f}x warm `search` p95 (target: at most {TARGET:.0f}x). What `ask` adds "
        f"(its CPU time less `search`'s on the same question): p50 {added['p50']} ms, p95 {added['p95']} ms.",
        "",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ask.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    (args.out / "ask.md").write_text("\n".join(md), encoding="utf-8")
    print("\n".join(md))


if __name__ == "__main__":
    main()
