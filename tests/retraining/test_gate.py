import numpy as np
import pytest

from mlkit.retraining import gate


@pytest.fixture
def preds():
    rng = np.random.default_rng(0)
    y = rng.poisson(100, 400).astype(float)
    return y, y + rng.normal(0, 30, 400), y + rng.normal(0, 15, 400)


def test_gate_promotes_a_better_challenger(preds):
    y, worse, better = preds
    d = gate.decide(y, worse, better)
    assert d.promote and d.challenger_mae < d.champion_mae and d.diff.high < 0
    assert "PROMOTE" in str(d)


def test_gate_blocks_a_worse_or_equal_challenger(preds):
    y, worse, better = preds
    assert not gate.decide(y, better, worse).promote
    assert not gate.decide(y, better, better).promote  # no gain: the margin is not met
    tiny = better - 0.001 * np.sign(better - y)  # better, but by less than the margin
    assert not gate.decide(y, better, tiny, margin=0.05).promote


def test_gate_blocks_non_finite_predictions_and_checks_input(preds):
    y, worse, better = preds
    broken = better.copy()
    broken[3] = np.nan
    d = gate.decide(y, worse, broken)
    assert not d.promote and "non-finite" in d.reasons[0]
    with pytest.raises(ValueError, match="labelled rows"):
        gate.decide(y[:5], worse[:5], better[:5])
