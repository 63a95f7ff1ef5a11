"""Where the bytes go: a model's weights per datatype, and training memory for full
fine-tuning, LoRA and QLoRA split into weights, gradients, optimizer states, activations
and overhead.

Everything here is arithmetic on an ``Architecture`` (``core.params``); nothing is loaded.
The weight formulas follow what transformers + bitsandbytes really allocate (checked in
``tests/test_memory.py`` against the bundled SmolLM2 loaded in fp32, int8, NF4 and NF4 with
double quantization); the training formulas are the usual accounting of Rajbhandari et al.
2020 (ZeRO, section 3.1), Dettmers et al. 2023 (QLoRA, section 2) and Korthikanti et al. 2022
(activations), written out for a Llama-style decoder.

Units: bytes. 1 GB = 1024**3 bytes, as the curriculum defines it.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace

from core.lora import model_lora_param_count
from core.params import linear_shapes, transformer_param_count

FORMATS = ("fp32", "fp16", "bf16", "int8", "nf4", "nf4-dq")
METHODS = ("full", "lora", "qlora")
OPTIMIZERS = ("adamw", "adamw-8bit", "paged-adamw-8bit")
COMPUTE_DTYPES = ("fp32", "bf16", "fp16")
ATTENTION = ("sdpa", "eager")
BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}  # bytes per element of a float tensor

NF4_BLOCK = 64  # weights per absmax (QLoRA; bitsandbytes' default blocksize)
DQ_BLOCK = 256  # absmax values per second-level constant (bitsandbytes' nested blocksize)
NF4_CODE = 16 * 4  # the 16 NF4 levels, fp32, one copy per quantized matrix
DQ_CONSTANTS = 4 + 256 * 4  # the fp32 offset and the 8-bit dynamic code table, per matrix
ADAM8_BLOCK = 256  # bitsandbytes' 8-bit optimizers: one fp32 absmax per 256 values per state
ADAM8_MIN_SIZE = 4096  # smaller tensors keep 32-bit states (bitsandbytes' min_8bit_size)
# The tensor each projection reads: q, k, v the first norm's output, gate and up the second's.
READS = {"q_proj": "norm1", "k_proj": "norm1", "v_proj": "norm1", "o_proj": "attention",
         "gate_proj": "norm2", "up_proj": "norm2", "down_proj": "product"}
GB = 1024**3
CUDA_CONTEXT = 512 * 1024**2  # CUDA context + kernels, a typical figure for one GPU process
FRAGMENTATION = 0.05  # the caching allocator's slack, as a share of the tensors' bytes


def _check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")


def quantized_shapes(arch) -> list[tuple[int, int]]:
    """The (d_out, d_in) of every matrix bitsandbytes quantizes: the attention and MLP
    projections of each decoder layer (``linear_shapes(arch)`` times ``num_layers``).
    Embeddings, norms, biases and the output head stay in floating point (transformers
    keeps the output head out of the conversion)."""
    return list(linear_shapes(arch).values()) * arch.num_layers


def _buffer_bytes(arch) -> int:
    """Non-parameter tensors the model holds: Llama-style rotary embeddings keep
    ``inv_freq`` and ``original_inv_freq``, each head_dim/2 fp32 values."""
    return 0 if arch.model_type == "gpt2" else 2 * (arch.head_dim // 2) * 4


def weight_bytes(arch, fmt: str, keep_dtype: str = "fp16") -> int:
    """Bytes a loaded model holds for its weights in format ``fmt``.

    With P = transformer_param_count(arch), Q = the elements of the quantized matrices
    (every q/k/v/o/gate/up/down projection), n = d_out * d_in of one such matrix:

    - fp32, fp16, bf16:  P * (4 | 2 | 2)
    - int8 (LLM.int8):   Q * 1 + sum over matrices of d_out * 4   (int8 weights + one fp32
      scale per output row, ``SCB``) + (P - Q) * bytes(keep_dtype)
    - nf4:               sum over matrices of [ceil(n/2) + 4 * ceil(n/64) + 64]
      (two 4-bit codes per byte, one fp32 absmax per block of 64, the 16-level code table)
      + (P - Q) * bytes(keep_dtype)
    - nf4-dq (double quantization): the absmax values become 8-bit, with one fp32
      constant per 256 of them, an fp32 offset and a 256-entry fp32 code table:
      sum of [ceil(n/2) + ceil(n/64) + 4 * ceil(ceil(n/64)/256) + 64 + 4 + 1024]
      + (P - Q) * bytes(keep_dtype)

    Per weight that is 4 + 32/64 = 4.5 bits for nf4 and 4 + 8/64 + 32/(64*256) = 4.127
    bits for nf4-dq (QLoRA, section 3). ``keep_dtype`` is the dtype of the layers
    bitsandbytes leaves alone (embeddings, norms, biases, an untied output head): the
    ``dtype=`` the model is loaded with. Rotary-embedding buffers (fp32) are included.
    Source: bitsandbytes ``functional.quantize_4bit`` / ``quantize_blockwise`` and
    ``nn.Int8Params``; transformers' bitsandbytes quantizers.
    """
    _check_choice("fmt", fmt, FORMATS)
    _check_choice("keep_dtype", keep_dtype, tuple(BYTES))
    P = transformer_param_count(arch)
    if fmt in BYTES:
        return P * BYTES[fmt] + _buffer_bytes(arch)
    shapes = quantized_shapes(arch)
    Q = sum(d_out * d_in for d_out, d_in in shapes)
    rest = (P - Q) * BYTES[keep_dtype] + _buffer_bytes(arch)
    if fmt == "int8":
        return sum(d_out * d_in + 4 * d_out for d_out, d_in in shapes) + rest
    total = 0
    for (d_out, d_in), count in Counter(shapes).items():  # each distinct shape once
        n = d_out * d_in
        blocks = math.ceil(n / NF4_BLOCK)
        matrix = math.ceil(n / 2) + NF4_CODE  # 1. packed codes + the NF4 table
        if fmt == "nf4":
            matrix += 4 * blocks  # 2. fp32 absmax per block
        else:
            matrix += blocks + 4 * math.ceil(blocks / DQ_BLOCK) + DQ_CONSTANTS  # 2'. 8-bit absmax
        total += count * matrix
    return total + rest


@dataclass(frozen=True)
class MemoryEstimate:
    """Training memory in bytes, by component (see ``estimate_training_memory``)."""

    method: str  # "full" | "lora" | "qlora"
    weights: int
    gradients: int
    optimizer: int
    activations: int
    overhead: int
    trainable: int = 0  # trainable parameters behind gradients and optimizer states
    adapter_weights: int = 0  # the part of ``weights`` that is the fp32 adapters (4 * P_t)
    master_weights: int = 0  # the part of ``optimizer`` that is full fine-tuning's fp32 copy

    @property
    def frozen_weights(self) -> int:
        """The frozen model's part of ``weights`` (full fine-tuning: all of it)."""
        return self.weights - self.adapter_weights

    @property
    def optimizer_states(self) -> int:
        """The optimizer's own states (AdamW's m and v): ``optimizer`` without the master
        copy. What a paged optimizer can move to CPU RAM."""
        return self.optimizer - self.master_weights

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations + self.overhead

    def components(self) -> dict[str, int]:
        return {
            "weights": self.weights,
            "gradients": self.gradients,
            "optimizer": self.optimizer,
            "activations": self.activations,
            "overhead": self.overhead,
        }


