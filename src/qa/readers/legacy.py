"""Legacy Word .doc reader (Word 97-2003), and text typed in legacy Vietnamese fonts.

A .doc is converted by antiword (`antiword -m UTF-8.txt -w 0`: UTF-8 out, no wrapping)
when it is installed, else by LibreOffice headless; antiword reads Word's Unicode text
and writes Vietnamese correctly. What a user saved as ".doc" is often something else:
a .docx, an RTF or a web page renamed, read here by what they really are.

Before Unicode, Vietnamese was typed in fonts that draw Vietnamese letters in place of
Western ones (TCVN3 ".VnTime", "VNI-Times"); such text reaches us as "Céng hoµ" or
"Coäng hoaø". `fix_legacy_fonts` reads it back with qa.charset, for .doc and .docx alike.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..charset import decode
from ..errors import CorpusError, MissingToolError
from ..text import nfc
from . import Extracted

log = logging.getLogger(__name__)

# Seconds a converter may run on one file. Measured here on a 1 MB .doc of 3,000 paragraphs
# and 30 tables: antiword 0.1 s, LibreOffice 4.7 s (starting with a fresh profile). 120 s
# leaves room for a far bigger file on a busy machine, yet stops a converter that hangs.
CONVERT_TIMEOUT = 120

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"
_HTML_START = re.compile(rb"^\s*(?:<!doctype html|<html|<\?xml[^>]*>\s*<html|<head|<body)", re.IGNORECASE)
_NOT_TEXT = {"[pic]"}  # antiword's mark where a picture was
# LibreOffice input filters to try, in order. Named, so that a file that is not what it
# should be fails to load instead of being imported as plain text (garbage).
_WORD = ("MS Word 97", "MS Word 95", "MS WinWord 6.0")
_RTF = ("Rich Text Format",)

# A line of antiword's table: cells between "|" and padded to the column's width.
_TABLE_LINE = re.compile(r"^\|.*\|$")

# Latin-1 and Windows-1252 letters Vietnamese never writes, but legacy fonts' text shows
# ("Céng hoµ", "ng­êi", "Coäng hoaø"): a line without one is left alone, so "Tôi là"
# is never re-read. Symbols real text uses (© ® ° ± « » § ² ³ ½ ×) are not among them.
_LEGACY_HINT = re.compile("[¡¢£¤¥¦¨ª¬\u00ad¯´µ¶¸¹º¿ÄÅÆÇËÎÏÐÑÖØÛÜÞßäåæçëîïðñöøûüþÿŠŒŽšœžŸƒˆ˜‹›†‡‰]")
# Each character back to the byte the legacy font drew it for: Windows-1252, and the
# control characters Word keeps for the five bytes Windows-1252 leaves undefined.
_BYTE = {bytes([b]).decode("cp1252", "ignore") or chr(b): b for b in range(0x80, 0x100)}
_LEGACY_ENCODINGS = ("tcvn3", "vni")


def read_doc(data: bytes, *, name: str) -> Extracted:
    """The text of a Word 97-2003 file (or of what a file named .doc really is), one line per paragraph."""
    if data.startswith(_ZIP_MAGIC):
        from .docx import read_docx

        log.info("%s is a Word .docx file named .doc; reading it as .docx", name)
        return read_docx(data, name=name)
    if _HTML_START.match(data[:1024].removeprefix(b"\xef\xbb\xbf")):
        from .html import read_html

        log.info("%s is a web page saved as .doc; reading it as HTML", name)
        return read_html(data, name=name)
    if data.startswith(b"{\\rtf"):
        return _extracted(_libreoffice(data, name, _RTF, what="an RTF file saved as .doc"), name)
    if not data.startswith(_OLE_MAGIC):
        raise CorpusError(
            f"{name} is not a Word .doc file (it may be damaged or renamed); "
            "open it in Word and save it again as .doc or .docx"
        )
    if shutil.which("antiword") and (blocks := _antiword(data, name, fallback=bool(_soffice()))) is not None:
        return _extracted(blocks, name)
    return _extracted(_libreoffice(data, name, _WORD, what="a Word 97-2003 .doc file"), name)


def fix_legacy_fonts(blocks: list[str], *, name: str) -> list[str]:
    """`blocks` with the lines typed in a TCVN3 or VNI font read back as Vietnamese.

    The candidate lines (a letter Vietnamese never writes, every character a legacy
    font's byte) are decoded together, so one decision is made on the whole document's
    evidence; Western text (German "für", French "ça") keeps its reading.
    """
    lines = [line.split("\n") for line in blocks]
    flat = [line for block in lines for line in block]
    raw = {i: _bytes(line) for i, line in enumerate(flat) if _LEGACY_HINT.search(line)}
    candidates = [i for i, data in raw.items() if data is not None]
    if not candidates:
        return blocks
    try:
        decoded = decode(b"\n".join(filter(None, raw.values())), name=f"{name} (legacy font)")
    except CorpusError:
        return blocks
    read = decoded.text.split("\n")
    if decoded.encoding not in _LEGACY_ENCODINGS or len(read) != len(candidates):
        return blocks
    log.info("%s: %d lines typed in a %s font read as Vietnamese", name, len(candidates), decoded.encoding)
    flat = list(flat)
    for i, line in zip(candidates, read):
        flat[i] = line
    fixed, at = [], 0
    for block in lines:
        fixed.append("\n".join(flat[at : at + len(block)]))
        at += len(block)
    return fixed


def _bytes(line: str) -> bytes | None:
    """The bytes a legacy font drew `line` from, or None for Unicode text no font byte stands for."""
    out = bytearray()
    for c in line:
        byte = ord(c) if c < "\x80" else _BYTE.get(c)
        if byte is None:
            return None
        out.append(byte)
    return bytes(out)


def _antiword(data: bytes, name: str, *, fallback: bool) -> list[str] | None:
    """The blocks antiword reads; None when it cannot but LibreOffice may (`fallback`).

    antiword cannot read every Word file (one whose text stream is under 4 KiB, as
    LibreOffice writes small files); a file that is no Word document at all fails for good.
    """
    with tempfile.TemporaryDirectory(prefix="qa-doc-") as tmp:
        path = Path(tmp) / "document.doc"
        path.write_bytes(data)
        done = _run(["antiword", "-m", "UTF-8.txt", "-w", "0", str(path)], name, program="antiword")
    if done.returncode == 0:
        return _antiword_text(done.stdout.decode("utf-8", "replace"))
    reason = done.stderr.decode("utf-8", "replace").replace(str(path), name).strip()
    if fallback and "not a Word Document" not in reason:
        log.info("%s: antiword cannot read it (%s); trying LibreOffice", name, reason)
        return None
    raise CorpusError(
        f"antiword cannot read {name} ({reason or f'exit status {done.returncode}'}); "
        "open it in Word or LibreOffice and save it as .docx"
    )


def _antiword_text(output: str) -> list[str]:
    """Blocks of antiword's output: paragraphs, and tables with their rows put back together."""
    blocks: list[str] = []
    table: list[list[str]] = []
    previous: list[str] = []
    for raw in output.splitlines():
        line = raw.rstrip()
        if _TABLE_LINE.match(line):
            cells = line[1:-1].split("|")
            if table and _continues(previous, cells):
                table[-1] = [a + (" " + b.strip() if b.strip() else "") for a, b in zip(table[-1], cells)]
            else:
                table.append([c.strip() for c in cells])
            previous = cells
            continue
        blocks += _rows(table)
        table, previous = [], []
        if line.strip() and line.strip() not in _NOT_TEXT:
            blocks.append(line.strip())
    return blocks + _rows(table)


def _continues(previous: list[str], cells: list[str]) -> bool:
    """Is this table line the rest of the previous one, whose cells antiword wrapped?

    antiword wraps a long cell onto more lines of the same layout. A cell was wrapped
    when its next word would not have fit on its line; any other text starts a new row.
    """
    if [len(c) for c in cells] != [len(c) for c in previous] or not any(c.strip() for c in cells):
        return False
    for before, after in zip(previous, cells):
        word = after.split()[0] if after.strip() else ""
        if word and (not before.strip() or len(before.rstrip()) + 1 + len(word) <= len(before)):
            return False
    return True


def _rows(table: list[list[str]]) -> list[str]:
    lines = [" | ".join(" ".join(c.split()) for c in row if c.strip()) for row in table]
    return ["\n".join(line for line in lines if line)] if any(lines) else []


def _soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def _libreoffice(data: bytes, name: str, filters: tuple[str, ...], *, what: str) -> list[str]:
    program = _soffice()
    if program is None:
        if shutil.which("antiword"):  # which cannot read this one
            needs = "LibreOffice, which is not installed"
        else:
            needs = "antiword or LibreOffice, and neither is installed"
        raise MissingToolError(
            f"{name} is {what}; reading it needs {needs}: "
            "install the Debian package antiword (apt install antiword) for .doc files, or "
            "libreoffice-writer-nogui (apt install libreoffice-writer-nogui) for RTF too; "
            "or open the file in Word and save it as .docx"
        )
    with tempfile.TemporaryDirectory(prefix="qa-doc-") as tmp:
        source, out = Path(tmp) / "document", Path(tmp) / "out"
        source.write_bytes(data)
        for infilter in filters:
            command = [
                program,
                "--headless",
                "--norestore",
                # a profile of its own: two conversions at once never share (and lock) one
                f"-env:UserInstallation={(Path(tmp) / 'profile').as_uri()}",
                f"--infilter={infilter}",
                "--convert-to",
                "txt:Text (encoded):UTF8",
                "--outdir",
                str(out),
                str(source),
            ]
            _run(command, name, program="LibreOffice")
            if (result := out / "document.txt").is_file():
                text = result.read_bytes().decode("utf-8", "replace").removeprefix("\ufeff")
                return [line.strip() for line in text.splitlines() if line.strip()]
    raise CorpusError(
        f"LibreOffice cannot read {name} as {what} (it may be damaged or password-protected); "
        "open it in Word and save it again as .docx"
    )


def _run(command: list[str], name: str, *, program: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(command, capture_output=True, timeout=CONVERT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise CorpusError(
            f"{program} took more than {CONVERT_TIMEOUT} s on {name} and was stopped; "
            "open it in Word and save it as .docx"
        ) from None
    except OSError as err:
        raise CorpusError(f"cannot run {program} on {name}: {err.strerror}") from None


def _extracted(blocks: list[str], name: str) -> Extracted:
    text = "\n\n".join(fix_legacy_fonts([nfc(b) for b in blocks], name=name))
    return Extracted(text, "doc", paragraphs=True)
