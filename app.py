"""The chat assistant (Gradio) and its JSON API, served together. Uses the public API only.

    python app.py [--index index | --store qdrant://HOST:6333/qa] [--host 127.0.0.1] [--port 7860]
    python app.py --hash-password      # reads a password, prints its hash for QA_USERS / QA_USERS_FILE

Routes: `/` the chat and its "Tài liệu" tab (add, list, remove documents), the JSON API under `/api/`
(qa.server: search, health, documents), `/source/{doc_id}` the source viewer (documents of the
index only). With users configured (`QA_USERS`, `QA_USERS_FILE`) every route but `/api/health`
asks for a login (HTTP Basic).
"""

from __future__ import annotations

import argparse
import getpass
import html
import logging
import math
import os
import reprlib
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn
from fastapi import FastAPI

from qa import (
    API_BODY_LIMIT,
    MAX_K,
    MAX_QUESTION_CHARS,
    MODES,
    SUFFIXES,
    AddReport,
    BasicAuth,
    BodyLimit,
    QAError,
    QueryError,
    RemoveReport,
    Retriever,
    SecurityHeaders,
    Settings,
    SettingsError,
    create_api,
    exposure_warning,
    hash_password,
    listen,
    load_users,
    render_answer,
    upload_body_limit,
)

if TYPE_CHECKING:
    import gradio as gr

# Before Gradio is imported (lazily, below): the app never reports usage anywhere.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
# Before the model loads: the embedding engine's OpenMP threads sleep when idle instead of
# spinning, which would take the cores from the other questions being served at the same time
# (bench/load.py: sequential p95 stayed at 53-100 ms instead of swinging up to 1.2 s).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

log = logging.getLogger("qa.app")

# Gradio's own requests carry the question and the controls (the history stays on the server):
# 1 MiB lets a pasted page reach the chat, which then says the question is too long.
UI_BODY_LIMIT = 1024 * 1024
# The question box keeps this many characters of a paste (at most 400 KB in UTF-8, under the limit
# above), so whatever is pasted reaches the chat and gets its "too long" message.
PASTE_CHARS = 100_000
QUOTED_CHARS = 300  # of a refused question, shown back in the chat
OPEN_PATHS = ("/api/health",)  # answered without login: for monitoring; tells only index sizes
MODE_LABELS = {"hybrid": "Kết hợp (khuyên dùng)", "dense": "Theo ngữ nghĩa", "bm25": "Theo từ khoá (BM25)"}
EXAMPLES = [
    "Chỉ thị 12-CT/TW được ban hành ngày nào?",
    "Hà Nội đạt bao nhiêu điểm trong đợt khảo sát về đối ngoại nhân dân?",
    "Đối ngoại nhân dân là gì?",
    "mat tran to quoc co bao nhieu doi tac truyen thong",
]
# Why a file was not added, by `Rejected.kind`, as the "Tài liệu" tab says it.
REJECTED = {
    "type": f"định dạng này chưa đọc được; hãy gửi tệp {', '.join(SUFFIXES)}",
    "size": "tệp lớn hơn giới hạn {limit} MB cho mỗi tệp; hãy chia nhỏ hoặc nén tệp rồi gửi lại",
    "empty": "tệp rỗng, không có nội dung",
    "unreadable": "không đọc được nội dung tệp (tệp hỏng hoặc không đúng định dạng)",
}
# Removing a file the user put in the corpus folder themselves leaves the file where it is.
KEPT = "đã loại khỏi chỉ mục; tệp gốc của bạn vẫn nằm nguyên trong thư mục tài liệu, không bị xoá"
# What `add_documents` says it is doing, as the progress bar says it.
STEPS = {"storing files": "Đang lưu tệp", "embedding passages": "Đang tính vector cho các đoạn văn"}
COLUMNS = ["Tiêu đề", "Tệp", "Loại", "Số trang", "Số đoạn", "Ngày thêm"]

CSS = """
.qa-answer { background: #f3f8ff; border-left: 4px solid #2b6cb0; padding: .6em .9em; margin-bottom: .6em; }
.qa-answer mark, .qa-lead mark { background: #fde68a; }
.qa-none { background: #fff7ed; border-left: 4px solid #c05621; padding: .6em .9em; margin-bottom: .6em; }
.qa-passage { border-top: 1px solid #e2e8f0; padding-top: .5em; margin-top: .5em; }
.qa-meta { color: #4a5568; font-size: .9em; }
.qa-text mark { background: #fef3c7; padding: 0 .1em; }
.qa-cite { font-weight: 600; color: #2b6cb0; }
.qa-added { color: #276749; } .qa-duplicate { color: #2b6cb0; } .qa-rejected { color: #c05621; }
"""


