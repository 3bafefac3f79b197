"""The chat assistant (Gradio) and its JSON API, served together. Uses the public API only.

    python app.py [--index index] [--host 127.0.0.1] [--port 7860]
    python app.py --hash-password      # reads a password, prints its hash for QA_USERS / QA_USERS_FILE

Routes: `/` the chat, `POST /api/search` and `GET /api/health` for other tools,
`/source/{doc_id}` the source viewer (documents of the index only). With users configured
(`QA_USERS`, `QA_USERS_FILE`) every route but `/api/health` asks for a login (HTTP Basic).
"""

from __future__ import annotations

import argparse
import getpass
import html
import logging
import math
import os
import reprlib
import secrets
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from qa import (
    MAX_QUESTION_CHARS,
    MODES,
    Answer,
    BasicAuth,
    BodyLimit,
    Mode,
    QAError,
    QueryError,
    Retriever,
    SecurityHeaders,
    Settings,
    SettingsError,
    exposure_warning,
    hash_password,
    highlight_spans,
    listen,
    load_users,
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

# Bodies above these are refused (413) before they are read. A search is a question of at most
# MAX_QUESTION_CHARS (under 24 KB even with every letter \u-escaped) and a list of document ids:
# 64 KiB leaves room for about a thousand ids, and a thousand requests at once hold 64 MB at most.
API_BODY_LIMIT = 64 * 1024
# Gradio's own requests carry the question and the controls (the history stays on the server):
# 1 MiB lets a pasted page reach the chat, which then says the question is too long.
UI_BODY_LIMIT = 1024 * 1024
# The question box keeps this many characters of a paste (at most 400 KB in UTF-8, under the limit
# above), so whatever is pasted reaches the chat and gets its "too long" message.
PASTE_CHARS = 100_000
# Methods a wrong /api/ request may come with, answered 404/405 `{"error"}` rather than by Gradio
OTHER_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND"]
MAX_K = 50  # passages per answer: more than anyone reads; the chat's slider stops at 10
QUOTED_CHARS = 300  # of a refused question, shown back in the chat
OPEN_PATHS = ("/api/health",)  # answered without login: for monitoring; tells only index sizes
MODE_LABELS = {"hybrid": "Kết hợp (khuyên dùng)", "dense": "Theo ngữ nghĩa", "bm25": "Theo từ khoá (BM25)"}
EXAMPLES = [
    "Chỉ thị 12-CT/TW được ban hành ngày nào?",
    "Hà Nội đạt bao nhiêu điểm trong đợt khảo sát về đối ngoại nhân dân?",
    "Đối ngoại nhân dân là gì?",
    "mat tran to quoc co bao nhieu doi tac truyen thong",
]
NOTHING_FOUND = "Không tìm thấy đoạn văn nào trong tài liệu trả lời được câu hỏi này."

CSS = """
.qa-answer { background: #f3f8ff; border-left: 4px solid #2b6cb0; padding: .6em .9em; margin-bottom: .6em; }
.qa-answer mark, .qa-lead mark { background: #fde68a; }
.qa-none { background: #fff7ed; border-left: 4px solid #c05621; padding: .6em .9em; margin-bottom: .6em; }
.qa-passage { border-top: 1px solid #e2e8f0; padding-top: .5em; margin-top: .5em; }
.qa-meta { color: #4a5568; font-size: .9em; }
.qa-text mark { background: #fef3c7; padding: 0 .1em; }
.qa-cite { font-weight: 600; color: #2b6cb0; }
"""


class SearchRequest(BaseModel):
    """The body of POST /api/search. Strict: `"k": true` or `"k": "5"` is a mistake, not a 1 or 5."""

    model_config = ConfigDict(strict=True, extra="forbid")
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    k: int | None = Field(default=None, ge=1, le=MAX_K)  # None: QA_K
    mode: Mode | None = None  # None: QA_MODE
    docs: list[str] | None = None  # document ids to search in; None: all


def marked(text: str, spans: list[tuple[int, int]], *, tag: str = "mark") -> str:
    """`text` escaped as HTML, with `spans` wrapped in <mark>."""
    out, at = [], 0
    for start, end in sorted(spans):
        if start < at:
            continue
        out += [html.escape(text[at:start]), f"<{tag}>", html.escape(text[start:end]), f"</{tag}>"]
        at = end
    out.append(html.escape(text[at:]))
    return "".join(out).replace("\n", " ")


def source_link(doc_id: str, start: int, end: int) -> str:
    """The viewer's URL, for an HTML attribute: ids may hold `#`, `?`, `%`, spaces, any letter."""
    return html.escape(f"/source/{quote(doc_id, safe='/')}?start={start}&end={end}#hit", quote=True)


def render_answer(answer: Answer, retriever: Retriever) -> str:
    """The chat reply: the answer with its citations, then the cited passages."""
    parts = []
    if answer.found:
        lead = " ".join(
            f"<mark>{html.escape(' '.join(s.text.split()))}</mark> <span class='qa-cite'>[{s.rank}]</span>"
            for s in answer.sentences
        )
        parts.append(f"<div class='qa-answer'><b>Trả lời:</b> {lead}</div>")
        parts.append("<div class='qa-meta'>Nguồn trích dẫn:</div>")
    else:
        parts.append(f"<div class='qa-none'><b>{NOTHING_FOUND}</b></div>")
        if answer.passages:
            parts.append("<div class='qa-meta'>Các đoạn gần nhất (có thể không liên quan):</div>")
    for hit in answer.passages:
        length = len(retriever.document_text(hit.doc_id))
        where = f"ký tự {hit.start:,}–{hit.end:,} / {length:,} (~{100 * hit.start // max(length, 1)}%)"
        heading = f" › {html.escape(hit.heading)}" if hit.heading else ""
        text = marked(hit.text, highlight_spans(hit.text, answer.question))
        parts.append(
            f"<div class='qa-passage'><span class='qa-cite'>[{hit.rank}]</span> "
            f"<b>{html.escape(hit.title)}</b>{heading}<br>"
            f"<span class='qa-meta'>{html.escape(hit.doc_id)} · {where.replace(',', '.')} · "
            f"<a href='{source_link(hit.doc_id, hit.start, hit.end)}' target='_blank'>Xem trong văn bản</a>"
            f"</span><div class='qa-text'>{text}</div></div>"
        )
    return "\n".join(parts)


def source_page(title: str, doc_id: str, text: str, start: int, end: int, *, nonce: str) -> str:
    """The whole document with text[start:end] highlighted; the browser scrolls to it (#hit)."""
    body = (
        html.escape(text[:start])
        + f"<mark id='hit'>{html.escape(text[start:end])}</mark>"
        + html.escape(text[end:])
    )
    return f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style nonce="{nonce}">
body {{ font-family: system-ui, sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em;
       line-height: 1.6; }}
pre {{ white-space: pre-wrap; font-family: inherit; }}
mark {{ background: #fde68a; }}
#hit {{ scroll-margin-top: 40vh; }}
.meta {{ color: #4a5568; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="meta">Tài liệu <code>{html.escape(doc_id)}</code> · đoạn được trích: ký tự {start}–{end}</p>
<pre>{body}</pre>
</body></html>"""


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

    with gr.Blocks(title="Hỏi đáp tài liệu", analytics_enabled=False) as demo:
        header = gr.Markdown(intro())
        history = gr.State([])  # kept on the server: requests stay small however long the chat
        with gr.Row():
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
        inputs, outputs = [question, history, k, mode, docs], [question, history, chatbot]
        # preprocess=False: the values reach `chat_reply` as sent, which checks them and answers bad
        # ones with a message; Gradio's own checks would print a traceback for each.
        question.submit(respond, inputs, outputs, preprocess=False)
        send.click(respond, inputs, outputs, preprocess=False)
        clear.click(lambda: ([], []), None, [history, chatbot])
        chatbot.clear(lambda: [], None, history)  # the chat's own bin icon
        # a page opened after `qa index` rebuilt the index lists the documents it has now
        demo.load(lambda: (intro(), gr.Dropdown(choices=choices())), None, [header, docs])
    return demo


def create_app(
    retriever: Retriever, settings: Settings, *, users: Mapping[str, str] | None = None
) -> FastAPI:
    """The chat at `/`, the JSON API, the viewer; every API error is a 4xx `{"error": ...}`."""
    # No /api/docs: Swagger UI loads its scripts from a CDN, which the CSP (and offline machines) block.
    api = FastAPI(title="qa", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")

    @api.exception_handler(RequestValidationError)
    async def bad_request(request: Request, err: RequestValidationError):
        problems = "; ".join(
            f"body is not JSON: {e['ctx']['error']} at character {e['loc'][-1]}"
            if e["type"] == "json_invalid"
            else f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}"
            for e in err.errors()
        )
        if "json" not in request.headers.get("content-type", "") and request.method == "POST":
            problems = "send the body as JSON with the header Content-Type: application/json"
        return JSONResponse({"error": f"bad request: {problems}"}, status_code=400)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException):
        message = err.detail
        if isinstance(err.__cause__, RecursionError):  # FastAPI's json.loads gave up
            message = 'the body is JSON nested too deeply; send {"question": "..."}'
        return JSONResponse({"error": message}, status_code=err.status_code, headers=err.headers)

    @api.exception_handler(Exception)
    async def server_error(request: Request, err: Exception):
        return JSONResponse({"error": "internal error; the server log says more"}, status_code=500)

    @api.api_route("/api/health", methods=["GET", "HEAD"])  # HEAD: what uptime monitors send
    def health() -> dict:
        return {
            "status": "ok",
            "documents": len(retriever.documents),
            "passages": len(retriever),
            "embedder": retriever.embedder.id,
            "dimension": retriever.embedder.dim,
        }

    @api.post("/api/search")
    def search(request: SearchRequest) -> dict:
        try:
            return retriever.ask(
                request.question, k=request.k, mode=request.mode, docs=request.docs
            ).to_dict()
        except QueryError as err:
            raise HTTPException(status_code=400, detail=str(err)) from None

    @api.api_route("/api", methods=OTHER_METHODS, include_in_schema=False)
    @api.api_route("/api/{rest:path}", methods=OTHER_METHODS, include_in_schema=False)
    def no_such_route(request: Request, rest: str = ""):
        """Without this, unknown /api/ paths would fall through to the Gradio app and its `{"detail"}`."""
        allowed = sorted(
            method
            for route in api.router.routes
            if route.matches(request.scope)[0] is Match.PARTIAL
            for method in route.methods
        )
        if allowed:
            raise HTTPException(
                405,
                f"{request.method} is not allowed here; use {', '.join(allowed)}",
                {"Allow": ", ".join(allowed)},
            )
        raise HTTPException(
            404, f"no route {request.url.path}; the API has POST /api/search and GET /api/health"
        )

    @api.get("/source/{doc_id:path}", response_class=HTMLResponse)
    def source(doc_id: str, start: int = 0, end: int | None = None) -> HTMLResponse:
        """`end` missing: an empty highlight at `start`; swapped or outside the text: put in order."""
        try:
            title, text = retriever.documents[doc_id], retriever.document_text(doc_id)
        except KeyError:  # also when a rebuild removed it between the two lookups
            raise HTTPException(status_code=404, detail=f"no document {doc_id!r} in the index") from None
        start, end = sorted(max(0, min(x, len(text))) for x in (start, start if end is None else end))
        nonce = secrets.token_urlsafe(16)
        return HTMLResponse(
            source_page(title, doc_id, text, start, end, nonce=nonce),
            headers={
                "Content-Security-Policy": f"default-src 'none'; style-src 'nonce-{nonce}'; "
                "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
            },
        )

    from gradio import mount_gradio_app

    app = mount_gradio_app(
        api, build_ui(retriever, settings), path="/", css=CSS, footer_links=[], run_history=False
    )
    app.add_middleware(BodyLimit, default=UI_BODY_LIMIT, limits=(("/api/", API_BODY_LIMIT),))
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
        settings = Settings.from_env(index=args.index, host=args.host, port=args.port)
        users = load_users()
        sock = listen(settings.host, settings.port)  # first: a busy port fails before the model loads
    except QAError as err:
        print(f"qa: error: {err}", file=sys.stderr)
        return 1
    with sock:
        try:
            retriever = Retriever.load(settings=settings)
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
