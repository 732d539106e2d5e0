"""The models of lesson 02 (training), and the data prepared for them.

Two small, real models that train on 2 CPU cores in seconds and use a GPU when there is one:

* :class:`SpamMLP`: TF-IDF features of an SMS message -> 2 classes (ham, spam). The text
  is vectorised by scikit-learn (:func:`spam_data`), the classifier is a torch MLP.
* :class:`SmallCNN`: a 28x28 grey image -> 10 digit classes (the 5,000-image MNIST sample).

torch and scikit-learn are imported when these are first used, not when ``mlkit`` is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn


class SpamMLP(nn.Module):
    """A two-layer perceptron over TF-IDF features (lesson 02).

    Args:
        n_features: size of the TF-IDF vocabulary (the input width).
        hidden: width of the hidden layer.
        dropout: dropout before the output layer.
        n_classes: 2 (ham, spam).
    """

    def __init__(self, n_features: int, hidden: int = 64, dropout: float = 0.2, n_classes: int = 2) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SmallCNN(nn.Module):
    """Two convolutions and two dense layers for 28x28 grey images (lesson 02).

    Args:
        channels: channels of the first convolution (the second has twice as many).
        hidden: width of the dense hidden layer.
        n_classes: 10 digits.
    """

    def __init__(self, channels: int = 16, hidden: int = 64, n_classes: int = 10) -> None:
        super().__init__()
        c = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),      # 28 -> 14
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 14 -> 7
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(2 * c * 7 * 7, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:  # flat 784-pixel rows (as served or logged): reshape to images
            x = x.view(-1, 1, 28, 28)
        return self.head(self.features(x))


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of a model."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@dataclass
class Split:
    """A train/test split as tensors, ready for :class:`mlkit.training.loop.Trainer`."""

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    classes: list[str]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        return int(self.X_train[0].numel())

    def holdout(self, fraction: float = 0.15, seed: int = 0) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """Split the training part into (X_fit, y_fit) and a validation pair (X_val, y_val),
        so that early stopping and model choice never look at the test set."""
        n = len(self.X_train)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        k = int(round(n * fraction))
        val, fit = order[:k], order[k:]
        return (self.X_train[fit], self.y_train[fit]), (self.X_train[val], self.y_train[val])

    def subset(self, n_train: int) -> Split:
        """The first ``n_train`` training rows (a quick run), same test set."""
        return Split(self.X_train[:n_train], self.y_train[:n_train], self.X_test, self.y_test, self.classes, self.extra)


def spam_data(
    df: Any = None, *, test_size: float = 0.2, seed: int = 0, max_features: int = 3000
) -> Split:
    """The SMS spam data as TF-IDF tensors: duplicates dropped *before* the stratified split
    (no leakage, see lesson 01), the vectoriser fitted on the training part only.

    ``extra`` holds ``vectorizer`` (the fitted TfidfVectorizer), ``text_train``,
    ``text_test`` and ``data_version`` (a short hash of the raw data).
    """
    import hashlib

    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.model_selection import train_test_split

    from mlkit import datasets

    if df is None:
        df = datasets.load_sms_spam()
    version = hashlib.sha256(("\n".join(df.label + "\t" + df.text)).encode()).hexdigest()[:12]
    df = df.drop_duplicates("text").reset_index(drop=True)
    y = (df.label == "spam").to_numpy().astype(np.int64)
    text_train, text_test, y_train, y_test = train_test_split(
        df.text.to_numpy(), y, test_size=test_size, random_state=seed, stratify=y
    )
    vec = TfidfVectorizer(max_features=max_features, sublinear_tf=True, ngram_range=(1, 2), min_df=2)
    X_train = vec.fit_transform(text_train).toarray().astype(np.float32)
    X_test = vec.transform(text_test).toarray().astype(np.float32)
    return Split(
        torch.from_numpy(X_train), torch.from_numpy(y_train), torch.from_numpy(X_test), torch.from_numpy(y_test),
        ["ham", "spam"],
        {"vectorizer": vec, "text_train": text_train, "text_test": text_test, "data_version": version},
    )


def mnist_data(df: Any = None, *, test_size: float = 0.2, seed: int = 0) -> Split:
    """The 5,000-image MNIST sample as (N, 1, 28, 28) float tensors scaled to [0, 1],
    split stratified by digit. ``extra["data_version"]`` is a short hash of the raw data."""
    import hashlib

    import numpy as np
    from sklearn.model_selection import train_test_split

    from mlkit import datasets

    if df is None:
        df = datasets.load_mnist_sample()
    pixels = df.drop(columns="label").to_numpy(dtype=np.uint8)
    labels = df.label.to_numpy().astype(np.int64)
    version = hashlib.sha256(pixels.tobytes() + labels.tobytes()).hexdigest()[:12]
    X = (pixels.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    X_train, X_test, y_train, y_test = train_test_split(X, labels, test_size=test_size, random_state=seed, stratify=labels)
    return Split(
        torch.from_numpy(X_train), torch.from_numpy(y_train), torch.from_numpy(X_test), torch.from_numpy(y_test),
        [str(d) for d in range(10)], {"data_version": version},
    )
