"""Bad input, as a reader meets it, gets one clear error that names the file or the
setting and the fix; nothing half-done is trusted later.

The classes: a downloaded archive that cannot be read; a TSV file in another encoding
than UTF-8; a cache entry left half-written or damaged; a book variable
(``BOOK_PROFILE``, ``BOOK_PROFILE_OVERRIDES``, ``BOOK_PRECISION``, ``BOOK_MODEL``) with
a value it cannot take; a model id the Hugging Face Hub does not know.
"""

from __future__ import annotations

import json
import lzma
from types import SimpleNamespace

import pytest

from tests.conftest import write_tarball
from utils import cache
from utils.environment import setup_chapter
from utils.imdb import ARCHIVE_URL, ImdbFormatError, load_imdb_full, read_imdb_path
from utils.profiles import get_profile
from utils.tsv import TsvFormatError, read_label_tsv

# --- a downloaded archive that cannot be read -----------------------------------------


def _truncated(path):
    data = write_tarball(path.with_name("whole.tar.gz")).read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _html(path):
    path.write_text(
        "<!DOCTYPE html>\n<html><head><title>503 Service Unavailable</title></head>"
        "<body>Try again later.</body></html>\n"
    )


def _not_a_tar(path):
    path.write_bytes(b"PK\x03\x04 a zip file, say" + bytes(600))


def _empty(path):
    path.write_bytes(b"")


@pytest.mark.parametrize(
    "damage, says",
    [
        (_truncated, "ends before the archive does: the download is incomplete"),
        (_html, "is a web page (HTML), not the archive"),
        (_not_a_tar, "is not a .tar.gz archive"),
        (_empty, "is empty"),
    ],
    ids=["truncated", "html-page", "not-a-tar", "empty"],
)
def test_an_archive_that_cannot_be_read_names_the_file_and_says_download_again(
    tmp_path, own_cache, monkeypatch, damage, says
):
    archive = tmp_path / "aclImdb_v1.tar.gz"
    damage(archive)
    monkeypatch.setenv("IMDB_PATH", str(archive))
    with pytest.raises(ImdbFormatError) as err:
        load_imdb_full()
    message = str(err.value)
    assert message.startswith(f"{archive} cannot be read (") and says in message
    assert f"Download it again from {ARCHIVE_URL}" in message
    assert "\n" not in message, "one line"
    # nothing was kept that a later run would trust
    assert not list(own_cache.glob("imdb/*"))


def test_a_truncated_jsonl_xz_names_the_file(tmp_path):
    rows = "".join(
        json.dumps({"split": s, "label": l, "rating": 8 if l else 2, "text": "x" * 99})
        + "\n"
        for s in ("train", "test")
        for l in (0, 1)
        for _ in range(50)
    )
    path = tmp_path / "imdb.jsonl.xz"
    path.write_bytes(lzma.compress(rows.encode())[:200])
    with pytest.raises(ImdbFormatError, match=f"^{path} cannot be read .*incomplete"):
        read_imdb_path(path)


# --- TSV files: UTF-8 with or without a byte-order mark, nothing else -----------------


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["utf-8", "utf-8-bom"])
@pytest.mark.parametrize("newline", [b"\n", b"\r\n"], ids=["lf", "crlf"])
def test_a_utf8_tsv_loads_with_or_without_a_bom(tmp_path, bom, newline):
    # what Windows Notepad saves: a byte-order mark first, CRLF line ends
    path = tmp_path / "reviews.tsv"
    lines = ["1\tUn café très réussi.", "0\tDull.\tEven with a tab."]
    path.write_bytes(bom + newline.join(line.encode() for line in lines) + newline)
    assert read_label_tsv(path) == (
        ["Un café très réussi.", "Dull.\tEven with a tab."],
        [1, 0],
    )


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-16"])
def test_a_tsv_in_another_encoding_names_the_file_and_the_line(tmp_path, encoding):
    path = tmp_path / "reviews.tsv"
    path.write_bytes("1\tFine.\n0\tUn café raté.\n".encode(encoding))
    with pytest.raises(TsvFormatError) as err:
        read_label_tsv(path)
    message = str(err.value)
    line = 1 if encoding == "utf-16" else 2  # UTF-16 starts with a non-UTF-8 mark
    assert message.startswith(f"{path}:{line}: byte 0x")
    assert "is not UTF-8" in message and "save it as UTF-8" in message


