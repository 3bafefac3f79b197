"""An encrypted PDF written by the tests: RC4 with a user password, or only an owner password
that forbids copying, as many published documents are."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EncryptedPdf:
    path: Path
    text: str  # what the page says
    user_password: str  # "" when only an owner password restricts copying and printing


def make_encrypted_pdf(path: str | Path, *, user_password: str) -> EncryptedPdf:
    """A one-page PDF encrypted with RC4 (PDF standard security handler, revision 2).

    With a user password it cannot be opened without it; with `user_password=""` anyone can
    open it and only the owner password forbids copying, as many published documents do.
    """
    path = Path(path)
    text = "Tai lieu noi bo: ke hoach kiem tra nam 2025"  # Helvetica, unembedded: ASCII only
    path.write_bytes(_encrypted(text, user=user_password.encode(), owner=b"chu-so-huu"))
    return EncryptedPdf(path, text, user_password)


_PADDING = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")
_NO_COPYING = -20  # permission bits: everything but copying text (bit 5)


def _encrypted(text: str, *, user: bytes, owner: bytes) -> bytes:
    """A one-page PDF encrypted as PDF 1.7 section 7.6.3 (algorithms 1-4) describes, 40-bit RC4."""
    file_id = hashlib.md5(text.encode()).digest()
    owner_key = hashlib.md5((owner + _PADDING)[:32]).digest()[:5]
    o_value = _rc4(owner_key, (user + _PADDING)[:32])
    key = hashlib.md5(
        (user + _PADDING)[:32] + o_value + _NO_COPYING.to_bytes(4, "little", signed=True) + file_id
    )
    key = key.digest()[:5]
    u_value = _rc4(key, _PADDING)
    content = _rc4(
        hashlib.md5(key + (5).to_bytes(3, "little") + b"\0\0").digest()[:10],
        f"BT /F1 14 Tf 72 760 Td ({text}) Tj ET".encode(),
    )
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        4: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        5: b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        6: b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P %d >>"
        % (o_value.hex().encode(), u_value.hex().encode(), _NO_COPYING),
    }
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number, body in objects.items():
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 7\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % offsets[n] for n in objects)
    ids = file_id.hex().encode()
    out += b"trailer\n<< /Size 7 /Root 1 0 R /Encrypt 6 0 R /ID [<%s> <%s>] >>\n" % (ids, ids)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _rc4(key: bytes, data: bytes) -> bytes:
    state, j = list(range(256)), 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out, i, j = bytearray(), 0, 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)
