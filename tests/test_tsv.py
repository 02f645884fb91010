"""The seed's label<TAB>text files: read exactly, fail loudly with file:line."""

import subprocess
import sys
from pathlib import Path

import pytest

from utils.tsv import TsvFormatError, read_label_tsv, write_label_tsv


def test_round_trip_keeps_every_review(tmp_path):
    texts, labels = ["Great film.", "Bad film, with a\ttab."], [1, 0]
    path = write_label_tsv(tmp_path / "train.tsv", texts, labels)
    assert read_label_tsv(path) == (texts, labels)


def test_a_tab_inside_the_text_stays_in_the_text(tmp_path):
    # the seed's line.split("\t") would raise "too many values to unpack" here
    path = tmp_path / "t.tsv"
    path.write_text("1\tgood\tand\tlong\n")
    assert read_label_tsv(path) == (["good\tand\tlong"], [1])


@pytest.mark.parametrize(
    "content, line, message",
    [
        ("1\tfine\nno tab here\n", 2, "no tab"),
        ("1\tfine\n2\tbad label\n", 2, "label '2' is not 0 or 1"),
        ("pos\tfine\n", 1, "label 'pos' is not 0 or 1"),
        ("1\tfine\n0\t   \n", 2, "text is empty"),
    ],
)
def test_a_bad_line_names_file_and_line(tmp_path, content, line, message):
    path = tmp_path / "bad.tsv"
    path.write_text(content)
    with pytest.raises(TsvFormatError, match=message) as err:
        read_label_tsv(path)
    assert f"bad.tsv:{line}:" in str(err.value)


def test_an_empty_file_is_an_error(tmp_path):
    path = tmp_path / "empty.tsv"
    path.write_text("")
    with pytest.raises(TsvFormatError, match="empty.tsv: the file is empty"):
        read_label_tsv(path)


def test_the_writer_refuses_what_it_could_not_read_back(tmp_path):
    with pytest.raises(ValueError, match="line break"):
        write_label_tsv(tmp_path / "x.tsv", ["two\nlines"], [1])
    with pytest.raises(ValueError, match="not 0 or 1"):
        write_label_tsv(tmp_path / "x.tsv", ["ok"], [3])
    with pytest.raises(ValueError, match="1 texts but 2 labels"):
        write_label_tsv(tmp_path / "x.tsv", ["ok"], [1, 0])


def test_importing_the_tsv_module_does_not_import_torch_or_datasets():
    # utils/__init__.py imports its names on first use (PEP 562); a fresh interpreter,
    # because this one imported torch long ago
    code = (
        "import sys, utils.tsv, utils.cache\n"
        "from utils import read_label_tsv\n"
        "heavy = {'torch', 'datasets', 'transformers', 'numpy'} & set(sys.modules)\n"
        "print(sorted(heavy))"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_package_still_offers_its_names_at_the_top():
    import utils

    assert set(utils.__all__) <= set(dir(utils))
    assert utils.read_label_tsv is read_label_tsv
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        utils.no_such_name  # noqa: B018
