"""results.md and scale.png from the figures `bench.py` gathered, the figures before beside them."""

from __future__ import annotations

import json
import math
from pathlib import Path

from scale import EF_SEARCH

# The figures this code replaced (HNSW, scipy BM25, JSON vocabularies), kept for comparison.
PREVIOUS = "results.previous.json"


def _pp(d: dict | None) -> str:
    return f"{d['p50']} / {d['p95']}" if d else "–"


def _previous(out: Path) -> dict[int, dict]:
    """The previous run's scale rows, by the size asked for (its passage counts are a little lower)."""
    file = out / PREVIOUS
    if not file.is_file():
        return {}
    rows = json.loads(file.read_text(encoding="utf-8"))["scale"]
    return {_size(r["passages"]): r for r in rows}


def _size(passages: int) -> int:
    """10k, 100k or 1M: synthesis asks for a power of ten and its chunker merges a few passages."""
    return 10 ** round(math.log10(passages))


def _seed(s: dict) -> list[str]:
    return [
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
    ]


def markdown(results: dict, out: Path) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Machine: {results['machine']}; load average {results['load_average']} when the run began. "
        f"Command: `{results['command']}` ({results['seconds']:.0f} s).",
        "",
        *(_seed(results["seed"]) if "seed" in results else []),
        "## Scale (question embedding excluded)",
        "",
        "Each cell: this run, then (in brackets) the run before issue 12 (HNSW-SQ8, scipy BM25, "
        "JSON vocabularies, build and serving in the bench process). Memory is resident set size (MB): "
        "peak while loading, peak over loading and serving, and settled after serving.",
        "",
        "| passages | build s | build peak MB | load s | load peak MB | peak MB | settled MB "
        "| dense index | dense recall@10 | hybrid p50/p95 | dense p50/p95 | bm25 p50/p95 | disk MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    before = _previous(out)
    for row in results["scale"]:
        o, p = row["ours"], before.get(_size(row["passages"]))
        po = p["ours"] if p else {}
        old_recall = None
        if p:  # the index then: exact (flat), or HNSW at efSearch 256
            old_recall = 1.0 if po["dense_type"] == "flat" else p["faiss"]["hnsw_ef256_recall@10"]

        def was(value, old):
            return f"{value} ({old})" if old is not None else f"{value}"

        cells = [
            f"{row['passages']:,}",
            was(row["build_s"], p and p["build_s"]),
            row["build_peak_mb"],
            was(o["load_s"], po.get("load_s")),
            o["load_peak_mb"],
            was(o["peak_mb"], po.get("rss_mb")),
            was(o["settled_mb"], po and po["rssanon_mb"] + po["rssfile_mb"]),
            o["dense_index"]["type"],
            was(o["dense_recall@10"], old_recall),
            *(was(_pp(o[m]), po and _pp(po[m])) for m in ("hybrid", "dense", "bm25")),
            was(row["disk_mb"], p and p["disk_mb"]),
        ]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    lines += [
        "",
        "Dense search beside it (same vectors and questions; HNSW candidates re-scored by the stored "
        "vectors as our index does), and the usual recipe:",
        "",
        f"| passages | exact FAISS p50/p95 | HNSW efSearch {' / '.join(map(str, EF_SEARCH))}: recall@10 "
        "| HNSW p50/p95 at each | HNSW MB | LangChain FAISS p50/p95 | rank_bm25 p50/p95 |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["scale"]:
        f, rc = row["faiss"], row["recipe"]
        hnsw = "hnsw_mb" in f
        lines.append(
            f"| {row['passages']:,} | {_pp(f['exact_ms'])} "
            f"| {' / '.join(str(f[f'hnsw_ef{e}_recall@10']) for e in EF_SEARCH) if hnsw else '– (exact)'} "
            f"| {' · '.join(_pp(f[f'hnsw_ef{e}_ms']) for e in EF_SEARCH) if hnsw else '–'} "
            f"| {f.get('hnsw_mb', '–')} | {_pp(rc.get('langchain_dense_ms'))} "
            f"| {_pp(rc.get('rank_bm25_ms'))} |"
        )
    timed = [row for row in results["scale"] if "cpu_time" in row]
    if timed:
        lines += [
            "",
            "The same searches timed as CPU time of the serving process (other processes on the machine "
            "inflate wall time), and BM25's top 10 against reading every posting:",
            "",
            "| passages | hybrid CPU p50/p95 | dense CPU p50/p95 | bm25 CPU p50/p95 "
            "| BM25 scoring CPU p50/p95: pruned · every posting | top 10 identical |",
            "|---|---|---|---|---|---|",
        ]
        for row in timed:
            c = row["cpu_time"]
            lines.append(
                f"| {row['passages']:,} | {_pp(c['hybrid']['cpu_ms'])} | {_pp(c['dense']['cpu_ms'])} "
                f"| {_pp(c['bm25']['cpu_ms'])} | {_pp(c['score_pruned_cpu_ms'])} · "
                f"{_pp(c['score_every_posting_cpu_ms'])} "
                f"| {c['bm25_top10_rows_identical_to_every_posting']} of {c['questions']} |"
            )
    lines += ["", "Full figures: `results.json`; the run before issue 12: `results.previous.json`.", ""]
    return "\n".join(lines)


def plots(results: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["scale"]
    before = _previous(out)
    sizes = [r["passages"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    for mode in ("hybrid", "dense", "bm25"):
        a.plot(sizes, [r["ours"][mode]["p95"] for r in rows], marker="o", label=f"{mode} p95")
        old = [(p["passages"], p["ours"][mode]["p95"]) for p in before.values()]
        if old:
            a.plot(*zip(*old), marker="x", linestyle=":", label=f"{mode} p95 before")
    a.plot(sizes, [r["faiss"]["exact_ms"]["p95"] for r in rows], marker="o", label="exact FAISS p95")
    a.set(xscale="log", yscale="log", xlabel="passages", ylabel="ms per query", title="Query latency (p95)")
    a.legend(fontsize=8)
    b.plot(sizes, [r["ours"]["peak_mb"] for r in rows], marker="o", label="serving: peak RSS")
    b.plot(sizes, [r["ours"]["settled_mb"] for r in rows], marker="o", label="serving: settled RSS")
    b.plot(sizes, [r["build_peak_mb"] for r in rows], marker="o", label="build: peak RSS")
    b.plot(sizes, [r["disk_mb"] for r in rows], marker="o", label="index on disk")
    old = [(p["passages"], p["ours"]["rss_mb"]) for p in before.values()]
    if old:
        b.plot(*zip(*old), marker="x", linestyle=":", label="serving: peak RSS before")
    b.set(xscale="log", yscale="log", xlabel="passages", ylabel="MB", title="Memory and disk")
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "scale.png", dpi=110)
    plt.close(fig)
