"""mlkit.exercises.lesson01: the reference answers pass; typical mistakes get specific feedback."""

from __future__ import annotations

import pytest

gxe = pytest.importorskip("great_expectations.expectations")

from exercise_checks import expect as _expect  # noqa: E402
from exercise_checks import hidden_verdict  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from mlkit.data import versioning  # noqa: E402
from mlkit.exercises import lesson01 as ex  # noqa: E402
from mlkit.exercises import quiz  # noqa: E402


def _sh(repo, *cmds):
    for cmd in cmds:
        versioning.sh(cmd, repo, echo=False)




# --- q1 ----------------------------------------------------------------------------------------
def test_q1_deliveries_differ_as_described():
    clean, bad = ex.deliveries()
    assert len(clean) == len(bad) == 1000
    assert set(clean.label) == {"ham", "spam"} and "Spam" in set(bad.label)
    assert clean.n_chars.min() > 0 and (bad.text == "").sum() == 30


@pytest.fixture(scope="module")
def reference(solutions):
    """The answers defined by solutions/01_data.ipynb's own cells."""
    return solutions(ex.LESSON, *(q.answers[0] for q in ex.QUESTIONS), gxe=gxe, versioning=versioning)


def test_q1_reference_passes(reference):
    _expect(ex.q1, reference["my_expectations"], "passed")


def test_q1_mistakes():
    in_set = gxe.ExpectColumnValuesToBeInSet(column="label", value_set=["ham", "spam"])
    _expect(ex.q1, lambda: [in_set], says="empty texts")
    lengths = gxe.ExpectColumnValueLengthsToBeBetween(column="text", min_value=1)
    _expect(ex.q1, lambda: [lengths], says="'Spam'")
    _expect(ex.q1, lambda: [in_set, gxe.ExpectTableRowCountToBeBetween(min_value=1000, max_value=1000)],
            says="Too strict")
    _expect(ex.q1, lambda: [gxe.ExpectColumnValuesToBeInSet(column="label", value_set=["ham"])],
            says="fails on the clean delivery")
    _expect(ex.q1, lambda: ["label in ham, spam"], says="must be GX expectations")
    _expect(ex.q1, list, says="non-empty list")


# --- q2 ----------------------------------------------------------------------------------------
def _variant_split(df, test_size=0.25, seed=0, key=lambda s: s.str.lower().str.strip(), keep="first",
                 stratify=True):
    d = df[~key(df.text).duplicated(keep=keep)]
    return tuple(train_test_split(d, test_size=test_size, random_state=seed,
                                  stratify=d.label if stratify else None))


def test_q2_reference_passes(reference):
    _expect(ex.q2, reference["split_without_leakage"], "passed")


def test_q2_mistakes():
    def naive(df, test_size=0.25, seed=0):
        return train_test_split(df, test_size=test_size, random_state=seed, stratify=df.label)

    def after(df, test_size=0.25, seed=0):
        train, test = naive(df, test_size, seed)
        return train.drop_duplicates("text"), test.drop_duplicates("text")

    _expect(ex.q2, naive, says="word for word")
    _expect(ex.q2, after, says="before")
    _expect(ex.q2, lambda df, test_size=0.25, seed=0: _variant_split(df, test_size, seed, key=lambda s: s),
            says="case or spaces")
    _expect(ex.q2, lambda df, test_size=0.25, seed=0: _variant_split(df, test_size, seed, keep=False),
            says="keep=False")
    _expect(ex.q2, lambda df, test_size=0.25, seed=0: _variant_split(df, 0.3, seed), says="25%")
    _expect(ex.q2, lambda df, test_size=0.25, seed=0: _variant_split(df, test_size, 7), says="seed")
    _expect(ex.q2, lambda df, test_size=0.25, seed=0: "train, test", says="return (train, test)")


# --- q3 and q4 (real git and dvc; a few seconds each) ---------------------------------------------
def test_q3_reference_passes_and_mistakes_are_named(reference):
    _expect(ex.q3, reference["release"], "passed")
    _expect(ex.q3, ex.reference_release, "passed")  # the package's copy, used to prepare q4's repository

    def no_push(repo, tag):
        _sh(repo, "dvc add data/messages.csv", "git add data/messages.csv.dvc data/.gitignore",
            ["git", "commit", "-qm", tag], ["git", "tag", tag])

    def data_in_git(repo, tag):
        _sh(repo, "git add data/messages.csv", ["git", "commit", "-qm", tag], ["git", "tag", tag])

    _expect(ex.q3, no_push, says="dvc push")
    _expect(ex.q3, data_in_git, says="itself is in git")


