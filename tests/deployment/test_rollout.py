"""mlkit.deployment.rollout: the sticky split, the SLO gate and the percentile (oracle: numpy)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlkit.deployment import rollout


def test_percentile_matches_numpy():
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 100, 1001):
        data = rng.lognormal(size=n).tolist()
        for q in (0, 1, 50, 95, 99, 99.9, 100):
            assert rollout.percentile(data, q) == pytest.approx(np.percentile(data, q), rel=1e-12)
    assert math.isnan(rollout.percentile([], 99))
    with pytest.raises(ValueError, match="percent"):
        rollout.percentile([1.0], 120)


def test_split_is_sticky_weighted_and_monotone():
    users = [f"user-{i}" for i in range(20_000)]
    at = {w: [rollout.goes_to_canary(u, w) for u in users] for w in (0.0, 0.05, 0.25, 0.5, 1.0)}
    for w, picks in at.items():
        assert abs(np.mean(picks) - w) < 0.015
        assert picks[:500] == [rollout.goes_to_canary(u, w) for u in users[:500]]  # same answer again
    assert not any(a and not b for a, b in zip(at[0.05], at[0.25]))  # raising the weight keeps canary users
    assert rollout.bucket("user-1") == rollout.bucket("user-1") and 0 <= rollout.bucket("x") < 1
    assert rollout.goes_to_canary(None, 0.5, draw=0.1) and not rollout.goes_to_canary(None, 0.5, draw=0.9)


def test_breach_rule():
    slo = rollout.SLO(max_error_rate=0.02, max_p99_ms=100, min_requests=20)
    assert rollout.breach(rollout.Window(10, 10, 999), slo) is None  # too few to judge
    assert rollout.breach(rollout.Window(1000, 20, 50), slo) is None  # 2.0 % is not above 2 %
    assert "error rate" in rollout.breach(rollout.Window(1000, 21, 50), slo)
    assert "p99" in rollout.breach(rollout.Window(100, 0, 100.5), slo)
    w = rollout.window([1.0] * 99 + [500.0], errors=0)
    assert w.requests == 100 and w.p99_ms == pytest.approx(np.percentile([1.0] * 99 + [500.0], 99))
