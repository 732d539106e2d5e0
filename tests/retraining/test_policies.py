import pytest

from mlkit.retraining import policies, replay


@pytest.fixture(scope="module")
def data():
    return policies.Encoded(replay.load_stream())


def test_stream_weeks_and_label_delay():
    s = replay.load_stream()
    assert s["week"].min() == 0 and s["week"].max() == replay.WEEKS - 1
    rows = replay.labelled_at(s, 10, delay_days=7)
    assert rows["datetime"].max() < replay.week_start(s, 9)
    with pytest.raises(ValueError, match="delay_days"):
        replay.labelled_at(s, 10, delay_days=-1)


def test_triggered_policy_beats_never_with_fewer_retrains_than_weekly(data):
    table, runs = policies.compare([policies.Never(), policies.Scheduled(1, name="weekly"),
                                    policies.DriftTriggered(), policies.PerformanceTriggered()], data)
    assert runs["never"].retrains == 0
    weekly = table.loc["weekly", "retrains"]
    for name in ("drift_triggered", "performance_triggered"):
        assert table.loc[name, "mae"] < table.loc["never", "mae"]
        assert 0 < table.loc[name, "retrains"] < weekly
    assert list(runs["weekly"].weekly["week"]) == list(range(8, replay.WEEKS))


def test_make_and_bad_names():
    assert policies.make("scheduled", 3.2).every == 3
    assert policies.make("drift_triggered", 0.7).threshold == 0.7
    with pytest.raises(ValueError, match="Unknown policy"):
        policies.make("sometimes")
    with pytest.raises(ValueError, match="initial_weeks"):
        policies.simulate(policies.Never(), initial_weeks=0)
