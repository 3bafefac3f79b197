"""The folder store and the Qdrant store side by side (issue 11): build, disk, open, latency, memory, updates.

    .venv/bin/python bench/stores.py [--out bench/results] [--sizes seed,10000] [--questions N]

`make bench` runs seed and 10k (about 3 minutes); `--sizes seed,100000` adds 100k (10k first; about 18
minutes in all), left out of `make bench` to keep it within half an hour.

Each store is built, served and updated in its own fresh process, so peak memory is that process's.
`seed`: the seed documents with the real embedder, every gold question (vectors embedded once, given to
both stores), and the share of questions whose top 5 is the same on both. A number: synthetic passages
from seed sentences (`scale.synthesise`, `SentenceMixEmbedder`), as `bench.py` makes them.
The Qdrant side runs on `qdrant-local:`, the client's in-process test engine (brute force, in Python),
the only Qdrant this machine can run: its times are not a Qdrant server's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scale import ROOT, SentenceMixEmbedder, percentiles, save_table, sentence_key, synthesise

from qa import Embedder, Retriever, Settings

BENCH = Path(__file__).resolve().parent
K = 5
MODES = ("hybrid", "dense", "bm25")
STORES = ("folder", "qdrant-local")
# The local engine scores sparse queries by scanning every point in Python (about 0.27 ms a point a
# query in the research: 25-50 s a hybrid question at 100k), so synthetic sizes time few questions.
SCALE_QUESTIONS = 5
# A synthetic size above this is preceded by it: its Qdrant figures project the larger size's cost.
PROBE_SIZE = 10_000
# Wall time the Qdrant side may take at one synthetic size (the brief's 15 minutes); a size projected
# (linearly in passages, from the size before) to take longer is replaced by the largest that fits, and
# any one step is stopped after it: linear under-projects, the local engine's build grows faster (at
# 100k its delete of stale passages filters every point against every document in Python).
QDRANT_BUDGET_S = 15 * 60
ROUND_TO = 10_000  # a replacement size is a multiple of this


class GivenVectors(Embedder):
    """The build's embedder as the serving process names it; every question comes embedded."""

    def __init__(self, name: str, dim: int, segmented: bool) -> None:
        self.name, self.dim, self.segmented = name, dim, segmented

    def _encode(self, texts: list[str], *, query: bool) -> np.ndarray:
        raise RuntimeError("the questions come embedded: pass vector=")


def status(key: str) -> float:
    return int(next(line for line in open("/proc/self/status") if line.startswith(key)).split()[1]) / 1024


def load_avg() -> float:
    return round(os.getloadavg()[0], 2)


def _embedder(table: str | None, dim: int) -> Embedder | None:
    """The synthetic sizes' embedder, or None: the real default one."""
    return None if table is None else SentenceMixEmbedder(pickle.load(open(table, "rb")), dim)


# --- what each fresh process does (called through `child`) ----------------------------------------


def do_build(corpus: str, location: str, table: str | None, dim: int) -> dict:
    started = load_avg()
    embedder = _embedder(table, dim)
    t = time.perf_counter()
    r = Retriever.build(corpus, location, settings=Settings(), embedder=embedder)
    seconds = time.perf_counter() - t
    return {
        "build_s": round(seconds, 2),
        "passages": len(r),
        "build_peak_mb": round(status("VmHWM")),
        "load_avg": [started, load_avg()],
    }


def do_serve(location: str, work: str, name: str, dim: int, segmented: bool) -> dict:
    """Open, then time each mode over the questions with their vectors given; the top 5 texts' hashes."""
    started = load_avg()
    questions = json.loads(Path(work, "q.json").read_text(encoding="utf-8"))
    vectors = np.load(Path(work, "q.npy"))
    before = status("VmRSS")
    t = time.perf_counter()
    r = Retriever.load(location, settings=Settings(), embedder=GivenVectors(name, dim, segmented))
    out = {"open_s": round(time.perf_counter() - t, 3), "passages": len(r), "questions": len(questions)}
    out["before_open_mb"], out["open_peak_mb"] = round(before), round(status("VmHWM"))
    r.search(questions[0], k=K, mode="hybrid", vector=vectors[0])  # warm-up: both halves of hybrid
    top: dict[str, list[list[str]]] = {}
    for mode in MODES:
        times, top[mode] = [], []
        for q, v in zip(questions, vectors):
            t = time.perf_counter()
            hits = r.search(q, k=K, mode=mode, vector=v)
            times.append((time.perf_counter() - t) * 1000)
            top[mode].append([hashlib.sha1(h.text.encode()).hexdigest()[:16] for h in hits])
        out[f"{mode}_ms"] = percentiles(times)
        print(f"  {mode}: {len(times)} questions", file=sys.stderr, flush=True)
    out["peak_mb"], out["settled_mb"] = round(status("VmHWM")), round(status("VmRSS"))
    out["load_avg"] = [started, load_avg()]
    return out | {"top5": top}


