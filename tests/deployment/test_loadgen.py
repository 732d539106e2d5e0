"""mlkit.deployment.loadgen: percentiles against numpy, per-version stats, rate and settings."""

from __future__ import annotations

import numpy as np
import pytest

from mlkit.deployment import loadgen


def test_result_stats_match_numpy():
    rng = np.random.default_rng(0)
    ms = rng.lognormal(1, 0.5, 500)
    samples = [loadgen.Sample(i / 100, float(m), 200 if i % 50 else 500, "1" if i % 2 else "2", f"u{i}")
               for i, m in enumerate(ms)]
    result = loadgen.LoadResult(samples=samples, wall_s=5.0, cpu_s=1.0)
    ok = [s for s in samples if s.status == 200]
    assert result.sent == 500 and result.answered == len(ok) == 490 and result.failed == 10
    assert result.percentile(99) == pytest.approx(np.percentile([s.ms for s in ok], 99))
    stats = result.by_version()
    for version in ("1", "2"):
        mine = [s.ms for s in ok if s.version == version]
        assert stats[version]["p50_ms"] == pytest.approx(np.percentile(mine, 50))
        assert stats[version]["p95_ms"] == pytest.approx(np.percentile(mine, 95))
        assert stats[version]["requests"] == sum(s.version == version for s in samples)
    assert result.client_cpu == pytest.approx(0.2)
    table = result.table()
    assert list(table.index) == ["1", "2", "all"] and table.loc["all", "errors"] == 10


def test_real_run_with_rate(servers, messages):
    result = loadgen.run(servers["blue"].url, messages, concurrency=2, duration=1.5, rate=40)
    assert result.answered == result.sent > 0
    assert result.sent <= 40 * 1.5 + 2  # the rate caps what is sent
    assert result.by_version().keys() == {"1"} and 0 < result.client_cpu <= 1.5
    assert "answered" in result.summary()


def test_settings_are_checked():
    with pytest.raises(ValueError, match="concurrency"):
        loadgen.start("http://127.0.0.1:9", ["x"], concurrency=0, requests=1)
    with pytest.raises(ValueError, match="duration"):
        loadgen.start("http://127.0.0.1:9", ["x"])
    with pytest.raises(ValueError, match="empty"):
        loadgen.start("http://127.0.0.1:9", [], requests=1)


def test_nothing_listening_counts_as_failed():
    result = loadgen.run("http://127.0.0.1:9", ["x"], concurrency=2, requests=5)
    assert result.sent == 5 and result.answered == 0 and result.responded == 0
