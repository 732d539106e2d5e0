"""Making the model faster, measured (lesson 04): dynamic int8 quantization of the MLP.

The lesson calls ``torch.ao.quantization.quantize_dynamic`` itself; :func:`time_forward` is
the stopwatch used before and after, and :func:`quantize_int8` the same call with the
deprecation notices of ``torch.ao`` kept away from the learner.
"""

from __future__ import annotations

import time
import warnings
from typing import Any


def quantize_int8(model: Any) -> Any:
    """A copy of ``model`` whose ``nn.Linear`` layers hold int8 weights (activations quantized on the fly)."""
    import torch
    from torch import nn

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)


def time_forward(model: Any, X: Any, *, repeats: int = 5, min_time: float = 0.2) -> float:
    """Best time (seconds) of one forward pass of ``model`` on ``X``: each of ``repeats`` rounds
    runs the pass for at least ``min_time`` s and keeps its mean; the best round is the least
    disturbed by other work on the machine."""
    import torch

    best = float("inf")
    with torch.inference_mode():
        model(X)  # warm-up
        for _ in range(repeats):
            n, t0 = 0, time.perf_counter()
            while True:
                model(X)
                n += 1
                elapsed = time.perf_counter() - t0
                if elapsed >= min_time:
                    break
            best = min(best, elapsed / n)
    return best


def state_size_mb(model: Any) -> float:
    """Size of the model's saved state dict, in MB (weights and quantization parameters)."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell() / 1e6
