"""Lesson 03 exercises: metrics, thresholds, comparisons, fairness and behaviour tests.

Five exercises, each a small function the learner writes, checked by running it on real
data (the SMS messages, UCI Adult, the spam champion):

* q1 ``ndcg_at_k``: NDCG@k from its definition, checked against scikit-learn;
* q2 ``threshold_for_recall``: the threshold with the best precision at a required recall;
* q3 ``compare``: does B beat A? A paired bootstrap interval and an honest verdict;
* q4 ``largest_gap``: read a Fairlearn MetricFrame, name the group furthest from the overall;
* q5 ``failing_test``: a behaviour test that the spam champion fails.

Each check is an ``ask`` (runs the learner's function, records what it returned: for q5 the
behaviour test's cases, which the judge runs against the champion itself) and a ``judge``
(decides from that record); ``hidden`` draws the inputs a grader adds. The quiz is
``quizzes/03_evaluation.toml``. Used by ``solutions/03_evaluation.ipynb`` and its learner
copy ``exercises/03_evaluation.ipynb``.
"""

from __future__ import annotations

import inspect
import math
import random
from functools import lru_cache
from numbers import Real
from typing import Any

from mlkit.exercises import fixtures
from mlkit.exercises.answers import Returned, call, kind
from mlkit.exercises.question import Mistake, Question

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


@lru_cache(maxsize=4)
def _adult(seed: int = 0, n_rows: int = 8000):
    """A subset of UCI Adult, its logistic-regression predictions on the test part, and the groups."""
    from mlkit.evaluation import fairness

    data = fairness.adult_data(seed=seed, n_rows=n_rows)
    model = fairness.adult_model().fit(data.X_train, data.y_train)
    return data, model.predict(data.X_test)


@lru_cache(maxsize=1)
def _stored_champion() -> Any:
    from mlkit.course.store import Store

    return Store().require("model@champion").load()


def champion() -> Any:
    """The spam champion of the course store (lesson 02), for q5's judge; tests replace it."""
    return _stored_champion()


def _number(x: Any) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool) and math.isfinite(float(x))


# --- q1: NDCG@k ------------------------------------------------------------------------------------------
@fixtures.by_case
def _q1_cases(case: dict) -> list:
    """(relevance, scores, k) triples: 'days' of real SMS scores (binary relevance) and graded relevance."""
    import numpy as np

    y, _, _, log_odds = _scored()
    rng = np.random.default_rng(case.get("seed", 0))
    days = [rng.choice(len(y), case.get("day", 150), replace=False) for _ in range(3)]
    graded = rng.integers(0, 4, 120)  # graded relevance, e.g. 0-3 stars
    graded_scores = graded + rng.normal(0, 1.2, 120)
    jitter = rng.normal(0, 1e-6, len(y))  # near-copies of a message score the same: break the ties
    ks = case.get("ks", [3, 10, 30])
    return [(y[d], log_odds[d] + jitter[d], k) for d in days for k in ks] + [(graded, graded_scores, ks[1])]


def _ask_q1(case: dict, ndcg_at_k) -> dict:
    return {"answers": [call(ndcg_at_k, rel.copy(), scores.copy(), k) for rel, scores, k in _q1_cases(case)]}