def trainable_shapes(arch, method: str, r: int, target_modules) -> list[tuple[int, ...]]:
    """Shapes of the trainable tensors. LoRA/QLoRA: per layer and target module,
    A (r, d_in) and B (d_out, r), peft's lora_A / lora_B. Full: every projection matrix,
    the embedding (and an untied head) and the remaining small tensors (norms, biases) as
    hidden-size vectors."""
    shapes = linear_shapes(arch)
    if method == "full":
        big = quantized_shapes(arch)
        embeddings = [(arch.vocab_size, arch.hidden_size)] * (1 if arch.tie_embeddings else 2)
        rest = transformer_param_count(arch) - sum(math.prod(s) for s in big + embeddings)
        vectors, leftover = divmod(rest, arch.hidden_size)  # norms and biases, ~hidden-sized
        return big + embeddings + [(arch.hidden_size,)] * vectors + [(leftover,)] * bool(leftover)
    out = []
    for name in target_modules:
        d_out, d_in = shapes[name]
        out += [(r, d_in), (d_out, r)] * arch.num_layers
    return out


def optimizer_bytes(shapes, optimizer: str) -> int:
    """Optimizer-state bytes for trainable tensors of the given shapes.

    AdamW keeps two states per parameter (m and v):
    - adamw: 2 * 4 = 8 bytes per parameter, plus torch's fp32 step counter (4 bytes) per
      tensor;
    - adamw-8bit / paged-adamw-8bit (Dettmers et al. 2022, bitsandbytes): tensors of
      n >= 4096 elements keep m and v as uint8 plus one fp32 absmax per 256 values each:
      2 * n + 2 * 4 * ceil(n/256); smaller tensors stay at 8 * n. "Paged" is the same size,
      but the states live in unified memory that moves to CPU RAM when the GPU runs out.
    The shared 256-entry quantization maps (2 KB) are left out.
    """
    _check_choice("optimizer", optimizer, OPTIMIZERS)
    total = 0
    for shape in shapes:
        n = math.prod(shape)
        if optimizer == "adamw":
            total += 8 * n + 4
        elif n < ADAM8_MIN_SIZE:
            total += 8 * n
        else:
            total += 2 * n + 8 * math.ceil(n / ADAM8_BLOCK)
    return total


