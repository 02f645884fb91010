"""Chapter 5's Hub applications: ``hub_model_available`` finds a model in the Hugging
Face cache or says why not, and the stand-ins that the reader-path tests lay out there
are the models the chapter asks for; offline, each of the four parts that needs the Hub
shows one line on the page, and nothing else."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests import application_stand_ins as apps
from tests.test_hub_stand_ins import last_json, run_offline

CHAPTER = next((Path(__file__).resolve().parent.parent / "chapters").glob("05_*.ipynb"))

AVAILABLE = """
import json
from utils.models import hub_model_available
print(json.dumps({name: hub_model_available(name) for name in %r}))
"""


def test_the_stand_ins_are_the_models_the_chapter_asks_for():
    code = "".join(
        "".join(cell["source"])
        for cell in json.loads(CHAPTER.read_text())["cells"]
        if cell["cell_type"] == "code"
    )
    assert all(f'"{repo_id}"' in code for repo_id in apps.ALL)


def test_offline_and_uncached_each_is_unavailable_with_a_reason(tmp_path):
    (tmp_path / "hf").mkdir()
    found = last_json(run_offline(AVAILABLE % (apps.ALL,), tmp_path / "hf"))
    for name, (available, why) in found.items():
        assert not available
        assert why == (
            f"the Hugging Face Hub is out of reach and {name} is not on this machine"
        )


def test_with_the_stand_ins_in_the_cache_each_is_available(tmp_path):
    apps.write_application_stand_ins(tmp_path / "hf")
    found = last_json(run_offline(AVAILABLE % (apps.ALL,), tmp_path / "hf"))
    assert found == {name: [True, ""] for name in apps.ALL}


def hub_cells() -> list[dict]:
    """The chapter's code cells that need a model from the Hub: each starts its work
    with ``if not from_hub(...):`` and says in one line what it skipped."""
    cells = json.loads(CHAPTER.read_text())["cells"]
    return [
        cell
        for cell in cells
        if cell["cell_type"] == "code"
        and re.search(r"^if not from_hub\(", "".join(cell["source"]), re.M)
    ]


def test_four_parts_need_the_hub_and_together_ask_for_every_stand_in():
    sources = ["".join(cell["source"]) for cell in hub_cells()]
    assert len(sources) == 4  # reading the answer, GPT-2, translation, speech
    asked = {name for name in apps.ALL for source in sources if f'"{name}"' in source}
    assert asked == set(apps.ALL)


def test_offline_each_part_that_needs_the_hub_shows_one_line():
    # the stored outputs come from a run without the Hub
    for cell in hub_cells():
        outputs = cell.get("outputs", [])
        assert [o["output_type"] for o in outputs] == ["stream"]
        printed = "".join(outputs[0]["text"])
        assert printed.count("\n") == 1 and printed.endswith("\n")
        assert " skipped: " in printed and "Hugging Face Hub" in printed
        assert "cache" not in printed
