"""Lesson 00 exercises: plan a spam detector, one lifecycle question at a time.

The five prompts of the course text's practical exercise (data requirements, compute
needs, success metrics, monitoring, failure modes), each turned into a small function the
learner writes and a check that runs it on the real SMS Spam Collection. The lesson's
self-check quiz is ``quizzes/00_lifecycle_overview.toml``. Used by ``solutions/00_lifecycle_overview.ipynb``
and its learner copy ``exercises/00_lifecycle_overview.ipynb``.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache
from numbers import Real
from typing import Any

from mlkit.exercises import fixtures
from mlkit.exercises.core import Mistake, Question

LESSON = "00_lifecycle_overview"


# --- the model the checks use: the course's split, TF-IDF + logistic regression ----------------
@lru_cache(maxsize=1)
def _split_and_model():
    """The course's deduplicated 75/25 split of the SMS data and a TF-IDF + logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    train, test = fixtures.sms_split(seed=0)
    model = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000)).fit(train.text, train.label)
    return train, test, model


def _close(a: Any, b: float, tol: float = 1e-6) -> bool:
    try:
        return abs(float(a) - b) <= tol
    except (TypeError, ValueError):
        return False


def _need_dict(result: Any, keys: tuple[str, ...], fn: str) -> dict:
    if not isinstance(result, dict):
        raise Mistake(f"{fn} should return a dict with keys {', '.join(keys)}; it returned a {type(result).__name__}.")
    missing = [k for k in keys if k not in result]
    if missing:
        raise Mistake(f"The dict from {fn} lacks the key(s) {', '.join(map(repr, missing))} "
                      f"(it has {', '.join(map(repr, result)) or 'none'}).")
    return result


# --- q1: data requirements ----------------------------------------------------------------------
_Q1_KEYS = ("n_messages", "spam_share", "duplicate_texts")


def _expected_profile(df) -> dict:
    return {"n_messages": len(df), "spam_share": float((df.label == "spam").mean()),
            "duplicate_texts": int(df.text.duplicated().sum())}


def _repeat_counts(df) -> set[int]:
    """The right answers for duplicate_texts: exact repeats, or repeats once case and spacing
    are ignored (lesson 01's definition, :func:`mlkit.data.prep.dedupe`)."""
    from mlkit.data import prep

    return {int(df.text.duplicated().sum()), prep.dedupe(df)[1]}


def _check_q1(profile_data) -> str:
    df = fixtures.sms()
    got = _need_dict(profile_data(df.copy()), _Q1_KEYS, "profile_data(df)")
    want = _expected_profile(df)
    share = got["spam_share"]
    if not _close(got["n_messages"], want["n_messages"], 0):
        hint = " (that is the number of distinct texts)" if _close(got["n_messages"], df.text.nunique(), 0) else ""
        raise Mistake(f"n_messages is {got['n_messages']}{hint}; the frame has {want['n_messages']} rows: len(df).")
    if _close(share, 100 * want["spam_share"], 0.01):
        raise Mistake(f"spam_share is {share:.2f}: a percentage. Give a fraction between 0 and 1.")
    if _close(share, 1 - want["spam_share"], 1e-6):
        raise Mistake(f"spam_share is {share:.3f}: that is the share of ham. Spam is the rarer class.")
    if _close(share, (df.label == "spam").sum(), 0):
        raise Mistake(f"spam_share is {share}: a count. Divide by the number of messages.")
    if not _close(share, want["spam_share"], 1e-6):
        raise Mistake(f"spam_share is {share}; look at (df.label == 'spam').mean().")
    dups = got["duplicate_texts"]
    if _close(dups, int(df.text.duplicated(keep=False).sum()), 0):
        raise Mistake(f"duplicate_texts is {dups}: that counts every copy, first ones included. "
                      "Count only the extra copies (duplicated() keeps the first by default).")
    if not any(_close(dups, n, 0) for n in _repeat_counts(df)):
        raise Mistake(f"duplicate_texts is {dups}; there are {want['duplicate_texts']} repeated texts "
                      "(compare the text column, not whole rows).")
    # the same function on other data: the numbers must be computed, not typed in
    import pandas as pd

    other = df.sample(1000, random_state=7)
    other = pd.concat([other, other.head(25)], ignore_index=True)
    got2 = _need_dict(profile_data(other.copy()), _Q1_KEYS, "profile_data(df)")
    want2 = _expected_profile(other)
    for key in _Q1_KEYS:
        if key == "duplicate_texts" and any(_close(got2[key], n, 0) for n in _repeat_counts(other)):
            continue
        if not _close(got2[key], want2[key], 1e-6):
            raise Mistake(f"On a 1,025-message sample your {key} is {got2[key]}, not {want2[key]}: "
                          "compute every number from df, do not type the numbers in.")
    return (f"{want['n_messages']:,} messages, {want['spam_share']:.1%} spam, {int(dups)} "
            "repeated texts: an imbalanced, slightly messy data set. Lesson 01 deals with both.")


