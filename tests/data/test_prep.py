"""mlkit.data.prep: cleaning, duplicates, features and the leakage of a naive split."""

from __future__ import annotations

import pandas as pd
import pytest

from mlkit.course import datasets
from mlkit.data import prep


@pytest.fixture(scope="module")
def sms():
    return datasets.load_sms_spam()


def test_normalize_text_ignores_case_and_spacing():
    got = prep.normalize_text(pd.Series(["  Hello   World ", "hello world", "Hello\tworld!"]))
    assert got.tolist() == ["hello world", "hello world", "hello world!"]


def test_clean_strips_and_drops_what_cannot_be_used():
    df = pd.DataFrame({"text": [" hi ", "", None, "ok"], "label": ["HAM ", "spam", "ham", "maybe"]})
    out = prep.clean(df)
    assert out.text.tolist() == ["hi"] and out.label.tolist() == ["ham"]


def test_dedupe_counts_the_copies_of_the_sms_data(sms):
    kept, removed = prep.dedupe(sms)
    assert removed == 329 and len(kept) == len(sms) - 329  # 328 exact copies + 1 differing in case/space
    assert not prep.normalize_text(kept.text).duplicated().any()


def test_split_has_no_overlap_and_keeps_the_spam_share(sms):
    train, test = prep.split(sms, test_size=0.25, seed=0)
    assert prep.overlap(train, test) == 0
    assert abs(len(test) / (len(train) + len(test)) - 0.25) < 0.01
    assert abs(train.label.eq("spam").mean() - test.label.eq("spam").mean()) < 0.01
    naive_train, naive_test = prep.split(sms, seed=0, dedup=False)
    assert prep.overlap(naive_train, naive_test) > 50


def test_features_on_known_messages():
    df = pd.DataFrame({"text": ["WIN cash: call 0800123456 now www.win.com", "ok see you"],
                       "label": ["spam", "ham"]})
    f = prep.add_features(df)
    assert f.n_chars.tolist() == [41, 10] and f.n_words.tolist() == [6, 3]
    assert f.n_digits.tolist() == [10, 0] and f.has_phone.tolist() == [1, 0] and f.has_url.tolist() == [1, 0]
    assert f.is_spam.tolist() == [1, 0] and f.upper_share[0] == round(3 / 23, 4)  # 3 of 23 letters


def test_naive_split_inflates_the_test_score(sms):
    res = prep.leakage_experiment(sms, seeds=range(2))
    assert list(res.columns) == ["overlap_share", "f1_naive", "f1_on_copies", "f1_dedup"]
    mean = res.mean()
    assert 0.05 < mean.overlap_share < 0.2
    assert mean.f1_naive > mean.f1_dedup and mean.f1_on_copies > mean.f1_dedup


def test_release_frame_dedupes_splits_and_is_deterministic(sms):
    frame = prep.release_frame(sms)
    assert list(frame.columns) == prep.RELEASE_COLUMNS and frame["id"].is_monotonic_increasing
    assert len(frame) == len(sms) - 329 and not prep.normalize_text(frame.text).duplicated().any()
    train, test = frame[frame.split == "train"], frame[frame.split == "test"]
    assert prep.overlap(train, test) == 0 and abs(len(test) / len(frame) - prep.TEST_SIZE) < 0.005
    assert abs(train.label.eq("spam").mean() - test.label.eq("spam").mean()) < 0.01
    assert frame.equals(prep.release_frame(sms.sample(frac=1, random_state=1).sort_index()))
    # ids kept from the input: the same messages get the same split whoever prepares them
    with_ids = sms.assign(id=range(100, 100 + len(sms)))
    assert prep.release_frame(with_ids)["id"].min() == 100
    assert prep.release_frame(with_ids).split.tolist() == frame.split.tolist()
