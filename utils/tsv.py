"""The article's data format: one review a line, ``label<TAB>text``, label 0 (negative)
or 1 (positive)."""

from __future__ import annotations

import codecs
import io
from pathlib import Path

FORMAT_HINT = "each line must be '<label><TAB><text>' with label 0 or 1"


class TsvFormatError(ValueError):
    """A line of a label/text TSV file that cannot be read; the message names file and
    line."""


def _fail(path: Path, line_no: int, what: str, fix: str) -> TsvFormatError:
    return TsvFormatError(f"{path}:{line_no}: {what}; {fix}")


def _utf8_lines(path: Path) -> list[str]:
    """The file's lines as text: UTF-8, with or without the byte-order mark that
    Windows Notepad writes. Any other encoding is an error naming file and line."""
    data = path.read_bytes().removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line_no = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise _fail(
            path,
            line_no,
            f"byte 0x{data[err.start]:02x} at column {column} is not UTF-8 "
            "(the file was saved in another encoding, such as Latin-1 or Windows-1252)",
            "save it as UTF-8 (in most editors: Save As, Encoding UTF-8)",
        ) from None
    # universal newlines, as open() reads: \n, \r\n and \r end a line, nothing else
    return list(io.StringIO(text, newline=None))


def read_label_tsv(path: str | Path) -> tuple[list[str], list[int]]:
    """Read ``label<TAB>text`` lines into (texts, labels).

    Splits on the first tab only (a review may contain tabs), and stops at the first bad
    line with ``file:line`` and what is wrong, instead of skipping it. The article's
    ``line.split("\\t")`` fails on any review containing a tab.
    """
    path = Path(path)
    texts, labels = [], []
    for line_no, raw in enumerate(_utf8_lines(path), start=1):
        line = raw.rstrip("\n")
        if "\t" not in line:
            raise _fail(path, line_no, "no tab between label and text", FORMAT_HINT)
        label, text = line.split("\t", 1)
        if label.strip() not in ("0", "1"):
            raise _fail(path, line_no, f"label {label!r} is not 0 or 1", FORMAT_HINT)
        if not text.strip():
            raise _fail(
                path,
                line_no,
                "the text is empty",
                "remove the line or add the review's text",
            )
        texts.append(text)
        labels.append(int(label))
    if not texts:
        raise TsvFormatError(f"{path}: the file is empty; {FORMAT_HINT}")
    return texts, labels


def write_label_tsv(path: str | Path, texts, labels) -> Path:
    """Write (texts, labels) as ``label<TAB>text`` lines; refuses text that would break
    a line."""
    path = Path(path)
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    with path.open("w", encoding="utf-8") as f:
        for i, (text, label) in enumerate(zip(texts, labels)):
            if "\n" in text or "\r" in text:
                raise ValueError(
                    f"text {i} contains a line break, "
                    f"which would split it in two lines of {path}"
                )
            if int(label) not in (0, 1):
                raise ValueError(f"label {label!r} of text {i} is not 0 or 1")
            f.write(f"{int(label)}\t{text}\n")
    return path
