"""mlkit.deployment.speed: int8 quantization keeps the predictions, shrinks the weights."""

from __future__ import annotations

import torch

from mlkit.deployment import speed
from mlkit.training import models


def test_quantize_int8():
    torch.manual_seed(0)
    fp32 = models.SpamMLP(300, hidden=32).eval()
    int8 = speed.quantize_int8(fp32)
    assert "DynamicQuantizedLinear" in repr(int8)
    X = torch.rand(200, 300)
    with torch.no_grad():
        assert (fp32(X).argmax(1) == int8(X).argmax(1)).float().mean() > 0.95
    assert speed.state_size_mb(int8) < speed.state_size_mb(fp32) / 2
    assert 0 < speed.time_forward(fp32, X[:1], repeats=2, min_time=0.01) < 1
