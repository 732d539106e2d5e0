"""How much memory and compute does training take? A calculator (lesson 02).

Training memory has four parts:

* **weights**: one number per parameter;
* **gradients**: one more per parameter;
* **optimizer state**: Adam keeps two moments per parameter, SGD with momentum one;
* **activations**: what the forward pass saves for the backward pass, for every sample
  in the batch. The only part that grows with the batch size (and, for a transformer, with
  the square of the sequence length).

Bytes per parameter depend on the precision:

============  =======  =====  ==================  ===========  =====================
precision     weights  grads  Adam state          activations  bytes per parameter
============  =======  =====  ==================  ===========  =====================
fp32          4        4      8                   4            16 (+ activations)
mixed (AMP)   4        4      8                   2            16 (+ half the activations)
bf16 (pure)   2        2      4                   2            8  (+ activations)
============  =======  =====  ==================  ===========  =====================

Compute: a forward pass costs about 2 FLOPs per parameter per input position (a multiply
and an add), the backward pass about twice that, so training costs about
``3 x forward`` FLOPs per sample, or ``6 x parameters x tokens`` for a transformer.

This module is the calculator (:func:`estimate_memory`, :func:`training_flops`,
:func:`training_time_s`, :func:`table`). Its inputs and its checks live beside it:

* :mod:`mlkit.training.architectures`: the models of the course text's table (BERT base, a 7B
  LLM, ResNet-152, GPT-3) and that table beside the calculator;
* :mod:`mlkit.training.footprint`: a real ``nn.Module`` measured on the "meta" device
  (parameters, stored activations, FLOPs), and one real step's accounting;
* :mod:`mlkit.training.peak_memory`: the peak memory of one real step, measured by the
  operating system or the GPU allocator, independently of the calculator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GB = 1e9

PRECISIONS: dict[str, dict[str, float]] = {
    #             bytes per parameter (weights, grads, per optimizer state) and per activation
    "fp32": {"weights": 4, "grads": 4, "state": 4, "activations": 4},
    "mixed": {"weights": 4, "grads": 4, "state": 4, "activations": 2},
    "bf16": {"weights": 2, "grads": 2, "state": 2, "activations": 2},
}
OPTIMIZER_STATES = {"adam": 2, "adamw": 2, "sgd_momentum": 1, "sgd": 0}


@dataclass(frozen=True)
class ModelSpec:
    """What the calculator needs to know about a model.

    Attributes:
        name: for tables.
        params: number of parameters.
        activations_per_sample: elements stored for the backward pass, per sample.
        flops_per_sample: FLOPs of one forward pass of one sample.
    """

    name: str
    params: int
    activations_per_sample: float
    flops_per_sample: float


@dataclass(frozen=True)
class Memory:
    """Training memory in bytes, by part."""

    weights: float
    grads: float
    optimizer: float
    activations: float

    @property
    def total(self) -> float:
        return self.weights + self.grads + self.optimizer + self.activations

    def as_gb(self) -> dict[str, float]:
        return {k: round(v / GB, 3) for k, v in {**self.__dict__, "total": self.total}.items()}


def estimate_memory(
    spec: ModelSpec, batch_size: int, precision: str = "fp32", optimizer: str = "adam", training: bool = True
) -> Memory:
    """Memory of one training step (or of inference with ``training=False``: weights, and
    the activations of the batch, which inference need not keep, counted as an upper bound).

    Args:
        spec: the model (see :func:`bert_base`, :func:`spec_from_model`, ...).
        batch_size: samples per step.
        precision: "fp32", "mixed" (PyTorch autocast: fp32 weights, half-precision
            activations) or "bf16" (everything in bf16).
        optimizer: "adam", "adamw", "sgd_momentum" or "sgd".
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, not {precision!r}")
    if optimizer not in OPTIMIZER_STATES:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZER_STATES)}, not {optimizer!r}")
    b = PRECISIONS[precision]
    weights = spec.params * b["weights"]
    if not training:
        return Memory(weights, 0.0, 0.0, 0.0)
    return Memory(
        weights=weights,
        grads=spec.params * b["grads"],
        optimizer=spec.params * b["state"] * OPTIMIZER_STATES[optimizer],
        activations=spec.activations_per_sample * batch_size * b["activations"],
    )


def training_flops(spec: ModelSpec, samples: float) -> float:
    """FLOPs to train on ``samples`` samples (one epoch of them): forward + backward ~ 3 x forward."""
    return 3.0 * spec.flops_per_sample * samples


def training_time_s(flops: float, peak_flops: float, utilization: float = 0.4) -> float:
    """Seconds for ``flops`` on a device with ``peak_flops`` per second at a realistic
    utilisation (30-50% of peak is typical for large models)."""
    return flops / (peak_flops * utilization)


def table(rows: list[tuple[ModelSpec, int, str]], optimizer: str = "adam") -> Any:
    """A pandas table of estimates: one row per (spec, batch size, precision)."""
    import pandas as pd

    out = []
    for spec, batch, precision in rows:
        mem = estimate_memory(spec, batch, precision, optimizer)
        out.append({
            "model": spec.name, "params (M)": round(spec.params / 1e6, 1), "batch": batch, "precision": precision,
            **{f"{k} (GB)": v for k, v in mem.as_gb().items()},
            "weights bf16 on disk (GB)": round(spec.params * 2 / GB, 2),
            "train PFLOPs per 1k samples": round(training_flops(spec, 1000) / 1e15, 3),
        })
    return pd.DataFrame(out)
