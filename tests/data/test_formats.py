"""mlkit.data.formats: the bigger table, CSV vs Parquet, partitions, and the Dask oracle."""

from __future__ import annotations

import pandas as pd
import pytest

from mlkit.course import datasets
from mlkit.data import formats


@pytest.fixture(scope="module")
def big():
    return formats.make_large(datasets.load_sms_spam(), 20_000, n_days=10, seed=0)


def test_make_large_has_unique_texts_days_and_lengths(big):
    assert len(big) == 20_000 and big.text.is_unique and big.id.is_unique
    assert set(big.day) == set(range(10)) and (big.n_chars == big.text.str.len()).all()
    again = formats.make_large(datasets.load_sms_spam(), 20_000, n_days=10, seed=0)
    pd.testing.assert_frame_equal(big, again)


def test_csv_vs_parquet_measures_both(big, tmp_path):
    table = formats.csv_vs_parquet(big, tmp_path, repeats=1)
    assert list(table.index) == ["csv", "parquet"]
    assert table.loc["parquet", "size_mb"] < table.loc["csv", "size_mb"]
    assert (table[["write_s", "read_s", "read_column_s"]] > 0).all().all()
    assert table.loc["parquet", "read_column_s"] < table.loc["csv", "read_column_s"]


def test_partitions_hold_every_row_once_and_read_back(big, tmp_path):
    folder = formats.write_partitions(big, tmp_path / "parts")
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"day={d}" for d in range(10))  # Hive layout
    files = formats.partition_files(folder)
    assert len(files) == 10 and files[0].parent.name == "day=0" and files[-1].parent.name == "day=9"
    back = pd.read_parquet(folder)  # the key comes back from the folder names, as a category
    assert isinstance(back.day.dtype, pd.CategoricalDtype)
    back = back.astype({"day": big.day.dtype})[big.columns].sort_values("id").reset_index(drop=True)
    pd.testing.assert_frame_equal(back, big.sort_values("id").reset_index(drop=True))
    formats.write_partitions(big.head(10), folder)  # rebuilt, not appended
    assert len(formats.partition_files(folder)) == big.head(10).day.nunique()


def test_a_filter_on_the_key_reads_only_its_partition(big, tmp_path):
    folder = formats.write_partitions(big, tmp_path / "parts")
    day3 = pd.read_parquet(folder, filters=[("day", "==", 3)])
    assert len(day3) == (big.day == 3).sum() and set(day3.day) == {3}


def test_dask_on_partitions_matches_pandas(big, tmp_path):
    pytest.importorskip("dask.dataframe")
    ddf = formats.read_partitions(formats.write_partitions(big, tmp_path / "parts"))
    assert ddf.npartitions == 10 and ddf.day.dtype == "int16"
    ddf = ddf.assign(n_words=ddf.text.str.split().str.len(), is_spam=(ddf.label == "spam").astype(int))
    got = ddf.groupby("day").agg(messages=("id", "count"), mean_chars=("n_chars", "mean"),
                                 mean_words=("n_words", "mean"), spam_share=("is_spam", "mean")).compute()
    pd.testing.assert_frame_equal(got.sort_index(), formats.daily_summary(big), check_dtype=False)


def test_frame_mb_counts_strings(big):
    assert formats.frame_mb(big) > formats.frame_mb(big.drop(columns="text")) * 2
