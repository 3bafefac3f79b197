import unicodedata

from qa.text import (
    clean,
    count_words,
    fold_accents,
    fold_tones,
    has_diacritics,
    match_key,
    segmented_words,
    syllables,
)


def test_old_and_new_tone_placement_give_one_key():
    assert fold_tones("hoà bình") == fold_tones("hòa bình") == "hòa bình"
    assert fold_tones("thuỷ lợi") == fold_tones("thủy lợi")
    assert match_key("Uỷ ban") == match_key("Ủy ban") == "ủy ban"
    assert fold_tones("khoẻ") == fold_tones("khỏe")


def test_tone_folding_leaves_closed_syllables_and_qu_alone():
    assert fold_tones("hoàn thành") == "hoàn thành"
    assert fold_tones("quý báu") == "quý báu"
    assert fold_tones("toán học") == "toán học"


def test_nfd_input_gives_the_nfc_key():
    nfd = unicodedata.normalize("NFD", "Đối ngoại nhân dân")
    assert nfd != "Đối ngoại nhân dân"
    assert match_key(nfd) == match_key("Đối ngoại nhân dân") == "đối ngoại nhân dân"


def test_accent_folding_matches_what_people_type():
    assert fold_accents("Đối ngoại nhân dân") == "Doi ngoai nhan dan"
    assert not has_diacritics("doi ngoai nhan dan")
    assert has_diacritics("đối ngoại")


def test_clean_strips_markdown_and_line_breaks():
    text = "**Tuyên truyền**, phổ biến\nquán triệt *Chỉ thị*"
    assert clean(text) == "Tuyên truyền, phổ biến quán triệt Chỉ thị"


def test_syllables_and_pyvi_words():
    assert syllables("Hà Nội, Thủ đô!") == ["hà", "nội", "thủ", "đô"]
    assert "đối_ngoại" in segmented_words("công tác đối ngoại nhân dân")
    assert count_words("công tác đối ngoại nhân dân") < len(syllables("công tác đối ngoại nhân dân"))