def activation_bytes(arch, batch_size: int, seq_len: int, compute_dtype: str = "bf16",
                     gradient_checkpointing: bool = False, attention: str = "sdpa",
                     target_modules=None, r: int = 16) -> int:
    """Activations kept for the backward pass of a Llama-style decoder (bytes).

    Bytes per token and layer that autograd saves (h = hidden, q = heads * head_dim,
    kv = kv_heads * head_dim, i = intermediate, b_c = bytes of the compute dtype):
    - every method: the two RMSNorms keep their input upcast to fp32 (2 * 4h); attention
      keeps the rotated q and k, v and its output ((2q + 2kv) * b_c); the MLP keeps gate,
      SiLU(gate) and up (3i * b_c).
    - full fine-tuning (``target_modules=None``) adds what the weight gradients need: each
      norm's normalized values and output (4h * b_c) and the MLP product fed to down_proj
      (i * b_c):   a_layer = 8h + (4h + 2q + 2kv + 4i) * b_c
    - LoRA / QLoRA: frozen weights need no saved inputs; each target module's lora_A keeps
      its input, cast to the fp32 adapter dtype (d_in * 4; in fp32 compute, targets that read
      the same tensor share it), and lora_A's output (r * 4):
                   a_layer = 8h + (2q + 2kv + 3i) * b_c + sum over targets (d_in + r) * 4
    - attention state: sdpa (flash / memory-efficient kernels) keeps one fp32 log-sum-exp
      per head (4 * heads); eager keeps the softmax matrix (heads * s * b_c: quadratic in s).
    The loss holds the logits (b_c), their fp32 copy when b_c = 2, and cross-entropy's fp32
    log-probabilities:  logits = b * s * V * (b_c + 4 + (4 if b_c = 2 else 0))
    Without checkpointing:  b * s * L * a_layer + logits
    With checkpointing (each layer keeps only its input; one layer is recomputed at a time
    during the backward pass):  b * s * (L * h * b_c + a_layer) + logits
    GPT-style models (no gate, GELU) keep i instead of 3i in the MLP: an approximation, as is
    the LayerNorm treated like an RMSNorm.
    Source: Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer
    Models", section 4, redone for RMSNorm, SwiGLU, grouped-query attention, no dropout and
    peft adapters; checked against the tensors torch's autograd saves for the bundled
    SmolLM2 (tests/test_memory.py).
    """
    return activation_terms(arch, batch_size, seq_len, compute_dtype, gradient_checkpointing,
                            attention, target_modules, r).total


def layer_activation_bytes(arch, seq_len: int, compute_dtype: str = "bf16",
                           attention: str = "sdpa", target_modules=None, r: int = 16) -> int:
    """a_layer of ``activation_bytes``: bytes saved per token in one decoder layer."""
    return layer_activation_parts(arch, seq_len, compute_dtype, attention, target_modules, r).total


