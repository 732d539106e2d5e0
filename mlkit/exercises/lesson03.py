"""Lesson 03 exercises: metrics, thresholds, comparisons, fairness and behaviour tests.

Five exercises, each a small function the learner writes, checked by running it on real
data (the SMS messages, UCI Adult, the spam champion):

* q1 ``ndcg_at_k``: NDCG@k from its definition, checked against scikit-learn;
* q2 ``threshold_for_recall``: the threshold with the best precision at a required recall;
* q3 ``compare``: does B beat A? A paired bootstrap interval and an honest verdict;
* q4 ``largest_gap``: read a Fairlearn MetricFrame, name the group furthest from the overall;
* q5 ``failing_test``: a behaviour test that the spam champion fails.

The quiz is ``quizzes/03_evaluation.toml``. Used by ``solutions/03_evaluation.ipynb`` and
its learner copy ``exercises/03_evaluation.ipynb``.
"""

from __future__ import annotations

import inspect
import math
from functools import lru_cache
from numbers import Real
from typing import Any

from mlkit.exercises import fixtures
from mlkit.exercises.core import Mistake, Question

LESSON = "03_evaluation"


# --- what the checks run on -------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _scored():
    """Labels (1 = spam), P(spam) and log-odds of the course's SMS test split from TF-IDF +
    logistic regression, and the predictions of a second, weaker model (naive Bayes) on the same
    messages. (Probabilities saturate at 1.0 and tie; q1 ranks by the log-odds.)"""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline

    train, test = fixtures.sms_split(seed=0)
    y_train, y = (train.label == "spam").to_numpy().astype(int), (test.label == "spam").to_numpy().astype(int)
    lr = make_pipeline(TfidfVectorizer(), LogisticRegression(C=10, max_iter=1000)).fit(train.text, y_train)
    nb = make_pipeline(TfidfVectorizer(), MultinomialNB(alpha=1.0)).fit(train.text, y_train)
    return y, lr.predict_proba(test.text)[:, 1], nb.predict(test.text).astype(int), lr.decision_function(test.text)


@lru_cache(maxsize=1)
def _adult():
    """A subset of UCI Adult, its logistic-regression predictions on the test part, and the groups."""
    from mlkit.evaluation import fairness

    data = fairness.adult_data(seed=0, n_rows=8000)
    model = fairness.adult_model().fit(data.X_train, data.y_train)
    return data, model.predict(data.X_test)


def champion() -> Any:
    """The spam champion of the course store (lesson 02), for q5; tests replace it."""
    from mlkit.course.store import Store

    return Store().require("model@champion").load()


def _number(x: Any) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool) and math.isfinite(float(x))


# --- q1: NDCG@k ------------------------------------------------------------------------------------------
def _check_q1(ndcg_at_k) -> str:
    import numpy as np
    from sklearn.metrics import ndcg_score

    y, _, _, log_odds = _scored()
    rng = np.random.default_rng(0)
    days = [rng.choice(len(y), 150, replace=False) for _ in range(3)]
    graded = rng.integers(0, 4, 120)  # graded relevance, e.g. 0-3 stars
    graded_scores = graded + rng.normal(0, 1.2, 120)
    jitter = rng.normal(0, 1e-6, len(y))  # near-copies of a message score the same: break the ties
    cases = [(y[d], log_odds[d] + jitter[d], k) for d in days for k in (3, 10, 30)] + [(graded, graded_scores, 10)]
    for rel, scores, k in cases:
        want = ndcg_score([rel], [scores], k=k)
        try:
            got = ndcg_at_k(rel.copy(), scores.copy(), k)
        except ZeroDivisionError:
            raise Mistake("Division by zero: the discount of rank r is 1/log2(r + 1), so rank 1 counts fully "
                          "(log2(2) = 1); ranks start at 1, not 0.") from None
        if isinstance(got, Real) and not math.isfinite(float(got)):
            raise Mistake(f"NDCG@{k} came out as {float(got)}: the discount of rank r is 1/log2(r + 1), so rank 1 "
                          "counts fully (log2(2) = 1); ranks start at 1, and log2(1) = 0 must not be a divisor.")
        if not _number(got):
            raise Mistake(f"ndcg_at_k should return one number; it returned {got!r}.")
        got = float(got)
        if math.isclose(got, want, abs_tol=1e-9):
            continue
        order = np.argsort(-scores, kind="stable")
        if got > 1 + 1e-9:
            raise Mistake(f"NDCG@{k} came out as {got:.3f}, above 1: divide the DCG by the ideal DCG "
                          "(the DCG of the best possible order).")
        if math.isclose(got, ndcg_score([rel], [-scores], k=k), abs_tol=1e-9):
            raise Mistake("You ranked from the lowest score up: the top of the list is the highest score "
                          "(sort by -scores, or reverse).")
        binary = set(np.unique(rel)) <= {0, 1}
        precision = float((rel[order][:k] > 0).mean()) if binary else math.nan
        if math.isclose(got, 1.0) and want < 0.999 and not math.isclose(precision, 1.0):
            raise Mistake(f"You get 1.0 where scikit-learn gets {want:.3f}: the ideal DCG must sort by the true "
                          "relevance, not by the model's scores.")
        if math.isclose(got, precision, abs_tol=1e-9):
            raise Mistake("That is precision@k: NDCG discounts each hit by its rank, 1/log2(rank + 1), and "
                          "divides by the ideal DCG.")
        discount = 1 / np.log2(np.arange(2, len(rel) + 2))
        ideal_all = float(np.sum(np.sort(rel)[::-1] * discount))
        if ideal_all > 0 and math.isclose(got, float(np.sum(rel[order][:k] * discount[:k])) / ideal_all, abs_tol=1e-9):
            raise Mistake("Cut the ideal ranking at k too: the ideal DCG@k uses only the k most relevant items.")
        raise Mistake(f"For k={k} on {len(rel)} messages you get {got:.4f}; scikit-learn's ndcg_score gives "
                      f"{want:.4f}. DCG@k = sum over the top k of rel / log2(rank + 1), rank from 1.")
    return ("Equal to scikit-learn's ndcg_score on three 'days' of real SMS scores and on graded relevance: "
            "you can now read what NDCG rewards.")


