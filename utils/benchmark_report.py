"""What chapter 4's "Why is it fast?" shows: the newest recorded benchmark, as a table
and as named values for the prose.

``scripts/benchmark_recipes.py`` records, for one device, the article's recipe, the
book's, and between them one change at a time, each timed several times. This module
reads the newest record of a CPU and of a GPU (``utils.recording.recorded_runs``) and
turns it into what a page needs, so that no number in the prose is typed by hand::

    from utils.benchmark_report import newest_reports
    from utils.pages import glue

    reports = newest_reports()  # {"cpu": Report or None, "gpu": Report or None}
    report = reports["cpu"] or reports["gpu"]
    if report:
        display(Markdown(report.markdown()))  # or report.table(), a DataFrame
        for name, value in report.values(reports).items():
            glue(name, value)

and in Markdown: ``{glue:text}`bench_book_ratio:.1f``` times the article's samples/s,
``{glue:text}`bench_gain_grouped:+.0%``` for grouping, ``{glue:md}`bench_device_kind```.
``Report.values`` lists every name; gains and ratios are plain numbers (0.25 is +25%),
words are strings.
"""

from __future__ import annotations

import dataclasses
from datetime import date

# What each row's change is, in words, for a sentence: "grouping by length".
CHANGE_WORDS = {
    "course": "dynamic padding",
    "precision": "the book's precision",
    "grouped": "grouping by length",
    "multiple": "padding to a multiple of 64",
    "fused": "fused AdamW",
    "sdpa": "SDPA attention",
}
# In the records made before each row named the one it changes (one run per row)
OLD_BASES = {"course": "article", "precision": "article"}


def _words_for(row: dict) -> str:
    if row["recipe"] == "precision" and "precision" in row:
        return row["precision"]
    if row["recipe"] in CHANGE_WORDS:
        return CHANGE_WORDS[row["recipe"]]
    if row.get("change") == "batch":
        batch = row["per_device_batch"] * row["gradient_accumulation_steps"]
        steps = row["gradient_accumulation_steps"]
        return (
            f"batches of {batch} as {steps} steps of {row['per_device_batch']}"
            if steps > 1
            else f"batches of {batch} at once"
        )
    return row.get("label", row["recipe"])


def _upgrade(record: dict) -> dict:
    """A record in today's schema: older ones (one run per row, each row changing the
    row before it) get a base, a spread of their one run, and the book's row."""
    record = dict(record)
    runs, previous = [], None
    for run in record["runs"]:
        run = dict(run)
        if "base" not in run:
            run["base"] = OLD_BASES.get(run["recipe"], previous)
            run["kept"] = True
            run["change"] = run["recipe"]
            run["samples_per_second_min"] = run["samples_per_second"]
            run["samples_per_second_max"] = run["samples_per_second"]
        runs.append(run)
        previous = run["recipe"]
    record["runs"] = runs
    record.setdefault("repeats", 1)
    record.setdefault("skipped", [])
    names = [r["recipe"] for r in runs]
    record.setdefault("book_recipe", "book" if "book" in names else names[-1])
    return record


