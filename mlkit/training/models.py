"""The models of lesson 02 (training), and the data prepared for them.

Two small, real models that train on 2 CPU cores in seconds and use a GPU when there is one:

* :class:`SpamMLP`: TF-IDF features of an SMS message -> 2 classes (ham, spam). The text
  is vectorised by scikit-learn (:func:`spam_data`, on the course's data release), the
  classifier is a torch MLP. :class:`SpamPipeline` is the two together, texts in and
  P(spam) out: what lesson 02 registers and lessons 03-06 evaluate, serve, watch and retrain.
* :class:`SmallCNN`: a 28x28 grey image -> 10 digit classes (the 5,000-image MNIST sample).

torch and scikit-learn are imported when these are first used, not when ``mlkit`` is.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
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
        self.config = {"n_features": n_features, "hidden": hidden, "dropout": dropout, "n_classes": n_classes}
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


def spam_data(data: Any = None, *, max_features: int = 3000, seed: int = 0) -> Split:
    """The SMS spam data of a release as TF-IDF tensors, split by the release's ``split`` column.

    ``data`` is a :class:`mlkit.data.releases.DataRelease` (``ws.require("data@v1")``), its
    ``frame()``, or any frame with ``text`` and ``label``: a frame without a ``split`` column
    goes through :func:`mlkit.data.prep.release_frame` first (the one dedupe and split;
    ``seed`` is then the split's seed). None: the messages of data v1, prepared the same way
    in memory, without the store. The vectoriser is fitted on the training part only.

    ``extra`` holds ``vectorizer`` (the fitted TfidfVectorizer), ``text_train``, ``text_test``
    and ``data_version`` (the release's DVC md5; for other frames a short hash of the frame).
    """
    import hashlib

    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    from mlkit.data import prep

    if data is None:
        from mlkit.course import datasets
        from mlkit.data import ingest

        sms = datasets.load_sms_spam()
        data = prep.release_frame(sms.iloc[list(ingest.release_ids(len(sms), 1))], seed=seed)
    frame = data.frame() if hasattr(data, "frame") else data
    if "split" not in frame.columns:
        frame = prep.release_frame(frame, seed=seed)
    version = frame.attrs.get("data_version") or hashlib.sha256(
        "\n".join(frame.label + "\t" + frame.split + "\t" + frame.text).encode()).hexdigest()[:12]
    train, test = frame[frame.split == "train"], frame[frame.split == "test"]
    vec = TfidfVectorizer(max_features=max_features, sublinear_tf=True, ngram_range=(1, 2), min_df=2)
    X_train = vec.fit_transform(train.text).toarray().astype(np.float32)
    X_test = vec.transform(test.text).toarray().astype(np.float32)
    y_train = (train.label == "spam").to_numpy().astype(np.int64)
    y_test = (test.label == "spam").to_numpy().astype(np.int64)
    return Split(
        torch.from_numpy(X_train), torch.from_numpy(y_train), torch.from_numpy(X_test), torch.from_numpy(y_test),
        ["ham", "spam"],
        {"vectorizer": vec, "text_train": train.text.to_numpy(), "text_test": test.text.to_numpy(),
         "data_version": version},
    )


# The settings of a TfidfVectorizer that a saved pipeline keeps (with its vocabulary and idf).
_VECTORIZER_SETTINGS = ("lowercase", "strip_accents", "token_pattern", "ngram_range", "analyzer", "stop_words",
                        "max_df", "min_df", "max_features", "binary", "norm", "use_idf", "smooth_idf", "sublinear_tf")


def vectorizer_to_json(vec: Any) -> dict[str, Any]:
    """A fitted TfidfVectorizer as plain JSON data: its settings, vocabulary and idf (no pickle)."""
    params = vec.get_params()
    settings = {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items() if k in _VECTORIZER_SETTINGS}
    return {"settings": settings, "vocabulary": {t: int(i) for t, i in vec.vocabulary_.items()},
            "idf": [float(x) for x in vec.idf_]}


def vectorizer_from_json(data: dict[str, Any]) -> Any:
    """The TfidfVectorizer back from :func:`vectorizer_to_json`; it transforms exactly as before."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    settings = dict(data["settings"])
    settings["ngram_range"] = tuple(settings["ngram_range"])
    vec = TfidfVectorizer(**settings, vocabulary=data["vocabulary"])
    vec.idf_ = np.asarray(data["idf"], dtype=np.float64)
    return vec


class SpamPipeline:
    """Texts in, P(spam) out: the fitted TF-IDF vectoriser and the trained :class:`SpamMLP` (lesson 02).

    Saved (:meth:`save`) as JSON (settings, vocabulary, idf, the MLP's shape) and a torch
    ``state_dict`` loaded with ``weights_only=True``: no pickle, so a model file from
    elsewhere cannot run code. Lessons 03-06 get it with
    :func:`mlkit.training.tracking.load_spam_model`.
    """

    FILES = ("spam_vectorizer.json", "spam_mlp.json", "spam_mlp.pt")

    def __init__(self, vectorizer: Any, model: nn.Module, classes: tuple[str, str] = ("ham", "spam")) -> None:
        self.vectorizer = vectorizer
        self.model = model.cpu().eval()
        self.classes = list(classes)

    def __repr__(self) -> str:
        return f"SpamPipeline({len(self.vectorizer.vocabulary_)} TF-IDF features -> {type(self.model).__name__})"

    def features(self, texts: Any) -> torch.Tensor:
        """TF-IDF features of the texts (a string, or a list/Series of strings)."""
        import numpy as np

        texts = [texts] if isinstance(texts, str) else [str(t) for t in texts]
        return torch.from_numpy(self.vectorizer.transform(texts).toarray().astype(np.float32))

    def predict_proba(self, texts: Any) -> Any:
        """P(spam) of each text, as a numpy array of shape (n,)."""
        with torch.no_grad():
            logits = self.model(self.features(texts))
        return torch.softmax(logits, dim=1)[:, 1].numpy()

    def predict(self, texts: Any, threshold: float = 0.5) -> Any:
        """1 (spam) or 0 (ham) for each text: P(spam) >= threshold."""
        return (self.predict_proba(texts) >= threshold).astype("int64")

    def save(self, folder: str | os.PathLike) -> list[Path]:
        """Write the three files of :attr:`FILES` into ``folder``; return their paths."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        vec_path, cfg_path, weights_path = (folder / name for name in self.FILES)
        vec_path.write_text(json.dumps(vectorizer_to_json(self.vectorizer)))
        config = getattr(self.model, "config", None)
        if config is None:
            raise TypeError("SpamPipeline.save needs a SpamMLP (a model with a .config of its shape).")
        cfg_path.write_text(json.dumps({"model": type(self.model).__name__, **config, "classes": self.classes}))
        torch.save(self.model.state_dict(), weights_path)
        return [vec_path, cfg_path, weights_path]

    @classmethod
    def load(cls, folder: str | os.PathLike) -> SpamPipeline:
        """A pipeline back from the files :meth:`save` wrote (weights loaded with ``weights_only=True``)."""
        folder = Path(folder)
        vec_path, cfg_path, weights_path = (folder / name for name in cls.FILES)
        config = json.loads(cfg_path.read_text())
        classes = config.pop("classes", ["ham", "spam"])
        config.pop("model", None)
        model = SpamMLP(**config)
        model.load_state_dict(torch.load(weights_path, map_location="cpu", weights_only=True))
        return cls(vectorizer_from_json(json.loads(vec_path.read_text())), model, tuple(classes))


def mnist_data(df: Any = None, *, test_size: float = 0.2, seed: int = 0) -> Split:
    """The 5,000-image MNIST sample as (N, 1, 28, 28) float tensors scaled to [0, 1],
    split stratified by digit. ``extra["data_version"]`` is a short hash of the raw data."""
    import hashlib

    import numpy as np
    from sklearn.model_selection import train_test_split

    from mlkit.course import datasets

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
