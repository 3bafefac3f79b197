"""The chat assistant (Gradio) and its JSON API, served together. Uses the public API only.

    python app.py [--index index] [--host 127.0.0.1] [--port 7860]

Routes: `/` the chat, `POST /api/search` and `GET /api/health` for other tools,
`/source/{doc_id}` the source viewer (documents of the index only).
"""

from __future__ import annotations

import argparse
import html
import logging
import sys
from typing import Literal

import gradio as gr
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from qa import Answer, QAError, QueryError, Retriever, Settings, highlight_spans

log = logging.getLogger("qa.app")

MODES = [("Kết hợp (khuyên dùng)", "hybrid"), ("Theo ngữ nghĩa", "dense"), ("Theo từ khoá (BM25)", "bm25")]
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
    question: str = Field(min_length=1, max_length=2000)
    k: int = Field(default=5, ge=1, le=50)
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    docs: list[str] | None = None


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
    return f"/source/{html.escape(doc_id, quote=True)}?start={start}&end={end}#hit"


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
        link = source_link(hit.doc_id, hit.start, hit.end)
        text = marked(hit.text, highlight_spans(hit.text, answer.question))
        parts.append(
            f"<div class='qa-passage'><span class='qa-cite'>[{hit.rank}]</span> "
            f"<b>{html.escape(hit.title)}</b>{heading}<br>"
            f"<span class='qa-meta'>{html.escape(hit.doc_id)} · {where.replace(',', '.')} · "
            f"<a href='{link}' target='_blank'>Xem trong văn bản</a></span>"
            f"<div class='qa-text'>{text}</div></div>"
        )
    return "\n".join(parts)


def source_page(retriever: Retriever, doc_id: str, start: int, end: int) -> str:
    """The whole document, the cited passage highlighted and scrolled into view."""
    text = retriever.document_text(doc_id)
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    title = html.escape(retriever.documents[doc_id])
    body = (
        html.escape(text[:start])
        + f"<mark id='hit'>{html.escape(text[start:end])}</mark>"
        + html.escape(text[end:])
    )
    return f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em;
       line-height: 1.6; }}
pre {{ white-space: pre-wrap; font-family: inherit; }}
mark {{ background: #fde68a; }}
.meta {{ color: #4a5568; }}
</style></head><body>
<h1>{title}</h1>
<p class="meta">Tài liệu <code>{html.escape(doc_id)}</code> · đoạn được trích: ký tự {start}–{end}</p>
<pre>{body}</pre>
<script>document.getElementById("hit").scrollIntoView({{block: "center"}});</script>
</body></html>"""


def build_ui(retriever: Retriever, settings: Settings) -> gr.Blocks:
    documents = [(title, doc_id) for doc_id, title in retriever.documents.items()]

    def respond(message, history, k, mode, docs):
        message = (message or "").strip()
        if not message:
            return "", history
        try:
            reply = render_answer(retriever.ask(message, k=int(k), mode=mode, docs=docs or None), retriever)
        except QAError as err:
            reply = f"<div class='qa-none'>Lỗi: {html.escape(str(err))}</div>"
        return "", [*history, {"role": "user", "content": message}, {"role": "assistant", "content": reply}]

    with gr.Blocks(title="Hỏi đáp tài liệu") as demo:
        gr.Markdown(
            f"## Hỏi đáp tài liệu\nĐặt câu hỏi bằng tiếng Việt (có dấu hoặc không dấu) về "
            f"{len(documents)} tài liệu. Mỗi câu trả lời kèm đoạn trích dẫn để đối chiếu với văn bản gốc."
        )
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
                    )
                    send = gr.Button("Gửi", variant="primary", scale=1, elem_id="send")
                gr.Examples(EXAMPLES, inputs=question, label="Câu hỏi mẫu")
                clear = gr.Button("Xoá hội thoại", size="sm")
            with gr.Column(scale=1):
                k = gr.Slider(1, 10, value=settings.k, step=1, label="Số đoạn trích dẫn")
                mode = gr.Radio(MODES, value=settings.mode, label="Cách tìm")
                docs = gr.Dropdown(
                    documents, multiselect=True, label="Chỉ tìm trong tài liệu", info="Để trống: tìm tất cả"
                )
        inputs = [question, chatbot, k, mode, docs]
        question.submit(respond, inputs, [question, chatbot])
        send.click(respond, inputs, [question, chatbot])
        clear.click(lambda: [], None, chatbot)
    return demo


def create_app(retriever: Retriever, settings: Settings) -> FastAPI:
    api = FastAPI(title="qa", docs_url="/api/docs", openapi_url="/api/openapi.json")

    @api.exception_handler(RequestValidationError)
    async def bad_request(request: Request, err: RequestValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in err.errors()
        )
        return JSONResponse({"error": f"bad request: {problems}"}, status_code=400)

    @api.get("/api/health")
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

    @api.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException):
        return JSONResponse({"error": err.detail}, status_code=err.status_code)

    @api.get("/source/{doc_id:path}", response_class=HTMLResponse)
    def source(doc_id: str, start: int = 0, end: int = 0) -> str:
        if doc_id not in retriever.documents:
            raise HTTPException(status_code=404, detail=f"no document {doc_id!r} in the index")
        return source_page(retriever, doc_id, start, end)

    demo = build_ui(retriever, settings)
    return gr.mount_gradio_app(api, demo, path="/", css=CSS, footer_links=[])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the chat assistant and its JSON API.")
    parser.add_argument("--index", help="index folder (default: index, or QA_INDEX)")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1, or QA_HOST)")
    parser.add_argument("--port", type=int, help="port (default 7860, or QA_PORT)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env(index=args.index, host=args.host, port=args.port)
        retriever = Retriever.load(settings=settings)
    except QAError as err:
        print(f"qa: error: {err}", file=sys.stderr)
        return 1
    app = create_app(retriever, settings)
    log.info("serving %d documents on http://%s:%d", len(retriever.documents), settings.host, settings.port)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
