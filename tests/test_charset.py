import codecs
import re
import shutil
import subprocess
import unicodedata

import pytest
from conftest import SEEDS
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.charset import TCVN3, VNI, Decoded, decode, is_syllable
from qa.errors import CorpusError

# --- reference encoders, written from the standards' own layouts (not from qa.charset) -----

TONES = "\u0300\u0309\u0303\u0301\u0323"  # grave, hook, tilde, acute, dot below: TCVN's order
VOWELS = "aăâeêioôơuưy"

# TCVN 5712:1993 VN3 ("ABC"): bytes of each vowel's toned letters, in TCVN's tone order.
ABC_TONED = dict(
    zip(
        VOWELS,
        (
            "B5 B6 B7 B8 B9",
            "BB BC BD BE C6",
            "C7 C8 C9 CA CB",
            "CC CE CF D0 D1",
            "D2 D3 D4 D5 D6",
            "D7 D8 DC DD DE",
            "DF E1 E2 E3 E4",
            "E5 E6 E7 E8 E9",
            "EA EB EC ED EE",
            "EF F1 F2 F3 F4",
            "F5 F6 F7 F8 F9",
            "FA FB FC FD FE",
        ),
    )
)
ABC = dict(zip("ĂÂÊÔƠƯĐăâêôơưđ", range(0xA1, 0xAF)))
for vowel, codes in ABC_TONED.items():
    for tone, code in zip(TONES, codes.split()):
        ABC[unicodedata.normalize("NFC", vowel + tone)] = int(code, 16)

# VNI-Windows as its keyboard tables list it: plain, acute, grave, hook, tilde, dot below.
VNI_ROWS = {
    "a": "a aù aø aû aõ aï",
    "ă": "aê aé aè aú aü aë",
    "â": "aâ aá aà aå aã aä",
    "e": "e eù eø eû eõ eï",
    "ê": "eâ eá eà eå eã eä",
    "i": "i í ì æ ó ò",
    "o": "o où oø oû oõ oï",
    "ô": "oâ oá oà oå oã oä",
    "ơ": "ô ôù ôø ôû ôõ ôï",
    "u": "u uù uø uû uõ uï",
    "ư": "ö öù öø öû öõ öï",
    "y": "y yù yø yû yõ î",
}
VNI_OF = {"đ": "ñ", "Đ": "Ñ"}
for vowel, row in VNI_ROWS.items():
    for tone, code in zip(["", *"\u0301\u0300\u0309\u0303\u0323"], row.split()):
        letter = unicodedata.normalize("NFC", vowel + tone)
        VNI_OF[letter], VNI_OF[letter.upper()] = code, code.upper()


def nfc(text):
    return unicodedata.normalize("NFC", text)


def to_abc(text):
    """As ABC stored it: capital toned letters only exist as their lowercase codes (.VnTimeH)."""
    out = bytearray()
    for char in nfc(text):
        code = ABC.get(char, ABC.get(char.lower()))
        out += bytes([code]) if code else char.encode("cp1252")
    return bytes(out)


def to_vni(text):
    return "".join(VNI_OF.get(c, c) for c in nfc(text)).encode("cp1252")


def to_cp1258(text):
    """As Windows writes it: precomposed where the code page has the letter, else base + tone."""
    out = bytearray()
    for char in nfc(text):
        try:
            out += char.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", char)
            base = nfc("".join(p for p in parts if p not in TONES))
            out += (base + "".join(p for p in parts if p in TONES)).encode("cp1258")
    return bytes(out)


def iconv(data, source, target):
    return subprocess.run(["iconv", "-f", source, "-t", target], input=data, capture_output=True, check=True)


def glibc_has_tcvn():
    return shutil.which("iconv") is not None and "TCVN5712-1" in subprocess.getoutput("iconv -l")


# --- texts -----------------------------------------------------------------------------------

LETTER = """CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM
Độc lập - Tự do - Hạnh phúc

Hà Nội, ngày 15 tháng 3 năm 2024

Kính gửi: các phòng, ban chuyên môn thuộc quận

Thực hiện kế hoạch công tác năm 2024, để chuẩn bị cho hội nghị tổng kết, đề nghị các đơn vị
báo cáo kết quả thực hiện nhiệm vụ quý I, nêu rõ những khó khăn, vướng mắc và kiến nghị,
gửi về văn phòng trước ngày 25 tháng 3 năm 2024. Trân trọng cảm ơn sự phối hợp của quý cơ quan.
"""

LAW = """Điều 5. Nguyên tắc tiếp công dân
1. Việc tiếp công dân phải được tiến hành tại nơi tiếp công dân của cơ quan, tổ chức, đơn vị.
2. Tôn trọng, tạo điều kiện thuận lợi để công dân thực hiện việc khiếu nại, tố cáo, kiến nghị,
phản ánh theo quy định của pháp luật.
3. Bảo đảm công khai, dân chủ, khách quan, kịp thời; giữ bí mật và bảo đảm an toàn cho người
tố cáo theo quy định của pháp luật; bảo đảm khách quan, bình đẳng, không phân biệt đối xử.
"""