q1 = Question(
    LESSON, "q1", "Data requirements: profile the SMS data", answer="profile_data", check=_check_q1,
    hints=[
        "Three numbers: how many rows, what fraction has label 'spam', how many texts repeat an earlier one.",
        "len(df); (df.label == 'spam').mean(); df.text.duplicated().sum().",
    ],
)


# --- q2: compute needs (serving latency) -----------------------------------------------------
class _TimedModel:
    """A stand-in model that costs exactly ``cost`` seconds per message and counts its calls."""

    def __init__(self, cost: float) -> None:
        self.cost, self.rows, self.calls = cost, 0, 0

    def predict(self, texts):
        n = len(texts)
        self.rows += n
        self.calls += 1
        time.sleep(self.cost * n)
        return ["ham"] * n


def _check_q2(latency_ms) -> str:
    import numpy as np

    texts = list(fixtures.sms().text[:300])
    slow = _TimedModel(0.002)  # 2 ms per message
    got = latency_ms(slow, texts)
    if not isinstance(got, Real) or isinstance(got, bool) or not math.isfinite(float(got)):
        raise Mistake(f"latency_ms should return one number (milliseconds per message); it returned {got!r}.")
    if slow.rows == 0:
        raise Mistake("Your function never called model.predict: time the real prediction.")
    if slow.rows < len(texts):
        raise Mistake(f"model.predict saw {slow.rows} of the {len(texts)} messages: time them all.")
    per_msg = 2.0  # ms of pure model time per message
    got = float(got)
    if got <= 0:
        raise Mistake(f"{got} ms is not a duration: use time.perf_counter() before and after predict.")
    if got < per_msg / 100:
        raise Mistake(f"{got:.6f} looks like seconds; a model that takes 2 ms per message should read about "
                      "2 (milliseconds). Multiply seconds by 1000.")
    if got > per_msg * len(texts) / 10:
        raise Mistake(f"{got:.0f} ms looks like the time of the whole batch of {len(texts)}: divide by the number "
                      "of messages.")
    if not per_msg * 0.8 <= got <= per_msg * 20:
        raise Mistake(f"{got:.3f} ms per message is off: a model that sleeps 2 ms per message measured "
                      f"{got:.3f}. Time model.predict(texts) once and divide by len(texts).")
    _, test, model = _split_and_model()
    real = float(latency_ms(model, list(test.text)))
    if not (np.isfinite(real) and real > 0):
        raise Mistake(f"On the real model your function returned {real!r}.")
    return (f"Your timer read {got:.2f} ms on a model known to take 2 ms, and {real:.3f} ms per message on "
            "the TF-IDF model: a CPU serves it easily. Compute needs come from measurements.")


q2 = Question(
    LESSON, "q2", "Compute needs: measure serving latency", answer="latency_ms", check=_check_q2,
    hints=[
        "Take the time just before and just after one model.predict(texts) call.",
        "time.perf_counter() gives seconds; milliseconds per message = seconds * 1000 / len(texts).",
    ],
)


# --- q3: success metrics -------------------------------------------------------------------------
_Q3_KEYS = ("accuracy", "precision", "recall", "f1")


def _sklearn_metrics(y_true, y_pred, pos: str) -> dict:
    from sklearn import metrics as m

    kw = {"pos_label": pos, "zero_division": 0}
    return {"accuracy": m.accuracy_score(y_true, y_pred), "precision": m.precision_score(y_true, y_pred, **kw),
            "recall": m.recall_score(y_true, y_pred, **kw), "f1": m.f1_score(y_true, y_pred, **kw)}


