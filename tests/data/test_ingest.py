"""mlkit.data.ingest and mlkit.data.source_api: three real sources, a flaky API, the merged raw table."""

from __future__ import annotations

import pandas as pd
import pytest

from mlkit.course import datasets
from mlkit.data import ingest, versioning


@pytest.fixture(scope="module")
def sms():
    return datasets.load_sms_spam()


@pytest.fixture(scope="module")
def systems(sms, tmp_path_factory):
    return ingest.build_systems(sms, tmp_path_factory.mktemp("systems"), release=1)


@pytest.fixture(scope="module")
def api(systems):
    server = ingest.start_api(systems["api_store"], fail_every=3, slow_every=4, slow_s=1.0)
    yield server
    server.stop()


def test_systems_split_a_release_by_id_with_their_own_schemas(sms, systems):
    files = ingest.read_file(systems["csv"])
    db = ingest.read_sqlite(systems["sqlite"], "SELECT * FROM messages")
    store = pd.read_json(systems["api_store"], lines=True)
    assert list(files.columns) == ["id", "text", "label"]
    assert list(db.columns) == ["id", "body", "category"]
    assert list(store.columns) == ["msg_id", "message", "is_spam"]
    ids = set(files.id) | set(db.id) | set(store.msg_id)
    assert len(files) + len(db) + len(store) == len(ids) == len(ingest.release_ids(len(sms), 1))
    assert (files.id % 3 == 0).all() and (db.id % 3 == 1).all() and (store.msg_id % 3 == 2).all()
    assert files.text.tolist() == sms.text.iloc[files.id].tolist()  # nothing altered


def test_release_2_holds_every_message(sms, tmp_path):
    paths = ingest.build_systems(sms, tmp_path, release=2)
    n = len(ingest.read_file(paths["parquet"]))
    n += len(ingest.read_sqlite(paths["sqlite"], "SELECT id FROM messages"))
    assert n + len(pd.read_json(paths["api_store"], lines=True)) == len(sms)
    with pytest.raises(ingest.IngestError):
        ingest.release_ids(10, 3)


def test_csv_and_parquet_read_the_same_and_bad_paths_say_why(systems, tmp_path):
    pd.testing.assert_frame_equal(ingest.read_file(systems["csv"]), ingest.read_file(systems["parquet"]))
    with pytest.raises(ingest.IngestError, match="does not exist"):
        ingest.read_file(tmp_path / "nope.csv")
    (tmp_path / "x.xlsx").write_text("")
    with pytest.raises(ingest.IngestError, match="Unknown file type"):
        ingest.read_file(tmp_path / "x.xlsx")


def test_sql_maps_the_schema_and_a_bad_query_is_an_ingest_error(systems):
    df = ingest.read_sqlite(systems["sqlite"], ingest.SQL_QUERY)
    assert list(df.columns) == ["id", "text", "label"] and df.id.is_monotonic_increasing
    with pytest.raises(ingest.IngestError, match="Query failed"):
        ingest.read_sqlite(systems["sqlite"], "SELECT nope FROM messages")


def test_fetch_api_survives_503s_and_timeouts_and_gets_every_row_once(api, systems):
    df, stats = ingest.fetch_api(api.url, page_size=100, timeout=0.3, retries=3, backoff=0.01)
    store = pd.read_json(systems["api_store"], lines=True)
    assert df.msg_id.tolist() == store.msg_id.tolist()
    assert stats.rows == len(store) and stats.pages == -(-len(store) // 100)
    assert stats.retries > 0 and stats.timeouts > 0 and stats.server_errors > 0
    assert stats.requests == stats.pages + stats.retries
    assert stats.waited_s >= 0.01 * stats.retries  # every retry waited its backoff first


def test_fetch_api_without_retries_fails_loudly(api):
    with pytest.raises(ingest.IngestError, match="failed after 1 attempts"):
        for _ in range(3):  # the server fails every 3rd request: one of these runs meets it
            ingest.fetch_api(api.url, page_size=1000, timeout=0.3, retries=0)


def test_client_errors_are_not_retried(api):
    stats = ingest.FetchStats()
    import httpx

    with httpx.Client(base_url=api.url, timeout=2) as client:
        for _ in range(3):  # skip past a deliberate 503
            try:
                ingest.get_json(client, "/messages", {"page_size": 5000}, retries=3, backoff=0, stats=stats)
            except ingest.IngestError as err:
                assert "HTTP 422" in str(err)
                break
    assert stats.retries <= 1


def test_unreachable_api_is_an_ingest_error_after_exponential_backoff():
    import httpx

    from mlkit.course.processes import free_port

    stats = ingest.FetchStats()
    with httpx.Client(base_url=f"http://127.0.0.1:{free_port()}", timeout=0.2) as client, \
            pytest.raises(ingest.IngestError, match=r"failed after 4 attempts \(last: connection error"):
        ingest.get_json(client, "/messages", {}, retries=3, backoff=0.01, stats=stats)
    assert (stats.requests, stats.retries) == (4, 3)
    assert stats.waited_s == pytest.approx(0.01 + 0.02 + 0.04)  # tenacity's wait_exponential


def test_merge_adds_metadata_sorts_and_checks_schema(systems):
    frames = {"file": ingest.read_file(systems["csv"]),
              "sqlite": ingest.read_sqlite(systems["sqlite"], ingest.SQL_QUERY)}
    raw = ingest.merge_sources(frames, ingested_at=pd.Timestamp("2026-01-02 03:04"))
    assert list(raw.columns) == ingest.RAW_COLUMNS
    assert raw.id.is_monotonic_increasing and raw.id.is_unique
    assert set(raw.source) == {"file", "sqlite"} and str(raw.ingested_at.dt.tz) == "UTC"
    assert (raw.n_chars == raw.text.str.len()).all()
    with pytest.raises(ingest.IngestError, match="lacks columns"):
        ingest.merge_sources({"api": pd.DataFrame({"msg_id": [1], "message": ["hi"]})})


def test_api_schema_maps_to_the_common_one():
    api_df = pd.DataFrame({"msg_id": [2, 5], "message": ["a", "b"], "is_spam": [True, False]})
    want = {"id": [2, 5], "text": ["a", "b"], "label": ["spam", "ham"]}
    assert ingest.api_to_common(api_df).to_dict("list") == want


def test_landing_round_trips_with_stable_bytes(systems, tmp_path):
    frames = {"file": ingest.read_file(systems["csv"])}
    paths = ingest.land(frames, tmp_path / "a")
    ingest.land(frames, tmp_path / "b")
    assert versioning.file_md5(paths["file"]) == versioning.file_md5(tmp_path / "b" / "file.parquet")
    pd.testing.assert_frame_equal(ingest.read_landing(tmp_path / "a")["file"], frames["file"])
    with pytest.raises(ingest.IngestError):
        ingest.read_landing(tmp_path / "empty")
