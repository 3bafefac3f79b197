"""The verdict on corpora written for the test: a regulation of articles, an official letter, a
news item. Answered questions highlight the value asked for; a question whose topic is there
but whose detail is not says so in Vietnamese and keeps the closest passages; an unrelated
question finds nothing."""

import pytest

from qa import Retriever, Settings
from qa.answer import answer
from qa.question import asked_kinds, has_term, read_question, specific_terms, text_keys

REGULATION = "\n\n".join(
    [
        "# Quy chế quản lý và sử dụng xe ô tô công vụ của Sở Tài chính tỉnh Bình Định",
        "## Điều 1. Phạm vi điều chỉnh",
        (
            "Quy chế này quy định việc quản lý, bố trí và sử dụng xe ô tô phục vụ công tác chung của "
            "Sở Tài chính tỉnh Bình Định."
        ),
        "## Điều 2. Đối tượng được bố trí xe",
        (
            "Giám đốc Sở được bố trí xe ô tô đưa đón từ nơi ở đến nơi làm việc. Phó Giám đốc Sở được "
            "bố trí xe khi đi công tác ngoài tỉnh."
        ),
        "## Điều 3. Đăng ký sử dụng xe",
        (
            "Phòng, đơn vị có nhu cầu sử dụng xe phải đăng ký với Văn phòng Sở trước ít nhất 2 ngày "
            "làm việc. Trường hợp đột xuất do Giám đốc Sở quyết định."
        ),
        "## Điều 4. Định mức nhiên liệu",
        (
            "Định mức tiêu hao nhiên liệu của xe 7 chỗ là 12 lít xăng cho 100 km; xe 16 chỗ là 16 lít "
            "dầu cho 100 km."
        ),
        "## Điều 5. Hiệu lực thi hành",
        (
            "Quy chế này có hiệu lực kể từ ngày 01/3/2024 và thay thế Quy chế ban hành kèm theo Quyết "
            "định số 112/QĐ-STC ngày 15/6/2019."
        ),
    ]
)
LETTER = "\n\n".join(
    [
        "ỦY BAN NHÂN DÂN HUYỆN PHÙ CÁT",
        "Số: 458/UBND-VP\nV/v tổ chức Hội nghị tổng kết công tác dân vận năm 2023",
        "Phù Cát, ngày 12 tháng 12 năm 2023",
        "Kính gửi: Các phòng, ban, ngành thuộc huyện; Ủy ban nhân dân các xã, thị trấn.",
        (
            "Thực hiện Kế hoạch số 27/KH-HU của Huyện ủy, Ủy ban nhân dân huyện tổ chức Hội nghị tổng "
            "kết công tác dân vận năm 2023 vào lúc 7 giờ 30 phút ngày 20/12/2023 tại Hội trường Huyện "
            "ủy. Hội nghị có 150 đại biểu tham dự, gồm lãnh đạo các phòng, ban và Chủ tịch Ủy ban "
            "nhân dân các xã, thị trấn. Đề nghị các đơn vị gửi báo cáo tổng kết về Văn phòng Ủy ban "
            "nhân dân huyện trước ngày 15/12/2023 để tổng hợp."
        ),
        "KT. CHỦ TỊCH\nPHÓ CHỦ TỊCH\nTrần Văn Bình",
    ]
)
NEWS = "\n\n".join(
    [
        "Trường Tiểu học Cát Hanh khánh thành thư viện mới",
        (
            "Sáng 5/9/2023, Trường Tiểu học Cát Hanh (huyện Phù Cát) khánh thành thư viện thân thiện "
            "với hơn 3.000 đầu sách do Quỹ Hỗ trợ giáo dục Sao Mai tài trợ. Thư viện rộng 120 mét "
            "vuông, mở cửa cho học sinh đọc sách vào giờ ra chơi và chiều thứ Bảy. Hiệu trưởng Nguyễn "
            "Thị Hoa cho biết nhà trường sẽ tổ chức ngày hội đọc sách mỗi học kỳ."
        ),
    ]
)


@pytest.fixture(scope="module")
def office(tmp_path_factory, embedder) -> Retriever:
    corpus = tmp_path_factory.mktemp("office") / "corpus"
    corpus.mkdir()
    (corpus / "quy-che-xe.md").write_text(REGULATION, encoding="utf-8")
    (corpus / "cong-van-458.txt").write_text(LETTER, encoding="utf-8")
    (corpus / "tin-thu-vien.txt").write_text(NEWS, encoding="utf-8")
    return Retriever.build(corpus, corpus.parent / "index", settings=Settings(), embedder=embedder)


