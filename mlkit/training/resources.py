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

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
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


@lru_cache(maxsize=4)
def resnet152(image_size: int = 224) -> ModelSpec:
    """ResNet-152 measured from its layers (60.2 M parameters, ~11.6 GMACs per 224x224 image).
    Built on the meta device: shapes only, so no 240 MB of weights is allocated and initialised."""
    return spec_from_model(_on_meta(resnet, 152), (3, image_size, image_size), name="ResNet-152")


def _on_meta(build: Callable[..., Any], *args: Any) -> Any:
    """``build(*args)`` with every parameter on the meta device (a model to measure, not to run)."""
    import torch

    with torch.device("meta"):
        return build(*args)


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
    views of them, like a transposed weight) excluded.

    Only public APIs: on a real device a tensor's memory is identified by its storage
    (``untyped_storage().data_ptr()``), so views share one key; on the "meta" device
    (no memory, no pointers) a tensor computed from parameters alone (its ``grad_fn``
    leads only to the parameters' ``AccumulateGrad`` nodes, as for ``weight.t()``) is
    a parameter view.
    """

    def __init__(self, params: list[Any]) -> None:
        self.param_ids = {id(p) for p in params}
        self.param_ptrs = {p.untyped_storage().data_ptr() for p in params if p.device.type != "meta"}
        self.seen: set[Any] = set()
        self.bytes = 0

    def _from_params_only(self, t: Any) -> bool:
        nodes = [fn for fn, _ in t.grad_fn.next_functions] if t.grad_fn is not None else []
        return bool(nodes) and all(fn is not None and id(getattr(fn, "variable", None)) in self.param_ids
                                   for fn in nodes)

    def pack(self, t: Any) -> Any:
        meta = t.device.type == "meta"
        if id(t) in self.param_ids or self._from_params_only(t):
            return t
        if not meta and t.untyped_storage().data_ptr() in self.param_ptrs:
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


@dataclass(frozen=True)
class PeakMemory:
    """Memory one training step really took, measured independently of the estimate.

    Attributes:
        bytes: peak memory during the step above what was in use before it (model copy,
            batch copy, gradients, optimizer state, activations, and temporaries).
        method: how it was measured, in words (say it next to the number).
    """

    bytes: float
    method: str
    phases: dict[str, float] = field(default_factory=dict)

    def as_mb(self) -> dict[str, float]:
        """The peak so far after each phase of the step, in MB: where the memory went."""
        return {k: round(v / 1e6, 2) for k, v in self.phases.items()}


def _proc_status(key: str) -> int:
    import re

    with open("/proc/self/status") as fh:
        match = re.search(rf"^{key}:\s+(\d+) kB", fh.read(), re.M)
    return int(match.group(1)) * 1024 if match else -1


def _rss_peak_window() -> tuple[Any, str]:
    """A way to read this process's peak resident memory from now on, and its name."""
    import contextlib
    import resource
    import sys

    try:
        if sys.platform.startswith("linux"):
            import ctypes

            with contextlib.suppress(OSError, AttributeError):  # glibc: give memory freed earlier back to
                ctypes.CDLL("libc.so.6").malloc_trim(0)         # the OS, so reusing it shows in the peak
        with open("/proc/self/clear_refs", "w") as fh:  # Linux: reset the peak (VmHWM) to the current RSS
            fh.write("5")
        return (lambda: _proc_status("VmHWM")), "peak resident memory of this process (Linux VmHWM, reset before the step)"
    except OSError:
        scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
        return (lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale), \
            "peak resident memory of this process (getrusage ru_maxrss: only growth above the earlier peak shows)"


def measure_peak_memory(model: Any, X: Any, y: Any, optimizer: str = "adam", warmup: bool = True) -> PeakMemory:
    """Run one training step of a copy of ``model`` on a copy of (X, y) and measure its peak
    memory with the operating system or the GPU allocator (lesson 02), not with the
    estimate's own accounting:

    * on CUDA: ``torch.cuda.max_memory_allocated`` (reset before the step);
    * on the CPU: the process's peak resident memory (Linux: ``VmHWM`` reset through
      ``/proc/self/clear_refs``; elsewhere ``resource.getrusage``).

    The copies are made inside the measured window, so weights, the batch, gradients,
    optimizer state, activations and temporaries all count. With ``warmup`` a step on two
    samples runs first, unmeasured: torch's first step in a process initialises its kernels
    (about 90 MB here). The CPU figure is coarse (pages; libraries may cache buffers): use
    batches of a few MB.
    """
    import copy
    import gc

    import torch

    device = next(model.parameters()).device
    make_opt = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}.get(optimizer)

    phases: dict[str, float] = {}

    def step(mark: Callable[[str], None]) -> None:
        m = copy.deepcopy(model)
        xb, yb = X.to(device).clone(), y.to(device).clone()
        params = [p for p in m.parameters() if p.requires_grad]
        opt = make_opt(params, lr=1e-3) if make_opt else torch.optim.SGD(
            params, lr=1e-3, momentum=0.9 if optimizer == "sgd_momentum" else 0)
        m.train()
        mark("model and batch copied")
        loss = torch.nn.functional.cross_entropy(m(xb), yb)
        mark("forward")
        opt.zero_grad()
        loss.backward()
        mark("backward")
        opt.step()
        mark("optimizer step")

    if warmup:
        measure_peak_memory(model, X[:2], y[:2], optimizer, warmup=False)
    phases.clear()
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)

        def mark(phase: str) -> None:
            torch.cuda.synchronize(device)
            phases[phase] = float(torch.cuda.max_memory_allocated(device) - before)

        step(mark)
        return PeakMemory(max(phases.values()), "torch.cuda.max_memory_allocated "
                          "(GPU allocator peak, reset before the step)", phases)
    if device.type != "cpu":
        raise ValueError(f"measure_peak_memory measures on 'cpu' or 'cuda', not {device.type!r}")
    peak, method = _rss_peak_window()
    before = _proc_status("VmRSS") if "VmHWM" in method else peak()

    def mark(phase: str) -> None:
        phases[phase] = float(max(peak() - before, 0))

    step(mark)
    return PeakMemory(max(phases.values()), method, phases)  # the kernel's RSS counters lag by a few pages


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