def _check_q3(spam_metrics) -> str:
    import numpy as np

    _, test, model = _split_and_model()
    y_true, y_pred = test.label.to_numpy(), model.predict(test.text)
    got = _need_dict(spam_metrics(y_true.copy(), y_pred.copy()), _Q3_KEYS, "spam_metrics(y_true, y_pred)")
    want, ham = _sklearn_metrics(y_true, y_pred, "spam"), _sklearn_metrics(y_true, y_pred, "ham")
    for key in _Q3_KEYS:
        if _close(got[key], 100 * want[key], 1e-3) and want[key] > 0:
            raise Mistake(f"{key} is {got[key]}: a percentage. Give fractions between 0 and 1.")
    if all(_close(got[k], ham[k], 1e-6) for k in ("precision", "recall")):
        raise Mistake("Your precision and recall are those of the class 'ham'. Spam is the positive class "
                      "(pos_label='spam'): the filter's job is to find spam.")
    if _close(got["precision"], want["recall"], 1e-6) and _close(got["recall"], want["precision"], 1e-6):
        raise Mistake("precision and recall are swapped. Precision: of the messages flagged, how many are spam. "
                      "Recall: of the spam, how much was flagged.")
    for key in _Q3_KEYS:
        if not _close(got[key], want[key], 1e-6):
            raise Mistake(f"{key} is {got[key]}; expected {want[key]:.4f}. Look at sklearn.metrics.{key}_score "
                          "(f1_score for f1) with pos_label='spam'.")
    always_ham = np.full(len(y_true), "ham", dtype=object)
    try:
        base = spam_metrics(y_true.copy(), always_ham)
    except ZeroDivisionError:
        raise Mistake("A filter that flags nothing made your function divide by zero. Precision is undefined "
                      "there: count it as 0 (zero_division=0).") from None
    base = _need_dict(base, _Q3_KEYS, "spam_metrics(y_true, y_pred)")
    if any(isinstance(base[k], float) and math.isnan(base[k]) for k in _Q3_KEYS):
        raise Mistake("For a filter that flags nothing your function returns NaN: report 0 (zero_division=0).")
    if not (_close(base["recall"], 0.0) and _close(base["accuracy"], float((y_true == "ham").mean()), 1e-6)):
        raise Mistake(f"For a filter that flags nothing, accuracy should be the ham share and recall 0; yours: {base}.")
    return (f"The model: accuracy {want['accuracy']:.3f}, F1 {want['f1']:.3f}. A filter that flags nothing: "
            f"accuracy {base['accuracy']:.3f}, recall 0. With 13% spam, accuracy hides a useless filter; "
            "report precision, recall and F1 for the spam class.")


q3 = Question(
    LESSON, "q3", "Success metrics: accuracy, precision, recall, F1 for spam", answer="spam_metrics",
    check=_check_q3,
    hints=[
        "sklearn.metrics has accuracy_score, precision_score, recall_score and f1_score.",
        "The labels are strings: tell the scores which one is positive with pos_label='spam'.",
        "A filter that flags nothing has no precision: zero_division=0 reports it as 0.",
    ],
)


# --- q4: monitoring ------------------------------------------------------------------------------
def _days(seed: int = 0):
    """Realistic days of predictions, built from real messages, and the alerts they deserve."""
    import numpy as np

    df = fixtures.sms()
    rng = np.random.default_rng(seed)
    spam, ham = df[df.label == "spam"].label.to_numpy(), df[df.label == "ham"].label.to_numpy()

    def day(n: int, share: float):
        k = round(n * share)
        labels = np.concatenate([rng.choice(spam, k), rng.choice(ham, n - k)])
        return [str(x) for x in rng.permutation(labels)]

    return {
        "normal": day(400, 0.13), "big normal day": day(2000, 0.14), "small normal day": day(90, 0.12),
        "spam wave": day(400, 0.35), "filter broken (no spam)": day(400, 0.0), "slight rise": day(500, 0.16),
    }


_Q4_EXPECT = {"normal": False, "big normal day": False, "small normal day": False,
              "spam wave": True, "filter broken (no spam)": True, "slight rise": False}