@pytest.mark.parametrize(
    ("question", "value"),
    [
        ("Phòng, đơn vị phải đăng ký sử dụng xe trước bao nhiêu ngày?", "2 ngày làm việc"),
        ("Quy chế sử dụng xe ô tô công vụ có hiệu lực từ ngày nào?", "01/3/2024"),
        # the letter's heading block also holds numbers: the count of delegates must be highlighted
        ("Hội nghị tổng kết công tác dân vận năm 2023 có bao nhiêu đại biểu tham dự?", "150 đại biểu"),
        ("Thu vien truong Cat Hanh co bao nhieu dau sach?", "3.000 đầu sách"),
    ],
)
def test_answered_question_highlights_the_value(office, question, value):
    result = office.ask(question)
    assert result.verdict == "answered" and result.found and result.message == ""
    assert value in " ".join(s.text for s in result.sentences)


@pytest.mark.parametrize(
    ("question", "missing"),
    [
        ("Hội nghị tổng kết công tác dân vận có bao nhiêu khách mời là doanh nghiệp?", "số khách mời"),
        ("Kinh phí xây dựng thư viện Trường Tiểu học Cát Hanh là bao nhiêu?", "kinh phí xây dựng thư viện"),
        ("Công văn 459/UBND-VP ban hành ngày nào?", "«459/UBND-VP»"),
    ],
)
def test_missing_detail_says_what_is_missing_and_keeps_the_passages(office, question, missing):
    result = office.ask(question, k=3)
    assert result.verdict == "missing_detail" and not result.found
    assert result.sentences == ()
    assert result.message.startswith("Tài liệu có nói về ")
    assert f"nhưng không nêu {missing}" in result.message
    assert len(result.passages) == 3  # the closest passages, for the reader to check


@pytest.mark.parametrize(
    "question",
    [
        "Công thức nấu phở bò Nam Định gồm những gia vị gì?",
        "Lãi suất tiết kiệm kỳ hạn 12 tháng hiện nay là bao nhiêu?",
    ],
)
def test_unrelated_question_finds_nothing(office, question):
    result = office.ask(question)
    assert result.verdict == "not_found" and not result.found
    assert result.message.startswith("Không tìm thấy")
    assert result.passages


def test_json_form_carries_the_verdict(office):
    answered = office.ask("Giám đốc Sở được bố trí xe như thế nào?").to_dict()
    missing = office.ask("Kinh phí xây dựng thư viện Trường Tiểu học Cát Hanh là bao nhiêu?").to_dict()
    assert answered["verdict"] == "answered" and answered["found"] and answered["answer"]
    assert missing["verdict"] == "missing_detail" and not missing["found"] and missing["answer"] == []
    assert 0 <= missing["confidence"] < answered["confidence"] <= 1
    assert "kinh phí" in missing["message"] and missing["passages"]


def test_reference_point_and_confidence_set_how_readily_it_answers(office):
    question = "Giám đốc Sở được bố trí xe như thế nào?"
    vector = office.embed_question(question)
    hits = office.search(question, vector=vector)
    index = office.index
    assert answer(index, question, hits, vector=vector, min_relevance=0.856).found
    assert not answer(index, question, hits, vector=vector, min_relevance=0.99).found
    assert not answer(index, question, hits, vector=vector, min_relevance=0.856, min_confidence=0.999).found


def test_question_phrases_name_the_kind_of_value_asked_for():
    assert asked_kinds("Chỉ thị được ban hành năm nào?") == ("year",)
    assert asked_kinds("Hội nghị có bao nhiêu đại biểu?") == ("number",)
    assert asked_kinds("Ai ký công văn này?") == ("person",)
    assert asked_kinds("chi thi ban hanh ngay nao") == ("date",)


def test_specific_terms_are_numbers_codes_acronyms_names_and_quotes():
    terms = specific_terms('Năm 2023, HAUFO tổ chức "Ngày hội hữu nghị" tại Thừa Thiên Huế ra sao?')
    assert terms == ("Ngày hội hữu nghị", "2023", "HAUFO", "Thừa Thiên Huế")
    assert specific_terms("Theo Chỉ thị 12-CT/TW, ai là nòng cốt?") == ("12-CT/TW",)  # "Theo Chỉ" is no name


def test_specific_terms_are_found_as_written_spelt_out_or_run_together():
    keys = text_keys(
        "Mặt trận Tổ quốc Việt Nam tham gia. Theo dõi Baoquocte.vn, ngày 05/01/2022.", folded=False
    )
    assert has_term("MTTQ", keys, folded=False)  # initials of consecutive words
    assert has_term("Báo Quốc", keys, folded=False)  # letters run together in a web address
    assert has_term("5-1-2022", keys, folded=False)  # "05" is "5"
    assert not has_term("6-1-2022", keys, folded=False)
    assert not has_term("WTO", keys, folded=False)


def test_what_a_question_counts_or_measures(office):
    counted = read_question(office.index, "VUFO có bao nhiêu hội hữu nghị song phương là thành viên?")
    assert counted.counted == "hội hữu nghị song phương"
    assert read_question(office.index, "Hội nghị Trung ương khóa mấy đề ra nhiệm vụ này?").counted is None
    measured = read_question(office.index, "Kinh phí hoạt động năm 2023 của HAUFO là bao nhiêu?")
    assert measured.measured == "Kinh phí hoạt động" and measured.counted is None
