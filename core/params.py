"""Counting parameters: a small dense network, then real transformer language models.

A dense layer n_in -> n_out holds n_in*n_out weights and n_out biases. A decoder-only
transformer is an embedding table, ``num_layers`` identical blocks (attention projections,
an MLP, two norms), a final norm and an output head that may share the embedding's
weights. The counts here follow transformers' module definitions exactly (``LlamaModel``,
``MistralModel``, ``GemmaModel``, ``Qwen2Model``, ``GPT2Model``) and the tests check them
against models built from ``Architecture.to_hf_config()`` on the meta device.

No heavy imports at module level: ``to_hf_config`` imports transformers when called.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"
MODEL_TYPES = ("llama", "mistral", "gemma", "qwen2", "gpt2")
LINEAR_NAMES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


# -- the notes' small network ------------------------------------------------------------


@dataclass(frozen=True)
class DenseLayer:
    n_in: int
    n_out: int

    @property
    def weights(self) -> int:
        return self.n_in * self.n_out  # W is (n_out, n_in)

    @property
    def biases(self) -> int:
        return self.n_out  # b is (n_out,)

    @property
    def params(self) -> int:
        return self.weights + self.biases


def dense_layers(layer_sizes) -> tuple[DenseLayer, ...]:
    """The dense layers of an MLP with widths ``layer_sizes`` (inputs first): 4-3-3-2-1 gives
    4->3, 3->3, 3->2, 2->1."""
    sizes = list(layer_sizes)
    if len(sizes) < 2:
        raise ValueError(f"layer_sizes {sizes} needs at least two widths (inputs and outputs)")
    for n in sizes:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"layer width {n!r} must be a positive whole number")
    return tuple(DenseLayer(n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True))


def mlp_param_count(layer_sizes) -> int:
    """Weights + biases of a dense network: sum over layers of n_in*n_out + n_out.

    4-3-3-2-1: (4*3+3) + (3*3+3) + (3*2+2) + (2*1+1) = 38 (CURRICULUM.md §1)."""
    return sum(layer.params for layer in dense_layers(layer_sizes))


def parse_layer_sizes(text: str) -> tuple[int, ...]:
    """``"4-3-3-2-1"`` (or commas / spaces) -> (4, 3, 3, 2, 1); ValueError on anything else."""
    parts = [p for p in text.replace(",", " ").replace("-", " ").split() if p]
    if not parts:
        raise ValueError(f"layer list {text!r} is empty; expected widths such as 4-3-3-2-1")
    sizes = []
    for p in parts:
        if not (p.isascii() and p.isdigit()):
            raise ValueError(f"layer width {p!r} is not a whole number; expected e.g. 4-3-3-2-1")
        sizes.append(int(p))
    dense_layers(sizes)  # validates
    return tuple(sizes)


# -- transformer language models ---------------------------------------------------------


@dataclass(frozen=True)
class Architecture:
    """The numbers of a model's config.json that fix its parameter count."""

    name: str  # preset name, e.g. "Llama-2 7B"
    model_type: str  # transformers model_type; "gpt2" stands in for GPT-3
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    tie_embeddings: bool
    attention_bias: bool  # q/k/v/o biases (Qwen2: q, k, v only; GPT-2: all)
    mlp_bias: bool
    max_position_embeddings: int
    source: str = field(default="", compare=False)

    def __post_init__(self):
        if self.model_type not in MODEL_TYPES:
            raise ValueError(
                f"model_type {self.model_type!r} is not supported; expected one of {MODEL_TYPES}"
            )
        for name in (
            "hidden_size",
            "intermediate_size",
            "num_layers",
            "num_heads",
            "num_kv_heads",
            "head_dim",
            "vocab_size",
            "max_position_embeddings",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} = {value!r} must be a positive whole number")
        if self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"num_heads {self.num_heads} must be a multiple of num_kv_heads {self.num_kv_heads}"
            )

    def to_hf_config(self):
        """The matching transformers ``PretrainedConfig`` (imports transformers)."""
        from transformers import AutoConfig

        if self.model_type == "gpt2":
            if self.num_heads * self.head_dim != self.hidden_size:
                raise ValueError(f"GPT-2 needs num_heads*head_dim == hidden_size, got {self.name}")
            return AutoConfig.for_model(
                "gpt2",
                n_embd=self.hidden_size,
                n_inner=self.intermediate_size,
                n_layer=self.num_layers,
                n_head=self.num_heads,
                vocab_size=self.vocab_size,
                n_positions=self.max_position_embeddings,
                tie_word_embeddings=self.tie_embeddings,
            )
        kwargs = dict(
            hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size,
            num_hidden_layers=self.num_layers,
            num_attention_heads=self.num_heads,
            num_key_value_heads=self.num_kv_heads,
            vocab_size=self.vocab_size,
            tie_word_embeddings=self.tie_embeddings,
            max_position_embeddings=self.max_position_embeddings,
        )
        if self.model_type != "qwen2":  # Qwen2 derives head_dim and always biases q, k, v
            kwargs["head_dim"] = self.head_dim
        if self.model_type in ("llama", "gemma"):
            kwargs["attention_bias"] = self.attention_bias
        if self.model_type == "llama":
            kwargs["mlp_bias"] = self.mlp_bias
        return AutoConfig.for_model(self.model_type, **kwargs)