LIST = """Những việc cần làm ngay trong tuần:
- rà soát danh sách hộ nghèo, hộ cận nghèo…
- kiểm tra hệ thống thoát nước trước mùa mưa bão…
- tuyên truyền về phòng chống dịch bệnh, giữ gìn vệ sinh môi trường…
- tổng hợp ý kiến đóng góp của nhân dân về dự thảo quy hoạch khu dân cư…
"""

# every one of the 134 letters with diacritics, in syllables: lower case, then an all-caps line
EVERY_LETTER_LOWER = (
    " ".join(nfc("b" + v + t + ("n" if v in "ăâ" else "")) for v in VOWELS for t in TONES)
    + " ăn ân ê ô ơ ư đi"
)
EVERY_LETTER = EVERY_LETTER_LOWER + "\n" + EVERY_LETTER_LOWER.upper() + "\n"

VIETNAMESE = {"letter": LETTER, "law": LAW, "list": LIST, "every-letter": EVERY_LETTER}

WESTERN = {
    "french": "L'été dernier, nous sommes allés à la mer où il faisait très beau. Déjà, les enfants "
    "préféraient jouer près de l'eau plutôt que de visiter le musée ; c'était leur première fois.",
    "german": "Die Mädchen und Jungen aßen gestern Äpfel im großen Garten. Später führten sie "
    "ihre Übungen für die Prüfung durch, während draußen der Regen fiel.",
    "spanish": "El niño pequeño comió una manzana en el jardín. ¿Dónde está la canción que "
    "escuchamos el año pasado? Mañana iremos juntos a la estación.",
    "portuguese": "As informações sobre a eleição não estão disponíveis. A população pôde votar às "
    "sete horas; é possível que a situação mude.",
    "italian": "Perché la città è così bella? Più tardi andremo là, ma forse è già chiuso.",
    "english": "The café’s naïve owner said “résumé” twice – then left… It cost £5 at 20°C.",
}


def test_tables_cover_every_letter_the_reference_layouts_define():
    letters = {nfc(v + t) for v in VOWELS for t in ["", *TONES]} - set("aeiouy") | {"đ"}
    assert len(letters | {c.upper() for c in letters}) == 134
    assert all(TCVN3[code] == char for char, code in ABC.items())
    assert all(VNI.get(code, code) == char for char, code in VNI_OF.items())


@pytest.mark.skipif(not glibc_has_tcvn(), reason="glibc iconv with TCVN5712-1 is not installed")
def test_tcvn3_table_is_glibcs_tcvn5712_1():
    for code, char in TCVN3.items():
        assert iconv(bytes([code]), "TCVN5712-1", "UTF-8").stdout.decode() == char, hex(code)


@pytest.mark.skipif(not glibc_has_tcvn(), reason="glibc iconv with TCVN5712-1 is not installed")
@pytest.mark.parametrize("name", ["letter", "law", "every-letter"])
def test_full_tcvn_with_capital_letters_decodes_exactly(name):
    data = iconv(VIETNAMESE[name].encode(), "UTF-8", "TCVN5712-1").stdout
    assert decode(data, name=name) == (nfc(VIETNAMESE[name]), "tcvn3")


@pytest.mark.parametrize("name", sorted(VIETNAMESE))
@pytest.mark.parametrize(
    ("encoder", "encoding"), [(to_cp1258, "windows-1258"), (to_abc, "tcvn3"), (to_vni, "vni")]
)
def test_legacy_vietnamese_decodes_to_the_exact_text(name, encoder, encoding):
    data = encoder(VIETNAMESE[name])
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert decode(data, name=name) == (nfc(VIETNAMESE[name]), encoding)


@pytest.mark.parametrize("path", sorted(SEEDS.glob("*.txt")), ids=lambda p: p.name)
def test_seed_pages_in_every_legacy_encoding_are_recognised(path):
    text = path.read_text(encoding="utf-8")
    assert decode(to_cp1258(text), name=path.name) == (nfc(text), "windows-1258")
    assert decode(to_vni(text), name=path.name) == (nfc(text), "vni")
    # ABC cannot store a capital toned letter in running text ("Ủy ban"): case is lost there only
    abc = decode(to_abc(text), name=path.name)
    assert abc.encoding == "tcvn3" and abc.text.lower() == nfc(text).lower()


