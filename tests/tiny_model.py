"""A tiny random model of the bundled model's architecture, for the tests of plumbing (run
directory, CLI flags, stop, kill, reload, the page's flow): ``LlamaForCausalLM`` with 2
layers and hidden size 64 (every projection a multiple of bitsandbytes' 64-value block, so
QLoRA quantizes it), the bundled SmolLM2 tokenizer and chat template. It trains a step in
well under a second; the real SmolLM2 is kept for the few tests that check what only it can
show (the gradient check, a real QLoRA run).
"""

from __future__ import annotations

import shutil
from pathlib import Path

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
                   "special_tokens_map.json")


def save_tiny_model(target: Path, seed: int = 0) -> Path:
    """Write the tiny model (config.json, model.safetensors, tokenizer) into ``target``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from core.models import resolve_model

    source = Path(resolve_model("smollm2-135m-instruct"))
    real = LlamaConfig.from_pretrained(source)
    config = LlamaConfig(
        vocab_size=real.vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16,
        max_position_embeddings=real.max_position_embeddings, rms_norm_eps=real.rms_norm_eps,
        tie_word_embeddings=True, bos_token_id=real.bos_token_id, eos_token_id=real.eos_token_id,
        pad_token_id=real.pad_token_id)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target, safe_serialization=True)
    for name in TOKENIZER_FILES:
        if (source / name).exists():
            shutil.copy(source / name, target / name)
    return target
