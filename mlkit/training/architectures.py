"""The models behind the course text's resource table (lesson 02), and that table beside the calculator.

:func:`transformer` counts a transformer's parameters, activations and FLOPs from its
configuration (:func:`bert_base`, :func:`llama_7b`, :func:`gpt3`); :func:`resnet` builds a
bottleneck ResNet as an ``nn.Module`` that :func:`mlkit.training.footprint.spec_from_model`
measures on the "meta" device (:func:`resnet152`). :func:`course_table_comparison` puts the
text's table beside :func:`mlkit.training.resources.estimate_memory`, with the reason for each
difference computed from the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from mlkit.training.footprint import spec_from_model
from mlkit.training.resources import GB, ModelSpec, estimate_memory


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