@dataclass(frozen=True)
class LayerActivations:
    """a_layer, bytes saved per token in one decoder layer, by part (``activation_bytes``).

    ``symbols`` are the parts' formulas (LaTeX, in the names of ``activation_bytes``) and
    ``numbers`` the same formulas with this model's sizes, aligned with ``parts()``."""

    norms: int  # the two norms' fp32 inputs, 8h
    saved: int  # the compute-dtype tensors the backward pass needs
    adapters: int  # each lora_A's fp32 input and output (0 for full fine-tuning)
    attention: int  # the attention kernel's own state
    symbols: tuple[str, ...]
    numbers: tuple[str, ...]

    @property
    def total(self) -> int:
        return self.norms + self.saved + self.adapters + self.attention

    def parts(self) -> dict[str, int]:
        return {"norms": self.norms, "saved": self.saved, "adapters": self.adapters,
                "attention": self.attention}


def layer_activation_parts(arch, seq_len: int, compute_dtype: str = "bf16",
                           attention: str = "sdpa", target_modules=None,
                           r: int = 16) -> LayerActivations:
    """a_layer split into its parts, with their formulas (see ``activation_bytes``)."""
    _check_choice("compute_dtype", compute_dtype, COMPUTE_DTYPES)
    _check_choice("attention", attention, ATTENTION)
    b_c = BYTES[compute_dtype]
    h, i = arch.hidden_size, arch.intermediate_size
    q, kv = arch.num_heads * arch.head_dim, arch.num_kv_heads * arch.head_dim
    gated = arch.model_type != "gpt2"  # GPT-style: no gate, GELU keeps its input
    mlp, mlp_sym = (3 * i, "3i") if gated else (i, "i")
    # 1. the norms' fp32 inputs
    norms, symbols, numbers = 8 * h, ["8h"], [f"8 \\cdot {h}"]
    adapters = 0
    if target_modules is None:  # 2. full: what the weight gradients need too
        saved = (4 * h + 2 * q + 2 * kv + mlp + i) * b_c
        symbols.append(f"(4h + 2q + 2kv + {'4i' if gated else '2i'}) \\cdot {b_c}")
        numbers.append(f"({4 * h} + {2 * q} + {2 * kv} + {mlp + i}) \\cdot {b_c}")
    else:  # 2'. adapters: only the gradient's path, plus each lora_A's input and output
        saved = (2 * q + 2 * kv + mlp) * b_c
        symbols.append(f"(2q + 2kv + {mlp_sym}) \\cdot {b_c}")
        numbers.append(f"({2 * q} + {2 * kv} + {mlp}) \\cdot {b_c}")
        d_in = {name: shape[1] for name, shape in linear_shapes(arch).items()}
        if b_c == 4:  # no cast: lora_A saves the very tensor its layer reads
            inputs = {READS[t]: d_in[t] for t in target_modules}
            inputs.pop("attention", None)  # o_proj reads the attention output, kept above
            adapters = 4 * sum(inputs.values())
            symbols.append(r"4\textstyle\sum_\text{inputs read} d_\text{in} + 4 r n_\text{targets}")
        else:
            adapters = 4 * sum(d_in[t] for t in target_modules)
            symbols.append(r"4\textstyle\sum_\text{targets} (d_\text{in} + r)")
        adapters += 4 * r * len(target_modules)
        numbers.append(f"{adapters:,}".replace(",", "{,}"))
    # 3. the attention's own state
    if attention == "eager":
        state = arch.num_heads * seq_len * b_c
        symbols.append(f"\\text{{heads}} \\cdot s \\cdot {b_c}")
        numbers.append(f"{arch.num_heads} \\cdot {seq_len} \\cdot {b_c}")
    else:
        state = 4 * arch.num_heads
        symbols.append(r"4 \cdot \text{heads}")
        numbers.append(f"4 \\cdot {arch.num_heads}")
    return LayerActivations(norms, saved, adapters, state, tuple(symbols), tuple(numbers))


