import shutil

import pytest

from mlkit.course import datasets
from mlkit.course.errors import DataFileError


def test_sms_spam_is_the_real_collection():
    df = datasets.load_sms_spam()
    assert list(df.columns) == ["text", "label"] and len(df) == 4862
    assert df.label.value_counts().to_dict() == {"ham": 4220, "spam": 642}
    assert df.text.duplicated().sum() == 328  # kept on purpose: lesson 01 teaches the leak


def test_adult_has_protected_attributes_and_label():
    df = datasets.load_adult()
    assert len(df) == 32561 and {"sex", "race", "income"} <= set(df.columns)
    assert set(df.sex.unique()) == {"Male", "Female"}
    assert abs((df.income == ">50K").mean() - 0.241) < 0.001
    assert df.workclass.isna().sum() > 0  # "?" read as missing


def test_bike_sharing_covers_2011_hourly_with_seasonal_drift():
    df = datasets.load_bike_sharing()
    assert len(df) == 8645 and df.datetime.dt.year.unique().tolist() == [2011]
    temp = df.groupby(df.datetime.dt.month).temp.mean()
    assert temp[1] < 0.25 and temp[7] > 0.7


def test_mnist_sample_is_balanced_28x28():
    df = datasets.load_mnist_sample()
    assert df.shape == (5000, 785) and df.label.value_counts().eq(500).all()
    assert df.drop(columns="label").to_numpy().max() == 255


def test_digits_from_sklearn():
    df = datasets.load_digits()
    assert df.shape == (1797, 65) and df.columns[0] == "label"


def test_verify_reports_every_file():
    assert datasets.verify() == dict.fromkeys(datasets.expected_checksums(), "ok")


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    copy = tmp_path / "data"
    shutil.copytree(datasets.DATA_DIR, copy)
    monkeypatch.setattr(datasets, "DATA_DIR", copy)
    datasets.expected_checksums.cache_clear()
    yield copy
    datasets.expected_checksums.cache_clear()


def test_tampered_file_is_named_with_the_fix(data_copy):
    with open(data_copy / "adult.csv.gz", "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01")
    with pytest.raises(DataFileError, match=r"adult\.csv\.gz is corrupted.*extract_data\.py"):
        datasets.load_adult()


def test_missing_file_is_named_with_the_fix(data_copy):
    (data_copy / "sms_spam.csv.gz").unlink()
    with pytest.raises(DataFileError, match=r"sms_spam\.csv\.gz is missing.*git checkout"):
        datasets.load_sms_spam()


def test_cli_data_verify_fails_clearly_on_a_tampered_file(data_copy, capsys):
    from mlkit.cli import main

    (data_copy / "mnist_5k.csv.gz").write_bytes(b"not the data")
    assert main(["data", "verify"]) == 2
    err = capsys.readouterr().err
    assert "mnist_5k.csv.gz is corrupted" in err and "Traceback" not in err