@dataclasses.dataclass
class Report:
    """One recorded benchmark, read for a page."""

    record: dict

    def __post_init__(self):
        self.record = _upgrade(self.record)
        self.rows = {r["recipe"]: r for r in self.record["runs"]}
        if "article" not in self.rows:
            raise ValueError("the benchmark record has no row for the article's recipe")

    # --- facts about the record ---------------------------------------------------

    @property
    def on_gpu(self) -> bool:
        return bool(self.record.get("gpu"))

    @property
    def device_kind(self) -> str:
        return "GPU" if self.on_gpu else "CPU"

    @property
    def hardware(self) -> str:
        """The device in words: 'an NVIDIA H100 80GB HBM3', 'a 2-core AMD EPYC CPU'."""
        if self.on_gpu:
            return f"an {self.record['gpu']}"
        cores = self.record.get("cores") or self.record.get("threads")
        cpu = self.record.get("cpu") or "CPU"
        cpu = cpu if "CPU" in cpu.upper().split() else f"{cpu} CPU"
        return f"a {cores}-core {cpu}" if cores else f"a {cpu}"

    @property
    def date(self) -> str:
        day = date.fromisoformat(self.record["date"][:10])
        return f"{day.day} {day:%B %Y}"

    @property
    def article(self) -> dict:
        return self.rows["article"]

    @property
    def book(self) -> dict:
        """The row of the book's recipe on the record's device."""
        return self.rows[self.record["book_recipe"]]

    def ratio(self, name: str) -> float:
        """Median samples/s of row ``name`` over the article's."""
        return (
            self.rows[name]["samples_per_second"] / self.article["samples_per_second"]
        )

    def gain(self, name: str) -> float | None:
        """Row ``name``'s median samples/s over that of the row it changes, less 1
        (0.25: 25% faster; -0.1: 10% slower); None for the article's or where the row
        it changes was not timed."""
        base = self.rows[name].get("base")
        if base not in self.rows:
            return None
        return (
            self.rows[name]["samples_per_second"]
            / self.rows[base]["samples_per_second"]
            - 1
        )

    def book_ratio_range(self) -> tuple[float, float]:
        """The book's samples/s over the article's, from the slowest repeat of the book
        against the fastest of the article to the other way round."""
        book, article = self.book, self.article
        return (
            book["samples_per_second_min"] / article["samples_per_second_max"],
            book["samples_per_second_max"] / article["samples_per_second_min"],
        )

    def not_taken(self) -> list[dict]:
        """The rows measured but not part of the book's recipe on this device."""
        return [r for r in self.record["runs"] if not r["kept"]]

    # --- what a page shows ----------------------------------------------------------

    def table(self):
        """A DataFrame, one line per row: what it changes, the median samples/s and
        their spread over the repeats, the ratio to the article's and to the row it
        changes, and the share of padding among the tokens computed."""
        import pandas as pd

        lines = []
        for r in self.record["runs"]:
            gain = self.gain(r["recipe"])
            name = "the article's recipe" if r["recipe"] == "article" else _words_for(r)
            if r["recipe"] == self.record["book_recipe"]:
                name += " = the book's recipe"
            elif not r["kept"]:
                name += " (not taken)"
            lines.append(
                {
                    "recipe": name if r["recipe"] == "article" else f"+ {name}",
                    "samples/s": f"{r['samples_per_second']:.2f}",
                    "min–max": f"{r['samples_per_second_min']:.2f}–"
                    f"{r['samples_per_second_max']:.2f}",
                    "× article": f"{self.ratio(r['recipe']):.2f}",
                    "step": "" if gain is None else f"{gain:+.0%}",
                    "padding": f"{r['padding_fraction']:.0%}",
                }
            )
        return pd.DataFrame(lines)

    def markdown(self) -> str:
        """``table()`` as a Markdown table."""
        frame = self.table()
        head = "| " + " | ".join(frame.columns) + " |"
        rule = "|" + "|".join("---" for _ in frame.columns) + "|"
        body = ["| " + " | ".join(map(str, row)) + " |" for row in frame.values]
        return "\n".join([head, rule, *body])

    def values(self, reports: dict | None = None) -> dict:
        """Named values for a page's prose (``glue``), all from the record.

        ``reports`` (``newest_reports()``) says whether any GPU record exists, for
        ``bench_gpu_measured``; without it, only this record counts."""
        record, book, article = self.record, self.book, self.article
        low, high = self.book_ratio_range()
        gpu = (reports or {}).get("gpu") or (self if self.on_gpu else None)
        out = {
            "bench_device_kind": self.device_kind,
            "bench_on_gpu": self.on_gpu,
            "bench_hardware": self.hardware,
            "bench_date": self.date,
            "bench_model": record["model"],
            "bench_reviews": record["reviews"],
            "bench_max_length": record["max_length"],
            "bench_repeats": record["repeats"],
            "bench_warmup_steps": record["warmup_steps"],
            "bench_book_precision": record["book_precision"],
            "bench_book_ratio": self.ratio(book["recipe"]),
            "bench_book_ratio_min": low,
            "bench_book_ratio_max": high,
            "bench_book_samples_per_second": book["samples_per_second"],
            "bench_article_samples_per_second": article["samples_per_second"],
            "bench_book_padding": book["padding_fraction"],
            "bench_article_padding": article["padding_fraction"],
            "bench_book_recipe": book.get("describe", book.get("label", "")),
            "bench_gpu_measured": gpu is not None,
            "bench_gpu_note": (
                f"measured on {gpu.hardware} on {gpu.date}"
                if gpu
                else "not measured yet: no GPU benchmark is recorded"
            ),
        }
        for r in record["runs"]:
            name = r["recipe"]
            out[f"bench_ratio_{name}"] = self.ratio(name)
            out[f"bench_padding_{name}"] = r["padding_fraction"]
            gain = self.gain(name)
            if gain is not None:
                out[f"bench_gain_{name}"] = gain
                out[f"bench_change_{name}"] = _words_for(r)
        for s in record["skipped"]:
            out[f"bench_skipped_{s['recipe']}"] = s["reason"]
        batches = [r for r in record["runs"] if r.get("change") == "batch"]
        if batches:
            fastest = max(batches, key=lambda r: r["samples_per_second"])
            out["bench_fastest_batch"] = _words_for(fastest)
            out["bench_fastest_batch_is_books"] = bool(fastest["kept"])
        # whether every change the book does not make here was slower than leaving it
        out["bench_untaken_all_slower"] = all(
            (self.gain(r["recipe"]) or 0) < 0 for r in self.not_taken()
        )
        parity = record.get("parity")
        if parity:
            out["bench_parity_train"] = parity["train_size"]
            out["bench_parity_eval"] = parity["eval_size"]
            out["bench_parity_max_length"] = parity["max_length"]
            out["bench_parity_within_noise"] = parity["within_noise"]
            for name, r in parity["runs"].items():
                out[f"bench_parity_{name}_accuracy"] = r["accuracy"]
                out[f"bench_parity_{name}_se"] = r["standard_error"]
                if "difference_from_article" in r:
                    out[f"bench_parity_{name}_difference"] = r[
                        "difference_from_article"
                    ]
                    out[f"bench_parity_{name}_paired_se"] = r["paired_standard_error"]
        return out


def newest_reports(folder=None) -> dict:
    """The newest recorded benchmark made on a CPU and on a GPU (either profile), as
    ``Report`` objects: ``{"cpu": ..., "gpu": ...}``, None where there is none."""
    from utils.recording import recorded_runs

    records = [
        r
        for profile in ("full", "smoke")
        for r in recorded_runs(profile, folder, kind="benchmark")
    ]
    records.sort(key=lambda r: r["date"], reverse=True)
    cpu = next((r for r in records if not r.get("gpu")), None)
    gpu = next((r for r in records if r.get("gpu")), None)
    return {
        "cpu": Report(cpu) if cpu else None,
        "gpu": Report(gpu) if gpu else None,
    }