@dataclass(frozen=True)
class ActivationTerms:
    """``activation_bytes`` as its terms, for showing the formula with the numbers filled in.

    Without checkpointing: b * s * L * a_layer + logits. With checkpointing:
    b * s * (L * h * b_c + a_layer) + logits (``inputs_per_token`` = L * h * b_c, the layer
    inputs kept, else 0). ``formula`` is the matching LaTeX."""

    batch_size: int
    seq_len: int
    num_layers: int
    checkpointing: bool
    layer: LayerActivations
    inputs_per_token: int
    logits: int
    formula: str

    @property
    def kept(self) -> int:
        """Everything but the logits."""
        tokens = self.batch_size * self.seq_len
        if self.checkpointing:
            return tokens * (self.inputs_per_token + self.layer.total)
        return tokens * self.num_layers * self.layer.total

    @property
    def total(self) -> int:
        return self.kept + self.logits


def activation_terms(arch, batch_size: int, seq_len: int, compute_dtype: str = "bf16",
                     gradient_checkpointing: bool = False, attention: str = "sdpa",
                     target_modules=None, r: int = 16) -> ActivationTerms:
    """The terms of ``activation_bytes`` (same arguments); ``.total`` equals it."""
    _check_positive_int("batch_size", batch_size)
    _check_positive_int("seq_len", seq_len)
    _check_positive_int("r", r)
    layer = layer_activation_parts(arch, seq_len, compute_dtype, attention, target_modules, r)
    logits = logits_bytes(arch, batch_size, seq_len, compute_dtype)
    if gradient_checkpointing:  # layer inputs + the one layer being recomputed
        inputs = arch.num_layers * arch.hidden_size * BYTES[compute_dtype]
        formula = r"b \cdot s \cdot (L \cdot h \cdot b_c + a_\text{layer}) + \text{logits}"
    else:
        inputs = 0
        formula = r"b \cdot s \cdot L \cdot a_\text{layer} + \text{logits}"
    return ActivationTerms(batch_size, seq_len, arch.num_layers, bool(gradient_checkpointing),
                           layer, inputs, logits, formula)


def logits_bytes(arch, batch_size: int, seq_len: int, compute_dtype: str = "bf16") -> int:
    """The loss's share of ``activation_bytes``: b * s * V * (b_c + 4 + (4 if b_c = 2))."""
    b_c = BYTES[compute_dtype]
    return batch_size * seq_len * arch.vocab_size * (b_c + 4 + (4 if b_c == 2 else 0))