# --- cache entries: written whole or not at all; a damaged one is rebuilt -------------


def test_an_imdb_entry_interrupted_while_written_is_never_trusted(
    tiny_tarball, own_cache, monkeypatch
):
    from datasets import DatasetDict

    def stopped(self, *args, **kwargs):
        raise KeyboardInterrupt  # the reader stopped the first run half-way

    with monkeypatch.context() as patch:
        patch.setattr(DatasetDict, "save_to_disk", stopped)
        with pytest.raises(KeyboardInterrupt):
            read_imdb_path(tiny_tarball)
    assert not list(cache.cache_dir().glob("imdb/*")), "nothing left behind"
    assert read_imdb_path(tiny_tarball)["train"].num_rows == 6
    (entry,) = cache.cache_dir().glob("imdb/*")
    assert cache.is_complete(entry)


def test_an_imdb_entry_without_its_completion_mark_is_rebuilt_with_one_line(
    tiny_tarball, own_cache, capsys
):
    read_imdb_path(tiny_tarball)
    (entry,) = cache.cache_dir().glob("imdb/*")
    (entry / cache.COMPLETE).unlink()  # as an older version, or a crash, left it
    capsys.readouterr()
    assert read_imdb_path(tiny_tarball)["test"].num_rows == 4
    said = capsys.readouterr().out.strip().splitlines()
    assert said == [
        "The saved copy of the IMDb reviews was incomplete (a run stopped while "
        "writing it): making it again."
    ]
    assert cache.is_complete(entry)


def test_a_damaged_imdb_entry_is_rebuilt_with_one_line(tiny_tarball, own_cache, capsys):
    read_imdb_path(tiny_tarball)
    (entry,) = cache.cache_dir().glob("imdb/*")
    for arrow in entry.rglob("*.arrow"):
        arrow.write_bytes(b"damaged")
    capsys.readouterr()
    assert read_imdb_path(tiny_tarball)["train"].num_rows == 6
    said = capsys.readouterr().out.strip().splitlines()
    assert len(said) == 1 and said[0].startswith(
        "The saved copy of the IMDb reviews was damaged"
    )


def test_writing_removes_its_temporary_folder_on_an_error(tmp_path):
    entry = tmp_path / "kind" / "entry"
    with pytest.raises(RuntimeError), cache.writing(entry) as tmp:
        (tmp / "half.bin").write_bytes(b"half")
        raise RuntimeError("stopped")
    assert not entry.exists() and list(entry.parent.iterdir()) == []
    assert not cache.usable(entry, "entry")


# --- the book's variables, checked by setup_chapter, naming the variable --------------


