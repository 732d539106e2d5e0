"""mlkit.evaluation.explain: SHAP on a torch MLP over TF-IDF, words ranked by their push."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlkit.evaluation import explain

shap = pytest.importorskip("shap")


def linear_model():
    """Two logits; spam minus ham = 2*x0 - 1*x1 (x2 does nothing)."""
    m = torch.nn.Linear(3, 2)
    with torch.no_grad():
        m.weight[:] = torch.tensor([[0.0, 0.5, 0.0], [2.0, -0.5, 0.0]])
        m.bias[:] = 0
    return m


def test_log_odds_wrapper():
    x = torch.tensor([[1.0, 0.0, 5.0], [0.0, 2.0, 0.0]])
    out = explain.SpamLogOdds(linear_model())(x)
    assert out.shape == (2, 1) and torch.allclose(out[:, 0], torch.tensor([2.0, -2.0]))


def test_gradient_explainer_finds_the_words_that_push_to_spam():
    torch.manual_seed(0)
    X = (torch.rand(60, 3) > 0.5).float()
    bg = torch.zeros(20, 3)
    sv = explain.shap_matrix(shap.GradientExplainer(explain.SpamLogOdds(linear_model()), bg).shap_values(X, rseed=0))
    assert sv.shape == (60, 3)
    # from a zero background a linear model's SHAP value is weight x input
    assert np.allclose(sv[:, 0], 2 * X[:, 0].numpy(), atol=1e-5) and np.allclose(sv[:, 2], 0, atol=1e-6)
    table = explain.word_table(sv, X, ["prize", "meeting", "the"], top=3, min_count=1)
    assert table.word.tolist()[0] == "prize" and table.word.tolist()[-1] == "meeting"
    words = explain.message_words(sv[int(np.flatnonzero(X[:, 0] * X[:, 1])[0])], ["prize", "meeting", "the"])
    assert words.index.tolist() == ["prize", "meeting"]
    fig = explain.bar_figure(words, "one message")
    assert len(fig.axes[0].patches) == 2


def test_shap_matrix_shapes():
    assert explain.shap_matrix([np.ones((2, 3))]).shape == (2, 3)
    assert explain.shap_matrix(np.ones((2, 3, 1))).shape == (2, 3)