def chat_options(k: object, mode: object, docs: object) -> dict:
    """The controls as the browser sent them, checked: `Retriever.ask` options, or a `QueryError`
    whose message the chat shows."""
    if isinstance(k, bool) or not isinstance(k, int | float) or not math.isfinite(k) or k != int(k):
        raise QueryError(f"số đoạn trích dẫn phải là số nguyên, không phải {reprlib.repr(k)}")
    if not 1 <= k <= MAX_K:
        raise QueryError(f"số đoạn trích dẫn phải từ 1 đến {MAX_K}, không phải {int(k)}")
    if mode is not None and mode not in MODES:
        raise QueryError(f"cách tìm phải là một trong {', '.join(MODES)}, không phải {reprlib.repr(mode)}")
    if docs is not None and not (isinstance(docs, list) and all(isinstance(d, str) for d in docs)):
        raise QueryError(f"danh sách tài liệu phải là các mã tài liệu, không phải {reprlib.repr(docs)}")
    return {"k": int(k), "mode": mode, "docs": docs or None}


def chat_reply(retriever: Retriever, message: object, history: object, k, mode, docs) -> list[dict]:
    """The chat history after `message`: a refused question or bad controls get a message, not work."""
    history = history if isinstance(history, list) else []
    question = message.strip() if isinstance(message, str) else ""
    if not question:
        return history
    if len(question) > MAX_QUESTION_CHARS:
        reply = (
            f"<div class='qa-none'>Câu hỏi dài {_number(len(question))} ký tự, vượt giới hạn "
            f"{_number(MAX_QUESTION_CHARS)} ký tự nên không được tìm. "
            "Hãy hỏi ngắn gọn trong một hoặc hai câu.</div>"
        )
        question = question[:QUOTED_CHARS] + "…"
    else:
        try:
            reply = render_answer(retriever.ask(question, **chat_options(k, mode, docs)), retriever)
        except QAError as err:
            reply = f"<div class='qa-none'>Lỗi: {html.escape(str(err))}</div>"
    return [*history, {"role": "user", "content": question}, {"role": "assistant", "content": reply}]


def _number(n: int) -> str:
    """1.234.567: the Vietnamese thousands separator."""
    return f"{n:,}".replace(",", ".")


def document_rows(retriever: Retriever) -> list[list]:
    """The "Tài liệu" table: one row per indexed document, in the order of COLUMNS."""
    return [
        [d.title, d.file, d.format.upper(), d.pages or "", d.passages, _when(d.added)]
        for d in retriever.list_documents()
    ]


def upload_outcome(report: AddReport, *, limit_mb: float) -> str:
    """What became of each file sent, in Vietnamese."""
    items = []
    for d in report.added:
        pages = f", {d.pages} trang" if d.pages else ""
        items.append(_item("added", d.file, f"đã thêm: {d.title}, {_number(d.passages)} đoạn{pages}"))
    for d in report.duplicates:
        items.append(_item("duplicate", Path(d.file).name, f"đã có sẵn (trùng nội dung với {d.id})"))
    for r in report.rejected:  # a file the tab sends is named by its path in Gradio's cache
        detail = f" ({r.reason})" if r.kind == "unreadable" else ""
        why = REJECTED[r.kind].format(limit=f"{limit_mb:g}")
        items.append(_item("rejected", Path(r.file).name, f"không thêm được: {why}{detail}"))
    return f"<ul>{''.join(items)}</ul>"


def removal_outcome(report: RemoveReport, *, own: set[str]) -> str:
    """What became of each document chosen: files qa added are deleted, the user's own excluded."""
    items = [_item("added", i, KEPT if i in own else "đã xoá") for i in report.removed]
    items += [_item("rejected", i, "không còn trong chỉ mục") for i in report.missing]
    return f"<ul>{''.join(items)}</ul>"


def _item(kind: str, name: str, says: str) -> str:
    return f"<li class='qa-{kind}'><b>{html.escape(name)}</b>: {html.escape(says)}</li>"


def _when(added: str) -> str:
    """ "03/05/2024 14:22" from an ISO 8601 time; "" when it is not known."""
    return datetime.fromisoformat(added).strftime("%d/%m/%Y %H:%M") if added else ""


