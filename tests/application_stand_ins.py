"""Tiny, randomly initialised stand-ins for the Hub models that chapter 5 uses when the
Hub is in reach, laid out in the Hugging Face cache under their real ids
(``hub_stand_ins.write_model_snapshot``), so that the chapter's online code paths run
offline, unpatched:

- ``distilbert/distilbert-base-cased-distilled-squad``: a DistilBERT question-answering
  model with the MiniLM tokenizer (BERT's vocabulary);
- ``openai-community/gpt2``: a GPT-2 over a small byte-level BPE vocabulary;
- ``google-t5/t5-small``: a T5 with the MiniLM tokenizer;
- ``facebook/mms-tts-eng``: a VITS text-to-speech model with a character vocabulary;
- ``openai/whisper-tiny``: a Whisper model with its feature extractor and a byte-level
  BPE tokenizer that has Whisper's special tokens.

Their outputs are noise: they test that the code runs (shapes, types, the pipelines'
plumbing), not what a real model would say.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from tests.hub_stand_ins import minilm_model_dir, write_model_snapshot

READER = "distilbert/distilbert-base-cased-distilled-squad"
GPT2 = "openai-community/gpt2"
TRANSLATOR = "google-t5/t5-small"
SPEAKER = "facebook/mms-tts-eng"
LISTENER = "openai/whisper-tiny"
ALL = (READER, GPT2, TRANSLATOR, SPEAKER, LISTENER)

TEXTS = [  # enough text to train a small byte-level BPE vocabulary on
    "This movie was wonderful, the acting in this film was great.",
    "I would not recommend it: the plot is thin and the ending is weak.",
    "My favourite scene is the last one. The music is beautiful.",
] * 4
WHISPER_SPECIALS = [
    "<|endoftext|>",
    "<|startoftranscript|>",
    "<|en|>",
    "<|translate|>",
    "<|transcribe|>",
    "<|startoflm|>",
    "<|startofprev|>",
    "<|nocaptions|>",
    "<|notimestamps|>",
]


def _seeded():
    import torch

    torch.manual_seed(0)


def reader(folder: Path) -> Path:
    from transformers import AutoTokenizer, DistilBertConfig
    from transformers import DistilBertForQuestionAnswering as Model

    _seeded()
    config = DistilBertConfig(dim=32, hidden_dim=64, n_layers=1, n_heads=2)
    Model(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(minilm_model_dir()).save_pretrained(folder)
    return folder


def gpt2(folder: Path) -> Path:
    from transformers import GPT2Config, GPT2LMHeadModel

    from utils.tiny_lm import byte_level_bpe

    tokenizer = byte_level_bpe(TEXTS, 300)
    eos = tokenizer.eos_token_id
    _seeded()
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=16,
        n_layer=1,
        n_head=2,
        bos_token_id=eos,
        eos_token_id=eos,
    )
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def translator(folder: Path) -> Path:
    from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration

    tokenizer = AutoTokenizer.from_pretrained(minilm_model_dir())
    _seeded()
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=16,
        d_kv=8,
        d_ff=32,
        num_layers=1,
        num_heads=2,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.sep_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    T5ForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def speaker(folder: Path) -> Path:
    from transformers import VitsConfig, VitsModel, VitsTokenizer

    characters = ["<pad>", " ", *"abcdefghijklmnopqrstuvwxyz'.,:!?-"]
    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.json"
    vocab.write_text(json.dumps({c: i for i, c in enumerate(characters)}))
    # as facebook/mms-tts-eng's: characters, no phonemes, a blank between them
    tokenizer = VitsTokenizer(
        str(vocab),
        pad_token="<pad>",
        unk_token="<pad>",
        phonemize=False,
        add_blank=True,
    )
    tokenizer.save_pretrained(folder)
    _seeded()
    config = VitsConfig(
        vocab_size=len(characters),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        ffn_dim=32,
        flow_size=16,
        upsample_initial_channel=16,
        upsample_rates=[4, 4],
        upsample_kernel_sizes=[8, 8],
        resblock_kernel_sizes=[3],
        resblock_dilation_sizes=[[1, 3]],
        prior_encoder_num_flows=1,
        prior_encoder_num_wavenet_layers=1,
        posterior_encoder_num_wavenet_layers=1,
        duration_predictor_num_flows=1,
        duration_predictor_filter_channels=16,
        depth_separable_num_layers=1,
        spectrogram_bins=33,
    )
    VitsModel(config).save_pretrained(folder)
    return folder


def listener(folder: Path) -> Path:
    from transformers import (
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
        WhisperTokenizerFast,
    )

    from utils.tiny_lm import byte_level_bpe

    with tempfile.TemporaryDirectory() as scratch:
        byte_level_bpe(TEXTS, 300).save_pretrained(scratch)
        tokenizer = WhisperTokenizerFast(
            tokenizer_file=str(Path(scratch) / "tokenizer.json"),
            unk_token="<|endoftext|>",
            bos_token="<|endoftext|>",
            eos_token="<|endoftext|>",
            pad_token="<|endoftext|>",
        )
    tokenizer.add_special_tokens({"additional_special_tokens": WHISPER_SPECIALS[1:]})
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in WHISPER_SPECIALS}
    _seeded()
    config = WhisperConfig(
        vocab_size=len(tokenizer),
        num_mel_bins=80,
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_source_positions=1500,
        max_target_positions=64,
        pad_token_id=ids["<|endoftext|>"],
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|endoftext|>"],
        decoder_start_token_id=ids["<|startoftranscript|>"],
        begin_suppress_tokens=None,
        suppress_tokens=None,
    )
    model = WhisperForConditionalGeneration(config)
    generation = model.generation_config
    generation.no_timestamps_token_id = ids["<|notimestamps|>"]
    generation.is_multilingual = False
    generation.max_length = 32
    model.save_pretrained(folder)
    WhisperProcessor(WhisperFeatureExtractor(), tokenizer).save_pretrained(folder)
    return folder


BUILDERS = {
    READER: reader,
    GPT2: gpt2,
    TRANSLATOR: translator,
    SPEAKER: speaker,
    LISTENER: listener,
}


def write_application_stand_ins(hf_home: str | Path) -> list[Path]:
    """Build every stand-in and lay it into ``hf_home``'s hub cache under its real id;
    return the snapshot folders."""
    snapshots = []
    with tempfile.TemporaryDirectory() as scratch:
        for repo_id, build in BUILDERS.items():
            folder = build(Path(scratch) / repo_id.replace("/", "--"))
            snapshots.append(write_model_snapshot(hf_home, repo_id, folder))
    return snapshots
