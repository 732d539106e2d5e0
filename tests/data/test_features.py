"""mlkit.data.features: the skew, the one definition against a pandas oracle, the point-in-time join, the online store."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from mlkit.course import datasets
from mlkit.course.errors import MlkitError
from mlkit.data import features


def toy_log() -> pd.DataFrame:
    """Two entities; entity "a" has no row at 03:00 (no ride), "b" rides ten times as much."""
    hours = pd.date_range("2024-01-01", periods=8, freq="h")
    a = pd.DataFrame({"entity": "a", "datetime": hours, "bikers": [1, 2, 3, 4, 5, 6, 7, 8]}).drop(index=3)
    b = pd.DataFrame({"entity": "b", "datetime": hours, "bikers": [10, 20, 30, 40, 50, 60, 70, 80]})
    return features.ride_log(pd.concat([a, b]))


@pytest.fixture(scope="module")
def bikes() -> pd.DataFrame:
    return datasets.load_bike_sharing().assign(entity="dc")


@pytest.fixture()
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    yield con
    con.close()


def offline_of(con, log, feature=features.RIDERS_LAST_3H) -> pd.DataFrame:
    con.register(feature.source, log)
    return features.offline_table(con, feature)


def test_ride_log_needs_an_entity(bikes):
    with pytest.raises(KeyError, match="entity"):
        features.ride_log(datasets.load_bike_sharing())
    log = features.ride_log(bikes)
    assert list(log.columns) == ["entity", "datetime", "bikers"] and len(log) == len(bikes)
    assert log.datetime.is_monotonic_increasing


def test_the_definition_equals_the_training_teams_pandas(con, bikes):
    log = features.ride_log(bikes)
    offline = offline_of(con, log)
    assert len(offline) == 365 * 24  # every hour of 2011, also the 115 without a ride
    assert (offline.available_at - offline.hour == pd.Timedelta(hours=1)).all()
    sql = offline.set_index("available_at").riders_last_3h
    batch = features.training_batch(log)
    assert sql.isna().sum() == 2 and batch.isna().sum() == 2  # no value until the first window is full
    both = pd.concat([sql.rename("sql"), batch.rename("pandas")], axis=1, join="inner").dropna()
    assert len(both) == 365 * 24 - 2
    np.testing.assert_allclose(both["sql"], both["pandas"])


def test_a_missing_hour_counts_zero_and_entities_do_not_mix(con):
    offline = offline_of(con, toy_log()).set_index(["entity", "hour"]).riders_last_3h
    assert offline[("a", pd.Timestamp("2024-01-01 04:00"))] == pytest.approx((3 + 0 + 5) / 3)
    assert offline[("b", pd.Timestamp("2024-01-01 04:00"))] == pytest.approx((30 + 40 + 50) / 3)
    window = features.WindowFeature(name="riders_last_2h", hours=2)
    two = offline_of(con, toy_log(), window).set_index(["entity", "hour"]).riders_last_2h
    assert two[("a", pd.Timestamp("2024-01-01 03:00"))] == pytest.approx((3 + 0) / 2)


def test_bad_definitions_are_refused():
    with pytest.raises(MlkitError, match="identifiers"):
        features.WindowFeature(name="x; DROP TABLE log").sql()
    with pytest.raises(MlkitError, match="at least 1 hour"):
        features.WindowFeature(hours=0).sql()


def test_the_serving_rewrite_is_skewed_and_the_batch_is_not(bikes):
    log = features.ride_log(bikes)
    batch = features.training_batch(log)
    cache = features.riders_by_hour(log, "dc")
    times = batch.dropna().index[::97]
    rewrite = np.array([features.serving_rewrite(cache, t) for t in times])
    assert (rewrite != batch[times].to_numpy()).mean() > 0.9  # the copy disagrees on almost every hour
    # what it computes: two hours over three, one hour short of the window
    t = times[5]
    assert rewrite[5] == pytest.approx((cache.get(t - pd.Timedelta(hours=1), 0) + cache.get(t - pd.Timedelta(hours=2), 0)) / 3)
    with pytest.raises(KeyError, match="No ride of entity"):
        features.riders_by_hour(log, "nyc")
    with pytest.raises(ValueError, match="one entity"):
        features.training_batch(toy_log())


def test_the_point_in_time_join_never_takes_a_later_value(con):
    log = toy_log()
    offline_of(con, log)
    labels = log.rename(columns={"bikers": "label"})
    pit = features.join(con, labels)
    assert len(pit) == len(labels)
    assert (pit.available_at.dropna() <= pit.datetime[pit.available_at.notna()]).all()
    # the newest value known at the label's time: the window of the three hours before it
    row = pit.set_index(["entity", "datetime"]).loc[("b", pd.Timestamp("2024-01-01 05:00"))]
    assert row.hour == pd.Timestamp("2024-01-01 04:00") and row.riders_last_3h == pytest.approx((30 + 40 + 50) / 3)
    row = pit.set_index(["entity", "datetime"]).loc[("a", pd.Timestamp("2024-01-01 05:00"))]
    assert row.riders_last_3h == pytest.approx((3 + 0 + 5) / 3)  # entity a's own window, its missing hour as 0
    # a brute-force check of every label: the newest offline row of its entity with available_at <= its time
    offline = con.sql("SELECT * FROM offline").df()
    for r in pit.itertuples():
        known = offline[(offline.entity == r.entity) & (offline.available_at <= r.datetime)]
        expected = known.riders_last_3h.iloc[-1] if len(known) else np.nan
        assert (np.isnan(expected) and np.isnan(r.riders_last_3h)) or expected == pytest.approx(r.riders_last_3h)


def test_the_naive_join_leaks_the_labels_own_hour(con):
    log = toy_log()
    offline_of(con, log)
    naive = features.join(con, log.rename(columns={"bikers": "label"}), features.NAIVE_JOIN)
    assert (naive.available_at > naive.datetime).all()  # every value was known only after the label's time
    row = naive.set_index(["entity", "datetime"]).loc[("b", pd.Timestamp("2024-01-01 05:00"))]
    assert row.riders_last_3h == pytest.approx((40 + 50 + 60) / 3)  # 60 is the label itself


def test_join_needs_entity_and_time(con):
    offline_of(con, toy_log())
    with pytest.raises(KeyError, match="entity"):
        features.join(con, pd.DataFrame({"datetime": pd.to_datetime(["2024-01-01"])}))


def test_serving_reads_what_training_read(con, tmp_path):
    """The shared definition: the online store gives each request the value the point-in-time join
    gave the same entity and time in training."""
    log = toy_log()
    offline = offline_of(con, log)
    pit = features.join(con, log.rename(columns={"bikers": "label"}))
    store = features.OnlineStore(tmp_path / "online.sqlite", fresh=True)
    assert store.get("a", "riders_last_3h") is None
    last = None
    for t in sorted(set(pit.datetime)):
        store.materialize(offline, ["riders_last_3h"], end=t, start=last)
        last = t
        for r in pit[pit.datetime == t].itertuples():
            served = store.get(r.entity, "riders_last_3h")
            assert (served is None and np.isnan(r.riders_last_3h)) or served == pytest.approx(r.riders_last_3h)
    assert "2 values" in repr(store)


def test_the_online_store_keeps_the_newest_value(con, tmp_path):
    offline = offline_of(con, toy_log())
    store = features.OnlineStore(tmp_path / "online.sqlite")
    assert store.materialize(offline, ["riders_last_3h"], end=offline.available_at.max()) == len(offline)
    newest = store.get("b", "riders_last_3h")
    assert newest == pytest.approx((60 + 70 + 80) / 3)
    store.materialize(offline, ["riders_last_3h"], end=pd.Timestamp("2024-01-01 05:00"))  # older rows again
    assert store.get("b", "riders_last_3h") == newest  # never replaced by an older one
    store.close()
    reopened = features.OnlineStore(tmp_path / "online.sqlite")
    assert reopened.get("b", "riders_last_3h") == newest  # it is a file: it outlives the process
    reopened.close()
    assert features.OnlineStore(tmp_path / "online.sqlite", fresh=True).get("b", "riders_last_3h") is None
    with pytest.raises(MlkitError, match="sorted by available_at"):
        store2 = features.OnlineStore(tmp_path / "other.sqlite")
        store2.materialize(offline.iloc[::-1], ["riders_last_3h"], end=offline.available_at.max())