def build_ui(retriever: Retriever, settings: Settings) -> gr.Blocks:
    import gradio as gr  # here: errors and --hash-password answer without its 10 s import

    def intro() -> str:
        return (
            f"## Hỏi đáp tài liệu\nĐặt câu hỏi bằng tiếng Việt (có dấu hoặc không dấu) về "
            f"{len(retriever.documents)} tài liệu. Mỗi câu trả lời kèm đoạn trích dẫn để đối chiếu "
            "với văn bản gốc."
        )

    def choices() -> list[tuple[str, str]]:
        return [(title, doc_id) for doc_id, title in retriever.documents.items()]

    def respond(message, past, k, mode, docs):
        history = chat_reply(retriever, message, past, k, mode, docs)
        return "", history, history

    def refreshed(searched: list[str] | None = None) -> tuple:
        """Everything that lists the documents, as they are now; the chat keeps its choice of those left."""
        now = choices()
        kept = [doc_id for doc_id in searched or [] if doc_id in {i for _, i in now}]
        return (
            intro(),
            gr.Dropdown(choices=now, value=kept),
            document_rows(retriever),
            gr.Dropdown(choices=[(f"{t} ({i})", i) for t, i in now], value=[]),
        )

    def add(paths, searched, progress=gr.Progress()):  # noqa: B008 - how Gradio passes a progress bar
        try:
            report = retriever.add_documents(
                [Path(p) for p in paths or []],
                progress=lambda done, total, label: progress((done, total), desc=STEPS.get(label, label)),
            )
            outcome = upload_outcome(report, limit_mb=settings.max_upload_mb)
        except QAError as err:
            outcome = f"<div class='qa-none'>Không thêm được tài liệu: {html.escape(str(err))}</div>"
        return None, outcome, *refreshed(searched)

    def ask_to_remove(chosen):
        if not chosen:
            return "<p>Hãy chọn ít nhất một tài liệu để xoá.</p>", gr.Button(visible=False)
        names = ", ".join(html.escape(doc_id) for doc_id in chosen)
        return (
            f"<p>Sẽ xoá {len(chosen)} tài liệu khỏi chỉ mục: {names}. "
            "Bấm <b>Xác nhận xoá</b> để tiếp tục.</p>",
            gr.Button(visible=True),
        )

    def remove(chosen, searched):
        own = {d.id for d in retriever.list_documents() if not d.uploaded}
        try:
            outcome = removal_outcome(retriever.remove_documents(chosen or []), own=own)
        except QAError as err:
            outcome = f"<div class='qa-none'>Không xoá được: {html.escape(str(err))}</div>"
        return outcome, gr.Button(visible=False), *refreshed(searched)

    with gr.Blocks(title="Hỏi đáp tài liệu", analytics_enabled=False) as demo:
        header = gr.Markdown(intro())
        history = gr.State([])  # kept on the server: requests stay small however long the chat
        with gr.Tab("Hỏi đáp"), gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Trò chuyện",
                    height=560,
                    elem_id="chat",
                    placeholder="Câu trả lời và các đoạn trích dẫn sẽ hiện ở đây.",
                    feedback_options=None,
                )
                with gr.Row():
                    question = gr.Textbox(
                        placeholder="Nhập câu hỏi, ví dụ: Chỉ thị 12-CT/TW được ban hành ngày nào?",
                        show_label=False,
                        scale=6,
                        elem_id="question",
                        autofocus=True,
                        max_length=PASTE_CHARS,
                    )
                    send = gr.Button("Gửi", variant="primary", scale=1, elem_id="send")
                gr.Examples(EXAMPLES, inputs=question, label="Câu hỏi mẫu")
                clear = gr.Button("Xoá hội thoại", size="sm")
            with gr.Column(scale=1):
                k = gr.Slider(1, 10, value=min(settings.k, 10), step=1, label="Số đoạn trích dẫn")
                mode = gr.Radio([(MODE_LABELS[m], m) for m in MODES], value=settings.mode, label="Cách tìm")
                docs = gr.Dropdown(
                    choices(), multiselect=True, label="Chỉ tìm trong tài liệu", info="Để trống: tìm tất cả"
                )
        with gr.Tab("Tài liệu", elem_id="documents-tab"):
            files = gr.File(
                label=f"Kéo thả hoặc chọn tệp ({' '.join(SUFFIXES)}), "
                f"tối đa {settings.max_upload_mb:g} MB mỗi tệp",
                file_count="multiple",
                file_types=list(SUFFIXES),
                elem_id="upload",
            )
            outcome = gr.HTML(elem_id="outcome")
            table = gr.Dataframe(
                document_rows(retriever), headers=COLUMNS, interactive=False, wrap=True, elem_id="documents"
            )
            with gr.Row():
                chosen = gr.Dropdown([], multiselect=True, label="Chọn tài liệu để xoá", scale=4)
                ask = gr.Button("Xoá tài liệu đã chọn", variant="secondary", scale=1)
                confirm = gr.Button("Xác nhận xoá", variant="stop", visible=False, scale=1)
        inputs, outputs = [question, history, k, mode, docs], [question, history, chatbot]
        # preprocess=False: the values reach `chat_reply` as sent, which checks them and answers bad
        # ones with a message; Gradio's own checks would print a traceback for each.
        question.submit(respond, inputs, outputs, preprocess=False)
        send.click(respond, inputs, outputs, preprocess=False)
        clear.click(lambda: ([], []), None, [history, chatbot])
        chatbot.clear(lambda: [], None, history)  # the chat's own bin icon
        listed = [header, docs, table, chosen]
        files.upload(add, [files, docs], [files, outcome, *listed], show_progress_on=outcome)
        ask.click(ask_to_remove, chosen, [outcome, confirm])
        chosen.change(lambda: gr.Button(visible=False), None, confirm)  # confirm what is chosen now
        confirm.click(remove, [chosen, docs], [outcome, confirm, *listed], show_progress_on=outcome)
        # a page opened after `qa index` or another user's change lists the documents there are now
        demo.load(refreshed, None, listed)
    return demo


