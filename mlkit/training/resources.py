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

:func:`bert_base`, :func:`llama_7b` and :func:`resnet152` build the specs behind the course
text's table; :func:`spec_from_model` measures a real ``nn.Module`` (parameters, stored
activations, FLOPs) on the "meta" device, which allocates nothing; and
:func:`measure_training_memory` measures what one training step really holds.
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


# ---------------------------------------------------------------- the course text's models
def transformer(
    name: str, *, layers: int, hidden: int, heads: int, vocab: int, seq_len: int, ffn: int | None = None,
    gated: bool = False, bert_style: bool = True, max_positions: int = 512,
) -> ModelSpec:
    """A transformer from its configuration.

    Parameters are counted layer by layer (BERT: learned positions, biases, two LayerNorms
    per layer, a pooler; LLaMA-style ``bert_style=False``: no biases, RMSNorm, a gated
    3-matrix MLP, an untied output head). Activations per layer and sequence use
    Korthikanti et al. (2022), ``s*h*(34 + 5*a*s/h)`` bytes at 16 bits.
    """
    h, L, s, a = hidden, layers, seq_len, heads
    f = ffn or 4 * h
    if bert_style:
        embed = vocab * h + max_positions * h + 2 * h + 2 * h  # tokens, positions, 2 segments, LayerNorm
        per_layer = (4 * h * h + 4 * h) + (2 * h * f + f + h) + 2 * 2 * h
        head = h * h + h  # pooler
    else:
        embed = vocab * h
        per_layer = 4 * h * h + (3 if gated else 2) * h * f + 2 * h
        head = h + vocab * h  # final norm + output projection
    params = embed + L * per_layer + head
    act_bytes_16bit = L * s * h * (34 + 5 * a * s / h)
    flops = 2 * (params - embed) * s + L * 4 * s * s * h  # matmuls + attention scores and mix
    return ModelSpec(name, int(params), act_bytes_16bit / 2, float(flops))


def bert_base(seq_len: int = 512) -> ModelSpec:
    """BERT base: 12 layers, hidden 768, 12 heads, vocabulary 30,522 (109.5 M parameters)."""
    return transformer("BERT base", layers=12, hidden=768, heads=12, vocab=30522, seq_len=seq_len)


def llama_7b(seq_len: int = 2048) -> ModelSpec:
    """A 7B LLM (LLaMA-7B's configuration: 32 layers, hidden 4096, 32 heads, gated MLP 11,008)."""
    return transformer("LLM 7B", layers=32, hidden=4096, heads=32, vocab=32000, seq_len=seq_len,
                       ffn=11008, gated=True, bert_style=False)


def resnet(depth: int = 152, n_classes: int = 1000) -> Any:
    """A bottleneck ResNet (50, 101 or 152 layers) as an ``nn.Module``, torchvision's layout,
    so that :func:`spec_from_model` can measure it (on the meta device: no memory used)."""
    from torch import nn

    blocks = {50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}[depth]

    class Bottleneck(nn.Module):
        def __init__(self, cin: int, width: int, stride: int) -> None:
            super().__init__()
            cout = width * 4
            self.body = nn.Sequential(
                nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout),
            )
            self.down = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                         if stride != 1 or cin != cout else nn.Identity())
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu(self.body(x) + self.down(x))

    layers: list[Any] = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for i, n in enumerate(blocks):
        width = 64 * 2**i
        for j in range(n):
            layers.append(Bottleneck(cin, width, 2 if (j == 0 and i > 0) else 1))
            cin = width * 4
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, n_classes)]
    return nn.Sequential(*layers)


def resnet152(image_size: int = 224) -> ModelSpec:
    """ResNet-152 measured from its layers (60.2 M parameters, ~11.6 GMACs per 224x224 image)."""
    return spec_from_model(resnet(152), (3, image_size, image_size), name="ResNet-152")


# ---------------------------------------------------------------- measuring real models
def spec_from_model(model: Any, input_shape: tuple[int, ...], name: str | None = None, dtype: Any = None) -> ModelSpec:
    """Measure a model: parameters, elements saved for backward and forward FLOPs per sample.

    Runs one forward pass of a batch of 2 on the "meta" device (shapes only, no memory, no
    compute) with a saved-tensors hook that counts what autograd keeps for the backward pass.
    """
    import copy

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    params = sum(p.numel() for p in model.parameters())
    meta = copy.deepcopy(model).to("meta") if any(p.device.type != "meta" for p in model.parameters()) else model
    meta.train()
    x = torch.zeros((2, *input_shape), device="meta", dtype=dtype or torch.float32)
    saved = _SavedCounter(list(meta.parameters()))
    with FlopCounterMode(display=False) as fc, torch.autograd.graph.saved_tensors_hooks(saved.pack, saved.unpack):
        meta(x)
    # in fp32 units (4 bytes: an int64 index of max-pooling counts as two), per sample
    return ModelSpec(name or type(model).__name__, int(params), saved.bytes / 4 / 2, fc.get_total_flops() / 2)


class _SavedCounter:
    """Counts the bytes autograd saves for backward, each tensor once, parameters (and
    views of them, like a transposed weight) excluded."""

    def __init__(self, params: list[Any]) -> None:
        self.param_ids = {id(p) for p in params}
        self.param_ptrs = {p.data_ptr() for p in params if p.device.type != "meta"}
        self.seen: set[Any] = set()
        self.bytes = 0

    def pack(self, t: Any) -> Any:
        base = t._base if t._base is not None else t
        meta = t.device.type == "meta"
        if id(base) in self.param_ids or (not meta and t.untyped_storage().data_ptr() in self.param_ptrs):
            return t
        key = id(t) if meta else (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.dtype)
        if key not in self.seen:
            self.seen.add(key)
            self.bytes += t.numel() * t.element_size()
        return t

    @staticmethod
    def unpack(t: Any) -> Any:
        return t


def measure_training_memory(model: Any, X: Any, y: Any, optimizer: str = "adam", amp: bool = False) -> Memory:
    """Measure one real training step of ``model`` on the batch (X, y): bytes of weights,
    gradients, optimizer state, and activations autograd saved for the backward pass.
    Compare with :func:`estimate_memory` (the lesson does)."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    opt = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}.get(optimizer)
    opt = opt(params, lr=1e-3) if opt else torch.optim.SGD(params, lr=1e-3, momentum=0.9 if optimizer == "sgd_momentum" else 0)
    device = next(model.parameters()).device
    saved = _SavedCounter(params)
    ctx = torch.autocast(device.type, dtype=torch.bfloat16) if amp else torch.autocast(device.type, enabled=False)
    with torch.autograd.graph.saved_tensors_hooks(saved.pack, saved.unpack), ctx:
        loss = torch.nn.functional.cross_entropy(model(X.to(device)), y.to(device))
    activations = saved.bytes
    opt.zero_grad()
    loss.backward()
    opt.step()

    def nbytes(ts: Any) -> int:
        return sum(t.numel() * t.element_size() for t in ts if torch.is_tensor(t))

    state = [v for s in opt.state.values() for k, v in s.items() if k != "step"]
    model.zero_grad(set_to_none=True)
    grads = nbytes(p for p in params)  # each param had a grad of its own size and dtype
    return Memory(float(nbytes(params)), float(grads), float(nbytes(state)), float(activations))


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
