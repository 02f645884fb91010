"""Chapter 5's Hub applications: ``hub_model_available`` finds a model in the Hugging
Face cache or says why not, and the stand-ins that the reader-path tests lay out there
are the models the chapter asks for."""

from __future__ import annotations

import json
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
            f"the Hugging Face Hub is out of reach and {name} is not cached here"
        )


def test_with_the_stand_ins_in_the_cache_each_is_available(tmp_path):
    apps.write_application_stand_ins(tmp_path / "hf")
    found = last_json(run_offline(AVAILABLE % (apps.ALL,), tmp_path / "hf"))
    assert found == {name: [True, ""] for name in apps.ALL}
