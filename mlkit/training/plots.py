"""The training plots of lesson 02: learning curves and a confusion matrix (matplotlib, imported
inside). Shown by the live panel (:mod:`mlkit.training.loop`) and logged as MLflow artifacts
(:mod:`mlkit.training.tracking`)."""

from __future__ import annotations

from typing import Any


def curves_figure(records: list[dict[str, float]], title: str = "training curves") -> Any:
    """Loss (and accuracy, when there) per epoch, from ``Trainer.history.records``."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    epochs = [r["epoch"] for r in records]
    for key in ("train_loss", "val_loss"):
        if any(key in r for r in records):
            axes[0].plot(epochs, [r.get(key) for r in records], marker="o", label=key)
    axes[0].set(xlabel="epoch", ylabel="loss")
    axes[0].legend()
    if any("val_accuracy" in r for r in records):
        axes[1].plot(epochs, [r.get("val_accuracy") for r in records], marker="o", color="C2")
    axes[1].set(xlabel="epoch", ylabel="validation accuracy")
    fig.suptitle(title)
    fig.tight_layout()
    plt.close(fig)
    return fig


def confusion_figure(y_true: Any, y_pred: Any, labels: list[str], title: str = "confusion matrix") -> Any:
    """A confusion-matrix figure (counts; rows true, columns predicted)."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    fig, ax = plt.subplots(figsize=(3.6 if len(labels) <= 3 else 5.5,) * 2)
    ConfusionMatrixDisplay.from_predictions(y_true, y_pred, display_labels=labels, ax=ax, colorbar=False)
    ax.set_title(title)
    fig.tight_layout()
    plt.close(fig)
    return fig
