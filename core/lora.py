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


from core.checks import checked_module  # noqa: E402

checked_module(__name__)  # a wrong argument reaches the caller as a ValueError (core/checks.py)
