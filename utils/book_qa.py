"""This book's own paragraphs as a corpus to search, and questions about them.

Two tab-separated files in ``utils/data/``, each with a header line:

- ``book_passages.tsv``: ``id``, ``chapter``, ``text``: the prose paragraphs of
  chapters 1 to 4 (a snapshot, with the Markdown and citation markup removed), one a
  line, ids such as ``ch03-024``;
- ``book_questions.tsv``: ``question``, ``passage``, ``answer``: a question a reader
  might ask, the id of the paragraph that answers it, and the words of that paragraph
  that do (verbatim, so that an extractive reader can be scored on them).

The readers stop at the first bad line and name the file, the line, what is wrong and
how to fix it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import NamedTuple

PASSAGE_COLUMNS = ("id", "chapter", "text")
QUESTION_COLUMNS = ("question", "passage", "answer")


class QaFormatError(ValueError):
    """A line of a passages or questions file that cannot be used; the message names
    the file and the line."""


class Passage(NamedTuple):
    id: str
    chapter: int
    text: str


class Question(NamedTuple):
    question: str
    passage: str  # the id of the passage that answers it
    answer: str  # the answering words, verbatim from that passage


def data_path(name: str) -> Path:
    """A file shipped in ``utils/data`` (installed with the package, Colab too)."""
    return Path(str(resources.files("utils") / "data" / name))


def _rows(path: Path, columns: tuple[str, ...]):
    """(line number, fields) for each line after the header; checks the shape."""
    fields = ", ".join(columns)
    hint = f"each line must be {len(columns)} tab-separated fields: {fields}"
    with path.open(encoding="utf-8") as f:
        lines = f.read().splitlines()
    if not lines or tuple(lines[0].split("\t")) != columns:
        raise QaFormatError(
            f"{path}:1: the header must be {'<TAB>'.join(columns)}; {hint}"
        )
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(columns):
            raise QaFormatError(
                f"{path}:{number}: {len(fields)} fields instead of {len(columns)}; "
                f"{hint} (a tab inside a field splits it)"
            )
        for name, value in zip(columns, fields):
            if not value.strip():
                raise QaFormatError(
                    f"{path}:{number}: the {name} is empty; fill it in or remove the "
                    "line"
                )
        yield number, fields
    if len(lines) == 1:
        raise QaFormatError(f"{path}: no lines after the header; {hint}")


def read_passages(path: str | Path | None = None) -> list[Passage]:
    path = Path(path) if path else data_path("book_passages.tsv")
    passages, seen = [], {}
    for number, (pid, chapter, text) in _rows(path, PASSAGE_COLUMNS):
        if pid in seen:
            raise QaFormatError(
                f"{path}:{number}: id {pid!r} is already used on line {seen[pid]}; "
                "give each passage its own id"
            )
        if not chapter.isdigit():
            raise QaFormatError(
                f"{path}:{number}: chapter {chapter!r} is not a chapter number; "
                "write it as digits, e.g. 3"
            )
        seen[pid] = number
        passages.append(Passage(pid, int(chapter), text))
    return passages


def read_questions(
    passages: list[Passage], path: str | Path | None = None
) -> list[Question]:
    """The questions, each checked against ``passages``: its passage exists and
    contains its answer."""
    path = Path(path) if path else data_path("book_questions.tsv")
    texts = {p.id: p.text for p in passages}
    questions, seen = [], {}
    for number, (question, pid, answer) in _rows(path, QUESTION_COLUMNS):
        if pid not in texts:
            raise QaFormatError(
                f"{path}:{number}: passage {pid!r} is not in the passages file; use "
                "the id of the paragraph that answers the question"
            )
        if answer not in texts[pid]:
            raise QaFormatError(
                f"{path}:{number}: the answer {answer!r} is not in passage {pid}; "
                "copy the answering words from it verbatim"
            )
        if question in seen:
            raise QaFormatError(
                f"{path}:{number}: the same question is on line {seen[question]}; "
                "remove one"
            )
        seen[question] = number
        questions.append(Question(question, pid, answer))
    return questions


def load_book_qa() -> tuple[list[Passage], list[Question]]:
    """The book's passages and the questions about them, both checked."""
    passages = read_passages()
    return passages, read_questions(passages)