def estimate_training_memory(arch, method, batch_size=1, seq_len=512, r=16,
                             target_modules=("q_proj", "v_proj"), optimizer="adamw",
                             gradient_checkpointing=False, compute_dtype="bf16", *,
                             double_quant=True, attention="sdpa") -> MemoryEstimate:
    """Peak training memory of one GPU process, split into components (bytes).

    P = transformer_param_count(arch); P_t = trainable parameters (full: P; LoRA/QLoRA:
    model_lora_param_count(arch, r, target_modules), which equals peft's count);
    b_c = bytes of compute_dtype (fp32 4, bf16/fp16 2).

    - full:  weights P * b_c; gradients P * b_c; optimizer = optimizer_bytes(P)
             + 4 * P for the fp32 master copy when b_c = 2 (mixed precision: 2 + 2 + 12 =
             16 bytes per parameter with AdamW, ZeRO section 3.1).
    - lora:  weights = weight_bytes(arch, compute_dtype) + 4 * P_t (peft keeps adapters
             in fp32); gradients 4 * P_t; optimizer = optimizer_bytes(adapters).
    - qlora: as lora, but the frozen weights are weight_bytes(arch, "nf4-dq") (or "nf4"
             without double quantization), the rest in compute_dtype.
    - activations = activation_bytes(arch, batch_size, seq_len, compute_dtype,
      gradient_checkpointing, attention, targets, r): LoRA and QLoRA keep fewer tensors
      than full fine-tuning, because frozen weights need no saved inputs.
    - overhead = 512 MB (CUDA context) + 5% of everything else (allocator slack).

    The fine-tune lab shows ``.total`` next to a run's measured peak; ``.components()``
    gives the parts in display order. Raises ValueError for unknown choices, a rank or
    size below 1 or a target module the architecture does not have.
    """
    _check_choice("method", method, METHODS)
    _check_choice("optimizer", optimizer, OPTIMIZERS)
    _check_choice("compute_dtype", compute_dtype, COMPUTE_DTYPES)
    _check_positive_int("r", r)
    b_c = BYTES[compute_dtype]
    if method == "full":
        P = transformer_param_count(arch)
        weights = P * b_c + _buffer_bytes(arch)
        gradients = P * b_c
        master = 4 * P if b_c < 4 else 0
        optimizer_state = optimizer_bytes(trainable_shapes(arch, method, r, ()), optimizer) + master
        trainable = P
    else:
        targets = tuple(target_modules)
        known = tuple(linear_shapes(arch))
        bad = [t for t in targets if t not in known]
        if not targets or bad:
            raise ValueError(
                f"target_modules must be a non-empty selection of {', '.join(known)}; got {targets!r}"
            )
        master = 0
        trainable = model_lora_param_count(arch, r, targets)
        shapes = trainable_shapes(arch, method, r, targets)
        assert sum(math.prod(s) for s in shapes) == trainable  # same count as peft's
        if method == "lora":
            frozen = weight_bytes(arch, compute_dtype)
        else:
            keep = compute_dtype if b_c == 2 else "fp32"
            frozen = weight_bytes(arch, "nf4-dq" if double_quant else "nf4", keep_dtype=keep)
        weights = frozen + 4 * trainable
        gradients = 4 * trainable
        optimizer_state = optimizer_bytes(shapes, optimizer)
    activations = activation_bytes(arch, batch_size, seq_len, compute_dtype,
                                   gradient_checkpointing, attention,
                                   None if method == "full" else tuple(target_modules), r)
    tensors = weights + gradients + optimizer_state + activations
    overhead = CUDA_CONTEXT + round(FRAGMENTATION * tensors)
    adapters = 0 if method == "full" else 4 * trainable
    return MemoryEstimate(method, weights, gradients, optimizer_state, activations, overhead,
                          trainable, adapters, master)


GPUS = {  # common cards by memory (GB = 1024**3 bytes)
    8: "RTX 3070 / 4060",
    12: "RTX 3060 / 4070",
    16: "T4 / V100 16 / RTX 4080",
    24: "RTX 3090 / 4090 / A10G / L4",
    40: "A100 40",
    48: "A6000 / L40S",
    80: "A100 80 / H100",
}


def fitting_gpus(total_bytes: int) -> list[int]:
    """The common GPU sizes (GB) whose memory holds ``total_bytes``."""
    return [gb for gb in GPUS if total_bytes <= gb * GB]


@dataclass(frozen=True)
class ClaimCheck:
    """A memory claim ("QLoRA needs 12-24 GB for a 7B model") against an estimate
    (``where_claim_holds``)."""

    claim: str
    method: str
    compute_dtype: str
    low_gb: float
    high_gb: float
    estimate: MemoryEstimate
    settings: tuple = ()  # (name, value) pairs of the estimate's other settings, if varied

    @property
    def gb(self) -> float:
        return self.estimate.total / GB

    @property
    def holds(self) -> bool:
        return self.low_gb <= self.gb <= self.high_gb


TORCH_DTYPES = {"fp32": "torch.float32", "bf16": "torch.bfloat16", "fp16": "torch.float16"}
HF_OPTIMIZERS = {"adamw": "adamw_torch", "adamw-8bit": "adamw_bnb_8bit",
                 "paged-adamw-8bit": "paged_adamw_8bit"}


