"""mlkit.data.labeling: agreement against sklearn, and the labeling widget driven headless."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from mlkit.course import datasets
from mlkit.course.widgets import MAIN_CLASS
from mlkit.data import labeling


@pytest.fixture(scope="module")
def sms():
    return datasets.load_sms_spam()


def test_agreement_matches_sklearn_on_real_labels(sms):
    """A crude second labeler on the real messages: the numbers are sklearn's and plain counting."""
    second = sms.text.str.contains("free|txt|claim|prize", case=False).map({True: "spam", False: "ham"})
    got = labeling.agreement(sms.label, second)
    assert got.n == len(sms)
    assert got.agree == int((second == sms.label).sum())
    assert got.percent == pytest.approx(100 * (second == sms.label).mean())
    assert got.kappa == pytest.approx(cohen_kappa_score(sms.label, second))
    assert 0 < got.kappa < 1


def test_always_ham_agrees_often_with_kappa_zero(sms):
    """The lesson's point: 13% spam, so "ham" to everything agrees ~87% and has kappa 0."""
    got = labeling.agreement(sms.label, ["ham"] * len(sms))
    assert got.percent == pytest.approx(100 * sms.label.eq("ham").mean())
    assert 85 < got.percent < 89
    assert got.kappa == pytest.approx(0.0)


def test_agreement_undefined_and_bad_input():
    one_class = labeling.agreement(["ham", "ham"], ["ham", "ham"])  # chance agreement 100%
    assert one_class.percent == 100 and math.isnan(one_class.kappa)
    assert "undefined" in one_class.describe()
    assert math.isnan(labeling.agreement(["spam"], ["spam"]).kappa)
    with pytest.raises(ValueError, match="same items: got 2 and 1"):
        labeling.agreement(["ham", "spam"], ["ham"])


@pytest.fixture
def panel(sms):
    return labeling.labeling_panel(sms, n=12, seed=3)


def test_panel_records_labels_and_updates_agreement(panel):
    assert MAIN_CLASS not in panel.classes  # the fault injector stays the lesson's main widget
    first = panel.sample.text.iloc[0]
    assert first[:20] in panel.text and "Message 1 of 12" in panel.text
    reference = panel.sample.label.tolist()
    answers = ["spam" if i % 3 == 0 else "ham" for i in range(12)]
    for i, label in enumerate(answers[:6]):
        (panel.spam if label == "spam" else panel.ham).click()
        assert panel.labels == answers[: i + 1]
        expected = labeling.agreement(reference[: i + 1], answers[: i + 1])
        got = panel.agreement()
        assert (got.n, got.agree, got.percent) == (expected.n, expected.agree, expected.percent)
        assert got.kappa == pytest.approx(expected.kappa, nan_ok=True)
        assert f"{expected.agree} of {i + 1} agree" in panel.text
    assert "Message 7 of 12" in panel.text
    assert panel.errors == []


def test_panel_first_button_changes_text_and_finishes(panel):
    before = panel.text
    assert panel.first_button is panel.spam
    assert panel.click() != before
    for _ in range(11):
        panel.ham.click()
    assert panel.done and panel.spam.disabled and panel.ham.disabled
    mine = panel.agreement()
    assert mine.n == 12
    assert mine.kappa == pytest.approx(cohen_kappa_score(panel.sample.label, panel.labels)) or math.isnan(mine.kappa)
    assert "Done: 12 of 12" in panel.text
    panel.record("ham")  # one more: told it is finished, nothing recorded
    assert len(panel.labels) == 12 and "start over" in panel.text
    panel.restart.click()
    assert panel.labels == [] and "Message 1 of 12" in panel.text and not panel.spam.disabled
    assert panel.errors == []


@pytest.mark.parametrize("n", [1, 2, 8, 20, 24])
def test_stratified_sample_keeps_the_share_of_spam(sms, n):
    sample = labeling.stratified_sample(sms, n, seed=1)
    assert len(sample) == n
    n_spam = int(sample.label.eq("spam").sum())
    assert n_spam == (0 if n == 1 else max(1, round(n * sms.label.eq("spam").mean())))
    assert set(sample.text) <= set(sms.text)


def test_panel_shows_disagreements_to_adjudicate(sms):
    panel = labeling.labeling_panel(sms, n=10, seed=0)
    for label in panel.sample.label:  # always the opposite of the data set
        (panel.ham if label == "spam" else panel.spam).click()
    assert panel.agreement().agree == 0
    assert "To adjudicate (10 so far" in panel.text


def test_bad_label_is_shown_in_the_widget_not_raised(panel):
    panel.safe(panel.record)("maybe")
    assert panel.labels == [] and len(panel.errors) == 1
    assert "Could not record a label: ValueError: a label is 'spam' or 'ham'; got 'maybe'" in panel.text


def test_bad_frames_get_a_clear_message(sms):
    with pytest.raises(ValueError, match="columns 'text' and 'label'; missing: \\['label'\\]"):
        labeling.labeling_panel(sms[["text"]])
    with pytest.raises(ValueError, match="n must be between 1 and 5"):
        labeling.labeling_panel(sms.head(5), n=6)
    with pytest.raises(ValueError, match="'spam' or 'ham'; found \\['1'\\]"):
        labeling.labeling_panel(pd.DataFrame({"text": ["a", "b"], "label": [1, 1]}), n=1)