def arch_from_hf_config(config, name: str | None = None) -> Architecture:
    """Any loaded transformers config of a supported model_type -> Architecture."""
    model_type = getattr(config, "model_type", None)
    if model_type not in MODEL_TYPES:
        raise ValueError(
            f"model_type {model_type!r} is not supported; expected one of {MODEL_TYPES}"
        )
    name = name or getattr(config, "name_or_path", "") or model_type
    if model_type == "gpt2":
        d = config.n_embd
        return Architecture(
            name=name,
            model_type="gpt2",
            hidden_size=d,
            intermediate_size=config.n_inner or 4 * d,
            num_layers=config.n_layer,
            num_heads=config.n_head,
            num_kv_heads=config.n_head,
            head_dim=d // config.n_head,
            vocab_size=config.vocab_size,
            tie_embeddings=bool(config.tie_word_embeddings),
            attention_bias=True,
            mlp_bias=True,
            max_position_embeddings=config.n_positions,
        )
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    if model_type == "qwen2":
        head_dim = config.hidden_size // heads
    return Architecture(
        name=name,
        model_type=model_type,
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_layers=config.num_hidden_layers,
        num_heads=heads,
        num_kv_heads=getattr(config, "num_key_value_heads", None) or heads,
        head_dim=head_dim,
        vocab_size=config.vocab_size,
        tie_embeddings=bool(config.tie_word_embeddings),
        attention_bias=True
        if model_type == "qwen2"
        else bool(getattr(config, "attention_bias", False)),
        mlp_bias=bool(getattr(config, "mlp_bias", False)),
        max_position_embeddings=config.max_position_embeddings,
    )


@cache
def _load_presets() -> dict[str, Architecture]:
    raw = json.loads((ASSETS / "architectures.json").read_text())
    return {
        name: Architecture(name=name, **spec)
        for name, spec in raw.items()
        if not name.startswith("_")
    }


ARCHITECTURES: dict[str, Architecture] = _load_presets()


def linear_shapes(arch: Architecture) -> dict[str, tuple[int, int]]:
    """The weight shapes (d_out, d_in) of one decoder layer's linear layers, in peft's
    target-module names. nn.Linear stores W as (out_features, in_features).

        q_proj (H*hd, d)   k_proj, v_proj (KV*hd, d)   o_proj (d, H*hd)
        gate_proj, up_proj (I, d)   down_proj (d, I)

    GPT-2/GPT-3 fuses q, k, v into one ``c_attn`` (3d, d) and has no gate; its pieces are
    reported under the equivalent names (q/k/v (d, d), o_proj = attn.c_proj, up_proj =
    mlp.c_fc, down_proj = mlp.c_proj), which is how the LoRA paper treats W_q and W_v."""
    d, inter = arch.hidden_size, arch.intermediate_size
    q_out, kv_out = arch.num_heads * arch.head_dim, arch.num_kv_heads * arch.head_dim
    shapes = {
        "q_proj": (q_out, d),
        "k_proj": (kv_out, d),
        "v_proj": (kv_out, d),
        "o_proj": (d, q_out),
    }
    if arch.model_type != "gpt2":
        shapes["gate_proj"] = (inter, d)
    shapes["up_proj"] = (inter, d)
    shapes["down_proj"] = (d, inter)
    return shapes


def _biased(arch: Architecture) -> tuple[str, ...]:
    """Which linear layers carry a bias vector."""
    attention = ()
    if arch.model_type == "qwen2":
        attention = ("q_proj", "k_proj", "v_proj")  # Qwen2Attention: o_proj has no bias
    elif arch.attention_bias:
        attention = ("q_proj", "k_proj", "v_proj", "o_proj")
    mlp = ("gate_proj", "up_proj", "down_proj") if arch.mlp_bias else ()
    return attention + mlp


