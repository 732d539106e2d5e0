"""Plumbing for the explanations of lesson 03; the lesson calls SHAP itself.

* :class:`SpamLogOdds`: the spam MLP seen as one number, log-odds of spam (what a SHAP
  gradient explainer attributes to the TF-IDF features);
* :func:`shap_matrix`: SHAP's output as a plain (messages x features) array;
* :func:`word_table`: which words push messages towards spam, over many messages;
* :func:`message_words`: the words behind one message's score;
* :func:`bar_figure`: a horizontal bar chart of signed contributions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    import pandas as pd


class SpamLogOdds(nn.Module):
    """``model``'s spam logit minus its ham logit, shape (n, 1): log P(spam)/P(ham) (lesson 03)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.model(x)
        return (logits[:, 1] - logits[:, 0]).unsqueeze(1)


def shap_matrix(values: Any) -> np.ndarray:
    """SHAP values of a one-output model as an (n, features) array, whatever the SHAP
    version returned: a list with one array, an (n, f, 1) array, or an Explanation."""
    values = getattr(values, "values", values)
    if isinstance(values, list):
        values = values[0]
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 3:
        arr = arr[..., 0]
    return arr


def _vocabulary(names: Any) -> np.ndarray:
    """Feature names: a fitted vectoriser's (``get_feature_names_out``) or a sequence."""
    if hasattr(names, "get_feature_names_out"):
        names = names.get_feature_names_out()
    return np.asarray(list(names))


def word_table(values: Any, X: Any, vocabulary: Any, top: int = 15, min_count: int = 3) -> pd.DataFrame:
    """Words ranked by their mean SHAP value over the messages that contain them (lesson 03).

    Positive pushes towards spam. ``count`` is in how many of the explained messages the
    word (or bigram) occurs; words seen fewer than ``min_count`` times are left out.
    """
    import pandas as pd

    sv = shap_matrix(values)
    present = np.asarray(X.numpy() if hasattr(X, "numpy") else X) > 0
    counts = present.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, (sv * present).sum(0) / np.maximum(counts, 1), 0.0)
    table = pd.DataFrame({"word": _vocabulary(vocabulary), "mean_shap": mean, "count": counts})
    table = table[table["count"] >= min_count]
    return table.sort_values("mean_shap", ascending=False).head(top).reset_index(drop=True)


def message_words(values_row: Any, vocabulary: Any, top: int = 6) -> pd.Series:
    """The words with the largest contributions (by size, either sign) to one message's score."""
    import pandas as pd

    row = shap_matrix(np.atleast_2d(values_row))[0]
    nonzero = np.flatnonzero(row)
    order = nonzero[np.argsort(-np.abs(row[nonzero]))][:top]
    return pd.Series(row[order], index=_vocabulary(vocabulary)[order], name="shap")


def bar_figure(contributions: pd.Series, title: str, xlabel: str = "contribution to log-odds of spam") -> Any:
    """Horizontal bars, largest at the top, red pushing up (spam) and blue down (ham)."""
    import matplotlib.pyplot as plt

    s = contributions.iloc[::-1]
    fig, ax = plt.subplots(figsize=(5.5, 0.3 * len(s) + 1.0))
    ax.barh([str(i) for i in s.index], s.to_numpy(), color=["#c44" if v > 0 else "#48c" for v in s])
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set(xlabel=xlabel, title=title)
    fig.tight_layout()
    plt.close(fig)
    return fig