def training_config_code(method: str, r: int = 16, target_modules=("q_proj", "v_proj"),
                         compute_dtype: str = "fp16", double_quant: bool = True,
                         optimizer: str = "paged-adamw-8bit", gradient_checkpointing: bool = True,
                         batch_size: int = 1, model: str = "MODEL") -> str:
    """Python source that sets up the chosen training with transformers + peft:
    ``BitsAndBytesConfig`` (QLoRA: NF4, double quantization, compute dtype), ``LoraConfig``
    (r, lora_alpha = 2r, target modules) and the ``TrainingArguments`` settings. With the
    defaults it is the notes' configuration (CURRICULUM.md §2)."""
    _check_choice("method", method, METHODS)
    _check_choice("compute_dtype", compute_dtype, COMPUTE_DTYPES)
    _check_choice("optimizer", optimizer, OPTIMIZERS)
    _check_positive_int("r", r)
    _check_positive_int("batch_size", batch_size)
    dtype = TORCH_DTYPES[compute_dtype]
    lines = ["import torch",
             "from transformers import AutoModelForCausalLM, BitsAndBytesConfig, TrainingArguments"
             if method == "qlora" else "from transformers import AutoModelForCausalLM, TrainingArguments"]
    if method != "full":
        lines += ["from peft import LoraConfig, get_peft_model"
                  + (", prepare_model_for_kbit_training" if method == "qlora" else "")]
    lines.append("")
    load = ["model = AutoModelForCausalLM.from_pretrained(", f'    "{model}",', f"    dtype={dtype},"]
    if method == "qlora":
        lines += ["bnb_config = BitsAndBytesConfig(",
                  "    load_in_4bit=True,",
                  f"    bnb_4bit_use_double_quant={double_quant},",
                  '    bnb_4bit_quant_type="nf4",',
                  f"    bnb_4bit_compute_dtype={dtype},",
                  ")"]
        load.append("    quantization_config=bnb_config,")
    if method != "full":
        targets = ", ".join(f'"{t}"' for t in target_modules)
        lines += ["lora_config = LoraConfig(",
                  f"    r={r},",
                  f"    lora_alpha={2 * r},  # alpha = 2r, the rule of thumb",
                  f"    target_modules=[{targets}],",
                  "    lora_dropout=0.05,",
                  '    bias="none",',
                  '    task_type="CAUSAL_LM",',
                  ")"]
    lines += ["", *load, ")"]
    if method == "qlora":
        lines.append("model = prepare_model_for_kbit_training("
                     f"model, use_gradient_checkpointing={gradient_checkpointing})")
    if method != "full":
        lines.append("model = get_peft_model(model, lora_config)")
        lines.append("model.print_trainable_parameters()")
    lines += ["",
              "args = TrainingArguments(",
              '    output_dir="out",',
              f"    per_device_train_batch_size={batch_size},",
              f'    optim="{HF_OPTIMIZERS[optimizer]}",',
              f"    gradient_checkpointing={gradient_checkpointing},"]
    if compute_dtype != "fp32":
        lines.append(f"    {compute_dtype}=True,")
    lines.append(")")
    return "\n".join(lines) + "\n"


# -- paged optimizers: what happens in a memory spike ---------------------------------------


@dataclass(frozen=True)
class SpikeStep:
    """A training step with one batch of long sequences (a spike), on a GPU of ``gpu_bytes``.

    A paged optimizer (bitsandbytes ``PagedAdamW8bit``; QLoRA section 3, "Paged
    Optimizers") allocates its states in CUDA unified memory: when the GPU runs out, the
    driver evicts state pages to CPU RAM and pages them back for the optimizer step. So
    paging changes nothing in the steady state (same bytes as ``adamw-8bit``) and, in a
    spike, can free at most the optimizer states:
        paged_out = min(optimizer states, max(0, spike total - GPU memory))   (paged)
        paged_out = 0                                                         (otherwise)
    The step runs if spike total - paged_out <= GPU memory."""

    optimizer: str
    gpu_bytes: int
    usual: MemoryEstimate  # a step at the usual sequence length
    spike: MemoryEstimate  # the step whose batch has the long sequences
    paged_out: int  # optimizer-state bytes in CPU RAM at the spike's peak

    @property
    def on_gpu(self) -> int:
        """Bytes on the GPU at the spike's peak."""
        return self.spike.total - self.paged_out

    @property
    def gpu_at_spike(self) -> MemoryEstimate:
        """``spike`` as the GPU holds it at the peak: the paged-out states are elsewhere."""
        return replace(self.spike, optimizer=self.spike.optimizer - self.paged_out)

    @property
    def fits(self) -> bool:
        return self.on_gpu <= self.gpu_bytes

    @property
    def usual_fits(self) -> bool:
        return self.usual.total <= self.gpu_bytes


