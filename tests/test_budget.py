"""The Colab T4 budget (utils.budget): its FLOP formulas against PyTorch's FLOP counter,
its length tables against IMDb's reviews, where it says each chapter runs against the
chapter's code, each chapter's estimate for the full profile with settings that fit,
and the line each chapter prints at its top."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import (
    BertConfig,
    BertForMaskedLM,
    BertForSequenceClassification,
    GPT2Config,
    GPT2LMHeadModel,
)
from transformers.models.bert.modeling_bert import BertLayer

from utils import budget
from utils.profiles import get_profile

FULL = get_profile("full")
CHAPTERS_DIR = Path(__file__).resolve().parent.parent / "chapters"
# Eager attention: FlopCounterMode has no formula for the CPU SDPA kernel and would miss
# the 4nd term; on a GPU both do the same matmuls.
SMALL = {
    "vocab_size": 500,
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 256,
    "attn_implementation": "eager",
}


def counted_flops(module, *args, backward=False, **kwargs):
    with FlopCounterMode(display=False) as counter:
        out = module(*args, **kwargs)
        if backward:
            out.loss.backward()
    return counter.get_total_flops()


def ids(batch, n):
    return torch.randint(5, SMALL["vocab_size"], (batch, n))


@pytest.mark.parametrize("n", [8, 33])
def test_the_layer_formula_is_what_pytorch_counts(n):
    layer = BertLayer(BertConfig(**SMALL)).eval()
    with torch.no_grad():
        counted = counted_flops(layer, torch.randn(2, n, 64))
    assert counted == 2 * n * budget.layer_flops_per_token(64, 256, n)


def test_the_layer_parameter_formula_counts_bert_and_gpt2_layers():
    from transformers.models.gpt2.modeling_gpt2 import GPT2Block

    bert = BertLayer(BertConfig(**SMALL))
    gpt = GPT2Block(GPT2Config(n_embd=64, n_head=4, n_inner=200))
    assert sum(p.numel() for p in bert.parameters()) == budget.layer_parameters(64, 256)
    assert sum(p.numel() for p in gpt.parameters()) == budget.layer_parameters(64, 200)
    assert budget.layer_parameters(768, 4 * 768) == 12 * 768**2 + 13 * 768


def test_whole_models_are_their_layers_plus_their_heads():
    bert, gpt = (
        BertConfig(**SMALL),
        GPT2Config(
            vocab_size=500,
            n_embd=64,
            n_layer=2,
            n_head=4,
            attn_implementation="eager",
            bos_token_id=0,
            eos_token_id=0,
        ),
    )
    x = ids(3, 16)
    with torch.no_grad():
        mlm = counted_flops(BertForMaskedLM(bert).eval(), input_ids=x)
        clm = counted_flops(GPT2LMHeadModel(gpt).eval(), input_ids=x)
        cls = counted_flops(BertForSequenceClassification(bert).eval(), input_ids=x)
    bert_layers, gpt_layers = (budget.encoder_flops(c, 3, 16) for c in (bert, gpt))
    assert mlm == bert_layers + budget.mlm_head_flops(bert, 3 * 16)
    assert clm == gpt_layers + budget.lm_head_flops(gpt, 3 * 16)
    assert cls == bert_layers + budget.classifier_head_flops(bert, 3)


def test_chapter_3s_mlm_projects_only_the_chosen_positions():
    model = BertForMaskedLM(BertConfig(**SMALL)).eval()
    chosen = torch.rand(4, 32) < budget.MLM_SHARE
    with torch.no_grad():
        hidden = model.bert(input_ids=ids(4, 32)).last_hidden_state
        counted = counted_flops(model.cls, hidden[chosen])
    assert counted == budget.mlm_head_flops(model.config, chosen.sum().item())


def test_training_is_three_forward_passes():
    model, x = BertForMaskedLM(BertConfig(**SMALL)), ids(2, 16)
    forward = counted_flops(model, input_ids=x, labels=x)
    assert counted_flops(model, input_ids=x, labels=x, backward=True) == 3 * forward


def test_mixed_padded_lengths_add_up():
    config = BertConfig(**SMALL)
    lengths = torch.tensor([64.0, 128.0])
    mixed = budget.encoder_flops(config, 2, lengths.mean(), (lengths**2).mean())
    separate = sum(budget.encoder_flops(config, 1, n) for n in lengths)
    assert mixed == pytest.approx(separate.item())


def test_padded_lengths_interpolate_between_the_measured_limits():
    for table in (budget.GROUPED_TRAIN, budget.GROUPED_EVAL, budget.SHUFFLED_32):
        low, high = budget.padded_length(table, 256), budget.padded_length(table, 512)
        mean, sq = budget.padded_length(table, 384)
        assert low[0] < mean < high[0] and low[1] < sq < high[1]
    for limit, real in zip(budget.LENGTH_LIMITS, budget.MEAN_TOKENS):
        grouped = budget.padded_length(budget.GROUPED_TRAIN, limit)[0]
        shuffled = budget.padded_length(budget.SHUFFLED_32, limit)[0]
        # padding adds tokens; grouping reviews of like length adds fewer
        assert real <= grouped <= shuffled <= limit


@pytest.fixture(scope="module")
def test_review_lengths():
    """Tokens per review ([CLS] and [SEP] in) of every 25th IMDb test review (1,000),
    read straight from the archive, with the bert-base-uncased WordPiece tokenizer."""
    import os
    import tarfile

    from transformers import AutoTokenizer

    from utils.imdb import clean_review
    from utils.models import packaged_stand_in

    archive, vocabulary = os.environ.get("IMDB_PATH"), packaged_stand_in()
    if not archive or not Path(archive).is_file() or vocabulary is None:
        pytest.skip("needs IMDB_PATH and the packaged bert-base-uncased vocabulary")
    texts = []
    with tarfile.open(archive) as tar:
        for member in tar:
            if "/train/" in member.name:  # the archive stores test/ first
                break
            if re.search(r"/test/(pos|neg)/\d+_\d+\.txt$", member.name):
                texts.append(member)
        texts = [
            clean_review(tar.extractfile(m).read().decode("utf-8")) for m in texts[::25]
        ]
    tokenizer = AutoTokenizer.from_pretrained(vocabulary)
    return np.array([len(ids) for ids in tokenizer(texts, verbose=False).input_ids])


def test_the_length_tables_are_what_imdb_reviews_tokenize_to(test_review_lengths):
    """MEAN_TOKENS was measured on the training reviews; a sample of 1,000 test reviews
    lands within its standard error (at most 1.7%) plus the 2.5% the module allows for
    test against train, measured here at 1-4%."""
    lengths = test_review_lengths
    assert len(lengths) == 1_000
    rng = np.random.default_rng(0)
    for limit, mean, shuffled in zip(
        budget.LENGTH_LIMITS, budget.MEAN_TOKENS, budget.SHUFFLED_32
    ):
        cut = np.minimum(lengths, limit)
        assert cut.mean() == pytest.approx(mean, rel=0.06), limit
        # chapter 1's batches: 32 shuffled reviews padded to their longest
        batches = rng.permutation(cut)[: len(cut) // 32 * 32].reshape(-1, 32)
        padded = batches.max(axis=1)
        assert padded.mean() == pytest.approx(shuffled[0], rel=0.02), limit
        assert (padded**2.0).mean() == pytest.approx(shuffled[1], rel=0.04), limit


@pytest.mark.parametrize("chapter", budget.CHAPTERS)
def test_each_chapter_has_a_positive_estimate(chapter):
    phases = budget.breakdown(chapter, FULL)
    assert all(seconds > 0 for seconds in phases.values()), phases


def test_the_report_offers_settings_for_the_chapters_over_the_target(capsys):
    slow = FULL.replace(epochs=4)  # chapter 4 twice as long: over the target
    over = [
        c
        for c in budget.CHAPTERS
        if budget.colab_t4_minutes(c, slow) > budget.target_minutes()
    ]
    assert "04" in over and "06" not in over
    text = budget.report(slow)
    sections = re.split(r"^(?=chapter \d\d )", text, flags=re.M)[1:]
    assert [s[8:10] for s in sections] == list(budget.CHAPTERS)
    for section in sections:
        assert ("to fit" in section) == (section[8:10] in over), section
    with capsys.disabled():  # the numbers are the point: show them under -q too
        print(
            f"\nColab T4 estimate, full profile (target "
            f"{budget.target_minutes():.0f} min = {budget.LIMIT_MINUTES} less "
            f"{budget.HEADROOM:.0%}):\n{budget.report(FULL)}"
        )


DOUBLED = [
    ("01", "probe_test_size"),
    ("01", "probe_train_size"),
    ("02", "attention_examples"),
    ("03", "pretrain_steps_mlm"),
    ("03", "pretrain_steps_clm"),
    ("03", "pretrain_batch_size"),
    ("03", "tiny_finetune_epochs"),
    ("03", "tiny_finetune_train"),
    ("04", "epochs"),
    ("04", "eval_points"),
    ("05", "pretrain_steps_clm"),
    ("05", "decoding_new_tokens"),
    ("07", "attribution_reviews"),
    ("07", "epochs"),
    ("08", "memory_check_batch"),
]


@pytest.mark.parametrize("chapter, field", DOUBLED)
def test_doubling_a_size_raises_the_estimate(chapter, field):
    doubled = FULL.replace(**{field: 2 * getattr(FULL, field)})
    before = budget.colab_t4_minutes(chapter, FULL)
    assert budget.colab_t4_minutes(chapter, doubled) > before


@pytest.mark.parametrize(
    "changes", [{"train_size": 12_500}, {"test_size": 12_500}, {"max_length": 256}]
)
def test_smaller_sizes_shorten_chapter_4(changes):
    smaller = FULL.replace(**changes)
    assert budget.colab_t4_minutes("04", smaller) < budget.colab_t4_minutes("04", FULL)


@pytest.mark.parametrize("chapter", budget.CHAPTERS)
@pytest.mark.parametrize("runs_on", ["fp16", None])
def test_suggested_settings_fit_the_target(chapter, runs_on):
    for knobs in budget.SHRINK_KNOBS[chapter]:
        changes = budget.fitting_changes(chapter, FULL, knobs, runs_on=runs_on)
        if changes is None:  # these knobs alone cannot do it: the report says so
            continue
        assert all(
            getattr(FULL, k) is None or value <= getattr(FULL, k)
            for k, value in changes.items()
        )
        shrunk = FULL.replace(**changes)
        assert (
            budget.colab_t4_minutes(chapter, shrunk, runs_on=runs_on)
            <= budget.target_minutes()
        )


def test_an_unknown_chapter_names_the_known_ones():
    with pytest.raises(ValueError, match="01, 02, 03, 04, 05"):
        budget.breakdown("99", FULL)


def chapter_code(name: str) -> str:
    notebook = json.loads(next(CHAPTERS_DIR.glob(f"{name}_*.ipynb")).read_text())
    return "\n".join(
        "".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"
    )


# a chapter's own cells, not utils.sentiment's classifier, which always trains in
# setup's half precision (budget._classifier_training counts it so)
HALF_PRECISION = r"autocast\(|precision_args|Trainer\("
ON_THE_DEVICE = r"setup\.to_device\(|setup\.device\b"


@pytest.mark.parametrize("chapter", budget.CHAPTERS)
def test_runs_on_follows_the_chapters_code(chapter):
    """RUNS_ON was read from the chapters; when one changes, update it (and this).

    Half precision on a T4 where the chapter's cells autocast or train with Trainer
    (given setup's precision); fp32 where they put a model on the device without
    either; the CPU where they run no model on the device."""
    code = chapter_code(chapter)
    if re.search(HALF_PRECISION, code):
        expected = "fp16"
    elif re.search(ON_THE_DEVICE, code):
        expected = "fp32"
    else:
        expected = "cpu"
    assert budget.RUNS_ON[chapter] == expected, (
        f"chapter {chapter}'s code now runs in {expected} on a T4: update RUNS_ON"
    )


def test_chapter_1s_draws_are_the_ones_counted():
    drawn = re.search(r"^DRAWS = (\d+)", chapter_code("01"), flags=re.M)
    assert drawn and int(drawn[1]) == budget.PROBE_DRAWS


@pytest.mark.parametrize("chapter", budget.CHAPTERS)
def test_each_chapters_full_profile_fits_twenty_minutes_on_a_colab_t4(chapter):
    minutes = budget.colab_t4_minutes(chapter, get_profile("full"))
    assert minutes <= budget.LIMIT_MINUTES, f"chapter {chapter}: {minutes:.1f} min"


# --- the device table (chapter 6): the same FLOPs at each GPU's peak ---------------

GPU_PHASE = "fine-tuning with chapter 4's recipe (once, then cached)"


@pytest.mark.parametrize("gpu", ["A100", "H100"])
def test_a_faster_gpu_divides_the_gpu_phases_by_its_peak_and_keeps_the_rest(gpu):
    t4 = budget.breakdown("07", FULL, runs_on="fp16")
    other = budget.breakdown("07", FULL, runs_on=f"{gpu}:fp16")
    speedup = budget.GPU_PEAK_FLOPS[gpu]["fp16"] / budget.GPU_PEAK_FLOPS["T4"]["fp16"]
    assert other[GPU_PHASE] == pytest.approx(t4[GPU_PHASE] / speedup)
    cpu_phases = [name for name in t4 if "(CPU)" in name or "start-up" in name]
    assert cpu_phases and all(other[name] == t4[name] for name in cpu_phases)


def test_on_the_cpu_every_phase_runs_at_the_measured_cpu_rate():
    cpu = budget.breakdown("07", FULL, runs_on="cpu")
    t4 = budget.breakdown("07", FULL, runs_on="fp16")
    rate = budget.flops_per_second("fp16", BertConfig()) / budget.CPU_FP32_FLOPS
    assert cpu[GPU_PHASE] == pytest.approx(t4[GPU_PHASE] * rate)
    assert budget.minutes_on("07", FULL, "CPU") == pytest.approx(sum(cpu.values()) / 60)


def test_an_unknown_device_names_the_known_ones():
    with pytest.raises(ValueError, match="CPU or one of T4, A100, H100"):
        budget.minutes_on("07", FULL, "TPU")


# --- the line at the top of each chapter -------------------------------------------

CPU = torch.device("cpu")
SMOKE = get_profile("smoke")
# what a reader cannot act on: run-profile names, modules, variables, precisions, caches
MACHINERY = re.compile(
    r"smoke|profile|utils|budget|\.py|BOOK_|IMDB_PATH|HF_|cach|bf16|fp16|fp32|FLOP",
    re.IGNORECASE,
)


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.setattr(budget, "_cores", lambda: 2)


@pytest.mark.parametrize("chapter", budget.CHAPTERS)
def test_each_chapters_line_gives_its_minutes_on_a_colab_t4(chapter, two_cores):
    line = budget.chapter_line(chapter, CPU, SMOKE)
    minutes = max(1, round(budget.colab_t4_minutes(chapter, FULL)))
    assert re.search(rf"\babout {minutes} minute{'s' * (minutes > 1)}\b", line)
    assert "a 2-core CPU without a GPU" in line and "Colab T4 GPU" in line
    assert not MACHINERY.search(line), line
    assert "\n" not in line


def test_a_small_run_says_its_numbers_are_rough(two_cores):
    line = budget.chapter_line("04", CPU, SMOKE)
    assert "small samples" in line and "rough" in line and "full size" in line


def test_a_full_size_run_on_a_gpu_names_the_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla T4")
    line = budget.chapter_line("04", torch.device("cuda"), FULL)
    assert line.startswith("The outputs below come from a Tesla T4 GPU, at the")
    assert "full size" in line and "rough" not in line
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA A")
    assert "from an NVIDIA A GPU" in budget.chapter_line(
        "04", torch.device("cuda"), FULL
    )
    assert "an Apple GPU" in budget.chapter_line("04", torch.device("mps"), FULL)


def test_changed_sizes_are_said_whatever_the_run(two_cores):
    for profile in (SMOKE, FULL):
        line = budget.chapter_line("04", CPU, profile.replace(epochs=0.5))
        assert "sizes you changed" in line and "rough" not in line
        assert not MACHINERY.search(line), line
    # the split of a batch into accumulation steps changes no result
    fitted = SMOKE.replace(gradient_accumulation_steps=4)
    assert "sizes you changed" not in budget.chapter_line("04", CPU, fitted)


def test_a_chapter_whose_work_does_not_grow_with_the_sizes_says_so(two_cores):
    assert [c for c in budget.CHAPTERS if not budget.size_matters(c)] == ["06"]
    line = budget.chapter_line("06", CPU, SMOKE)
    assert "the same work on any machine" in line and "rough" not in line


def test_the_line_counts_the_cores_this_process_may_use():
    import os

    if hasattr(os, "sched_getaffinity"):
        assert budget._cores() == len(os.sched_getaffinity(0))
    assert budget._cores() >= 1


def test_setup_chapter_prints_the_chapters_line_instead_of_the_summary(capsys):
    from utils.environment import setup_chapter

    setup = setup_chapter("02")
    out = capsys.readouterr().out
    assert budget.chapter_line("02", setup.device, setup.profile) in out.splitlines()
    assert "Running on" not in out and not MACHINERY.search(out), out
    with pytest.raises(ValueError, match="chapter='9': use one of 01, 02"):
        setup_chapter("9")
