"""The Colab T4 budget (utils.budget): its FLOP formulas against PyTorch's FLOP counter,
and each chapter's estimate for the full profile, reported with settings that fit."""

import json
import re
from pathlib import Path

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


def test_padded_lengths_reproduce_the_measurements():
    for table in (budget.GROUPED_TRAIN, budget.GROUPED_EVAL, budget.SHUFFLED_32):
        rows = zip(budget.LENGTH_LIMITS, budget.MEAN_TOKENS, table)
        for limit, real, (mean, sq) in rows:
            assert budget.padded_length(table, limit) == pytest.approx((mean, sq))
            assert real <= mean <= limit and mean**2 <= sq <= limit**2  # padding adds


@pytest.mark.parametrize("chapter", budget.CHAPTERS)
def test_each_chapter_has_a_positive_estimate(chapter):
    phases = budget.breakdown(chapter, FULL)
    assert all(seconds > 0 for seconds in phases.values()), phases
    minutes = budget.colab_t4_minutes(chapter, FULL, BertConfig())
    assert minutes == pytest.approx(sum(phases.values()) / 60)


def test_report_the_full_profile(capsys):
    text = budget.report(FULL)
    assert all(f"chapter {c}" in text for c in budget.CHAPTERS)
    with capsys.disabled():  # the numbers are the point: show them under -q too
        print(
            f"\nColab T4 estimate, full profile (target "
            f"{budget.target_minutes():.0f} min = {budget.LIMIT_MINUTES} less "
            f"{budget.HEADROOM:.0%}):\n{text}"
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


def test_runs_on_follows_the_chapters_code():
    """RUNS_ON was read from the chapters; when one changes, update it (and this)."""
    moves_encoders = "setup.device" in chapter_code("01")
    assert (budget.RUNS_ON["01"] == "cpu") != moves_encoders, (
        "chapter 1 now uses setup.device: set RUNS_ON['01'] to where its features run"
    )
    # torch.float16 or "fp16", not the bfloat16 it autocasts to now
    fp16_on_t4 = re.search(r'\bfloat16\b|"fp16"', chapter_code("03")) is not None
    assert (budget.RUNS_ON["03"] == "fp32") != fp16_on_t4, (
        "chapter 3's autocast changed: set RUNS_ON['03'] to the T4's precision"
    )


@pytest.mark.parametrize("chapter", budget.CHAPTERS)
def test_each_chapters_full_profile_fits_twenty_minutes_on_a_colab_t4(chapter):
    minutes = budget.colab_t4_minutes(chapter, get_profile("full"))
    assert minutes <= budget.LIMIT_MINUTES, f"chapter {chapter}: {minutes:.1f} min"


# --- the device table (chapter 6): the same FLOPs at each GPU's peak ---------------

GPU_PHASE = "fine-tuning with chapter 4's recipe (once, then cached)"


@pytest.mark.parametrize("chapter", budget.CHAPTERS)
def test_on_the_t4_the_device_table_is_the_colab_estimate(chapter):
    assert budget.minutes_on(chapter, FULL, "T4") == pytest.approx(
        budget.colab_t4_minutes(chapter, FULL)
    )


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