def spike_step(arch, method: str, gpu_gb: float, spike_seq_len: int, optimizer: str,
               **settings) -> SpikeStep:
    """``SpikeStep`` for ``estimate_training_memory(arch, method, **settings)`` (the usual
    step) and the same with ``seq_len=spike_seq_len`` (the spike), on a ``gpu_gb`` GPU."""
    _check_choice("optimizer", optimizer, OPTIMIZERS)
    _check_positive_int("spike_seq_len", spike_seq_len)
    if isinstance(gpu_gb, bool) or not isinstance(gpu_gb, (int, float)) or not gpu_gb > 0:
        raise ValueError(f"gpu_gb must be a positive number of GB; got {gpu_gb!r}")
    usual = estimate_training_memory(arch, method, optimizer=optimizer, **settings)
    spike = estimate_training_memory(arch, method, optimizer=optimizer,
                                     **{**settings, "seq_len": spike_seq_len})
    gpu_bytes = round(gpu_gb * GB)
    paged_out = 0
    if optimizer.startswith("paged"):
        paged_out = min(spike.optimizer_states, max(0, spike.total - gpu_bytes))
    return SpikeStep(optimizer, gpu_bytes, usual, spike, paged_out)


# -- every memory claim of the notes, and the settings under which it holds ---------------


@dataclass(frozen=True)
class NotesClaim:
    """A memory figure from the lecture notes and how it is read as a range."""

    text: str  # as the notes write it
    method: str
    low_gb: float
    high_gb: float


# seeds/004: "LoRA 32 GB RAM, QLoRA 12-24 GB RAM" and "LORA => 32 RAM, 64 RAM; Q + LORA =>
# 16 RAM, 24GB RAM". A single figure "X GB" is read as about X: X +- 12.5%.
NOTES_CLAIMS = (
    NotesClaim("LoRA 32 GB", "lora", 28.0, 36.0),
    NotesClaim("LoRA 64 GB", "lora", 56.0, 72.0),
    NotesClaim("QLoRA 12-24 GB", "qlora", 12.0, 24.0),
    NotesClaim("QLoRA 16 GB", "qlora", 14.0, 18.0),
    NotesClaim("QLoRA 24 GB", "qlora", 21.0, 27.0),
)
CLAIM_GRID = {  # the settings tried, each in order of preference (the plainest first)
    "seq_len": (512, 1024, 256, 2048),
    "gradient_checkpointing": (False, True),
    "batch_size": (1, 2, 4, 8, 16),
    "compute_dtype": ("fp32", "bf16"),
}


def where_claim_holds(arch, claim: NotesClaim, half: str = "bf16",
                      **settings) -> tuple[ClaimCheck, ...]:
    """Every combination of ``CLAIM_GRID`` (sequence length, checkpointing, batch size,
    compute dtype) under which ``claim`` holds for ``arch``, the plainest first (512 tokens,
    no checkpointing, the smallest batch); ``settings`` fix the rest (r, target_modules,
    optimizer, double_quant). ``half`` is the 16-bit dtype tried (bf16 or fp16: the same
    bytes); QLoRA is only tried in 16 bits (fp32 compute defeats it)."""
    _check_choice("half", half, ("bf16", "fp16"))
    fixed = {k: v for k, v in settings.items() if k not in CLAIM_GRID and k != "method"}
    dtypes = ("fp32", half) if claim.method != "qlora" else (half,)
    found = []
    for seq in CLAIM_GRID["seq_len"]:
        for ckpt in CLAIM_GRID["gradient_checkpointing"]:
            for batch in CLAIM_GRID["batch_size"]:
                for dtype in dtypes:
                    e = estimate_training_memory(
                        arch, claim.method, batch_size=batch, seq_len=seq, compute_dtype=dtype,
                        gradient_checkpointing=ckpt, **fixed)
                    check = ClaimCheck(claim.text, claim.method, dtype, claim.low_gb,
                                       claim.high_gb, e,
                                       (("batch_size", batch), ("seq_len", seq),
                                        ("gradient_checkpointing", ckpt)))
                    if check.holds:
                        found.append(check)
    return tuple(found)


from core.checks import checked_module  # noqa: E402

checked_module(__name__)  # a wrong argument reaches the caller as a ValueError (core/checks.py)