@dataclass(frozen=True)
class ParamBreakdown:
    embeddings: int  # token (+ learned position) embeddings
    attention: int  # all layers' q, k, v, o weights and biases
    mlp: int  # all layers' gate/up/down weights and biases
    norms: int  # every norm's scale (and shift for LayerNorm)
    lm_head: int  # 0 when tied to the embeddings

    @property
    def total(self) -> int:
        return self.embeddings + self.attention + self.mlp + self.norms + self.lm_head


def param_breakdown(arch: Architecture) -> ParamBreakdown:
    """Where a model's parameters sit. With d = hidden, V = vocab, L = layers:

    embeddings  V*d  (+ P*d learned positions for GPT-2/3)
    attention   L * sum over q,k,v,o of (d_out*d_in [+ d_out bias])
    mlp         L * sum over gate,up,down of (d_out*d_in [+ d_out bias])
    norms       (2L + 1) * d for RMSNorm; twice that for LayerNorm (scale and shift)
    lm_head     V*d unless tied to the embeddings
    """
    shapes, biased = linear_shapes(arch), _biased(arch)
    if arch.model_type == "gpt2":
        biased = tuple(shapes)

    def block(names):
        return sum(o * i + (o if n in biased else 0) for n, (o, i) in shapes.items() if n in names)

    d, L = arch.hidden_size, arch.num_layers
    embeddings = arch.vocab_size * d
    norm_size = d
    if arch.model_type == "gpt2":
        embeddings += arch.max_position_embeddings * d
        norm_size = 2 * d  # LayerNorm: weight and bias
    # 1. per layer, times L; 2. two norms per layer plus the final one; 3. head unless tied
    attention = L * block(("q_proj", "k_proj", "v_proj", "o_proj"))
    mlp = L * block(("gate_proj", "up_proj", "down_proj"))
    norms = (2 * L + 1) * norm_size
    lm_head = 0 if arch.tie_embeddings else arch.vocab_size * d
    return ParamBreakdown(embeddings, attention, mlp, norms, lm_head)


def transformer_param_count(arch: Architecture) -> int:
    """Total parameters, counted once if the head is tied (as ``model.num_parameters()``):
    Llama-2 7B = 6,738,415,616."""
    return param_breakdown(arch).total


# -- bytes ------------------------------------------------------------------------------

# Bits per parameter (CURRICULUM.md §1, §2). Block-wise 4-bit formats store constants too:
# one FP32 absmax per 64 weights is 32/64 = 0.5 bit per weight; double quantization stores
# those absmaxes in 8 bits with one FP32 constant per 256 of them: 8/64 + 32/(64*256) = 0.127.
# (core.memory.weight_bytes counts a real model's bytes, with its unquantized layers.)
ABSMAX_BITS = 32 / 64
DOUBLE_QUANT_BITS = 8 / 64 + 32 / (64 * 256)
BITS_PER_PARAM = {
    "FP32": 32,
    "FP16": 16,
    "BF16": 16,
    "INT8": 8,
    "FP8": 8,
    "INT4 / NF4": 4,
    "NF4 + absmax": 4 + ABSMAX_BITS,
    "NF4 + double quant": 4 + DOUBLE_QUANT_BITS,
}


@dataclass(frozen=True)
class ModelSize:
    dtype: str
    bytes_per_param: float
    bytes: float

    @property
    def gb(self) -> float:  # decimal gigabytes, as model cards and "700 GB" count
        return self.bytes / 1e9

    @property
    def gib(self) -> float:  # binary gigabytes (1 GB = 1024 MB in the notes)
        return self.bytes / 2**30


def model_size(n_params: float, dtype: str) -> ModelSize:
    """Bytes to store ``n_params`` weights in ``dtype``: n_params * bits / 8.
    GPT-3 at FP32: 175e9 * 4 B = 700e9 B = 700 GB = 651.9 GiB."""
    if dtype not in BITS_PER_PARAM:
        raise ValueError(f"dtype {dtype!r} unknown; expected one of {list(BITS_PER_PARAM)}")
    if not n_params >= 0 or n_params == float("inf"):
        raise ValueError(f"parameter count {n_params!r} must be a finite number >= 0")
    per = BITS_PER_PARAM[dtype] / 8
    return ModelSize(dtype, per, n_params * per)


from core.checks import checked_module  # noqa: E402

checked_module(__name__)  # a wrong argument reaches the caller as a ValueError (core/checks.py)
