"""The book's paragraphs and the questions about them (chapter 5's search): the
shipped files load and agree; a bad line stops the reader with the file, the line and
the fix."""

from __future__ import annotations

import pytest

from utils.book_qa import (
    QaFormatError,
    data_path,
    load_book_qa,
    read_passages,
    read_questions,
)

PASSAGES = (
    "id\tchapter\ttext\nch01-001\t1\tBERT is an encoder.\nch02-001\t2\tGPT decodes.\n"
)


def write(tmp_path, text, name="file.tsv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_files_load_and_every_answer_is_in_its_passage():
    passages, questions = load_book_qa()
    texts = {p.id: p.text for p in passages}
    assert len(questions) >= 30 and len(passages) > len(questions)
    assert len(texts) == len(passages)  # ids are unique
    assert all(q.answer in texts[q.passage] for q in questions)
    assert {p.chapter for p in passages} == {1, 2, 3, 4}
    assert all("<br" not in p.text for p in passages)  # a page never shows the tag


def test_the_files_ship_with_the_package():
    assert data_path("book_passages.tsv").is_file()
    assert data_path("book_questions.tsv").is_file()


def test_good_files_read_into_named_tuples(tmp_path):
    passages = read_passages(write(tmp_path, PASSAGES))
    assert passages[1].id == "ch02-001" and passages[1].chapter == 2
    questions = read_questions(
        passages,
        write(
            tmp_path, "question\tpassage\tanswer\nWhat is BERT?\tch01-001\tan encoder\n"
        ),
    )
    assert questions[0].passage == "ch01-001" and questions[0].answer == "an encoder"


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "id\ttext\nch01-001\tBERT.\n",
            r"file.tsv:1: the header must be id<TAB>chapter",
        ),
        (PASSAGES + "ch03-001\t3\n", r"file.tsv:4: 2 fields instead of 3"),
        (PASSAGES + "ch03-001\t3\t \n", r"file.tsv:4: the text is empty"),
        (
            PASSAGES + "ch01-001\t1\tAgain.\n",
            r"file.tsv:4: id 'ch01-001' is already used",
        ),
        (PASSAGES + "ch03-001\tthree\tText.\n", r"file.tsv:4: chapter 'three' is not"),
        ("id\tchapter\ttext\n", r"file.tsv: no lines after the header"),
    ],
)
def test_a_bad_passages_line_is_named_with_its_fix(tmp_path, text, message):
    with pytest.raises(QaFormatError, match=message):
        read_passages(write(tmp_path, text))


@pytest.mark.parametrize(
    "line, message",
    [
        (
            "What is BERT?\tch09-001\tan encoder",
            r"file.tsv:2: passage 'ch09-001' is not",
        ),
        (
            "What is BERT?\tch01-001\ta decoder",
            r"file.tsv:2: the answer 'a decoder' is",
        ),
        ("What is BERT?\tch01-001", r"file.tsv:2: 2 fields instead of 3"),
    ],
)
def test_a_bad_question_is_named_with_its_fix(tmp_path, line, message):
    passages = read_passages(write(tmp_path, PASSAGES, "passages.tsv"))
    path = write(tmp_path, f"question\tpassage\tanswer\n{line}\n")
    with pytest.raises(QaFormatError, match=message):
        read_questions(passages, path)


def test_a_repeated_question_is_refused(tmp_path):
    passages = read_passages(write(tmp_path, PASSAGES, "passages.tsv"))
    line = "What is BERT?\tch01-001\tan encoder\n"
    path = write(tmp_path, "question\tpassage\tanswer\n" + line + line)
    with pytest.raises(
        QaFormatError, match=r"file.tsv:3: the same question is on line 2"
    ):
        read_questions(passages, path)