# ---------------------------------------------------------------- the course text's table, as data
COURSE_TABLE: list[dict[str, str]] = [  # ../shared/seed/ml-lifecycle-lesson.md, "Resource Requirements"
    {"model": "Small CNN", "gpu_memory": "4-8 GB", "training_time": "Hours", "storage": "<1 GB"},
    {"model": "Large CNN (ResNet-152)", "gpu_memory": "12-16 GB", "training_time": "Days", "storage": "5-10 GB"},
    {"model": "BERT Base", "gpu_memory": "16-24 GB", "training_time": "Days", "storage": "500 MB"},
    {"model": "GPT-3 Scale", "gpu_memory": "80 GB+ (multiple)", "training_time": "Weeks", "storage": "100s of GB"},
    {"model": "LLM (7B params)", "gpu_memory": "28 GB+", "training_time": "Days-Weeks", "storage": "14-28 GB"},
]


def gpt3() -> ModelSpec:
    """GPT-3 175B's configuration: 96 layers, hidden 12,288, 96 heads, 2,048 tokens."""
    return transformer("GPT-3 175B", layers=96, hidden=12288, heads=96, vocab=50257, seq_len=2048,
                       max_positions=2048)


def course_table_comparison() -> Any:
    """The course text's resource table beside the calculator (lesson 02), one row per line of
    the text: what the text says, what the calculator gives for stated settings (Adam), and
    why they differ. Every number in ``explanation`` is computed here."""
    import math

    import pandas as pd

    def gb(spec: ModelSpec, batch: int, precision: str, training: bool = True) -> float:
        return estimate_memory(spec, batch, precision, "adam", training).total / GB

    def ckpt(spec: ModelSpec) -> float:  # fp32 weights + Adam's two moments
        return spec.params * 12 / GB

    r50 = _resnet50()
    r152, bert, llm, big = resnet152(), bert_base(512), llama_7b(2048), gpt3()
    rows = [
        ("ResNet-50, batch 64, fp32", gb(r50, 64, "fp32"), r50.params * 4 / GB,
         f"'Small CNN' is vague: ResNet-50 on 224x224 images needs {gb(r50, 32, 'fp32'):.1f} GB at batch 32 and "
         f"{gb(r50, 64, 'fp32'):.1f} GB at batch 64; a GPU adds its CUDA context (about 0.5 GB) and cuDNN "
         f"workspaces. The lesson's own SmallCNN (MNIST, 28x28) needs "
         f"{gb(spec_from_model(_small_cnn(), (1, 28, 28)), 64, 'fp32') * 1000:.0f} MB at batch 64: 'small' spans "
         "orders of magnitude."),
        ("ResNet-152, batch 64, fp32", gb(r152, 64, "fp32"), ckpt(r152) * 10,
         f"Batch 32 needs {gb(r152, 32, 'fp32'):.1f} GB, batch 64 {gb(r152, 64, 'fp32'):.1f} GB: the text's "
         f"12-16 GB is batch 64 plus framework overhead. Storage: the weights are {r152.params * 4 / GB:.2f} GB; "
         f"one checkpoint with Adam's state {ckpt(r152):.2f} GB, so 5-10 GB is about ten kept checkpoints."),
        ("BERT base, batch 32, 512 tokens, mixed", gb(bert, 32, "mixed"), bert.params * 4 / GB,
         f"{gb(bert, 32, 'mixed'):.1f} GB in mixed precision, {gb(bert, 32, 'fp32'):.1f} GB in fp32: the text's "
         f"16-24 GB lies between the two, with overhead (activations dominate: they grow with the square of the sequence length). "
         f"Storage: fp32 weights {bert.params * 4 / GB:.2f} GB, the text's 500 MB."),
        ("GPT-3 175B, 1 sequence of 2,048, mixed", gb(big, 1, "mixed"), big.params * 2 / GB,
         f"{big.params / 1e9:.0f} B parameters: training with Adam needs {gb(big, 1, 'mixed') / 1000:.1f} TB, "
         f"at least {math.ceil(gb(big, 1, 'mixed') / 80)} GPUs of 80 GB just to hold it: '80 GB+ (multiple)' means many. "
         f"Storage: bf16 weights {big.params * 2 / GB:.0f} GB ('100s of GB')."),
        ("LLaMA-7B, 1 sequence of 2,048, bf16", gb(llm, 1, "bf16"), llm.params * 2 / GB,
         f"The text's 28 GB+ is the fp32 weights alone ({gb(llm, 1, 'fp32', training=False):.1f} GB: enough to "
         f"load it, not to train it). Training with Adam: {gb(llm, 1, 'bf16'):.1f} GB all in bf16, "
         f"{gb(llm, 1, 'mixed'):.1f} GB in mixed precision (fp32 weights and states): over 100 GB only in mixed "
         f"precision. Storage: {llm.params * 2 / GB:.1f} GB in bf16 to {llm.params * 4 / GB:.1f} GB in fp32, "
         "the text's 14-28 GB."),
    ]
    out = []
    for text, (setting, mem, store, why) in zip(COURSE_TABLE, rows):
        out.append({"course text": text["model"], "text: GPU memory": text["gpu_memory"],
                    "calculator setting": setting, "calculator (GB)": round(mem, 1),
                    "text: storage": text["storage"], "calculator storage (GB)": round(store, 2),
                    "explanation": why})
    return pd.DataFrame(out)


@lru_cache(maxsize=1)
def _resnet50() -> ModelSpec:
    return spec_from_model(_on_meta(resnet, 50), (3, 224, 224), name="ResNet-50")


def _small_cnn() -> Any:
    from mlkit.training.models import SmallCNN

    return SmallCNN()
