"""The article's data format: one review a line, ``label<TAB>text``, label 0 (negative)
or 1 (positive)."""

from __future__ import annotations

from pathlib import Path

FORMAT_HINT = "each line must be '<label><TAB><text>' with label 0 or 1"


class TsvFormatError(ValueError):
    """A line of a label/text TSV file that cannot be read; the message names file and
    line."""


def _fail(path: Path, line_no: int, what: str, fix: str) -> TsvFormatError:
    return TsvFormatError(f"{path}:{line_no}: {what}; {fix}")


def read_label_tsv(path: str | Path) -> tuple[list[str], list[int]]:
    """Read ``label<TAB>text`` lines into (texts, labels).

    Splits on the first tab only (a review may contain tabs), and stops at the first bad
    line with ``file:line`` and what is wrong, instead of skipping it. The article's
    ``line.split("\\t")`` fails on any review containing a tab.
    """
    path = Path(path)
    texts, labels = [], []
    with path.open(encoding="utf-8") as f:
        for line_no, raw in enumerate(f, start=1):
            line = raw.rstrip("\r\n")
            if "\t" not in line:
                raise _fail(path, line_no, "no tab between label and text", FORMAT_HINT)
            label, text = line.split("\t", 1)
            if label.strip() not in ("0", "1"):
                raise _fail(
                    path, line_no, f"label {label!r} is not 0 or 1", FORMAT_HINT
                )
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
