"""mlkit.evaluation.slices: masks, per-slice metrics with counts, hardest mistakes."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import recall_score

from mlkit.evaluation import slices

TEXTS = ["hi", "WIN A PRIZE NOW call 09061701461", "see www.example.com for more info about the thing we discussed",
         "meet at 6", "ok"]


def test_masks():
    m = slices.spam_slices(TEXTS)
    assert m["all messages"].all()
    assert m["has a phone number"].tolist() == [False, True, False, False, False]
    assert m["has a URL"].tolist() == [False, False, True, False, False]
    assert m["has digits"].tolist() == [False, True, False, True, False]
    assert (m["has digits"] ^ m["no digits"]).all()
    assert m["shouting (> 30% upper case)"][1] and not m["shouting (> 30% upper case)"][2]
    lengths = [k for k in m if "chars" in k]
    assert sum(m[k].astype(int) for k in lengths).tolist() == [1] * len(TEXTS)  # length slices partition


def test_slice_table_counts_and_recall():
    y = np.array([0, 1, 0, 1, 1])
    p = np.array([0, 1, 1, 0, 1])
    masks = {"all": np.ones(5, bool), "first three": np.array([1, 1, 1, 0, 0], bool)}
    table = slices.slice_table(y, p, masks)
    assert table.loc["all", "messages"] == 5 and table.loc["all", "spam"] == 3
    assert table.loc["all", "false pos"] == 1 and table.loc["all", "false neg"] == 1
    assert table.loc["all", "recall"] == pytest.approx(recall_score(y, p))
    assert table.loc["first three", "recall"] == 1.0 and table.loc["first three", "messages"] == 3
    with pytest.raises(ValueError, match="entries"):
        slices.slice_table(y, p, {"bad": np.ones(3, bool)})


def test_hardest_lists_only_mistakes_most_confident_first():
    y = np.array([0, 0, 0, 1, 1])
    proba = np.array([0.9, 0.6, 0.1, 0.05, 0.95])
    fp = slices.hardest(TEXTS, y, proba, "fp", n=5)
    assert fp.p_spam.tolist() == [0.9, 0.6]
    fn = slices.hardest(TEXTS, y, proba, "fn", n=5)
    assert fn.text.tolist() == ["meet at 6"]
    with pytest.raises(ValueError, match="false positives"):
        slices.hardest(TEXTS, y, proba, "tp")
