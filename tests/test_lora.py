"""LoRA written from its formula (utils.lora) computes what peft computes on the same
weights, starts as the pretrained model, trains only its small matrices and the head,
and merges into plain linear layers without changing the outputs."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from utils import lora

CONFIG = BertConfig(
    vocab_size=200,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
)
RANK, ALPHA = 4, 8
IDS = torch.randint(0, 200, (3, 12), generator=torch.Generator().manual_seed(1))


def pretrained() -> BertForSequenceClassification:
    torch.manual_seed(0)
    return BertForSequenceClassification(CONFIG).eval()


def hidden(model) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=IDS, output_hidden_states=True).hidden_states[-1]


def logits(model) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=IDS).logits


def trained_peft(base):
    """peft's LoRA on ``base``, with B and the head moved away from their start (as
    training would), so that a wrong formula shows."""
    model = lora.peft_lora(copy.deepcopy(base), RANK, ALPHA).eval()
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for module in model.modules():
            if hasattr(module, "lora_B") and "default" in module.lora_B:
                weight = module.lora_B["default"].weight
                weight.copy_(torch.randn(weight.shape, generator=generator))
        head = model.base_model.model.classifier.modules_to_save["default"]
        head.weight.add_(torch.randn(head.weight.shape, generator=generator))
    return model


def test_lora_starts_as_the_pretrained_model():
    base = pretrained()
    adapted = lora.add_lora(copy.deepcopy(base), RANK, ALPHA)
    layers = [m for m in adapted.modules() if isinstance(m, lora.LoRALinear)]
    assert len(layers) == 2 * CONFIG.num_hidden_layers  # query and value per layer
    assert all(m.A.abs().sum() > 0 and m.B.abs().sum() == 0 for m in layers)
    assert torch.equal(hidden(adapted), hidden(base))


def test_the_formula_matches_peft_on_the_same_weights():
    base = pretrained()
    theirs = trained_peft(base)
    ours = lora.add_lora(copy.deepcopy(base), RANK, ALPHA).eval()
    assert lora.copy_adapters(ours, theirs) == 2 * CONFIG.num_hidden_layers
    # the adapters change the model far more than the tolerance
    assert (hidden(ours) - hidden(base)).abs().max() > 1e-2
    assert torch.allclose(hidden(ours), hidden(theirs), atol=1e-6)
    assert torch.allclose(logits(ours), logits(theirs), atol=1e-6)


def test_one_layer_is_w_x_plus_alpha_over_r_b_a_x():
    layer = lora.LoRALinear(torch.nn.Linear(5, 3), rank=2, alpha=6)
    torch.nn.init.normal_(layer.B)
    x = torch.randn(4, 5)
    by_hand = x @ layer.base.weight.T + layer.base.bias + 3 * x @ (layer.B @ layer.A).T
    assert torch.allclose(layer(x), by_hand, atol=1e-6)


def test_merging_keeps_the_outputs_for_both_implementations():
    base = pretrained()
    theirs = trained_peft(base)
    ours = lora.add_lora(copy.deepcopy(base), RANK, ALPHA).eval()
    lora.copy_adapters(ours, theirs)
    before = hidden(ours)
    merged_ours = lora.merge(ours)
    merged_theirs = theirs.merge_and_unload()
    assert not any(isinstance(m, lora.LoRALinear) for m in merged_ours.modules())
    assert sum(p.numel() for p in merged_ours.parameters()) == sum(
        p.numel() for p in base.parameters()
    )
    assert torch.allclose(hidden(merged_ours), before, atol=1e-6)
    assert torch.allclose(hidden(merged_theirs), before, atol=1e-6)


def test_only_the_low_rank_matrices_and_the_head_train():
    base = pretrained()
    ours = lora.add_lora(copy.deepcopy(base), RANK, ALPHA)
    theirs = lora.peft_lora(copy.deepcopy(base), RANK, ALPHA)
    per_layer = RANK * (CONFIG.hidden_size + CONFIG.hidden_size)
    head = CONFIG.hidden_size * 2 + 2
    assert lora.lora_parameters(ours) == 2 * CONFIG.num_hidden_layers * per_layer
    assert lora.trainable_parameters(ours) == lora.lora_parameters(ours) + head
    assert lora.trainable_parameters(theirs) == lora.trainable_parameters(ours)
    trained = {n for n, p in ours.named_parameters() if p.requires_grad}
    assert all(n.endswith((".A", ".B")) or n.startswith("classifier.") for n in trained)


def test_at_the_start_only_b_and_the_head_get_a_gradient():
    # B = 0, so dL/dA = (alpha / r) B^T (dL/dh) x^T is zero: B moves first
    model = lora.add_lora(pretrained(), RANK, ALPHA).train()
    model(input_ids=IDS, labels=torch.tensor([0, 1, 1])).loss.backward()
    layers = [m for m in model.modules() if isinstance(m, lora.LoRALinear)]
    assert all(m.A.grad.abs().sum() == 0 for m in layers)
    assert all(m.B.grad.abs().sum() > 0 for m in layers)
    assert all(m.base.weight.grad is None for m in layers)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="rank=0"):
        lora.LoRALinear(torch.nn.Linear(4, 4), rank=0, alpha=1)
    with pytest.raises(ValueError, match="no linear layer"):
        lora.add_lora(pretrained(), RANK, ALPHA, targets=("nowhere",))
    ours = lora.add_lora(pretrained(), RANK, ALPHA, targets=("query",))
    with pytest.raises(ValueError, match="different layers"):
        lora.copy_adapters(ours, lora.peft_lora(pretrained(), RANK, ALPHA))


def test_saving_lora_asks_the_hub_nothing_and_keeps_adapters_and_head(tmp_path):
    base = pretrained()
    base.name_or_path = base.config.name_or_path = "bert-base-uncased"  # from the Hub
    model = lora.peft_lora(base, RANK, ALPHA)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lora.save(model, tmp_path)
    assert not [str(w.message) for w in caught if "config" in str(w.message)]
    saved = torch_load_safetensors(tmp_path / "adapter_model.safetensors")
    assert any("lora_B" in name for name in saved)
    assert any("classifier" in name for name in saved)  # the trained head
    assert not any("embeddings" in name for name in saved)


def torch_load_safetensors(path):
    from safetensors.torch import load_file

    return load_file(str(path))