def _judge_q1(got: dict, case: dict) -> str:
    import numpy as np
    from sklearn.metrics import ndcg_score

    for (rel, scores, k), outcome in zip(_q1_cases(case), got["answers"]):
        want = ndcg_score([rel], [scores], k=k)
        if not outcome.ok and outcome.is_a("ZeroDivisionError"):
            raise Mistake("Division by zero: the discount of rank r is 1/log2(r + 1), so rank 1 counts fully "
                          "(log2(2) = 1); ranks start at 1, not 0.")
        mine = outcome.value
        if isinstance(mine, Real) and not math.isfinite(float(mine)):
            raise Mistake(f"NDCG@{k} came out as {float(mine)}: the discount of rank r is 1/log2(r + 1), so rank 1 "
                          "counts fully (log2(2) = 1); ranks start at 1, and log2(1) = 0 must not be a divisor.")
        if not _number(mine):
            raise Mistake(f"ndcg_at_k should return one number; it returned {mine!r}.")
        mine = float(mine)
        if math.isclose(mine, want, abs_tol=1e-9):
            continue
        order = np.argsort(-scores, kind="stable")
        if mine > 1 + 1e-9:
            raise Mistake(f"NDCG@{k} came out as {mine:.3f}, above 1: divide the DCG by the ideal DCG "
                          "(the DCG of the best possible order).")
        if math.isclose(mine, ndcg_score([rel], [-scores], k=k), abs_tol=1e-9):
            raise Mistake("You ranked from the lowest score up: the top of the list is the highest score "
                          "(sort by -scores, or reverse).")
        binary = set(np.unique(rel)) <= {0, 1}
        precision = float((rel[order][:k] > 0).mean()) if binary else math.nan
        if math.isclose(mine, 1.0) and want < 0.999 and not math.isclose(precision, 1.0):
            raise Mistake(f"You get 1.0 where scikit-learn gets {want:.3f}: the ideal DCG must sort by the true "
                          "relevance, not by the model's scores.")
        if math.isclose(mine, precision, abs_tol=1e-9):
            raise Mistake("That is precision@k: NDCG discounts each hit by its rank, 1/log2(rank + 1), and "
                          "divides by the ideal DCG.")
        discount = 1 / np.log2(np.arange(2, len(rel) + 2))
        ideal_all = float(np.sum(np.sort(rel)[::-1] * discount))
        if ideal_all > 0 and math.isclose(mine, float(np.sum(rel[order][:k] * discount[:k])) / ideal_all, abs_tol=1e-9):
            raise Mistake("Cut the ideal ranking at k too: the ideal DCG@k uses only the k most relevant items.")
        raise Mistake(f"For k={k} on {len(rel)} messages you get {mine:.4f}; scikit-learn's ndcg_score gives "
                      f"{want:.4f}. DCG@k = sum over the top k of rel / log2(rank + 1), rank from 1.")
    return ("Equal to scikit-learn's ndcg_score on three 'days' of real SMS scores and on graded relevance: "
            "you can now read what NDCG rewards.")


def _hidden_q1(rng: random.Random) -> dict:
    return {"seed": rng.randrange(10**6), "day": rng.randint(60, 300), "ks": [rng.randint(1, 5), rng.randint(6, 15),
                                                                             rng.randint(20, 50)]}


