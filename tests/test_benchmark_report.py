"""utils/benchmark_report.py: what chapter 4 shows of the newest benchmark record, read
from made-up records whose numbers are known."""

import json

import pytest

from utils.benchmark_report import Report, newest_reports


def row(name, rates, padding, base=None, change=None, kept=True, batch=(8, 1)):
    """A row of the record as scripts/benchmark_recipes.py writes it: samples/s of
    each repeat (the median is the middle one)."""
    rates = sorted(rates)
    return {
        "recipe": name,
        "label": name,
        "base": base,
        "change": change,
        "kept": kept,
        "per_device_batch": batch[0],
        "gradient_accumulation_steps": batch[1],
        "samples_per_second": rates[len(rates) // 2],
        "samples_per_second_min": rates[0],
        "samples_per_second_max": rates[-1],
        "padding_fraction": padding,
    }


def record(date="2026-12-07T10:00:00+00:00", gpu=None, **extra):
    runs = [
        row("article", [1.9, 2.0, 2.1], 0.48),
        row("course", [2.4, 2.5, 2.6], 0.45, "article", "padding"),
        row("grouped", [5.0, 5.0, 5.5], 0.08, "course", "order"),
        row("multiple", [4.0, 4.2, 4.3], 0.16, "grouped", "padding", kept=False),
        row("batch_8x4", [5.1, 5.2, 5.3], 0.08, "grouped", "batch", batch=(8, 4)),
        row(
            "batch_32x1",
            [3.0, 3.1, 3.2],
            0.30,
            "grouped",
            "batch",
            kept=False,
            batch=(32, 1),
        ),
        row("fused", [5.6, 5.7, 5.8], 0.08, "batch_8x4", "optimizer"),
        row("sdpa", [6.3, 6.4, 6.6], 0.08, "fused", "attention"),
    ]
    return {
        "profile": "smoke",
        "date": date,
        "model": "all-MiniLM-L6-v2",
        "gpu": gpu,
        "cpu": "AMD EPYC",
        "cores": 2,
        "threads": 2,
        "reviews": 128,
        "max_length": 512,
        "repeats": 3,
        "warmup_steps": 2,
        "book_precision": "fp32",
        "book_recipe": "sdpa",
        "runs": runs,
        "skipped": [{"recipe": "precision", "reason": "fp32 here, as the article's"}],
        "parity": {
            "train_size": 1000,
            "eval_size": 500,
            "max_length": 128,
            "within_noise": True,
            "runs": {
                "article": {"accuracy": 0.8, "standard_error": 0.018},
                "book": {
                    "accuracy": 0.79,
                    "standard_error": 0.018,
                    "difference_from_article": -0.01,
                    "paired_standard_error": 0.012,
                },
            },
        },
        **extra,
    }


def test_the_books_ratio_is_of_medians_and_its_range_of_the_extreme_repeats():
    report = Report(record())
    values = report.values()
    assert values["bench_book_ratio"] == pytest.approx(6.4 / 2.0)
    assert values["bench_book_ratio_min"] == pytest.approx(6.3 / 2.1)
    assert values["bench_book_ratio_max"] == pytest.approx(6.6 / 1.9)
    assert values["bench_book_samples_per_second"] == 6.4


def test_each_step_is_measured_against_the_row_it_changes():
    values = Report(record()).values()
    assert values["bench_gain_course"] == pytest.approx(2.5 / 2.0 - 1)
    assert values["bench_gain_grouped"] == pytest.approx(5.0 / 2.5 - 1)
    # the alternatives the book does not take are measured from the same row
    assert values["bench_gain_multiple"] == pytest.approx(4.2 / 5.0 - 1)
    assert values["bench_gain_batch_32x1"] == pytest.approx(3.1 / 5.0 - 1)
    assert values["bench_gain_sdpa"] == pytest.approx(6.4 / 5.7 - 1)
    assert "bench_gain_article" not in values
    assert values["bench_change_batch_32x1"] == "batches of 32 at once"
    assert values["bench_change_batch_8x4"] == "batches of 32 as 4 steps of 8"


def test_the_fastest_batch_and_whether_untaken_changes_were_slower():
    values = Report(record()).values()
    assert values["bench_fastest_batch"] == "batches of 32 as 4 steps of 8"
    assert values["bench_fastest_batch_is_books"] is True
    assert values["bench_untaken_all_slower"] is True
    faster = record()
    faster["runs"][3] = row(
        "multiple", [5.5, 5.6, 5.7], 0.16, "grouped", "padding", kept=False
    )
    assert Report(faster).values()["bench_untaken_all_slower"] is False


def test_the_device_and_the_gpu_note():
    cpu = Report(record())
    values = cpu.values()
    assert values["bench_device_kind"] == "CPU" and not values["bench_on_gpu"]
    assert values["bench_hardware"] == "a 2-core AMD EPYC CPU"
    assert values["bench_gpu_measured"] is False
    assert "not measured" in values["bench_gpu_note"]
    assert values["bench_skipped_precision"] == "fp32 here, as the article's"
    gpu = Report(record(gpu="NVIDIA H100 80GB HBM3", date="2026-12-08T09:00:00+00:00"))
    assert gpu.values()["bench_device_kind"] == "GPU"
    with_gpu = cpu.values({"cpu": cpu, "gpu": gpu})
    assert with_gpu["bench_gpu_measured"] is True
    assert with_gpu["bench_gpu_note"] == (
        "measured on an NVIDIA H100 80GB HBM3 on 8 December 2026"
    )


def test_parity_values_come_from_the_record():
    values = Report(record()).values()
    assert values["bench_parity_book_difference"] == -0.01
    assert values["bench_parity_book_paired_se"] == 0.012
    assert values["bench_parity_within_noise"] is True
    assert values["bench_parity_eval"] == 500


def test_the_table_has_a_line_per_row_and_marks_the_books_and_the_untaken():
    table = Report(record()).table()
    assert len(table) == 8
    assert list(table.columns) == [
        "recipe",
        "samples/s",
        "min–max",
        "× article",
        "step",
        "padding",
    ]
    lines = dict(zip(table["recipe"], table["× article"]))
    assert lines["+ SDPA attention = the book's recipe"] == "3.20"
    assert "+ padding to a multiple of 64 (not taken)" in lines
    assert table["step"].iloc[0] == "" and table["step"].iloc[2] == "+100%"
    markdown = Report(record()).markdown().splitlines()
    assert len(markdown) == 2 + 8 and markdown[1] == "|---|---|---|---|---|---|"


def test_a_record_without_the_articles_row_is_refused():
    broken = record()
    broken["runs"] = broken["runs"][1:]
    with pytest.raises(ValueError, match="article"):
        Report(broken)


def test_an_old_record_with_one_run_per_row_reads_as_a_ladder():
    old = {
        **record(),
        "runs": [
            {"recipe": n, "label": n, "samples_per_second": s, "padding_fraction": 0.1}
            for n, s in [
                ("article", 2.0),
                ("course", 2.5),
                ("precision", 3.0),
                ("grouped", 7.0),
                ("book", 3.5),
            ]
        ],
    }
    del old["repeats"], old["book_recipe"], old["skipped"]
    report = Report(old)
    values = report.values()
    assert values["bench_gain_course"] == pytest.approx(0.25)  # from the article
    assert values["bench_gain_precision"] == pytest.approx(0.5)  # from the article
    assert values["bench_gain_grouped"] == pytest.approx(7 / 3 - 1)  # from precision
    assert values["bench_book_ratio"] == pytest.approx(1.75)
    assert values["bench_repeats"] == 1 and values["bench_book_ratio_min"] == 1.75


def test_newest_reports_picks_the_newest_of_each_device(tmp_path):
    dates = {
        "smoke_1": ("2026-12-01T00:00:00+00:00", None),
        "smoke_2": ("2026-12-03T00:00:00+00:00", None),
        "full_1": ("2026-12-02T00:00:00+00:00", "NVIDIA H200"),
    }
    for name, (date, gpu) in dates.items():
        profile = name.split("_")[0]
        made = record(date=date, gpu=gpu, profile=profile)
        (tmp_path / f"benchmark_imdb_{name}.json").write_text(json.dumps(made))
    reports = newest_reports(tmp_path)
    assert reports["cpu"].record["date"].startswith("2026-12-03")
    assert reports["gpu"].record["gpu"] == "NVIDIA H200"
    assert newest_reports(tmp_path / "empty") == {"cpu": None, "gpu": None}
