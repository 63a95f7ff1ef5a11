"""LoRA: freeze W0 and learn a low-rank change, W' = W0 + (alpha / r) * B @ A.

Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models". Shapes follow peft:
``lora_A.weight`` is (r, d_in), ``lora_B.weight`` is (d_out, r); A starts random, B starts at
zero, so B @ A = 0 and training starts exactly from the pretrained model. The forward pass
adds ``lora_B(lora_A(x)) * scaling`` with ``scaling = lora_alpha / r``.

numpy only; the tests check everything here against peft.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.params import Architecture, linear_shapes


def _check_positive(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(
            f"{name} should be a positive integer value but the value passed is {value!r}"
        )


def lora_param_count(d_out: int, d_in: int, r: int) -> int:
    """Trainable parameters of one LoRA adapter: A (r, d_in) + B (d_out, r) = r*(d_in + d_out).

    4096 x 4096: r = 1 gives 8,192 (against 16,777,216 in W0), r = 8 gives 65,536."""
    for name, value in (("d_out", d_out), ("d_in", d_in), ("r", r)):
        _check_positive(name, value)
    return int(r) * (int(d_in) + int(d_out))


def model_lora_param_count(arch: Architecture, r: int, target_modules) -> int:
    """What peft reports as trainable for ``LoraConfig(r=r, target_modules=...)`` (bias="none"):
    num_layers * sum over targeted linear layers of r*(d_in + d_out).

    Llama-2 7B, r = 8, q_proj and v_proj: 32 * 2 * 8 * (4096 + 4096) = 4,194,304."""
    _check_positive("r", r)
    shapes = linear_shapes(arch)
    targets = list(target_modules)
    if not targets:
        raise ValueError("target_modules is empty; pick at least one of " + ", ".join(shapes))
    unknown = [t for t in targets if t not in shapes]
    if unknown:
        raise ValueError(
            f"target module(s) {unknown} not in {arch.name}; expected some of {list(shapes)}"
        )
    per_layer = sum(lora_param_count(*shapes[t], r) for t in dict.fromkeys(targets))
    return arch.num_layers * per_layer


@dataclass(frozen=True)
class AdapterShapes:
    """The shapes and counts of one adapted matrix W0 (d_out, d_in) at rank r (peft's)."""

    d_out: int
    d_in: int
    r: int

    @property
    def A(self) -> tuple[int, int]:
        return (self.r, self.d_in)  # lora_A.weight

    @property
    def B(self) -> tuple[int, int]:
        return (self.d_out, self.r)  # lora_B.weight

    @property
    def A_params(self) -> int:
        return self.r * self.d_in

    @property
    def B_params(self) -> int:
        return self.d_out * self.r

    @property
    def W0_params(self) -> int:
        return self.d_out * self.d_in

    @property
    def params(self) -> int:
        """A + B = r*(d_in + d_out) = ``lora_param_count(d_out, d_in, r)``."""
        return self.A_params + self.B_params

    @property
    def share(self) -> float:
        """The adapter's size against W0: r*(d_in + d_out) / (d_out*d_in)."""
        return self.params / self.W0_params


def adapter_shapes(d_out: int, d_in: int, r: int) -> AdapterShapes:
    """Shapes and counts of the adapter of a d_out x d_in matrix: 4096 x 4096 at r = 8 gives
    A 8 x 4096 and B 4096 x 8, 65,536 parameters."""
    lora_param_count(d_out, d_in, r)  # validates
    return AdapterShapes(int(d_out), int(d_in), int(r))


@dataclass(frozen=True)
class LoRALinear:
    """One linear layer with a LoRA adapter (numpy arrays, peft's shapes and names)."""

    W0: np.ndarray  # (d_out, d_in), frozen pretrained weight
    A: np.ndarray  # (r, d_in), random at the start
    B: np.ndarray  # (d_out, r), zero at the start
    alpha: float

    @property
    def r(self) -> int:
        return self.A.shape[0]

    @property
    def scaling(self) -> float:
        # alpha / r keeps the update's size steady when r changes, so a learning rate tuned
        # for one rank still works for another.
        return self.alpha / self.r

    @property
    def delta_W(self) -> np.ndarray:
        return self.scaling * (self.B @ self.A)  # (d_out, r) @ (r, d_in) -> (d_out, d_in)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """y = x W0^T + scaling * (x A^T) B^T; x is (..., d_in), y is (..., d_out).
        The low-rank path never builds the d_out x d_in matrix."""
        return x @ self.W0.T + self.scaling * ((x @ self.A.T) @ self.B.T)

    def merged(self) -> np.ndarray:
        """W0 + scaling * B @ A: one plain weight, no extra cost at inference."""
        return self.W0 + self.delta_W

    @property
    def delta_rank(self) -> int:
        """rank(delta_W) (numpy's SVD rule): 0 while B = 0, at most r."""
        return int(np.linalg.matrix_rank(self.delta_W))

    def merge_error(self, x) -> float:
        """max |forward(x) - merged() @ x|: float rounding, the merged layer is the same."""
        x = np.asarray(x, dtype=np.float64)
        return float(np.abs(self.forward(x) - x @ self.merged().T).max())


def lora_init(W0, r: int, alpha: float, rng: np.random.Generator) -> LoRALinear:
    """Wrap W0 (d_out, d_in) with a fresh adapter, as peft does: A ~ U(-1/sqrt(d_in),
    1/sqrt(d_in)) (kaiming-uniform with a = sqrt(5)), B = 0."""
    W0 = np.asarray(W0, dtype=np.float64)
    if W0.ndim != 2 or 0 in W0.shape:
        raise ValueError(f"W0 must be a non-empty 2-D matrix, got shape {W0.shape}")
    if not np.isfinite(W0).all():
        raise ValueError("W0 contains NaN or infinity; expected finite numbers")
    _check_positive("r", r)
    if not np.isfinite(alpha) or alpha <= 0:
        raise ValueError(f"alpha should be a positive number but the value passed is {alpha!r}")
    d_out, d_in = W0.shape
    bound = 1 / np.sqrt(d_in)
    A = rng.uniform(-bound, bound, size=(r, d_in))  # (r, d_in)
    B = np.zeros((d_out, r))  # (d_out, r)
    return LoRALinear(W0, A, B, float(alpha))


# -- the scaling: alpha / r, alpha = 2r, rsLoRA --------------------------------------------


def lora_scaling(alpha: float, r: int, use_rslora: bool = False) -> float:
    """peft's ``LoraLayer.scaling``: alpha / r, or alpha / sqrt(r) with ``use_rslora``.

    alpha / r (Hu et al. 2021, section 4.1): fix alpha at the first r tried; with Adam,
    changing r then needs no new learning rate. alpha = 2r gives alpha / r = 2 at every r:
    nothing is normalised. rsLoRA (Kalajdzievski 2023, "A Rank Stabilization Scaling
    Factor for Fine-Tuning with LoRA"): alpha / sqrt(r) keeps the update's size steady as r
    grows, where alpha / r shrinks it."""
    _check_positive("r", r)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.number)):
        raise ValueError(f"alpha should be a positive number but the value passed is {alpha!r}")
    if not np.isfinite(alpha) or alpha <= 0:
        raise ValueError(f"alpha should be a positive number but the value passed is {alpha!r}")
    return float(alpha) / (float(np.sqrt(r)) if use_rslora else float(r))