q1 = Question(
    LESSON, "q1", "Implement NDCG@k", answer="ndcg_at_k", ask=_ask_q1, judge=_judge_q1, hidden=_hidden_q1,
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


@fixtures.by_case
def _q2_scores(case: dict):
    """(y, P(spam)): the test split, or (hidden) a random part of it."""
    import numpy as np

    y, proba, _, _ = _scored()
    if "seed" in case:
        keep = np.sort(np.random.default_rng(case["seed"]).choice(len(y), int(case["frac"] * len(y)), replace=False))
        y, proba = y[keep], proba[keep]
    return y, proba


def _ask_q2(case: dict, threshold_for_recall) -> dict:
    y, proba = _q2_scores(case)
    return {"answers": [call(threshold_for_recall, y.copy(), proba.copy(), r) for r in case.get("recalls", [0.8, 0.9, 0.95])]}


def _judge_q2(got: dict, case: dict) -> str:
    y, proba = _q2_scores(case)
    for min_recall, outcome in zip(case.get("recalls", [0.8, 0.9, 0.95]), got["answers"]):
        mine = outcome.value
        if isinstance(mine, tuple):
            raise Mistake(f"Return only the threshold (a number), not a tuple: you returned {mine!r}.")
        if not _number(mine):
            raise Mistake(f"threshold_for_recall should return a number (the threshold); it returned {mine!r}.")
        t_best, p_best, _ = _best_threshold(y, proba, min_recall)
        flagged = proba >= float(mine)
        if not flagged.any():
            raise Mistake(f"At threshold {mine:.4f} nothing is flagged: recall 0.")
        recall = (flagged & (y == 1)).sum() / (y == 1).sum()
        precision = (flagged & (y == 1)).sum() / flagged.sum()
        if recall < min_recall:
            raise Mistake(f"For a required recall of {min_recall:.0%} your threshold {mine:.4f} gives recall "
                          f"{recall:.3f}. precision_recall_curve returns one more precision/recall value than "
                          "thresholds: drop the last (precision[:-1], recall[:-1]) before matching them.")
        if precision < p_best - 1e-9:
            raise Mistake(f"For {min_recall:.0%} recall your threshold {mine:.4f} gives precision {precision:.4f}, "
                          f"but {t_best:.4f} keeps the recall and reaches {p_best:.4f}: among the thresholds with "
                          "enough recall, take the one with the highest precision.")
    return (f"Right for 80%, 90% and 95% recall: at 95% the best precision is {p_best:.3f} (threshold "
            f"{t_best:.3f}). The business states the recall it needs; the threshold follows.")


def _hidden_q2(rng: random.Random) -> dict:
    return {"seed": rng.randrange(10**6), "frac": round(rng.uniform(0.5, 0.9), 3),
            "recalls": sorted(round(rng.uniform(0.7, 0.95), 2) for _ in range(3))}


q2 = Question(
    LESSON, "q2", "Choose the threshold with the best precision at a required recall",
    answer="threshold_for_recall", ask=_ask_q2, judge=_judge_q2, hidden=_hidden_q2,
    hints=[
        "sklearn.metrics.precision_recall_curve(y_true, proba) gives precision, recall and thresholds.",
        "precision and recall have one more entry than thresholds (the last point has no threshold): use [:-1].",
        "Keep the thresholds where recall >= min_recall, and return the one among them with the highest precision.",
    ],
)


# --- q3: does B beat A? ---------------------------------------------------------------------------------------
_CHECK_BOOT = 300  # resamples asked of the learner's compare: a 3-case check in seconds, not half a minute


@fixtures.by_case
def _q3_cases(case: dict) -> list:
    """(name, y, a, b): naive Bayes against logistic regression both ways, and a 'winner' by a hair."""
    import numpy as np

    y, proba, nb_pred, _ = _scored()
    lr_pred = (proba >= 0.5).astype(int)
    rng = np.random.default_rng(case.get("seed", 1))
    nearly = lr_pred.copy()
    flip = rng.choice(np.flatnonzero(lr_pred == y), case.get("flips", 3), replace=False)
    nearly[flip] = 1 - nearly[flip]  # a few more mistakes: a "winner" by a hair
    return [("naive Bayes vs logistic regression", y, nb_pred, lr_pred),
            (f"logistic regression vs the same with {len(flip)} more mistakes", y, nearly, lr_pred),
            ("logistic regression vs naive Bayes", y, lr_pred, nb_pred)]


@fixtures.by_case
def _q3_references(case: dict) -> list:
    from mlkit.evaluation import metrics, stats

    return [stats.paired_difference(metrics.f1, y, a, b, n_boot=500, seed=0)  # f1_score, faster
            for _, y, a, b in _q3_cases(case)]


def _ask_q3(case: dict, compare) -> dict:
    try:  # fewer resamples when compare takes n_boot (it should); the interval is as good
        fewer = {"n_boot": _CHECK_BOOT} if "n_boot" in inspect.signature(compare).parameters else {}
    except (TypeError, ValueError):
        fewer = {}
    return {"answers": [call(compare, y.copy(), a.copy(), b.copy(), seed=case.get("seed_arg", 0), **fewer)
                        for _, y, a, b in _q3_cases(case)]}


def _judge_q3(got: dict, case: dict) -> str:
    for (name, *_), ref, outcome in zip(_q3_cases(case), _q3_references(case), got["answers"]):
        mine = outcome.value
        if not isinstance(mine, dict) or not {"diff", "low", "high", "verdict"} <= set(mine):
            raise Mistake("compare should return a dict with the keys 'diff', 'low', 'high' and 'verdict'; "
                          f"it returned {mine!r:.120}.")
        diff, low, high = (float(mine[k]) for k in ("diff", "low", "high"))
        if not math.isclose(diff, ref.estimate, abs_tol=1e-9):
            if math.isclose(diff, -ref.estimate, abs_tol=1e-9):
                raise Mistake("diff has the wrong sign: it is F1(B) - F1(A), positive when B is better.")
            raise Mistake(f"{name}: diff is {mine['diff']}, but F1(B) - F1(A) = {ref.estimate:.4f} "
                          "(F1 of spam, on all the messages).")
        if not low <= diff <= high:
            raise Mistake(f"{name}: the interval [{low:.4f}, {high:.4f}] should contain the "
                          f"difference {diff:.4f}; take percentiles 2.5 and 97.5 of the resampled differences.")
        width = high - low
        if width > 1.6 * ref.width:
            raise Mistake(f"{name}: your interval is {width:.3f} wide, a paired bootstrap gives about {ref.width:.3f}. "
                          "Resample the same message indices for A and B (pairing), not each model on its own.")
        if width < 0.5 * ref.width:
            raise Mistake(f"{name}: your interval is only {width:.4f} wide (a paired bootstrap gives about "
                          f"{ref.width:.3f}): resample with replacement, the same number of messages as the test set.")
        crosses = low <= 0 <= high
        want = "not significant" if crosses else ("B" if diff > 0 else "A")
        if mine["verdict"] != want:
            if crosses:
                raise Mistake(f"{name}: the interval [{low:+.4f}, {high:+.4f}] contains 0, so the verdict is "
                              f"'not significant', not {mine['verdict']!r}: a winner by a hair is no winner.")
            raise Mistake(f"{name}: the interval [{low:+.4f}, {high:+.4f}] excludes 0; the verdict "
                          f"is {want!r}, not {mine['verdict']!r}.")
    return ("Right on three real comparisons, naive Bayes against logistic regression both ways and a 'winner' "
            "by three messages: each verdict follows its interval, not the point estimate.")


def _hidden_q3(rng: random.Random) -> dict:
    return {"seed": rng.randrange(10**6), "flips": rng.randint(1, 4), "seed_arg": rng.randrange(1000)}


q3 = Question(
    LESSON, "q3", "Decide whether B beats A, with an interval", answer="compare",
    ask=_ask_q3, judge=_judge_q3, hidden=_hidden_q3,
    hints=[
        "Draw n_boot sets of indices idx = rng.integers(0, n, n) with rng = np.random.default_rng(seed).",
        "For each idx compute f1_score(y[idx], b[idx]) - f1_score(y[idx], a[idx]): the same messages for both.",
        "low, high = np.percentile(diffs, [2.5, 97.5]); the verdict is 'not significant' when low <= 0 <= high, "
        "else 'B' if the difference is positive, 'A' if negative.",
    ],
)


# --- q4: read a MetricFrame ----------------------------------------------------------------------------
_Q4_EXAMPLE = {"seed": 0, "n_rows": 8000, "frames": [
    ["selection rate by race", "race", ["selection rate"], "selection rate"],
    ["accuracy by race", "race", ["accuracy"], "accuracy"],
    ["several metrics by sex", "sex", ["accuracy", "TPR"], "TPR"],
]}


def _q4_frames(case: dict) -> list:
    """(name, MetricFrame, the metric asked about) for each frame of the case."""
    from fairlearn.metrics import MetricFrame, selection_rate, true_positive_rate
    from sklearn.metrics import accuracy_score

    known = {"selection rate": selection_rate, "accuracy": accuracy_score, "TPR": true_positive_rate}
    data, y_pred = _adult(case["seed"], case["n_rows"])
    return [(name, MetricFrame(metrics={m: known[m] for m in metrics}, y_true=data.y_test, y_pred=y_pred,
                               sensitive_features=data.A_test[column]), metric)
            for name, column, metrics, metric in case["frames"]]


def _ask_q4(case: dict, largest_gap) -> dict:
    return {"answers": [call(largest_gap, mf, metric) for _, mf, metric in _q4_frames(case)]}


def _judge_q4(got: dict, case: dict) -> str:
    import numpy as np

    for (name, mf, metric), outcome in zip(_q4_frames(case), got["answers"]):
        by_group = mf.by_group[metric]
        gaps = (by_group - mf.overall[metric]).abs()
        want = gaps.idxmax()
        mine = outcome.value
        if _number(mine):
            raise Mistake(f"{name}: you returned the number {mine}; return the group's name (e.g. {want!r}). "
                          "mf.difference() gives the size of the gap, not who is behind it.")
        if isinstance(mine, tuple):
            raise Mistake(f"{name}: return just the group's name, not {mine!r}.")
        if mine == want:
            continue
        if mine == by_group.idxmax():
            raise Mistake(f"{name}: {mine!r} has the highest {metric}, but {want!r} is further from the overall "
                          f"value ({mf.overall[metric]:.3f}): compare the absolute gaps, in both directions.")
        if mine == by_group.idxmin():
            raise Mistake(f"{name}: {mine!r} has the lowest {metric}, but {want!r} is further from the overall "
                          f"value ({mf.overall[metric]:.3f}): compare the absolute gaps, in both directions.")
        raise Mistake(f"{name}: expected {want!r} (gap {gaps.max():.3f} to the overall {metric}), got {mine!r}.")
    data, _ = _adult(case["seed"], case["n_rows"])
    counts = np.bincount(data.A_test.race.astype("category").cat.codes)
    return (f"Right on three MetricFrames. Before acting on a gap, look at the group's size: the smallest race "
            f"group here has {counts.min()} people, so its rate is a noisy estimate.")


def _hidden_q4(rng: random.Random) -> dict:
    frames = []
    for i in range(3):
        metric = rng.choice(["selection rate", "accuracy", "TPR"])
        others = [m for m in ("selection rate", "accuracy", "TPR") if m != metric]
        column = rng.choice(["race", "sex"])
        frames.append([f"frame {i + 1}", column, sorted({metric, rng.choice(others)}), metric])
    return {"seed": rng.randrange(1000), "n_rows": rng.choice([6000, 7000, 9000]), "frames": frames}


q4 = Question(
    LESSON, "q4", "Read a MetricFrame: the group with the largest gap", answer="largest_gap",
    ask=_ask_q4, judge=_judge_q4, examples=[_Q4_EXAMPLE], hidden=_hidden_q4,
    hints=[
        "mf.by_group is a DataFrame (one row per group, one column per metric); mf.overall holds the overall values.",
        "The gap of each group is mf.by_group[metric] - mf.overall[metric]; it can be negative.",
        "Return (mf.by_group[metric] - mf.overall[metric]).abs().idxmax().",
    ],
)


# --- q5: a behaviour test the champion fails -------------------------------------------------------------------
MAX_CASES = 2000  # a behaviour test the judge runs has at most this many cases


def _describe_test(test: Any) -> dict:
    """A behaviour test as data: its kind and its cases (for a Direction test, each text before
    and after the learner's transform); the judge runs them on the champion."""
    from mlkit.evaluation import behaviour

    common = {"name": str(test.name), "max_failure_rate": test.max_failure_rate} if hasattr(test, "name") else {}
    if isinstance(test, behaviour.MinimumFunctionality):
        return {"kind": "minimum functionality", **common, "texts": list(test.texts), "labels": list(test.labels),
                "threshold": test.threshold}
    if isinstance(test, behaviour.Invariance):
        return {"kind": "invariance", **common, "pairs": [list(p) for p in test.pairs], "tolerance": test.tolerance,
                "threshold": test.threshold}
    if isinstance(test, behaviour.Direction):
        texts = list(test.texts)
        return {"kind": "direction", **common, "texts": texts, "changed": call(lambda: [test.transform(t) for t in texts]),
                "expect": test.expect, "tolerance": test.tolerance}
    return {"kind": None, "type": kind(test)}


def _ask_q5(case: dict, failing_test) -> dict:
    got = call(failing_test)
    return {"test": Returned(_describe_test(got.value)) if got.ok else got}


def _rebuild_test(d: dict) -> Any:
    from mlkit.evaluation import behaviour

    size = len(d.get("texts") or d.get("pairs") or [])
    if size > MAX_CASES:
        raise Mistake(f"Your test has {size} cases; keep it under {MAX_CASES}: a behaviour test is a few telling cases.")
    common = {"name": d["name"], "max_failure_rate": float(d["max_failure_rate"])}
    if d["kind"] == "minimum functionality":
        return behaviour.MinimumFunctionality(texts=[str(t) for t in d["texts"]], labels=list(d["labels"]),
                                              threshold=float(d["threshold"]), **common)
    if d["kind"] == "invariance":
        return behaviour.Invariance(pairs=[(str(a), str(b)) for a, b in d["pairs"]], tolerance=float(d["tolerance"]),
                                    threshold=float(d["threshold"]), **common)
    changed = d["changed"].value
    lookup = {str(t): str(c) for t, c in zip(d["texts"], changed)}
    return behaviour.Direction(texts=[str(t) for t in d["texts"]], transform=lookup.__getitem__, expect=d["expect"],
                               tolerance=float(d["tolerance"]), **common)


def _judge_q5(got: dict, case: dict) -> str:
    described = got["test"].value
    if not isinstance(described, dict) or not described.get("kind"):
        type_name = described.get("type") if isinstance(described, dict) else kind(described)
        raise Mistake("failing_test() should return a behaviour test: behaviour.MinimumFunctionality, "
                      f"behaviour.Invariance or behaviour.Direction; it returned {type_name}.")
    result = _rebuild_test(described).run(champion().predict_proba)
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
    LESSON, "q5", "Write a behaviour test that the champion fails", answer="failing_test",
    ask=_ask_q5, judge=_judge_q5,  # no hidden case: the learner's test takes no input
    hints=[
        "The hardest false negatives of the lesson show what the champion misses: spam in everyday words.",
        "An Invariance test over pairs (text, same text with the phone number changed) or a "
        "MinimumFunctionality test of spam without 'free', 'win' or 'call' are good candidates.",
        "behaviour.MinimumFunctionality('polite spam', texts=[...], labels=[1, 1, 1]) with three spam "
        "messages that avoid the usual spam words.",
    ],
)

QUESTIONS = [q1, q2, q3, q4, q5]
