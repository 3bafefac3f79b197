"""What the app serves besides the Gradio UI: the JSON API, the source viewer, answers as HTML.

`create_api` answers `GET /api/health`, `POST /api/search`, the documents routes (list, upload,
download, remove) and `/source/{doc_id}`; every API error is a 4xx/5xx `{"error": ...}`, never
Gradio's `{"detail"}`. The chat (app.py) is mounted on the app this returns and shows answers as
`render_answer` writes them, linking each passage to the viewer.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import re
import secrets
import unicodedata
from pathlib import PurePosixPath
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from .answer import Answer
from .api import Retriever
from .errors import DiskFullError, DocumentNotFoundError, QAError, QueryError, UploadError
from .highlight import highlight_spans
from .retrieve import MAX_QUESTION_CHARS, Mode
from .settings import Settings
from .uploads import Upload

log = logging.getLogger(__name__)

# Bodies above these are refused (413) before they are read. A search is a question of at most
# MAX_QUESTION_CHARS (under 24 KB even with every letter \u-escaped) and a list of document ids:
# 64 KiB leaves room for about a thousand ids, and a thousand requests at once hold 64 MB at most.
API_BODY_LIMIT = 64 * 1024
# An upload request may carry this many files of the largest size allowed (settings.max_upload_mb):
# more than people pick at once, and the request is held in memory while it is indexed (at the
# default 50 MB, 500 MB at most). More files go in more requests; small files, any number in one.
UPLOAD_FILES_PER_REQUEST = 10
# Room for each part's multipart headers and boundary, a long Vietnamese file name included.
PART_OVERHEAD = 64 * 1024
# Methods a wrong /api/ request may come with, answered 404/405 `{"error"}` rather than by Gradio
OTHER_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND"]
MAX_K = 50  # passages per answer: more than anyone reads; the chat's slider stops at 10
ROUTES = "GET /api/health, POST /api/search, GET/POST /api/documents, GET/DELETE /api/documents/{id}"
# What a download says it is, by the original file's suffix; the bytes are sent as they were stored.
MEDIA_TYPES = {
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".pdf": "application/pdf",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".html": "text/html",
    ".htm": "text/html",
}


class SearchRequest(BaseModel):
    """The body of POST /api/search. Strict: `"k": true` or `"k": "5"` is a mistake, not a 1 or 5."""

    model_config = ConfigDict(strict=True, extra="forbid")
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    k: int | None = Field(default=None, ge=1, le=MAX_K)  # None: QA_K
    mode: Mode | None = None  # None: QA_MODE
    docs: list[str] | None = None  # document ids to search in; None: all


def upload_body_limit(settings: Settings) -> int:
    """The largest upload request accepted, in bytes: UPLOAD_FILES_PER_REQUEST files at the limit."""
    return UPLOAD_FILES_PER_REQUEST * (int(settings.max_upload_mb * 2**20) + PART_OVERHEAD)


def create_api(retriever: Retriever, settings: Settings) -> FastAPI:
    """The JSON API and the viewer, for `retriever`; `settings` bound the uploads."""
    # No /api/docs: Swagger UI loads its scripts from a CDN, which the CSP (and offline machines) block.
    api = FastAPI(title="qa", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    _error_handlers(api)

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

    @api.get("/api/documents")
    def documents() -> dict:
        return {"documents": [dataclasses.asdict(d) for d in retriever.list_documents()]}

    @api.post("/api/documents")
    async def add(request: Request) -> dict:
        """200 whenever the files were received: each one is in `added`, `duplicates` or `rejected`
        (with its reason), even when none went in; 400 when there is nothing to look at."""
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "multipart/form-data":
            raise HTTPException(400, "send the files as multipart/form-data, e.g. curl -F files=@report.pdf")
        async with request.form() as form:
            parts = [part for part in form.getlist("files") if isinstance(part, UploadFile)]
            uploads = [Upload(part.filename or "", await part.read()) for part in parts]
        if not uploads:
            raise HTTPException(400, "no files in the request; send each file as a part named `files`")
        try:  # indexing takes seconds to minutes: in a worker thread, while searches go on
            report = await run_in_threadpool(retriever.add_documents, uploads)
        except UploadError as err:
            raise HTTPException(400, str(err)) from None
        return {
            "added": [dataclasses.asdict(d) for d in report.added],
            "duplicates": [dataclasses.asdict(d) for d in report.duplicates],
            "rejected": [dataclasses.asdict(r) for r in report.rejected],
        }

    @api.get("/api/documents/{doc_id:path}/file")
    def download(doc_id: str) -> FileResponse:
        try:
            path = retriever.document_file(doc_id)
        except DocumentNotFoundError as err:  # its words name the server's folders: for the log only
            log.info("download of %r refused: %s", doc_id, err)
            gone = f"no file for document {doc_id!r} (not indexed, or gone from the corpus)"
            raise HTTPException(404, f"{gone}; GET /api/documents lists them") from None
        info = next((d for d in retriever.list_documents() if d.id == doc_id), None)
        name = PurePosixPath(info.file if info else doc_id).name
        return FileResponse(
            path,
            media_type=MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream"),
            headers={"Content-Disposition": content_disposition(name)},
        )

    @api.delete("/api/documents/{doc_id:path}")
    def remove(doc_id: str) -> dict:
        try:
            report = retriever.remove_documents([doc_id])
        except QAError as err:  # e.g. it is the last document: an index keeps at least one
            raise HTTPException(409, str(err)) from None
        if not report.removed:
            raise HTTPException(404, f"no document {doc_id!r} in the index; GET /api/documents lists them")
        return {"removed": list(report.removed)}

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
        raise HTTPException(404, f"no route {request.url.path}; the API has {ROUTES}")

    @api.get("/source/{doc_id:path}", response_class=HTMLResponse)
    def source(doc_id: str, start: int = 0, end: int | None = None) -> HTMLResponse:
        """`end` missing: an empty highlight at `start`; swapped or outside the text: put in order."""
        try:
            title, text = retriever.documents[doc_id], retriever.document_text(doc_id)
            pages = retriever.document_pages(doc_id)
        except (KeyError, DocumentNotFoundError):  # also when a change removed it between the lookups
            raise HTTPException(status_code=404, detail=f"no document {doc_id!r} in the index") from None
        start, end = sorted(max(0, min(x, len(text))) for x in (start, start if end is None else end))
        nonce = secrets.token_urlsafe(16)
        return HTMLResponse(
            source_page(title, doc_id, text, start, end, pages=pages, nonce=nonce),
            headers={
                "Content-Security-Policy": f"default-src 'none'; style-src 'nonce-{nonce}'; "
                "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
            },
        )

    return api


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


def page_label(pages: tuple[int, ...]) -> str:
    """ "trang 3" or "trang 3–4" (a hit's pages run in order); "" for a document without pages."""
    if not pages:
        return ""
    return f"trang {pages[0]}" if len(pages) == 1 else f"trang {pages[0]}–{pages[-1]}"


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
        parts.append(f"<div class='qa-none'><b>{html.escape(answer.message)}</b></div>")
        if answer.passages:
            parts.append("<div class='qa-meta'>Các đoạn gần nhất (có thể không liên quan):</div>")
    for hit in answer.passages:
        length = len(retriever.document_text(hit.doc_id))
        where = f"ký tự {hit.start:,}–{hit.end:,} / {length:,} (~{100 * hit.start // max(length, 1)}%)"
        heading = f" › {html.escape(hit.heading)}" if hit.heading else ""
        page = f" <span class='qa-page'>({page_label(hit.pages)})</span>" if hit.pages else ""
        text = marked(hit.text, highlight_spans(hit.text, answer.question))
        parts.append(
            f"<div class='qa-passage'><span class='qa-cite'>[{hit.rank}]</span> "
            f"<b>{html.escape(hit.title)}</b>{page}{heading}<br>"
            f"<span class='qa-meta'>{html.escape(hit.doc_id)} · {where.replace(',', '.')} · "
            f"<a href='{source_link(hit.doc_id, hit.start, hit.end)}' target='_blank'>Xem trong văn bản</a>"
            f"</span><div class='qa-text'>{text}</div></div>"
        )
    return "\n".join(parts)


def _error_handlers(api: FastAPI) -> None:
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

    @api.exception_handler(QAError)
    async def failed(request: Request, err: QAError):  # e.g. the corpus folder is read-only
        # 507 Insufficient Storage: the server's disk is full, the request itself was fine
        return JSONResponse({"error": str(err)}, status_code=507 if isinstance(err, DiskFullError) else 500)

    @api.exception_handler(Exception)
    async def server_error(request: Request, err: Exception):
        return JSONResponse({"error": "internal error; the server log says more"}, status_code=500)


def content_disposition(name: str) -> str:
    """An attachment named `name`: RFC 5987's UTF-8 form, and an ASCII one for old clients."""
    plain = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    plain = re.sub(r"[^A-Za-z0-9._ -]", "_", plain.encode("ascii", "ignore").decode()) or "document"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def source_page(
    title: str, doc_id: str, text: str, start: int, end: int, *, pages: tuple[int, ...], nonce: str
) -> str:
    """The whole document with text[start:end] highlighted; the browser scrolls to it (#hit).
    A document with pages shows "— Trang N —" where each starts; the offsets still index `text`."""
    marks = [(start, 2, "<mark id='hit'>"), (end, 3 if end == start else 0, "</mark>")]
    marks += [
        (at, 1, f"<span class='page' id='trang-{n}'>— Trang {n} —</span>") for n, at in enumerate(pages, 1)
    ]
    body, at = [], 0
    for offset, _, tag in sorted(marks):  # at one offset: a highlight ends, a page starts, one starts
        body += [html.escape(text[at:offset]), tag]
        at = offset
    body.append(html.escape(text[at:]))
    original = html.escape(f"/api/documents/{quote(doc_id, safe='/')}/file", quote=True)
    return f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style nonce="{nonce}">
body {{ font-family: system-ui, sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em;
       line-height: 1.6; }}
pre {{ white-space: pre-wrap; font-family: inherit; }}
mark {{ background: #fde68a; }}
#hit {{ scroll-margin-top: 40vh; }}
.meta {{ color: #4a5568; }}
.page {{ display: block; color: #718096; background: #fff; text-align: center; margin: 1em 0;
        border-top: 1px dashed #cbd5e0; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="meta">Tài liệu <code>{html.escape(doc_id)}</code> · đoạn được trích: ký tự {start}–{end} ·
<a href="{original}" download>Tải bản gốc</a></p>
<pre>{"".join(body)}</pre>
</body></html>"""
