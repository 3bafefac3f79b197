"""OCR: the Vietnamese text of scanned PDF pages, rendered by PDFium and read by Tesseract.

Tesseract is run as a command (image on stdin, text on stdout), so the only thing
needed is the Debian packages; there is no Python binding to install or keep in step.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import subprocess
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from ..errors import CorpusError, MissingToolError
from ..text import nfc

log = logging.getLogger(__name__)

# A page is a scan when images cover this share of it (a scanner's image covers all of it, a
# typed page's logo or photo far less) and its text layer has fewer visible characters than
# _SCAN_MAX_CHARS. A typed A4 page has 1,500-3,500; a scan signed electronically carries the
# signature stamp, ~130 ("Người ký: ... Cơ quan: ... Thời gian ký: 15.03.2024 09:12:44 +07:00").
_SCAN_MIN_IMAGE_SHARE = 0.5
_SCAN_MAX_CHARS = 200
# Resolution pages are rendered at for OCR. Measured on the scanned sample's paragraphs filling
# an A4 page (2,723 characters), scanned at 150-400 dpi in 6-10 pt DejaVu Serif and Sans,
# blurred, noisy and 0.5° skewed, 7 scans: character accuracy mean/worst 0.9845/0.919 at
# 150 dpi, 0.9971/0.984 at 200, 0.9972/0.986 at 300, 0.9961/0.979 at 400; Tesseract CPU time
# a page 1.46 s, 1.75 s, 2.28 s, 2.91 s. 300 dpi costs 30% more for no gain.
OCR_DPI = 200
# Larger pages are rendered at a lower resolution, their type being larger too: this is an A1
# sheet at 200 dpi (4,678 x 6,622 pixels, 31 MB of grey), where a stray 200 x 200-inch page
# box would otherwise take 1.6 GB.
_MAX_RENDER_PIXELS = 31_000_000
LANGUAGE = "vie"
PACKAGES = "tesseract-ocr tesseract-ocr-vie"
# Page segmentation mode 3, Tesseract's own default (automatic layout, no orientation
# detection): it finds columns and blocks on a page; mode 6 (one uniform block) was 10-15%
# faster on our one-column samples at the same accuracy, but would run columns together.
_PAGE_SEGMENTATION = "3"
# A dense A4 page at 200 dpi takes 1.3-1.9 s of CPU, and 8-12 s on the 2-core build machine
# while other jobs held both cores; 10 times that leaves room for a slower, busier machine,
# yet a page that hangs cannot stall a build.
_TIMEOUT_S = 120
# Tesseract's OpenMP threads spin while they wait for a core: on the 2-core build machine with
# other jobs running (load average 4-6) a page took 8-16 s with its default threads, 2-4 s with one.
_ENVIRONMENT = {"OMP_THREAD_LIMIT": "1"}
# Pages OCRed at once, each by a one-thread Tesseract: one per core of the 2-core build
# machine. With the cores busy (load average 7) 4 pages took 13 s with 1 worker or 2, so the
# second worker costs nothing there, and on idle cores it reads a second page meanwhile.
_WORKERS = 2
_LIST_TIMEOUT_S = 30  # `tesseract --list-langs` answers in about 20 ms
_BLANK_LINES = re.compile(r"\n{3,}")


def find_tesseract(*, name: str) -> str:
    """The path of a `tesseract` that reads Vietnamese; MissingToolError naming the packages if none."""
    path = shutil.which("tesseract")
    if path is None:
        raise MissingToolError(
            f"{name} has scanned pages (images without a text layer), and reading them needs the "
            f"Tesseract OCR program, which is not installed: install it with `apt install {PACKAGES}`"
        )
    try:
        done = subprocess.run(
            [path, "--list-langs"], capture_output=True, timeout=_LIST_TIMEOUT_S, check=True
        )
    except (OSError, subprocess.SubprocessError) as err:
        raise MissingToolError(
            f"{name} has scanned pages, but the Tesseract OCR program at {path} does not run ({err}); "
            f"reinstall it with `apt install --reinstall {PACKAGES}`"
        ) from None
    # one language a line after a header line; on stdout in Tesseract 5, on stderr in some 4.x
    listing = (done.stdout + done.stderr).decode("utf-8", "replace").splitlines()
    languages = [line.strip() for line in listing if line.strip() and not line.startswith("List of")]
    if LANGUAGE not in languages:
        raise MissingToolError(
            f"{name} has scanned pages, and Tesseract OCR is installed without its Vietnamese data "
            f"(it knows {', '.join(languages[-8:]) or 'no language'}): install it with "
            f"`apt install {PACKAGES}`"
        )
    return path


def recognise(image: Image.Image, *, dpi: int, tesseract: str, name: str, page: int) -> str:
    """The text Tesseract reads on `image` (rendered at `dpi`): NFC, one line per line it saw,
    a blank line between the blocks it found. `page` (1-based) only names the page in errors."""
    png = io.BytesIO()
    image.save(png, "PNG", compress_level=1)  # fastest: the bytes only go down a pipe
    command = [tesseract, "stdin", "stdout", "-l", LANGUAGE, "--psm", _PAGE_SEGMENTATION, "--dpi", str(dpi)]
    try:
        done = subprocess.run(
            command,
            input=png.getvalue(),
            capture_output=True,
            timeout=_TIMEOUT_S,
            env=os.environ | _ENVIRONMENT,
        )
    except subprocess.TimeoutExpired:
        raise CorpusError(
            f"{name}: OCR of page {page} took longer than {_TIMEOUT_S} s and was stopped; the machine may "
            "be overloaded, or the page image is unusually large: try again, or split the file"
        ) from None
    except OSError as err:
        raise MissingToolError(
            f"{name}: the Tesseract OCR program could not be started ({err.strerror}); "
            f"reinstall it with `apt install --reinstall {PACKAGES}`"
        ) from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise CorpusError(
            f"{name}: OCR of page {page} failed (tesseract exit {done.returncode}: "
            f"{message[-1] if message else 'no message'}); check the page opens in a PDF viewer, "
            "or re-scan it"
        )
    text = nfc(done.stdout.decode("utf-8", "replace")).replace("\f", "\n")
    text = "\n".join(line.strip() for line in text.splitlines())
    log.debug("%s: page %d OCR read %d characters", name, page, len(text))
    return _BLANK_LINES.sub("\n\n", text).strip()


def is_scan(page: pdfium.PdfPage, *, chars: int) -> bool:
    """Is this page, whose text layer has `chars` visible characters, a scan to read by OCR?"""
    return chars < _SCAN_MAX_CHARS and _image_share(page) >= _SCAN_MIN_IMAGE_SHARE


def _image_share(page: pdfium.PdfPage) -> float:
    """The share of the page that images cover (overlaps counted twice, hence capped at 1)."""
    page_left, page_bottom, page_right, page_top = page.get_bbox()
    area = (page_right - page_left) * (page_top - page_bottom)
    covered = 0.0
    for image in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2):
        try:
            left, bottom, right, top = image.get_bounds()
        except pdfium.PdfiumError:  # an image PDFium cannot place covers nothing we can tell
            continue
        width = min(right, page_right) - max(left, page_left)
        height = min(top, page_top) - max(bottom, page_bottom)
        covered += max(0.0, width) * max(0.0, height)
    return min(1.0, covered / area) if area > 0 else 0.0


def read_scans(
    document: pdfium.PdfDocument,
    scanned: list[int],
    *,
    lock: AbstractContextManager,
    name: str,
    has_text: bool,
) -> dict[int, str]:
    """The OCR text of the scanned pages (0-based), several at once; `lock` guards PDFium.

    Without Tesseract a PDF that is all scans raises MissingToolError; one with typed pages
    too keeps those, and the scans are left empty with a warning naming them.
    """
    numbers = ", ".join(str(i + 1) for i in scanned)
    try:
        tesseract = find_tesseract(name=name)
    except MissingToolError as err:
        if not has_text:
            raise
        log.warning("%s: scanned pages %s were left out: %s", name, numbers, err)
        return {}
    log.info("%s: reading scanned pages %s by OCR", name, numbers)
    texts: dict[int, str] = {}
    running: deque[tuple[int, Future[str]]] = deque()
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        for index in scanned:
            if len(running) > _WORKERS:  # only a few rendered pages in memory at a time
                done, future = running.popleft()
                texts[done] = future.result()
            with lock:
                image, dpi = _render(document, index, name=name)
            future = pool.submit(recognise, image, dpi=dpi, tesseract=tesseract, name=name, page=index + 1)
            running.append((index, future))
        for index, future in running:
            texts[index] = future.result()
    return texts


def _render(document: pdfium.PdfDocument, index: int, *, name: str) -> tuple[Image.Image, int]:
    """The page as a grey image for OCR, and its resolution in dpi."""
    try:
        page = document[index]
        width, height = page.get_size()
        dpi = min(OCR_DPI, int(72 * (_MAX_RENDER_PIXELS / max(width * height, 1.0)) ** 0.5))
        bitmap = page.render(scale=dpi / 72, grayscale=True)
        image = bitmap.to_pil().convert("L")  # a copy: the bitmap's memory is PDFium's
        bitmap.close()
        page.close()
    except pdfium.PdfiumError as err:
        raise CorpusError(
            f"{name}: scanned page {index + 1} cannot be drawn for OCR ({err}); the file is damaged: "
            "open it in a PDF viewer and save or print it to a new PDF"
        ) from None
    return image, dpi
