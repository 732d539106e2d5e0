"""Shared by the tests of the training loop and its live panel: a small separable problem and a
small model that can be made again with the same weights."""

from __future__ import annotations

import pytest


class Toy:
    """``data()``: (X, y), two classes split by a line; ``model()``: a 10 -> 16 -> 2 MLP with dropout."""

    def __init__(self) -> None:
        import torch

        self.torch = torch

    def data(self, n: int = 256, d: int = 10, seed: int = 0):
        g = self.torch.Generator().manual_seed(seed)
        X = self.torch.randn(n, d, generator=g)
        y = (X[:, 0] + 0.5 * X[:, 1] > 0).long()
        return X, y

    def model(self, seed: int = 0, d: int = 10):
        nn = self.torch.nn
        self.torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(d, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 2))


@pytest.fixture
def toy() -> Toy:
    pytest.importorskip("torch")
    return Toy()
