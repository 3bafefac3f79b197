"""Load test of the JSON API: `/api/search` under concurrent clients, every answer checked.

    .venv/bin/python bench/load.py [--clients 20] [--requests 50] [--index DIR] [--out DIR] [--quick]

Serves an index (the seeds', built unless `--index` exists) with `app.py` on a free 127.0.0.1 port,
asks every request once in turn (gold questions, some also with k 1/10, dense, bm25, a docs filter),
then has C clients send R requests each in a seeded shuffled order; every answer must be the JSON of
the sequential pass. Writes answers/s, latency, failures, the server's memory and everyone's CPU use
to load.json and load.md; exits 1 if any answer differed or failed. The server is always stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple

import httpx
import numpy as np
from served import Server, cores, proc_sample, serve

from qa import QAError

ROOT = Path(__file__).resolve().parent.parent
# The target on this 2-core machine, at 20 concurrent clients.
TARGET_ANSWERS_PER_S = 30.0
TARGET_P95_S = 1.0
# A request slower than this counts as timed out: 30x the p95 target, and above the 6.3 s p50 measured
# before the fix, so slow code is measured rather than reported as all timeouts (on this machine
# shared with other jobs, the code before the fix still timed out 9% of requests at 20 clients).
REQUEST_TIMEOUT_S = 30.0
# The concurrent pass stops sending after this: 1000 requests at the 3.2/s measured before the fix
# take about 310 s.
PASS_DEADLINE_S = 900.0
SAMPLE_S = 0.5  # how often the server's RSS and CPU time are read
PROGRESS_S = 5.0  # how often a progress row is printed
VARIANT_QUESTIONS = 8  # gold questions also asked with other k, modes and a docs filter
QUICK_QUESTIONS, QUICK_VARIANTS, QUICK_CLIENTS, QUICK_REQUESTS = 10, 2, 4, 5
EXAMPLES_KEPT = 10  # differing or failed requests kept in the report


def say(line: str) -> None:
    print(line, flush=True)


Outcome = Literal["same", "differed", "error", "timeout"]


class Query(NamedTuple):
    """One `/api/search` request body."""

    question: str
    k: int = 5
    mode: str = "hybrid"
    docs: tuple[str, ...] | None = None

    def body(self) -> dict:
        return {**self._asdict(), "docs": list(self.docs) if self.docs else None}


class Reply(NamedTuple):
    body: object  # the parsed JSON, None without one
    seconds: float
    error: str  # "" for a 200 with JSON, "timeout" when none came in time


@dataclass(frozen=True)
class Plan:
    clients: int
    per_client: int
    seed: int = 20240
    timeout_s: float = REQUEST_TIMEOUT_S
    deadline_s: float = PASS_DEADLINE_S


@dataclass
class Tally:
    """What the concurrent pass has seen so far; shared by the clients and the progress printer."""

    planned: int
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("same", "differed", "error", "timeout", "skipped"), 0)
    )
    seconds: list[float] = field(default_factory=list)  # latency of every 200 answer
    examples: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, outcome: Outcome | Literal["skipped"], seconds: float = 0.0, example: dict | None = None):
        with self.lock:
            self.counts[outcome] += 1
            if outcome in ("same", "differed"):
                self.seconds.append(seconds)
            if example and len(self.examples) < EXAMPLES_KEPT:
                self.examples.append(example)

    def done(self) -> int:
        return sum(self.counts.values())


def queries_from(
    gold: Path, *, questions: int | None = None, variants: int = VARIANT_QUESTIONS
) -> list[Query]:
    """The gold questions, then a spread of them with other k, modes and their document as filter."""
    rows = [json.loads(line) for line in gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = rows[:questions]
    picked = rows[:: max(1, len(rows) // max(variants, 1))][:variants]
    queries = [Query(row["question"]) for row in rows]
    for row in picked:
        q = row["question"]
        queries += [Query(q, k=1), Query(q, k=10), Query(q, mode="dense"), Query(q, mode="bm25")]
        if row.get("doc"):
            queries.append(Query(q, docs=(row["doc"],)))
    return list(dict.fromkeys(queries))


def post(http: httpx.Client, query: Query) -> Reply:
    started = time.perf_counter()
    try:
        response = http.post("/api/search", json=query.body())
        body = response.json()
    except httpx.TimeoutException:
        return Reply(None, time.perf_counter() - started, "timeout")
    except (httpx.HTTPError, ValueError) as err:
        return Reply(None, time.perf_counter() - started, f"{type(err).__name__}: {err}")
    error = "" if response.status_code == 200 else f"HTTP {response.status_code}: {body}"
    return Reply(body, time.perf_counter() - started, error[:300])


def first_difference(a: object, b: object, path: str = "$") -> str | None:
    """Where two JSON values first differ, e.g. `$.passages[2].score: 0.81 != 0.8`; None if equal."""
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        pairs = [(f"{path}.{key}", a[key], b[key]) for key in a]
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        pairs = [(f"{path}[{i}]", x, y) for i, (x, y) in enumerate(zip(a, b))]
    else:
        shown = (json.dumps(v, ensure_ascii=False)[:120] for v in (a, b))
        return None if a == b else f"{path}: {' != '.join(shown)}"
    return next((d for p, x, y in pairs if (d := first_difference(x, y, p))), None)


def percentiles_ms(seconds: list[float]) -> dict[str, float] | None:
    if not seconds:
        return None
    return {f"p{q}": round(float(np.percentile(seconds, q)) * 1000, 1) for q in (50, 95, 99)}


def sequential(url: str, queries: list[Query], *, timeout_s: float = REQUEST_TIMEOUT_S) -> list[Reply]:
    replies, shown = [], time.monotonic()
    with httpx.Client(base_url=url, timeout=timeout_s) as http:
        for i, query in enumerate(queries, 1):
            replies.append(post(http, query))
            if time.monotonic() - shown > PROGRESS_S or i == len(queries):
                say(f"sequential {i}/{len(queries)}")
                shown = time.monotonic()
    return replies


def concurrent(
    url: str,
    queries: list[Query],
    expected: list[object],
    plan: Plan,
    *,
    on_progress: Callable[[Tally], None] = lambda tally: None,
) -> tuple[Tally, float]:
    """Run `plan` against the server; every answer is compared with `expected` (same order as
    `queries`). Returns the tally and the wall time of the pass."""
    total = plan.clients * plan.per_client
    order = [i % len(queries) for i in range(total)]
    random.Random(plan.seed).shuffle(order)
    tally, stop = Tally(total), threading.Event()
    deadline = time.monotonic() + plan.deadline_s

    def client(share: list[int]) -> None:
        with httpx.Client(base_url=url, timeout=plan.timeout_s) as http:
            for i in share:
                if stop.is_set() or time.monotonic() > deadline:
                    tally.add("skipped")
                    continue
                reply = post(http, queries[i])
                example = {"request": queries[i].body(), "seconds": round(reply.seconds, 3)}
                if reply.error:
                    tally.add(
                        "timeout" if reply.error == "timeout" else "error",
                        example={**example, "error": reply.error},
                    )
                elif difference := first_difference(expected[i], reply.body):
                    tally.add("differed", reply.seconds, {**example, "difference": difference})
                else:
                    tally.add("same", reply.seconds)

    started = time.perf_counter()
    pool = ThreadPoolExecutor(max_workers=plan.clients, thread_name_prefix="client")
    try:
        futures = [pool.submit(client, order[c :: plan.clients]) for c in range(plan.clients)]
        while not all(f.done() for f in futures):
            time.sleep(SAMPLE_S)
            on_progress(tally)
        for f in futures:
            f.result()
    except BaseException:
        stop.set()  # the clients stop after their request in flight; the server is killed next
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return tally, time.perf_counter() - started


def run(server: Server, queries: list[Query], plan: Plan) -> dict:
    """Both passes against a healthy server; the report as a dict."""
    idle = proc_sample(server.pid)
    started = time.perf_counter()
    replies = sequential(server.url, queries, timeout_s=plan.timeout_s)
    seq_seconds = time.perf_counter() - started
    good = [i for i, r in enumerate(replies) if not r.error]
    failed = [{"request": queries[i].body(), "error": r.error} for i, r in enumerate(replies) if r.error]
    if not good:
        raise QAError(f"every request of the sequential pass failed, e.g. {failed[0]}; is the index usable?")
    samples, shown = [proc_sample(server.pid)], time.monotonic()
    say("     s        done   same differ  error timeout  ans/s  RSS MB  cores: server client others")

    def progress(tally: Tally) -> None:
        nonlocal shown
        samples.append(proc_sample(server.pid))
        if time.monotonic() - shown >= PROGRESS_S:
            shown, c, busy = time.monotonic(), tally.counts, cores(samples[0], samples[-1])
            say(
                f"{samples[-1].at - samples[0].at:6.0f} {tally.done():5}/{tally.planned:<5} {c['same']:6} "
                f"{c['differed']:6} {c['error']:6} {c['timeout']:7} "
                f"{c['same'] / (samples[-1].at - samples[0].at):6.1f} {samples[-1].rss_mb:7.0f} "
                f"{busy['server']:14.2f} {busy['client']:6.2f} {busy['others']:6.2f}"
            )

    tally, wall = concurrent(
        server.url, [queries[i] for i in good], [replies[i].body for i in good], plan, on_progress=progress
    )
    samples.append(proc_sample(server.pid))
    c, latency = tally.counts, percentiles_ms(tally.seconds)
    met = bool(latency) and c["same"] / wall >= TARGET_ANSWERS_PER_S and latency["p95"] <= TARGET_P95_S * 1000
    per_request = (samples[-1].cpu_s - samples[0].cpu_s) / max(tally.done() - c["skipped"], 1)
    return {
        "machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}",
        "requests": len(queries),
        "server": {
            "startup_s": round(server.startup_s, 1),
            "rss_mb": {
                "idle": round(idle.rss_mb),
                "start": round(samples[0].rss_mb),
                "max": round(max(s.rss_mb for s in samples)),
                "end": round(samples[-1].rss_mb),
            },
            "threads": {"idle": idle.threads, "max": max(s.threads for s in samples)},
        },
        "cores_busy": cores(samples[0], samples[-1]),  # on average during the concurrent pass
        "server_cpu_ms_per_request": round(1000 * per_request, 1),
        # what the machine's cores allow at that cost, however the server schedules its work
        "server_ceiling_per_s": round((os.cpu_count() or 1) / max(per_request, 1e-9), 1),
        "sequential": {
            "requests": len(replies),
            "errors": len(failed),
            "seconds": round(seq_seconds, 1),
            "answers_per_s": round(len(good) / seq_seconds, 2),
            "latency_ms": percentiles_ms([r.seconds for r in replies if not r.error]),
        },
        "concurrent": {
            **asdict(plan),
            "planned": tally.planned,
            **c,
            "seconds": round(wall, 1),
            "answers_per_s": round(c["same"] / wall, 2),
            "latency_ms": latency,
        },
        "target": {"answers_per_s": TARGET_ANSWERS_PER_S, "p95_ms": TARGET_P95_S * 1000, "met": met},
        "examples": failed[:EXAMPLES_KEPT] + tally.examples,
        "passed": not failed and c["differed"] + c["error"] + c["timeout"] == 0,
    }


def markdown(report: dict) -> str:
    s, q, c, t, cpu = (report[k] for k in ("server", "sequential", "concurrent", "target", "cores_busy"))

    def ms(d):
        return f"{d['p50']} / {d['p95']} / {d['p99']}" if d else "–"

    lines = [
        "# Load test of /api/search",
        "",
        f"Machine: {report['machine']}. Made by `bench/load.py`. {report['requests']} distinct "
        f"requests (gold questions; some with k 1/10, dense, bm25, a docs filter).",
        "",
        "| pass | clients | requests | same | differed | errors | timeouts | skipped | answers/s "
        "| latency p50 / p95 / p99 ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| sequential | 1 | {q['requests']} | – | – | {q['errors']} | – | – | {q['answers_per_s']} "
        f"| {ms(q['latency_ms'])} |",
        f"| concurrent | {c['clients']} | {c['planned']} | {c['same']} | {c['differed']} | {c['error']} "
        f"| {c['timeout']} | {c['skipped']} | {c['answers_per_s']} | {ms(c['latency_ms'])} |",
        "",
        f"Target ({t['answers_per_s']:.0f} answers/s, p95 ≤ {t['p95_ms']:.0f} ms at 20 clients): "
        f"{'met' if t['met'] else 'NOT met'}. Every request answered, and identically to the sequential "
        f"pass: {'yes' if report['passed'] else 'NO'}.",
        "",
        f"Server: healthy {s['startup_s']} s after start; RSS {s['rss_mb']['idle']} MB idle, "
        f"{s['rss_mb']['start']} MB before the concurrent pass, {s['rss_mb']['max']} MB at most during "
        f"it, {s['rss_mb']['end']} MB after; {s['threads']['idle']} threads idle, up to "
        f"{s['threads']['max']}.",
        "",
        f"CPU during the concurrent pass (cores busy on average): server {cpu['server']}, load client "
        f"{cpu['client']}, other processes {cpu['others']}. The server spent "
        f"{report['server_cpu_ms_per_request']} ms of CPU per request: {os.cpu_count()} cores cap it at "
        f"{report['server_ceiling_per_s']} requests/s however its work is scheduled.",
    ]
    if report["examples"]:
        lines += ["", "First differing or failed requests:", ""]
        lines += [f"- `{json.dumps(e, ensure_ascii=False)[:400]}`" for e in report["examples"]]
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, help=f"concurrent clients (20; --quick {QUICK_CLIENTS})")
    parser.add_argument("--requests", type=int, help=f"requests per client (50; --quick {QUICK_REQUESTS})")
    parser.add_argument("--index", type=Path, help="index folder to serve (built from seeds/ if missing)")
    parser.add_argument("--gold", type=Path, default=ROOT / "eval" / "gold.jsonl")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_QUESTIONS} questions, a small load")
    parser.add_argument("--deadline", type=float, default=PASS_DEADLINE_S, help="concurrent pass limit, s")
    parser.add_argument("--timeout", type=float, default=REQUEST_TIMEOUT_S, help="per-request limit, s")
    args = parser.parse_args(argv)
    quick = args.quick
    plan = Plan(
        clients=args.clients or (QUICK_CLIENTS if quick else 20),
        per_client=args.requests or (QUICK_REQUESTS if quick else 50),
        timeout_s=args.timeout,
        deadline_s=args.deadline,
    )
    questions, variants = (QUICK_QUESTIONS, QUICK_VARIANTS) if quick else (None, VARIANT_QUESTIONS)
    queries = queries_from(args.gold, questions=questions, variants=variants)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup as for Ctrl-C
    with tempfile.TemporaryDirectory(prefix="qa-load-") as tmp:
        index = args.index.resolve() if args.index else Path(tmp) / "index"  # the server runs in ROOT
        if not index.exists():
            say(f"building {index} from seeds/")
            command = ["index", "--corpus", "seeds", "--index", str(index)]
            subprocess.run([sys.executable, "-m", "qa.cli", *command], cwd=ROOT, check=True)
        with serve(index, log=Path(tmp) / "server.log") as server:
            say(f"server pid {server.pid} healthy after {server.startup_s:.1f} s")
            report = run(server, queries, plan)
        report["index"] = str(args.index or "built from seeds/")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "load.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    (args.out / "load.md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)  # the server was stopped on the way out