def _check_q4(spam_rate_alerts) -> str:
    days = _days()
    names = list(days)
    got = spam_rate_alerts([list(d) for d in days.values()], 0.132, 0.05)
    try:
        got = [bool(x) for x in got]
    except TypeError:
        raise Mistake(f"spam_rate_alerts should return a list of True/False, one per day; it returned {got!r}.") from None
    if len(got) != len(names):
        raise Mistake(f"{len(names)} days went in and {len(got)} alerts came out: return one per day.")
    for name, alert in zip(names, got):
        want = _Q4_EXPECT[name]
        if alert == want:
            continue
        rate = days[name].count("spam") / len(days[name])
        if name == "filter broken (no spam)":
            raise Mistake("No alert on a day with 0% spam predicted (a broken filter). A drop matters as much "
                          "as a rise: compare abs(rate - baseline) with the tolerance.")
        if name in {"big normal day", "small normal day"}:
            raise Mistake(f"The {name} ({len(days[name])} messages, {rate:.1%} spam) raised an alert: compare "
                          "rates (spam count / day size), not counts.")
        raise Mistake(f"The day '{name}' has {rate:.1%} spam against a baseline of 13.2% and tolerance 5 points: "
                      f"alert should be {want}, yours is {alert}.")
    # other parameters: the baseline and the tolerance must be used, not typed in
    got2 = [bool(x) for x in spam_rate_alerts([days["slight rise"], days["normal"]], 0.132, 0.01)]
    if got2 != [True, False]:
        raise Mistake(f"With tolerance 0.01, a day at 16% spam should alert and one at 13% not; yours: {got2}. "
                      "Use the tolerance argument.")
    return ("Alerts on the spam wave and on the broken filter, silence on normal days of any size. "
            "In production the same rule runs on every day's predictions (lesson 05).")


q4 = Question(
    LESSON, "q4", "Monitoring: alert when the spam rate moves", answer="spam_rate_alerts", check=_check_q4,
    hints=[
        "For each day: the share of predictions that are 'spam', compared with the baseline.",
        "Days have different sizes, and the rate can fall as well as rise.",
        "alert = abs(day.count('spam') / len(day) - baseline) > tolerance",
    ],
)


# --- q5: failure modes ---------------------------------------------------------------------------
def _faulty_batches() -> dict[str, tuple[Any, str]]:
    """Batches of real messages, each with one fault injected, and what to look at for it."""
    import numpy as np

    clean = fixtures.sms_deduped().sample(300, random_state=3).reset_index(drop=True)
    empty = clean.copy()
    empty.loc[[5, 17, 42], "text"] = ["", "   ", ""]
    missing = clean.copy()
    missing.loc[[3, 9], "label"] = [None, np.nan]
    unknown = clean.copy()
    unknown.loc[[4, 8], "label"] = ["Spam", "spam "]
    renamed = clean.rename(columns={"text": "message"})
    return {
        "clean": (clean, ""),
        "empty texts": (empty, "three messages are empty or only spaces: look at df.text.str.strip() == ''"),
        "missing labels": (missing, "two labels are missing: look at df.label.isna()"),
        "unknown labels": (unknown, "two labels are 'Spam' and 'spam ': look for labels not in {'ham', 'spam'}"),
        "missing column": (renamed, "the upstream system renamed the column 'text' to 'message': check the "
                                    "columns first, and return a problem instead of crashing"),
    }


def _check_q5(validate_batch) -> str:
    batches = _faulty_batches()
    clean = batches.pop("clean")[0]
    found = validate_batch(clean.copy())
    if not isinstance(found, (list, tuple)):
        raise Mistake(f"validate_batch should return a list of problems (strings); it returned {type(found).__name__}.")
    if found:
        raise Mistake(f"A clean batch of 300 real messages was flagged: {list(found)[:3]}. "
                      "False alarms teach people to ignore alerts.")
    for name, (batch, what) in batches.items():
        try:
            found = validate_batch(batch.copy())
        except Exception as exc:  # noqa: BLE001 - the learner's validator crashed on bad data
            raise Mistake(f"On a batch with {name}, validate_batch raised {type(exc).__name__}: {exc}. "
                          f"A validator must report the problem, not crash: {what}.") from None
        if not found:
            raise Mistake(f"validate_batch found nothing wrong in a batch with {name}: {what}.")
    return ("Every fault caught, no false alarm. Lesson 01 writes such rules as a Great Expectations suite "
            "that runs before every training.")


q5 = Question(
    LESSON, "q5", "Failure modes: validate an incoming batch", answer="validate_batch", check=_check_q5,
    hints=[
        "Four things can go wrong here: a column is missing, a text is empty, a label is missing, "
        "a label is neither 'ham' nor 'spam'.",
        "Check the columns first and return early if one is missing: every later check needs them.",
        "df.text.str.strip().eq('').any(); df.label.isna().any(); "
        "(~df.label.dropna().isin(['ham', 'spam'])).any()",
    ],
)


# --- the exercises, in the order learners meet them ----------------------------------------------
QUESTIONS = [q1, q2, q3, q4, q5]