@pytest.mark.parametrize(
    "variable, value, says",
    [
        ("BOOK_PROFILE", "huge", "BOOK_PROFILE='huge' is not a profile: use one of"),
        ("BOOK_PROFILE_OVERRIDES", "epochs=one", "epochs='one': epochs must be a"),
        ("BOOK_PROFILE_OVERRIDES", "batch_size=0", "batch_size must be a positive"),
        ("BOOK_PROFILE_OVERRIDES", "batch_size=8.5", "batch_size must be a positive"),
        ("BOOK_PROFILE_OVERRIDES", "learning_rate=-2e-5", "learning_rate must be a"),
        ("BOOK_PROFILE_OVERRIDES", "learning_rate=fast", "learning_rate must be a"),
        ("BOOK_PROFILE_OVERRIDES", "train_size=-1", "train_size must be a positive"),
        ("BOOK_PROFILE_OVERRIDES", "warmup_steps=-5", "warmup_steps must be a whole"),
        ("BOOK_PROFILE_OVERRIDES", "truncation=tail", "'head' or 'head+tail'"),
        (
            "BOOK_PROFILE_OVERRIDES",
            "transfer_learning_rates=(1e-4, 0)",
            "transfer_learning_rates must be a tuple of positive numbers",
        ),
        (
            "BOOK_PROFILE_OVERRIDES",
            "transfer_learning_rates=()",
            "transfer_learning_rates must be a tuple of positive numbers",
        ),
        ("BOOK_PROFILE_OVERRIDES", "epochz=3", "'epochz=3' is not 'field=value'"),
        ("BOOK_PROFILE_OVERRIDES", "epochs", "'epochs' is not 'field=value'"),
        (
            "BOOK_PROFILE_OVERRIDES",
            "gradient_accumulation_steps=3",
            "batch_size=32 is not a multiple of gradient_accumulation_steps=3",
        ),
        ("BOOK_PRECISION", "fp8", "BOOK_PRECISION='fp8': use fp32, bf16 or fp16"),
        ("BOOK_MODEL", "./no/such/model", "no such folder"),
    ],
)
def test_setup_chapter_refuses_a_bad_variable_and_names_it(
    monkeypatch, variable, value, says
):
    monkeypatch.setenv(variable, value)
    with pytest.raises((ValueError, OSError)) as err:
        setup_chapter(profile=None)
    message = str(err.value)
    assert message.startswith(variable), message
    assert says in message


def test_good_overrides_pass_and_are_said_to_change_the_profile(monkeypatch):
    monkeypatch.setenv(
        "BOOK_PROFILE_OVERRIDES",
        "epochs=0.5; train_size=None; warmup_steps=0; "
        "transfer_learning_rates=[1e-4, 3e-4]",
    )
    profile = setup_chapter(profile="smoke").profile
    assert (profile.epochs, profile.train_size, profile.warmup_steps) == (0.5, None, 0)
    assert profile.transfer_learning_rates == (1e-4, 3e-4) and profile.is_changed


def test_a_bad_value_in_an_exercise_names_the_field():
    with pytest.raises(
        ValueError, match="^batch_size=0: batch_size must be a positive"
    ):
        get_profile("smoke").replace(batch_size=0)


def test_a_model_folder_without_a_model_names_book_model(monkeypatch, tmp_path):
    monkeypatch.setenv("BOOK_MODEL", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="^BOOK_MODEL=.*has no config.json"):
        setup_chapter(profile="smoke")


# --- a model id the Hub answers "not found" -------------------------------------------


def _hub_answers(monkeypatch, error):
    """The Hub reachable (offline mode off), answering every file request with
    ``error``: what transformers' own download code then sees."""
    import huggingface_hub.constants
    import transformers.utils.hub

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)

    def hf_hub_download(repo_id, filename, **kwargs):
        raise error

    monkeypatch.setattr(transformers.utils.hub, "hf_hub_download", hf_hub_download)


def _response(status: int):
    return SimpleNamespace(status_code=status, headers={}, request=None)


def test_a_model_id_the_hub_does_not_know_says_so_and_nothing_stands_in(
    monkeypatch, capsys
):
    from huggingface_hub.errors import RepositoryNotFoundError

    from utils.models import ModelNotFoundError

    _hub_answers(
        monkeypatch,
        RepositoryNotFoundError("404 Repository Not Found", response=_response(404)),
    )
    monkeypatch.setenv("BOOK_MODEL", "bert-base-uncasde")
    with pytest.raises(ModelNotFoundError) as err:
        setup_chapter(profile="smoke")
    assert str(err.value).startswith(
        "BOOK_MODEL=bert-base-uncasde: the Hugging Face Hub has no model of that name"
    )
    assert "stands in" not in capsys.readouterr().out


def test_a_hub_out_of_reach_still_lets_the_packaged_model_stand_in(monkeypatch, capsys):
    from huggingface_hub.errors import LocalEntryNotFoundError

    _hub_answers(monkeypatch, LocalEntryNotFoundError("Connection error"))
    setup = setup_chapter(profile="full")
    assert setup.model.requested == "bert-base-uncased"
    assert setup.model.label == "all-MiniLM-L6-v2"
    assert "stands in for it" in capsys.readouterr().out