q1 = Question(
    LESSON, "q1", "Implement NDCG@k", answer="ndcg_at_k", check=_check_q1,
    hints=[
        "Sort the items by score, highest first, and keep the relevances of the top k.",
        "DCG@k = sum(rel_r / log2(r + 1)) for ranks r = 1..k; np.log2(np.arange(2, k + 2)) gives the denominators.",
        "NDCG@k = DCG@k(model order) / DCG@k(order by true relevance, highest first); 0 when the ideal DCG is 0.",
    ],
)


# --- q2: the threshold for a required recall -----------------------------------------------------------------
def _best_threshold(y, proba, min_recall):
    import numpy as np

    best = None
    for t in np.unique(proba):
        flagged = proba >= t
        recall = (flagged & (y == 1)).sum() / (y == 1).sum()
        precision = (flagged & (y == 1)).sum() / flagged.sum()
        if recall >= min_recall and (best is None or precision > best[1] + 1e-12):
            best = (float(t), float(precision), float(recall))
    return best


def _check_q2(threshold_for_recall) -> str:
    y, proba, _, _ = _scored()
    for min_recall in (0.8, 0.9, 0.95):
        got = threshold_for_recall(y.copy(), proba.copy(), min_recall)
        if isinstance(got, tuple):
            raise Mistake(f"Return only the threshold (a number), not a tuple: you returned {got!r}.")
        if not _number(got):
            raise Mistake(f"threshold_for_recall should return a number (the threshold); it returned {got!r}.")
        t_best, p_best, _ = _best_threshold(y, proba, min_recall)
        flagged = proba >= float(got)
        if not flagged.any():
            raise Mistake(f"At threshold {got:.4f} nothing is flagged: recall 0.")
        recall = (flagged & (y == 1)).sum() / (y == 1).sum()
        precision = (flagged & (y == 1)).sum() / flagged.sum()
        if recall < min_recall:
            raise Mistake(f"For a required recall of {min_recall:.0%} your threshold {got:.4f} gives recall "
                          f"{recall:.3f}. precision_recall_curve returns one more precision/recall value than "
                          "thresholds: drop the last (precision[:-1], recall[:-1]) before matching them.")
        if precision < p_best - 1e-9:
            raise Mistake(f"For {min_recall:.0%} recall your threshold {got:.4f} gives precision {precision:.4f}, "
                          f"but {t_best:.4f} keeps the recall and reaches {p_best:.4f}: among the thresholds with "
                          "enough recall, take the one with the highest precision.")
    return (f"Right for 80%, 90% and 95% recall: at 95% the best precision is {p_best:.3f} (threshold "
            f"{t_best:.3f}). The business states the recall it needs; the threshold follows.")


q2 = Question(
    LESSON, "q2", "Choose the threshold with the best precision at a required recall",
    answer="threshold_for_recall", check=_check_q2,
    hints=[
        "sklearn.metrics.precision_recall_curve(y_true, proba) gives precision, recall and thresholds.",
        "precision and recall have one more entry than thresholds (the last point has no threshold): use [:-1].",
        "Keep the thresholds where recall >= min_recall, and return the one among them with the highest precision.",
    ],
)


