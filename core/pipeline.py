"""Where fine-tuning sits: prompting, full fine-tuning, LoRA or QLoRA for a given job.

``recommend`` decides in the order a practitioner would (CURRICULUM.md section 6):

1) what must change: knowledge that changes often belongs in the prompt (retrieval), not in
   the weights - fine-tuning teaches behaviour (a format, a domain, a skill);
2) the data: supervised fine-tuning needs labeled prompt -> response pairs, a few hundred
   good ones at least (quality over quantity); with fewer, prompt;
3) the memory: the memory lesson's ``core.memory.estimate_training_memory`` for each method
   at the given settings decides what fits on the GPU. Full fine-tuning when it fits and the
   data are plentiful; else LoRA on a 16-bit base when it fits (no quantization error, faster
   than dequantizing); else QLoRA on a 4-bit base; else nothing fits.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import memory

GOALS = {
    "format": "a fixed output format (e.g. JSON)",
    "domain": "a domain or a task (finance, sales Q&A)",
    "reasoning": "complex reasoning or a new skill",
    "facts": "knowledge that changes often (prices, news, documents)",
}
DATA = {
    "none": "no labeled pairs",
    "few": "tens of pairs",
    "hundreds": "hundreds to a few thousand pairs",
    "many": "tens of thousands of pairs or more",
}
CHOICES = ("prompting", "full", "lora", "qlora", "none")


@dataclass(frozen=True)
class Recommendation:
    """``choice``: one of CHOICES; ``reason``: one sentence; ``totals``: the estimated peak
    training memory per method in bytes (core.memory); ``fits``: whether each fits in
    ``gpu_gb`` GB (1 GB = 1024^3 bytes)."""

    choice: str
    reason: str
    totals: dict[str, int]
    fits: dict[str, bool]
    gpu_gb: float


def recommend(arch, gpu_gb: float, data: str, goal: str, **settings) -> Recommendation:
    """What to use for ``goal`` (a key of GOALS) with ``data`` (a key of DATA) on a GPU of
    ``gpu_gb`` GB. ``settings`` go to ``core.memory.estimate_training_memory`` (batch size,
    sequence length, r, target modules, optimizer, ...); its defaults otherwise."""
    if goal not in GOALS:
        raise ValueError(f"Unknown goal {goal!r}; expected one of {tuple(GOALS)}")
    if data not in DATA:
        raise ValueError(f"Unknown amount of data {data!r}; expected one of {tuple(DATA)}")
    if isinstance(gpu_gb, bool) or not isinstance(gpu_gb, (int, float)) or not gpu_gb > 0:
        raise ValueError(f"gpu_gb must be a positive number of GB, got {gpu_gb!r}")
    totals = {m: memory.estimate_training_memory(arch, m, **settings).total for m in memory.METHODS}
    fits = {m: total <= gpu_gb * memory.GB for m, total in totals.items()}

    def result(choice: str, reason: str) -> Recommendation:
        return Recommendation(choice, reason, totals, fits, gpu_gb)

    if goal == "facts":  # 1)
        return result("prompting", "Facts that change belong in the prompt (retrieve them and "
                      "paste them in): fine-tuning teaches behaviour, and a model fine-tuned on "
                      "facts states stale ones with confidence.")  # fmt: skip
    if data in ("none", "few"):  # 2)
        return result("prompting", "Too few labeled pairs to fine-tune on: write instructions "
                      "and a few examples into the prompt, and collect a few hundred good "
                      "pairs if the prompt is not enough.")  # fmt: skip
    if data == "many" and fits["full"]:  # 3)
        return result("full", "Plenty of data and room for every weight's gradient and "
                      "optimizer states: full fine-tuning can use all of it (LoRA can trail it "
                      "on large data and batch sizes).")  # fmt: skip
    if fits["lora"]:
        return result("lora", "LoRA on the 16-bit base fits: a small adapter learns, the base "
                      "stays frozen and exact, and no time goes into dequantizing.")  # fmt: skip
    if fits["qlora"]:
        return result("qlora", "Only QLoRA fits: the frozen base in 4-bit NF4, the adapters "
                      "in 16/32 bits.")  # fmt: skip
    return result("none", "Not even QLoRA fits at these settings: a smaller model, a bigger "
                  "GPU, shorter sequences, gradient checkpointing or several GPUs.")  # fmt: skip


@dataclass(frozen=True)
class Promises:
    """PEFT's four promises in numbers, for one model and one LoRA set-up.

    ``trainable`` of ``total`` parameters (peft's count); peak training memory of full
    fine-tuning and of QLoRA (core.memory, bytes); storage per task: a full bf16 copy of the
    model against the adapter (peft saves it in fp32: 4 bytes per parameter)."""

    trainable: int
    total: int
    full_memory: int
    qlora_memory: int
    full_copy_bytes: int
    adapter_bytes: int

    @property
    def trainable_share(self) -> float:
        return self.trainable / self.total


def promises(arch, r: int = 8, target_modules=("q_proj", "v_proj")) -> Promises:
    """``Promises`` for ``arch`` with LoRA rank ``r`` on ``target_modules`` (Llama-2 7B, r = 8 on
    q_proj and v_proj: 4,194,304 trainable of 6,738,415,616)."""
    from core.lora import model_lora_param_count
    from core.params import transformer_param_count

    trainable = model_lora_param_count(arch, r, target_modules)
    settings = dict(r=r, target_modules=tuple(target_modules))
    return Promises(
        trainable,
        transformer_param_count(arch),
        memory.estimate_training_memory(arch, "full").total,
        memory.estimate_training_memory(arch, "qlora", **settings).total,
        memory.weight_bytes(arch, "bf16"),
        trainable * memory.BYTES["fp32"],
    )


from core.checks import checked_module  # noqa: E402

checked_module(__name__)  # a wrong argument reaches the caller as a ValueError (core/checks.py)