@dataclass(frozen=True)
class ScalingComparison:
    """The three scaling rules side by side, per rank (tuples aligned with ``ranks``).

    ``*_size`` is the root-mean-square entry of scaling * B @ A for B (d, r) and A (r, d)
    holding independent standard-normal numbers (measured with numpy): B @ A sums r such
    products, so its entries grow like sqrt(r); the rule decides what is left of that."""

    alpha: float
    ranks: tuple[int, ...]
    fixed: tuple[float, ...]  # alpha / r, alpha fixed
    two_r: tuple[float, ...]  # (2r) / r = 2
    rslora: tuple[float, ...]  # alpha / sqrt(r)
    fixed_size: tuple[float, ...]
    two_r_size: tuple[float, ...]
    rslora_size: tuple[float, ...]


def compare_scalings(alpha: float, ranks, d: int = 256, seed: int = 0) -> ScalingComparison:
    """alpha / r, alpha = 2r and alpha / sqrt(r) at each rank, and the size of the update
    each gives when B and A hold random numbers of size 1 (see ``ScalingComparison``)."""
    ranks = tuple(int(r) for r in ranks)
    if not ranks:
        raise ValueError("ranks is empty; expected at least one rank such as 8")
    _check_positive("d", d)
    fixed = tuple(lora_scaling(alpha, r) for r in ranks)
    two_r = tuple(lora_scaling(2 * r, r) for r in ranks)
    rslora = tuple(lora_scaling(alpha, r, use_rslora=True) for r in ranks)
    rng = np.random.default_rng(seed)
    rms = []
    for r in ranks:
        B, A = rng.standard_normal((d, r)), rng.standard_normal((r, d))  # (d, r), (r, d)
        rms.append(float(np.sqrt(np.mean((B @ A) ** 2))))  # about sqrt(r)
    return ScalingComparison(
        float(alpha), ranks, fixed, two_r, rslora,
        tuple(s * m for s, m in zip(fixed, rms, strict=True)),
        tuple(s * m for s, m in zip(two_r, rms, strict=True)),
        tuple(s * m for s, m in zip(rslora, rms, strict=True)),
    )  # fmt: skip