# --- q3: does B beat A? ---------------------------------------------------------------------------------------
def _reference(y, a, b, seed=0, n_boot=500):
    from mlkit.evaluation import metrics, stats

    return stats.paired_difference(metrics.f1, y, a, b, n_boot=n_boot, seed=seed)  # f1_score, faster


_CHECK_BOOT = 300  # resamples asked of the learner's compare: a 3-case check in seconds, not half a minute


def _check_q3(compare) -> str:
    import numpy as np

    y, proba, nb_pred, _ = _scored()
    lr_pred = (proba >= 0.5).astype(int)
    rng = np.random.default_rng(1)
    nearly = lr_pred.copy()
    flip = rng.choice(np.flatnonzero(lr_pred == y), 3, replace=False)
    nearly[flip] = 1 - nearly[flip]  # three more mistakes: a "winner" by a hair
    cases = [("naive Bayes vs logistic regression", nb_pred, lr_pred),
             ("logistic regression vs the same with 3 more mistakes", nearly, lr_pred),
             ("logistic regression vs naive Bayes", lr_pred, nb_pred)]
    try:  # fewer resamples when compare takes n_boot (it should); the interval is as good
        fewer = {"n_boot": _CHECK_BOOT} if "n_boot" in inspect.signature(compare).parameters else {}
    except (TypeError, ValueError):
        fewer = {}
    for name, a, b in cases:
        got = compare(y.copy(), a.copy(), b.copy(), seed=0, **fewer)
        if not isinstance(got, dict) or not {"diff", "low", "high", "verdict"} <= set(got):
            raise Mistake("compare should return a dict with the keys 'diff', 'low', 'high' and 'verdict'; "
                          f"it returned {got!r:.120}.")
        ref = _reference(y, a, b)
        if not math.isclose(float(got["diff"]), ref.estimate, abs_tol=1e-9):
            if math.isclose(float(got["diff"]), -ref.estimate, abs_tol=1e-9):
                raise Mistake("diff has the wrong sign: it is F1(B) - F1(A), positive when B is better.")
            raise Mistake(f"{name}: diff is {got['diff']}, but F1(B) - F1(A) = {ref.estimate:.4f} "
                          "(F1 of spam, on all the messages).")
        if not got["low"] <= got["diff"] <= got["high"]:
            raise Mistake(f"{name}: the interval [{got['low']:.4f}, {got['high']:.4f}] should contain the "
                          f"difference {got['diff']:.4f}; take percentiles 2.5 and 97.5 of the resampled differences.")
        width = got["high"] - got["low"]
        if width > 1.6 * ref.width:
            raise Mistake(f"{name}: your interval is {width:.3f} wide, a paired bootstrap gives about {ref.width:.3f}. "
                          "Resample the same message indices for A and B (pairing), not each model on its own.")
        if width < 0.5 * ref.width:
            raise Mistake(f"{name}: your interval is only {width:.4f} wide (a paired bootstrap gives about "
                          f"{ref.width:.3f}): resample with replacement, the same number of messages as the test set.")
        crosses = got["low"] <= 0 <= got["high"]
        want = "not significant" if crosses else ("B" if got["diff"] > 0 else "A")
        if got["verdict"] != want:
            if crosses:
                raise Mistake(f"{name}: the interval [{got['low']:+.4f}, {got['high']:+.4f}] contains 0, so "
                              f"the verdict is 'not significant', not {got['verdict']!r}: a winner by a hair is no winner.")
            raise Mistake(f"{name}: the interval [{got['low']:+.4f}, {got['high']:+.4f}] excludes 0; the verdict "
                          f"is {want!r}, not {got['verdict']!r}.")
    return ("Right on three real comparisons, naive Bayes against logistic regression both ways and a 'winner' "
            "by three messages: each verdict follows its interval, not the point estimate.")


q3 = Question(
    LESSON, "q3", "Decide whether B beats A, with an interval", answer="compare", check=_check_q3,
    hints=[
        "Draw n_boot sets of indices idx = rng.integers(0, n, n) with rng = np.random.default_rng(seed).",
        "For each idx compute f1_score(y[idx], b[idx]) - f1_score(y[idx], a[idx]): the same messages for both.",
        "low, high = np.percentile(diffs, [2.5, 97.5]); the verdict is 'not significant' when low <= 0 <= high, "
        "else 'B' if the difference is positive, 'A' if negative.",
    ],
)