def do_update(location: str, new_file: str, table: str | None, dim: int) -> dict:
    """Add one small document, then remove it again, through the public API."""
    started = load_avg()
    embedder = _embedder(table, dim)
    r = Retriever.load(location, settings=Settings(), embedder=embedder)
    t = time.perf_counter()
    added = r.add_documents([new_file])
    add_s = time.perf_counter() - t
    if len(added.added) != 1:
        raise RuntimeError(f"the document was not added: {added}")
    t = time.perf_counter()
    removed = r.remove_documents([added.added[0].id])
    remove_s = time.perf_counter() - t
    if removed.removed != (added.added[0].id,):
        raise RuntimeError(f"the document was not removed: {removed}")
    return {
        "add_s": round(add_s, 2),
        "added_passages": added.added[0].passages,
        "remove_s": round(remove_s, 2),
        "update_peak_mb": round(status("VmHWM")),
        "load_avg": [started, load_avg()],
    }


def child(function: str, **args) -> dict:
    """`function(**args)` in a fresh Python process, killed after QDRANT_BUDGET_S."""
    code = (
        f"import json, sys; sys.path.insert(0, {str(BENCH)!r}); import stores\n"
        f"print(json.dumps(stores.{function}(**json.loads({json.dumps(args)!r}))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=QDRANT_BUDGET_S
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.splitlines()[-1])


# --- one size, both stores ------------------------------------------------------------------------


def disk_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1)


def one_store(store: str, size: str, corpus: Path, work: Path, new_file: Path, setup: dict) -> dict:
    """Build, serve and update one store on its own copy of the corpus (updates write into it)."""
    home = work / f"{store}-{size}"
    shutil.copytree(corpus, home / "corpus")
    path = home / "store"
    location = str(path) if store == "folder" else f"qdrant-local:{path}"
    t = time.perf_counter()
    say(f"{size} {store}: building (load average {load_avg()})")
    row = {"store": store} | child(
        "do_build", corpus=str(home / "corpus"), location=location, table=setup["table"], dim=setup["dim"]
    )
    row["disk_mb"] = disk_mb(path)
    say(f"{size} {store}: {row['passages']:,} passages in {row['build_s']} s; serving")
    row["serve"] = child(
        "do_serve",
        location=location,
        work=str(work),
        name=setup["name"],
        dim=setup["dim"],
        segmented=setup["segmented"],
    )
    say(f"{size} {store}: adding and removing one document")
    row["update"] = child(
        "do_update", location=location, new_file=str(new_file), table=setup["table"], dim=setup["dim"]
    )
    row["wall_s"] = round(time.perf_counter() - t, 1)
    say(f"{size} {store}: done in {row['wall_s']} s")
    return row


def same_answers(rows: list[dict]) -> dict:
    """Per mode: the share of questions whose top-5 texts are identical on both stores (in order; as sets)."""
    a, b = (row["serve"].pop("top5") for row in rows)
    out = {}
    for mode in MODES:
        pairs = list(zip(a[mode], b[mode]))
        out[mode] = {
            "ordered": round(sum(x == y for x, y in pairs) / len(pairs), 3),
            "as_sets": round(sum(set(x) == set(y) for x, y in pairs) / len(pairs), 3),
        }
    return out


def measure(size: str, corpus: Path, work: Path, questions, qvectors, new_file: Path, setup: dict) -> dict:
    (work / "q.json").write_text(json.dumps(questions, ensure_ascii=False), encoding="utf-8")
    np.save(work / "q.npy", qvectors)
    rows = []
    for store in STORES:
        try:
            rows.append(one_store(store, size, corpus, work, new_file, setup))
        except subprocess.TimeoutExpired as err:
            say(f"{size} {store}: a step took over {err.timeout} s; stopped")
            return {"size": size, "stores": rows, "timed_out": f"{store}: a step over {err.timeout} s"}
    return {"size": size, "stores": rows, "same_top5": same_answers(rows)}