# -- where the adapters go in one block, and what peft reports --------------------------


@dataclass(frozen=True)
class ModuleCount:
    """One linear layer of a decoder block: its W0 and the adapter it would get."""

    name: str  # peft's target-module name, e.g. "q_proj"
    d_out: int
    d_in: int
    targeted: bool
    per_layer: int  # r * (d_in + d_out), the adapter of this module in one layer
    layers: int

    @property
    def W0_params(self) -> int:
        return self.d_out * self.d_in

    @property
    def total(self) -> int:
        """This module's adapters over all layers (0 when not targeted)."""
        return self.per_layer * self.layers if self.targeted else 0


def module_lora_counts(arch: Architecture, r: int, target_modules) -> tuple[ModuleCount, ...]:
    """Every linear layer of one decoder block, in ``linear_shapes`` order, with its adapter
    count r*(d_in + d_out) and whether it is targeted. The targeted totals add up to
    ``model_lora_param_count(arch, r, target_modules)``."""
    _check_positive("r", r)
    shapes = linear_shapes(arch)
    targets = set(target_modules)
    unknown = sorted(targets - set(shapes))
    if unknown:
        raise ValueError(
            f"target module(s) {unknown} not in {arch.name}; expected some of {list(shapes)}"
        )
    return tuple(
        ModuleCount(name, d_out, d_in, name in targets, lora_param_count(d_out, d_in, r),
                    arch.num_layers)
        for name, (d_out, d_in) in shapes.items()
    )  # fmt: skip


# transformers' GPT-2 layout: q, k, v live in one fused c_attn (3d x d), the output
# projection is attn.c_proj, the MLP's is c_fc (up) and mlp.c_proj (down).
GPT2_NAMES = {"q_proj": "c_attn", "k_proj": "c_attn", "v_proj": "c_attn",
              "o_proj": "attn.c_proj", "up_proj": "c_fc", "down_proj": "mlp.c_proj"}  # fmt: skip


@dataclass(frozen=True)
class PeftReport:
    """What ``model.print_trainable_parameters()`` prints for the equivalent peft config."""

    target_modules: tuple[str, ...]  # the names to give peft for this model
    trainable: int
    all_params: int  # the model's parameters plus the adapters, as peft counts "all params"

    @property
    def share(self) -> float:
        """peft's trainable%: trainable / all params (adapters included)."""
        return self.trainable / self.all_params


def peft_report(arch: Architecture, r: int, target_modules) -> PeftReport:
    """The trainable count peft reports for ``LoraConfig(r=r, target_modules=...)`` on the
    transformers model of ``arch``.

    Llama-style models: the names are the same and the count is
    ``model_lora_param_count``. GPT-2/GPT-3: any of q, k, v selects the fused c_attn, one
    adapter of r*(d + 3d) per layer; so peft's count differs from the page's split count
    (the LoRA paper's, W_q, W_k, W_v apart) unless exactly two of q, k, v (2 * r*(d + d))
    or none of them is chosen."""
    from core.params import transformer_param_count

    count = model_lora_param_count(arch, r, target_modules)  # validates
    targets = tuple(dict.fromkeys(target_modules))
    if arch.model_type != "gpt2":
        return PeftReport(targets, count, transformer_param_count(arch) + count)
    names = tuple(dict.fromkeys(GPT2_NAMES[t] for t in targets))
    d, i = arch.hidden_size, arch.intermediate_size
    shapes = {"c_attn": (3 * d, d), "attn.c_proj": (d, d), "c_fc": (i, d), "mlp.c_proj": (d, i)}
    trainable = arch.num_layers * sum(lora_param_count(*shapes[n], r) for n in names)
    return PeftReport(names, trainable, transformer_param_count(arch) + trainable)


