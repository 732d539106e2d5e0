"""Error analysis for lesson 03: where does the spam model fail?

* :func:`spam_slices`: boolean masks of the slices that matter for SMS (length, URL,
  phone number, digits, shouting);
* :func:`slice_table`: metrics per slice *with counts* (a recall of 1.0 on 3 spam
  messages says little);
* :func:`hardest`: the most confident false positives or false negatives.

What "has a URL", "has a phone number", "digits" and "upper case" mean is
:mod:`mlkit.data.textstats`, the definitions lesson 01's features and the inference log use.
pandas and numpy only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mlkit.data import textstats
from mlkit.evaluation import metrics

if TYPE_CHECKING:
    import pandas as pd


def spam_slices(texts: Any, short: int = 40, long: int = 120, shouting: float = 0.3) -> dict[str, np.ndarray]:
    """Masks of the SMS slices of lesson 03, keyed by a readable name."""
    texts = [str(t) for t in texts]
    length = np.array([textstats.n_chars(t) for t in texts])
    digits = np.array([textstats.n_digits(t) for t in texts])
    upper = np.array([textstats.upper_share(t) for t in texts])
    return {
        "all messages": np.ones(len(texts), dtype=bool),
        f"short (< {short} chars)": length < short,
        f"medium ({short}-{long} chars)": (length >= short) & (length <= long),
        f"long (> {long} chars)": length > long,
        "has a URL": np.array([textstats.has_url(t) for t in texts], dtype=bool),
        "has a phone number": np.array([textstats.has_phone(t) for t in texts], dtype=bool),
        "has digits": digits > 0,
        "no digits": digits == 0,
        f"shouting (> {shouting:.0%} upper case)": upper > shouting,
    }


def slice_table(y_true: Any, y_pred: Any, masks: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per slice: messages, spam, errors (fp, fn), precision, recall and F1 of spam."""
    import pandas as pd

    y, p = np.asarray(y_true), np.asarray(y_pred)
    rows = []
    for name, mask in masks.items():
        mask = np.asarray(mask, dtype=bool)
        if len(mask) != len(y):
            raise ValueError(f"slice {name!r} has {len(mask)} entries for {len(y)} messages.")
        c = metrics.confusion_counts(y[mask], p[mask])
        m = metrics.classification_metrics(y[mask], p[mask]) if mask.any() else {}
        rows.append({"slice": name, "messages": int(mask.sum()), "spam": c["tp"] + c["fn"],
                     "false pos": c["fp"], "false neg": c["fn"], "precision": m.get("precision", np.nan),
                     "recall": m.get("recall", np.nan), "f1": m.get("f1", np.nan)})
    return pd.DataFrame(rows).set_index("slice")


def hardest(texts: Any, y_true: Any, proba: Any, kind: str = "fp", n: int = 5,
            threshold: float = 0.5) -> pd.DataFrame:
    """The n most confident mistakes at ``threshold``: ``kind="fp"`` ham flagged as spam, most
    spam-like first; ``"fn"`` spam let through, most ham-like first. Columns text and p_spam."""
    import pandas as pd

    if kind not in ("fp", "fn"):
        raise ValueError(f"kind must be 'fp' (false positives) or 'fn' (false negatives), not {kind!r}.")
    frame = pd.DataFrame({"text": list(texts), "y": np.asarray(y_true), "p_spam": np.asarray(proba, dtype=float)})
    if kind == "fp":
        wrong = frame[(frame.y == 0) & (frame.p_spam >= threshold)].sort_values("p_spam", ascending=False)
    else:
        wrong = frame[(frame.y == 1) & (frame.p_spam < threshold)].sort_values("p_spam", ascending=True)
    return wrong.head(n)[["text", "p_spam"]].reset_index(drop=True)
