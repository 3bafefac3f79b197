"""The gold questions on their documents laid out at a page's width: as written, as hard-wrapped
text and as PDFs. A PDF keeps each visual line of a paragraph, so a sentence goes on over lines
that may start with a capital ("Ủy ban", "Điều 12"); this shows what that costs retrieval and the
highlighted sentence.

    .venv/bin/python bench/layouts.py [--split dev|test|all] [--out bench/results]

For each gold set (eval/gold.jsonl on seeds/, eval/gold-office.jsonl on tests/data/clean) the
documents are written three ways into a temporary folder: as they are; each paragraph wrapped at
WRAP_TEXT characters (.txt, as an e-mail or a text export); and each paragraph drawn line by line,
wrapped at WRAP_PDF characters, on A4 pages in DejaVu Sans (.pdf, as a word processor prints
it, with a wider gap between paragraphs). Each folder is indexed and scored as `qa eval` scores
hybrid search, the gold documents renamed to follow their files.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import tempfile
import textwrap
import time
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from qa import Retriever, Settings
from qa.evaluate import read_gold, score_system

ROOT = Path(__file__).resolve().parent.parent
GOLD = (
    ("seeds", ROOT / "eval" / "gold.jsonl", ROOT / "seeds"),
    ("office", ROOT / "eval" / "gold-office.jsonl", ROOT / "tests" / "data" / "clean"),
)
WRAP_TEXT = 78  # characters a line: a plain-text e-mail
WRAP_PDF = 95  # characters a line: 10 pt DejaVu Sans across an A4 page's text width
A4 = (595.0, 842.0)  # points
LINE = 14.0  # points from one baseline to the next; a paragraph starts 60% lower


def write_wrapped_text(source: Path, folder: Path) -> None:
    for f in sorted(source.iterdir()):
        paragraphs = f.read_text(encoding="utf-8").split("\n")
        lines = ("\n".join(textwrap.wrap(p, WRAP_TEXT, break_on_hyphens=False)) for p in paragraphs)
        (folder / f.name).write_text("\n".join(lines), encoding="utf-8")


def write_pdfs(source: Path, folder: Path) -> None:
    for f in sorted(source.iterdir()):
        paragraphs = [p for p in f.read_text(encoding="utf-8").split("\n") if p.strip()]
        out = io.BytesIO()
        with (
            matplotlib.rc_context({"pdf.fonttype": 42, "font.family": "DejaVu Sans"}),
            PdfPages(out) as pdf,
        ):
            page, y = None, 0.0
            for paragraph in paragraphs:
                for i, line in enumerate(textwrap.wrap(paragraph, WRAP_PDF, break_on_hyphens=False)):
                    step = LINE * (1.6 if i == 0 else 1.0)
                    if page is None or y - step < 60:
                        if page is not None:
                            pdf.savefig(page)
                        page, y = Figure(figsize=(A4[0] / 72, A4[1] / 72)), 790.0
                    y -= step
                    page.text(50 / A4[0], y / A4[1], line, fontsize=10)
            if page is not None:
                pdf.savefig(page)
        (folder / f"{f.stem}.pdf").write_bytes(out.getvalue())


def renamed(question, suffix: str):
    """The gold question with its documents named as the laid-out files are."""

    def rename(name):
        return None if name is None else f"{Path(name).stem}{suffix}"

    return dataclasses.replace(question, doc=rename(question.doc), docs=tuple(map(rename, question.docs)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=["dev", "test", "all"])
    parser.add_argument("--out", type=Path, help="folder to write layouts.md into")
    args = parser.parse_args()
    rows = [
        "| gold | layout | R@5 | MRR@10 | highlight holds answer | unanswerable found | answerable refused |",
        "|---|---|---|---|---|---|---|",
    ]
    embedder = None
    with tempfile.TemporaryDirectory() as tmp:
        for name, gold, source in GOLD:
            questions = [q for q in read_gold(gold) if args.split == "all" or q.split == args.split]
            for layout, write, suffix in (
                ("as written", None, None),
                ("wrapped text", write_wrapped_text, ".txt"),
                ("PDF", write_pdfs, ".pdf"),
            ):
                started = time.perf_counter()
                folder = source
                if write is not None:
                    folder = Path(tmp) / name / layout.replace(" ", "-")
                    folder.mkdir(parents=True)
                    write(source, folder)
                asked = [renamed(q, suffix) for q in questions] if suffix else questions
                retriever = Retriever.build(
                    folder, Path(tmp) / f"index-{name}-{layout}", settings=Settings(), embedder=embedder
                )
                embedder = retriever.embedder
                s = score_system(layout, retriever, asked, mode="hybrid", k=10, judge=True)
                figures = (
                    s.recall[5],
                    s.mrr,
                    s.highlight,
                    s.nothing_found_unanswerable,
                    s.nothing_found_answerable,
                )
                rows.append(
                    f"| {name} ({args.split}) | {layout} | " + " | ".join(f"{x:.3f}" for x in figures) + " |"
                )
                print(rows[-1], f"({time.perf_counter() - started:.0f} s)", flush=True)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "layouts.md").write_text("\n".join(rows) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
