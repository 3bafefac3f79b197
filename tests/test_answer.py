def test_answer_sentence_cites_the_passage_it_comes_from(retriever):
    answer = retriever.ask("Trong đợt khảo sát, Hà Nội đạt chỉ số trung bình bao nhiêu điểm?", k=5)
    assert answer.found
    assert any("80,77 điểm" in s.text for s in answer.sentences)
    for sentence in answer.sentences:
        passage = answer.passages[sentence.rank - 1]
        assert passage.rank == sentence.rank
        assert passage.start <= sentence.start < sentence.end <= passage.end
        assert retriever.document_text(passage.doc_id)[sentence.start : sentence.end] == sentence.text


def test_unaccented_question_gets_the_same_answer(retriever):
    answer = retriever.ask("ha noi dat chi so trung binh bao nhieu diem khao sat", k=5)
    assert answer.found and any("80,77 điểm" in s.text for s in answer.sentences)


def test_unrelated_question_says_nothing_found_but_offers_passages(retriever):
    answer = retriever.ask("Công thức nấu phở bò Nam Định gồm những gia vị gì?", k=3)
    assert not answer.found
    assert answer.sentences == ()
    assert len(answer.passages) == 3
    assert answer.relevance < retriever.settings.min_relevance
