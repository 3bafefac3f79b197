"""PDF streams: how far each one unpacks, measured before PDFium reads any.

PDFium inflates a page's whole content stream to read its text, and holds about twice that:
a 12 MB file whose page unpacks to 12 GiB of spaces killed the server, and every build after
it (the file stays in the corpus). So the Flate-compressed streams are inflated here first, in
1 MiB steps and no further than their limit, and a file with one that goes past is refused.
"""

from __future__ import annotations

import re
import zlib

from ..errors import CorpusError

_MIB = 1 << 20
# A page's drawing commands. Measured (peak RSS and time of reading the file, pypdfium2 5): 60 MiB
# of text-drawing commands took 0.98 GB and 29 s, 200 MiB 3.1 GB and 36 s, 1 GiB of spaces 2.2 GB;
# a dense typed page is 20-100 KB, a detailed vector map some MB.
CONTENT_LIMIT = 64 * _MIB
# A picture is unpacked only to be rendered for OCR, at a bounded size (ocr._MAX_RENDER_PIXELS):
# an A3 page scanned at 600 dpi in colour is 209 MB unpacked.
IMAGE_LIMIT = 512 * _MIB
_STREAM = re.compile(rb"(?<!end)stream\r?\n")
_IMAGE = re.compile(rb"/Subtype\s*/Image\b")
_OBJ = re.compile(rb"\bobj\b")
_DICT_MAX = 4096  # bytes looked back from "stream" for the object's dictionary


def check_streams(data: bytes, *, name: str) -> None:
    """Raise `CorpusError` when a stream of `data` unpacks past its limit; others are not judged
    (a stream that is not Flate fails at its first bytes and costs nothing)."""
    view = memoryview(data)
    for match in _STREAM.finditer(data):
        before = data[max(0, match.start() - _DICT_MAX) : match.start()]
        heads = list(_OBJ.finditer(before))
        image = bool(_IMAGE.search(before[heads[-1].end() :] if heads else before))
        limit = IMAGE_LIMIT if image else CONTENT_LIMIT
        if _unpacked(view[match.end() :], limit) > limit:
            what = "a picture" if image else "a page's content"
            raise CorpusError(
                f"{name} holds {what} that unpacks to more than {limit // _MIB} MiB, more than qa reads: "
                "a decompression bomb or a damaged file; print it to a new PDF, or split it"
            )


def _unpacked(stream: memoryview, limit: int) -> int:
    """How many bytes the Flate data at the start of `stream` inflates to, counted up to `limit` + 1."""
    inflater = zlib.decompressobj()
    size, at, pending = 0, 0, b""
    while size <= limit and not inflater.eof:
        if not pending:
            if at >= len(stream):
                break
            pending, at = stream[at : at + _MIB], at + _MIB
        try:
            size += len(inflater.decompress(pending, _MIB))
        except zlib.error:  # not Flate, or damaged: PDFium judges it
            break
        pending = inflater.unconsumed_tail
    return size