def create_app(
    retriever: Retriever, settings: Settings, *, users: Mapping[str, str] | None = None
) -> FastAPI:
    """The chat at `/`, the JSON API, the viewer; every API error is a 4xx `{"error": ...}`."""
    from gradio import mount_gradio_app

    ui = build_ui(retriever, settings)
    app = mount_gradio_app(
        create_api(retriever, settings), ui, path="/", css=CSS, footer_links=[], run_history=False
    )
    # Gradio accepts only files uploaded to it as a file input's value once its app "has launched",
    # which a mounted app never does: a request naming /etc/… or any file of the server's would have
    # it copied into the corpus and served (tests/test_app_documents.py).
    ui.has_launched = True
    uploads = upload_body_limit(settings)  # the JSON API's and the "Tài liệu" tab's
    limits = (("/api/documents", uploads), ("/gradio_api/upload", uploads), ("/api/", API_BODY_LIMIT))
    app.add_middleware(BodyLimit, default=UI_BODY_LIMIT, limits=limits)
    if users:  # outside BodyLimit: a stranger's body is not even counted
        app.add_middleware(BasicAuth, users=users, open_paths=OPEN_PATHS)
    app.add_middleware(SecurityHeaders, strict_prefixes=("/api/", "/source/"))  # outermost: on 401s too
    return app


def read_password() -> str:
    """From the terminal (asked twice), or the first line of standard input when piped."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != password:
        raise SettingsError("the two passwords differ; run --hash-password again")
    return password


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the chat assistant and its JSON API.")
    parser.add_argument("--index", help="index folder (default: index, or QA_INDEX)")
    parser.add_argument(
        "--store",
        metavar="URL",
        help="a Qdrant server store instead of the folder, e.g. qdrant://HOST:6333/qa",
    )
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1, or QA_HOST)")
    parser.add_argument("--port", type=int, help="port (default 7860, or QA_PORT)")
    parser.add_argument(
        "--hash-password", action="store_true", help="read a password, print its hash for QA_USERS, exit"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.hash_password:
            print(hash_password(read_password()))
            return 0
        settings = Settings.from_env(index=args.index, store=args.store, host=args.host, port=args.port)
        users = load_users()
        sock = listen(settings.host, settings.port)  # first: a busy port fails before the model loads
    except QAError as err:
        print(f"qa: error: {err}", file=sys.stderr)
        return 1
    with sock:
        try:
            retriever = Retriever.load(settings=settings)
            retriever.reranker  # noqa: B018  loaded now: a wrong QA_RERANKER fails here, not at the first question
        except QAError as err:
            print(f"qa: error: {err}", file=sys.stderr)
            return 1
        app = create_app(retriever, settings, users=users)
        address, port = sock.getsockname()[:2]
        if warning := exposure_warning(address, login=bool(users)):
            log.log(*warning)
        login = f", login required for {len(users)} user(s)" if users else ""
        log.info(
            "serving %d documents on http://%s:%d%s", len(retriever.documents), settings.host, port, login
        )
        uvicorn.Server(uvicorn.Config(app, log_level="warning", server_header=False)).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