def test_q4_reference_passes_and_mistakes_are_named(reference):
    def only_git(repo, tag):
        _sh(repo, ["git", "checkout", tag, "--", "data/messages.csv.dvc"])

    def with_checkout(repo, tag):
        _sh(repo, ["git", "checkout", tag, "--", "data/messages.csv.dvc"],
            "dvc checkout data/messages.csv.dvc")

    _expect(ex.q4, reference["restore"], "passed")
    _expect(ex.q4, only_git, says="dvc checkout")
    _expect(ex.q4, with_checkout, says="fresh clone")


# --- q5 ----------------------------------------------------------------------------------------
def _asof(labels, offline, **kwargs):
    import pandas as pd

    return pd.merge_asof(labels, offline, left_on="datetime", right_on="available_at", **kwargs)


def test_q5_reference_passes_also_through_duckdb(reference):
    import duckdb

    from mlkit.data import features

    _expect(ex.q5, reference["point_in_time"], "passed")

    def with_duckdb(labels, offline):
        with duckdb.connect() as con:
            con.register("offline", offline.astype({"available_at": "datetime64[us]", "hour": "datetime64[us]"}))
            return features.join(con, labels)

    _expect(ex.q5, with_duckdb, "passed")


def test_q5_mistakes():
    def naive(labels, offline):
        return labels.merge(offline, left_on=["entity", "datetime"], right_on=["entity", "hour"], how="left")

    _expect(ex.q5, naive, says="leaks")
    _expect(ex.q5, lambda labels, offline: _asof(labels, offline, by="entity", allow_exact_matches=False),
            says="one hour old")
    _expect(ex.q5, lambda labels, offline: _asof(labels, offline, by="entity", direction="forward"),
            says="after the label's time")
    _expect(ex.q5, lambda labels, offline: _asof(labels, offline.drop(columns="entity")), says="other kind of rider")
    _expect(ex.q5, lambda labels, offline: _asof(labels, offline, by="entity", direction="nearest"),
            says="another value than the newest")
    _expect(ex.q5, lambda labels, offline: _asof(labels, offline, by="entity").iloc[5:], says="keeps every label")
    _expect(ex.q5, lambda labels, offline: _asof(labels, offline, by="entity").drop(columns="entity"),
            says="lacks the column")
    _expect(ex.q5, lambda labels, offline: labels, says="lacks the column")
    _expect(ex.q5, lambda labels, offline: None, says="returned NoneType")
    _expect(ex.q5, None, status="not started")


def test_q5_tables_hold_two_entities_and_requests_off_the_hour():
    labels, offline = ex.feature_tables()
    assert set(labels.entity) == set(offline.entity) == set(ex.RIDER_TYPES)
    minutes = labels.datetime.dt.minute
    assert 0.3 < (minutes == 0).mean() < 0.7 and labels.datetime.is_monotonic_increasing
    assert offline.available_at.is_monotonic_increasing


def test_exercise_repo_starts_with_untracked_data(tmp_path):
    repo = ex.exercise_repo(tmp_path)
    assert (repo / ex.DATA_FILE).exists()
    assert "?? data/" in versioning.sh("git status --short", repo, echo=False)


# --- quiz --------------------------------------------------------------------------------------
_RIGHT = {"dedup_order": 1, "kappa_from_agreement": "0.5", "seen_messages": "108", "schema_faults": [0, 1, 4], "git_checkout_dvc": 1,
          "repro_nothing": 1, "parquet_column": "Parquet is columnar, so it reads only that column",
          "point_in_time_value": 1, "skew_detect": 1}


def test_quiz_right_answers_grade_right_and_every_question_explains():
    questions = quiz.questions("01_data")
    assert [q.id for q in questions] == list(_RIGHT)
    for q in questions:
        assert q.explanation
        assert q.grade(_RIGHT[q.id])[0], q.id
    by_id = {q.id: q for q in questions}
    assert not by_id["seen_messages"].grade("9")[0] and "percentage" in by_id["seen_messages"].grade("9")[1]
    assert "raw agreement" in by_id["kappa_from_agreement"].grade("0.9")[1]


@pytest.mark.parametrize("name", [q.name for q in ex.QUESTIONS if q.hidden is not None])
def test_reference_answer_passes_a_hidden_case(name, reference):
    q = getattr(ex, name)
    verdict = hidden_verdict(q, *((reference[a]) for a in q.answers), seed=11)
    assert verdict.status == "passed", verdict