# -- a trained update is low rank -------------------------------------------------------

FULL_SVD_MAX = 400_000  # entries up to which numpy computes the full spectrum: SmolLM2's 576 x 576
# attention projections (~0.2 s); its 1536 x 576 MLP ones would take seconds on a 2-core CPU


@dataclass(frozen=True)
class AdapterUpdate:
    """One adapted matrix's update dW = scaling * B @ A and its singular values.

    ``singular_values`` are those of dW, largest first: all min(d_out, d_in) of them from
    numpy's SVD of the materialised matrix when it has at most ``FULL_SVD_MAX`` entries
    (``full_spectrum``), else the r that can be non-zero (the rest are exactly zero: the
    rank of B @ A is at most r)."""

    module: str
    A: np.ndarray  # (r, d_in)
    B: np.ndarray  # (d_out, r)
    alpha: float
    use_rslora: bool
    singular_values: np.ndarray
    full_spectrum: bool

    @property
    def r(self) -> int:
        return self.A.shape[0]

    @property
    def shape(self) -> tuple[int, int]:
        return self.B.shape[0], self.A.shape[1]  # (d_out, d_in), as W0

    @property
    def scaling(self) -> float:
        return lora_scaling(self.alpha, self.r, self.use_rslora)

    @property
    def adapter_params(self) -> int:
        return lora_param_count(*self.shape, self.r)

    @property
    def W0_params(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def n_values(self) -> int:
        """How many singular values a d_out x d_in matrix has: min(d_out, d_in)."""
        return min(self.shape)

    def delta_W(self) -> np.ndarray:
        """scaling * B @ A, (d_out, r) @ (r, d_in) -> (d_out, d_in): peft's
        ``get_delta_weight`` for an nn.Linear."""
        return self.scaling * (self.B @ self.A)

    @property
    def tail(self) -> float | None:
        """The largest singular value after the r-th, relative to the largest: float
        rounding (about 1e-16 in float64) for a rank-r update; None without the full
        spectrum or when there is no value after the r-th."""
        s = self.singular_values
        if not self.full_spectrum or s.size <= self.r or s[0] == 0:
            return None
        return float(s[self.r] / s[0])

    def numerical_rank(self, rtol: float = 1e-6) -> int:
        """Singular values above rtol times the largest (numpy's matrix_rank rule, with a
        tolerance that stays far above float rounding)."""
        s = self.singular_values
        return int((s > rtol * s[0]).sum()) if s.size and s[0] > 0 else 0


def update_from_factors(module: str, A, B, alpha: float, use_rslora: bool = False) -> AdapterUpdate:
    """Build an ``AdapterUpdate`` from A (r, d_in) and B (d_out, r) (computed in float64).

    The r possibly non-zero singular values come from the r x r core of thin QRs,
    B = Q_B R_B and A^T = Q_A R_A, so that B @ A = Q_B (R_B R_A^T) Q_A^T."""
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    if A.ndim != 2 or B.ndim != 2 or 0 in A.shape or 0 in B.shape or A.shape[0] != B.shape[1]:
        raise ValueError(
            f"expected A (r, d_in) and B (d_out, r) with the same r; got A {A.shape}, B {B.shape}"
        )
    if not (np.isfinite(A).all() and np.isfinite(B).all()):
        raise ValueError(f"{module}: A or B contains NaN or infinity")
    scaling = lora_scaling(alpha, A.shape[0], use_rslora)  # validates alpha
    d_out, d_in = B.shape[0], A.shape[1]
    if d_out * d_in <= FULL_SVD_MAX:
        s = np.linalg.svd(scaling * (B @ A), compute_uv=False)
        full = True
    else:
        core = np.linalg.qr(B, mode="r") @ np.linalg.qr(A.T, mode="r").T  # (r, r)
        s = np.linalg.svd(scaling * core, compute_uv=False)
        full = False
    return AdapterUpdate(module, A, B, float(alpha), bool(use_rslora), s, full)


def _pattern_value(patterns: dict, module: str, default):
    """peft's ``get_pattern_key``: a rank_pattern / alpha_pattern key matches a module name
    that ends with it (after a dot)."""
    import re

    for key, value in (patterns or {}).items():
        if re.match(rf"(.*\.)?({key})$", module):
            return value
    return default


PEFT_PREFIX = "base_model.model."  # peft's prefix of the saved module names


def adapter_modules(adapter_dir) -> tuple[str, ...]:
    """The adapted modules of a saved peft LoRA adapter (``adapter_model.safetensors``), as
    names inside the model (``model.layers.0.self_attn.q_proj``): by layer, then in the
    order of a decoder layer (q, k, v, o, gate, up, down; others after them)."""
    import re

    from safetensors import SafetensorError, safe_open

    from core.params import LINEAR_NAMES

    path = _adapter_files(adapter_dir)[0]
    try:
        with safe_open(str(path), framework="np") as f:
            keys = list(f.keys())
    except (OSError, SafetensorError) as error:
        raise ValueError(f"{path} is not a readable safetensors file ({error})") from None
    names = {k.removesuffix(".lora_A.weight") for k in keys if k.endswith(".lora_A.weight")}
    names &= {k.removesuffix(".lora_B.weight") for k in keys if k.endswith(".lora_B.weight")}

    def order(name: str):  # layer numbers as numbers (layers.2 before layers.10), then q..down
        layers = [int(n) for n in re.findall(r"\.(\d+)\.", name)]
        last = name.rsplit(".", 1)[-1]
        return layers, LINEAR_NAMES.index(last) if last in LINEAR_NAMES else 99, name

    return tuple(n.removeprefix(PEFT_PREFIX) for n in sorted(names, key=order))


def _adapter_files(adapter_dir):
    from pathlib import Path

    folder = Path(adapter_dir)
    weights, config = folder / "adapter_model.safetensors", folder / "adapter_config.json"
    for path in (weights, config):
        if not path.is_file():
            raise ValueError(f"{path} is missing; expected a peft LoRA adapter folder")
    return weights, config


def adapter_update(adapter_dir, module_name: str) -> AdapterUpdate:
    """Read one adapted matrix's lora_A and lora_B from a saved peft adapter (safetensors'
    numpy reader: no torch) and return its update scaling * B @ A with singular values.

    ``adapter_config.json`` gives r, lora_alpha, use_rslora and any rank/alpha pattern;
    peft's ``get_delta_weight`` computes the same matrix (tests/test_lora.py)."""
    import json

    from safetensors import safe_open

    weights, config_path = _adapter_files(adapter_dir)
    try:
        config = json.loads(config_path.read_text())
    except ValueError as error:
        raise ValueError(f"{config_path} is not valid JSON ({error})") from None
    if config.get("peft_type") != "LORA" or config.get("use_dora"):
        raise ValueError(
            f"{config_path} is a {config.get('peft_type')!r} adapter"
            + (" with DoRA" if config.get("use_dora") else "")
            + "; expected a plain LoRA adapter"
        )
    if module_name not in adapter_modules(adapter_dir):
        raise ValueError(f"module {module_name!r} has no LoRA adapter in {weights}")
    key = PEFT_PREFIX + module_name
    with safe_open(str(weights), framework="np") as f:
        try:
            A, B = f.get_tensor(f"{key}.lora_A.weight"), f.get_tensor(f"{key}.lora_B.weight")
        except TypeError as error:  # bfloat16: numpy has no such dtype
            raise ValueError(f"{weights} stores a dtype numpy cannot read ({error})") from None
    alpha = _pattern_value(config.get("alpha_pattern"), module_name, config.get("lora_alpha"))
    return update_from_factors(module_name, A, B, alpha, bool(config.get("use_rslora")))


def random_update(d_out: int, d_in: int, r: int, alpha: float, seed: int = 0) -> AdapterUpdate:
    """A stand-in for a trained adapter, *random numbers*: A as peft initialises it and B
    drawn at random (what a real run would have learned instead)."""
    for name, value in (("d_out", d_out), ("d_in", d_in), ("r", r)):
        _check_positive(name, value)
    rng = np.random.default_rng(seed)
    bound = 1 / np.sqrt(d_in)
    A = rng.uniform(-bound, bound, size=(r, d_in))  # (r, d_in)
    B = rng.normal(scale=0.02, size=(d_out, r))  # (d_out, r)
    return update_from_factors(f"random {d_out} x {d_in}", A, B, alpha)


from core.checks import checked_module  # noqa: E402

checked_module(__name__)  # a wrong argument reaches the caller as a ValueError (core/checks.py)