def test_handwritten_legacy_bytes():
    assert decode("Coäng hoøa xaõ hoäi chuû nghóa Vieät Nam".encode("cp1252"), name="v") == (
        "Cộng hòa xã hội chủ nghĩa Việt Nam",
        "vni",
    )
    assert decode(b"\xd1IE\xc0U 5. \xd1ie\xe0u 6", name="v") == ("ĐIỀU 5. Điều 6", "vni")
    assert decode(b"H\xb5 N\xe9i, th\xb8ng 3", name="t") == ("Hà Nội, tháng 3", "tcvn3")
    assert decode(b"VI\xd6T NAM", name="t").text == "VIỆT NAM"  # .VnTimeH capitals
    assert decode(b"Vi\xea\xf2t Nam", name="w") == ("Việt Nam", "windows-1258")


def test_every_word_of_the_vietnamese_texts_is_a_syllable_in_any_case():
    words = [w for text in VIETNAMESE.values() for w in re.findall(r"[^\W\d_]+", text)]
    assert len(words) > 300
    assert [w for w in words if not (is_syllable(w) and is_syllable(w.upper()))] == []


@pytest.mark.parametrize(
    "word",
    [
        "tion",  # "na-tion": English, though it looks like one
        "informa",
        "conference",
        "tếxã",  # two syllables: "kinh tế-xã hội" keeps its hyphen
        "tàì",  # two tones
        "cãt",  # a syllable ending in t takes only the acute or the dot below
        "ngh",  # no vowel
        "hơa",  # a rhyme Vietnamese does not have
    ],
)
def test_words_that_are_no_vietnamese_syllable(word):
    assert not is_syllable(word)


@pytest.mark.parametrize("name", sorted(WESTERN))
def test_western_text_is_read_as_windows_1252_not_as_vietnamese(name):
    assert decode(WESTERN[name].encode("cp1252"), name=name) == (WESTERN[name], "windows-1252")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", ("", "utf-8")),
        (b"Plain ASCII, nothing else.\n", ("Plain ASCII, nothing else.\n", "utf-8")),
        (LAW.encode(), (LAW, "utf-8")),
        (codecs.BOM_UTF8 + LAW.encode(), (LAW, "utf-8-sig")),
        (nfc(LAW).encode("utf-16"), (LAW, "utf-16")),
        (codecs.BOM_UTF16_BE + nfc(LAW).encode("utf-16-be"), (LAW, "utf-16")),
        (nfc(LAW).encode("utf-32"), (LAW, "utf-32")),
        (unicodedata.normalize("NFD", LAW).encode(), (nfc(LAW), "utf-8")),
    ],
)
def test_unicode_files(data, expected):
    assert decode(data, name="doc.txt") == Decoded(*expected)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xfe" + "Hà Nội".encode("utf-16-le") + b"\x00", "odd number of bytes"),
        (b"\xff\xfe\x00\xd8a\x00", "surrogate"),
        (b"\xff\xfe" + "ab".encode("utf-16-le") + b"\x00\xdc", "illegal encoding"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", "NUL"),
        ("chữ và số\x00\x00".encode(), "NUL"),
        (LAW.encode()[:-60] + b"\xe1" + LAW.encode()[-60:], "UTF-8 with invalid bytes"),
        (bytes(range(0x80, 0x100)) * 8, "does not read as Vietnamese"),
        ("Привет, мир".encode("cp1251"), "does not read as Vietnamese"),
        ("Zażółć gęślą jaźń. Łódź leży w środkowej Polsce.".encode("cp1250"), "does not read as Vietnamese"),
    ],
)
def test_unreadable_files_are_corpus_errors_naming_the_file_and_the_fix(data, reason):
    with pytest.raises(CorpusError) as err:
        decode(data, name="old/report.txt")
    message = str(err.value)
    assert "old/report.txt" in message and reason in message
    assert "UTF-8" in message or "remove it" in message


def test_unknown_encoding_error_suggests_iconv():
    with pytest.raises(CorpusError, match=r"iconv -f WINDOWS-1258 -t UTF-8 x\.txt"):
        decode("Привет, мир".encode("cp1251"), name="x.txt")


def _readable_or_corpus_error(data):
    try:
        result = decode(data, name="f")
    except CorpusError as err:
        assert "f" in str(err)
        return None
    assert result.text.encode("utf-8").decode("utf-8") == result.text
    assert unicodedata.is_normalized("NFC", result.text)
    return result


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_in_utf8_or_utf16_comes_back_or_is_a_corpus_error(text):
    clean = not any("\ud800" <= c <= "\udfff" or c == "\x00" for c in text)
    for codec, expected in (("utf-8", text.removeprefix("\ufeff")), ("utf-16", text)):
        result = _readable_or_corpus_error(text.encode(codec, "surrogatepass"))
        if clean:
            assert result is not None and result.text == nfc(expected)


@settings(max_examples=300, deadline=None)
@given(st.binary())
def test_any_bytes_decode_or_are_a_corpus_error(data):
    _readable_or_corpus_error(data)