# --- q4: read a MetricFrame ----------------------------------------------------------------------------
def _check_q4(largest_gap) -> str:
    import numpy as np
    from fairlearn.metrics import MetricFrame, selection_rate, true_positive_rate
    from sklearn.metrics import accuracy_score

    data, y_pred = _adult()
    frames = {
        "selection rate by race": (MetricFrame(metrics={"selection rate": selection_rate}, y_true=data.y_test,
                                               y_pred=y_pred, sensitive_features=data.A_test.race), "selection rate"),
        "accuracy by race": (MetricFrame(metrics={"accuracy": accuracy_score}, y_true=data.y_test, y_pred=y_pred,
                                         sensitive_features=data.A_test.race), "accuracy"),
        "several metrics by sex": (MetricFrame(metrics={"accuracy": accuracy_score, "TPR": true_positive_rate},
                                               y_true=data.y_test, y_pred=y_pred,
                                               sensitive_features=data.A_test.sex), "TPR"),
    }
    for name, (mf, metric) in frames.items():
        gaps = (mf.by_group[metric] - mf.overall[metric]).abs()
        want = gaps.idxmax()
        got = largest_gap(mf, metric)
        if _number(got):
            raise Mistake(f"{name}: you returned the number {got}; return the group's name (e.g. {want!r}). "
                          "mf.difference() gives the size of the gap, not who is behind it.")
        if isinstance(got, tuple):
            raise Mistake(f"{name}: return just the group's name, not {got!r}.")
        if got == want:
            continue
        by_group = mf.by_group[metric]
        if got == by_group.idxmax():
            raise Mistake(f"{name}: {got!r} has the highest {metric}, but {want!r} is further from the overall "
                          f"value ({mf.overall[metric]:.3f}): compare the absolute gaps, in both directions.")
        if got == by_group.idxmin():
            raise Mistake(f"{name}: {got!r} has the lowest {metric}, but {want!r} is further from the overall "
                          f"value ({mf.overall[metric]:.3f}): compare the absolute gaps, in both directions.")
        raise Mistake(f"{name}: expected {want!r} (gap {gaps.max():.3f} to the overall {metric}), got {got!r}.")
    counts = np.bincount(data.A_test.race.astype("category").cat.codes)
    return (f"Right on three MetricFrames. Before acting on a gap, look at the group's size: the smallest race "
            f"group here has {counts.min()} people, so its rate is a noisy estimate.")


q4 = Question(
    LESSON, "q4", "Read a MetricFrame: the group with the largest gap", answer="largest_gap", check=_check_q4,
    hints=[
        "mf.by_group is a DataFrame (one row per group, one column per metric); mf.overall holds the overall values.",
        "The gap of each group is mf.by_group[metric] - mf.overall[metric]; it can be negative.",
        "Return (mf.by_group[metric] - mf.overall[metric]).abs().idxmax().",
    ],
)


# --- q5: a behaviour test the champion fails -------------------------------------------------------------------
def _check_q5(failing_test) -> str:
    from mlkit.evaluation import behaviour

    test = failing_test()
    kinds = (behaviour.MinimumFunctionality, behaviour.Invariance, behaviour.Direction)
    if not isinstance(test, kinds):
        raise Mistake("failing_test() should return a behaviour test: behaviour.MinimumFunctionality, "
                      f"behaviour.Invariance or behaviour.Direction; it returned {type(test).__name__}.")
    result = test.run(champion().predict_proba)
    if result.cases < 3:
        raise Mistake(f"Your test has {result.cases} case(s): write at least 3, so that one odd message "
                      "does not decide it.")
    if result.passed:
        raise Mistake(f"The champion passes your test ({result.failures} of {result.cases} cases fail, "
                      f"{result.max_failure_rate:.0%} allowed). Look for a weakness: spam written without the "
                      "usual words, ham about money or prizes, a phone number the model has never seen.")
    return (f"The champion fails '{result.name}': {result.failures} of {result.cases} cases, e.g. "
            f"{result.examples[0] if result.examples else ''}. A failing behaviour test is a bug report "
            "with a reproducible example: add it to the suite the next model must pass.")


q5 = Question(
    LESSON, "q5", "Write a behaviour test that the champion fails", answer="failing_test", check=_check_q5,
    hints=[
        "The hardest false negatives of the lesson show what the champion misses: spam in everyday words.",
        "An Invariance test over pairs (text, same text with the phone number changed) or a "
        "MinimumFunctionality test of spam without 'free', 'win' or 'call' are good candidates.",
        "behaviour.MinimumFunctionality('polite spam', texts=[...], labels=[1, 1, 1]) with three spam "
        "messages that avoid the usual spam words.",
    ],
)

QUESTIONS = [q1, q2, q3, q4, q5]