def fits(done: dict, wanted: int) -> int:
    """The largest size (up to `wanted`) whose Qdrant side is projected, linearly in passages from the
    size measured before, to fit QDRANT_BUDGET_S."""
    qdrant = done["stores"][1]
    per_passage = qdrant["wall_s"] / qdrant["passages"]
    return min(wanted, int(QDRANT_BUDGET_S / per_passage) // ROUND_TO * ROUND_TO)


FIGURES = {  # what the projection extrapolates: a name and where it is in a row
    "build_s": ("build_s",),
    "disk_mb": ("disk_mb",),
    "open_s": ("serve", "open_s"),
    "hybrid_p50_ms": ("serve", "hybrid_ms", "p50"),
    "bm25_p50_ms": ("serve", "bm25_ms", "p50"),
    "dense_p50_ms": ("serve", "dense_ms", "p50"),
    "serve_peak_mb": ("serve", "peak_mb"),
    "add_s": ("update", "add_s"),
    "wall_s": ("wall_s",),
}


def _get(row: dict, keys: tuple[str, ...]) -> float:
    for key in keys:
        row = row[key]
    return float(row)


def project(small: dict, large: dict, to: int) -> dict:
    """Qdrant figures at `to` passages, by the power law through the two largest measured sizes."""
    a, b = small["stores"][1], large["stores"][1]
    out = {"from_sizes": [a["passages"], b["passages"]], "to": to, "growth_exponent": {}, "projected": {}}
    for name, keys in FIGURES.items():
        x, y = _get(a, keys), _get(b, keys)
        exponent = math.log(y / x) / math.log(b["passages"] / a["passages"]) if x > 0 and y > 0 else 1.0
        out["growth_exponent"][name] = round(exponent, 2)
        out["projected"][name] = round(y * (to / b["passages"]) ** exponent, 1)
    return out


# --- the report -----------------------------------------------------------------------------------


def markdown(results: dict) -> str:
    lines = [
        "# Folder store and Qdrant store side by side (issue 11)",
        "",
        f"{results['machine']}; load average at start {results['load_average']}; "
        f"whole run {results['seconds']:.0f} s; `{results['command']}`.",
        "",
        "**qdrant-local is the Qdrant client's in-process test engine** (brute force, in Python: every",
        "sparse query scans every point), the only Qdrant this machine can run. Its latency, memory and",
        "build time are not a Qdrant server's; they show what `qdrant-local:` costs, not what Qdrant does.",
        "",
        "Latency: warm, one question at a time, vectors given (no embedding), ms p50 / p95. Memory: the",
        "serving process's peak and settled RSS, without an embedding model. Update: add one small",
        "document, then remove it, through `Retriever.add_documents` / `remove_documents`.",
        "",
        "| size | store | passages | questions | build s | build peak MB | disk MB | open s "
        "| hybrid ms | dense ms | bm25 ms | serve peak / settled MB | add s | remove s | load avg |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|---|---|---:|---:|---|",
    ]
    for done in results["sizes"]:
        for row in done["stores"]:
            s, u = row["serve"], row["update"]
            ms = [f"{s[f'{m}_ms']['p50']} / {s[f'{m}_ms']['p95']}" for m in MODES]
            loads = [row["load_avg"][0], s["load_avg"][0], u["load_avg"][0]]
            lines.append(
                f"| {done['size']} | {row['store']} | {row['passages']:,} | {s['questions']} "
                f"| {row['build_s']} | {row['build_peak_mb']} | {row['disk_mb']} | {s['open_s']} "
                f"| {' | '.join(ms)} | {s['peak_mb']} / {s['settled_mb']} | {u['add_s']} | {u['remove_s']} "
                f"| {' '.join(map(str, loads))} |"
            )
    lines += ["", "Same top 5 on both stores (share of questions; in order / as sets):", ""]
    for done in results["sizes"]:
        if "timed_out" in done:
            lines.append(f"- {done['size']}: not compared, timed out ({done['timed_out']})")
            continue
        same = ", ".join(f"{m} {v['ordered']:.0%} / {v['as_sets']:.0%}" for m, v in done["same_top5"].items())
        lines.append(f"- {done['size']}: {same}")
    for note in results["notes"]:
        lines += ["", note]
    if "projection" in results:
        p = results["projection"]
        lines += [
            "",
            f"**Projected, not measured**: qdrant-local at {p['to']:,} passages, by the power law through "
            f"the measured {p['from_sizes'][0]:,} and {p['from_sizes'][1]:,} (growth exponent in brackets):",
            "",
        ]
        lines += [f"- {k}: {v:,} ({p['growth_exponent'][k]})" for k, v in p["projected"].items()]
    return "\n".join(lines) + "\n"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main() -> None:
    # Imported here: bench.py's own imports (tqdm, report) are not the children's.
    from bench import seed_sentences

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="seeds")
    parser.add_argument("--gold", default="eval/gold.jsonl")
    parser.add_argument("--sizes", default="seed,10000")
    parser.add_argument("--questions", type=int, default=SCALE_QUESTIONS, help="questions at synthetic sizes")
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args()
    started = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    gold = [json.loads(line)["question"] for line in Path(args.gold).read_text(encoding="utf-8").splitlines()]
    wanted = [s.strip() for s in args.sizes.split(",") if s.strip()]
    synthetic = sorted(int(s) for s in wanted if s != "seed")
    if synthetic and synthetic[-1] > PROBE_SIZE and PROBE_SIZE not in synthetic:
        synthetic.insert(0, PROBE_SIZE)
    results = {
        "machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}",
        "load_average": ", ".join(f"{x:.1f}" for x in os.getloadavg()),
        "command": " ".join(["bench/stores.py", *sys.argv[1:]]),
        "sizes": [],
        "notes": [],
    }
    with tempfile.TemporaryDirectory(prefix="qa-stores-") as tmp:
        work = Path(tmp)
        # The real embedder, once: the gold questions' vectors and the seed sentences' table.
        say(f"seed: building the folder store for the embedder and sentences (load average {load_avg()})")
        Retriever.build(args.corpus, work / "seed-reference", settings=Settings())
        r = Retriever.load(work / "seed-reference", settings=Settings())
        qvectors = np.stack([r.embed_question(q) for q in gold])
        sentences = seed_sentences(r)
        table = work / "table.pkl"
        save_table(dict(zip(map(sentence_key, sentences), r.embedder.embed_passages(sentences))), table)
        new_file = work / "new" / "thong-bao-bo-sung.md"
        new_file.parent.mkdir()
        new_file.write_text("# Thông báo bổ sung\n\n" + " ".join(sentences[:3]) + "\n", encoding="utf-8")
        say(f"seed: {len(gold)} questions embedded, {len(sentences)} sentences")
        if "seed" in wanted:
            real = {"table": None, "dim": r.embedder.dim, "name": r.embedder.name}
            real["segmented"] = r.embedder.segmented
            results["sizes"].append(measure("seed", Path(args.corpus), work, gold, qvectors, new_file, real))
        mixed = {"table": str(table), "dim": r.embedder.dim, "name": SentenceMixEmbedder.name}
        mixed["segmented"] = False
        n = args.questions
        for size in synthetic:
            measured = [d for d in results["sizes"] if d["size"] != "seed" and "same_top5" in d]
            run = fits(measured[-1], size) if measured else size
            if measured and run <= measured[-1]["stores"][1]["passages"]:
                results["notes"].append(f"{size:,} skipped: no larger size fits {QDRANT_BUDGET_S} s.")
                continue
            if run != size:
                results["notes"].append(
                    f"{size:,} asked; {run:,} run instead: the Qdrant side was projected over "
                    f"{QDRANT_BUDGET_S} s at {size:,}."
                )
            corpus = work / f"corpus-{run}"
            synthesise(run, sentences, corpus)
            say(f"{run:,}: corpus written; {n} questions (load average {load_avg()})")
            results["sizes"].append(measure(str(run), corpus, work, gold[:n], qvectors[:n], new_file, mixed))
            if measured and "same_top5" in results["sizes"][-1] and synthetic[-1] > run:
                results["projection"] = project(measured[-1], results["sizes"][-1], synthetic[-1])
            results["seconds"] = time.perf_counter() - started
            (out / "stores.json").write_text(
                json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8"
            )
    results["seconds"] = time.perf_counter() - started
    (out / "stores.json").write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    (out / "stores.md").write_text(markdown(results), encoding="utf-8")
    print(markdown(results))


if __name__ == "__main__":
    main()
