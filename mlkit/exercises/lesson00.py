"""Lesson 00 exercises: plan a spam detector, one lifecycle question at a time.

The five prompts of the course text's practical exercise (data requirements, compute
needs, success metrics, monitoring, failure modes), each turned into a small function the
learner writes and a check that runs it on the real SMS Spam Collection. Each check is an
``ask`` (calls the learner's function, records what came back) and a ``judge`` (decides
from that record); ``hidden`` draws the inputs a grader adds. The lesson's self-check quiz is
``quizzes/00_lifecycle_overview.toml``. Used by ``solutions/00_lifecycle_overview.ipynb`` and
its learner copy ``exercises/00_lifecycle_overview.ipynb``.
"""

from __future__ import annotations

import math
import random
import time
from functools import lru_cache
from numbers import Real
from typing import Any

from mlkit.exercises import fixtures
from mlkit.exercises.answers import call, kind
from mlkit.exercises.question import Mistake, Question

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
    except (TypeError, ValueError, OverflowError):
        return False


def _need_dict(result: Any, keys: tuple[str, ...], fn: str) -> dict:
    if not isinstance(result, dict):
        raise Mistake(f"{fn} should return a dict with keys {', '.join(keys)}; it returned a {kind(result)}.")
    missing = [k for k in keys if k not in result]
    if missing:
        raise Mistake(f"The dict from {fn} lacks the key(s) {', '.join(map(repr, missing))} "
                      f"(it has {', '.join(map(repr, result)) or 'none'}).")
    return result


# --- q1: data requirements ----------------------------------------------------------------------
_Q1_KEYS = ("n_messages", "spam_share", "duplicate_texts")


@fixtures.by_case
def _q1_frames(case: dict):
    """(df, other): the frame profile_data is asked about, and a second one it has not seen."""
    import pandas as pd

    df = fixtures.sms()
    if "frac" in case:  # hidden: a random part of the data, its own copies included
        df = df.sample(frac=case["frac"], random_state=case["seed"]).reset_index(drop=True)
    n, seed, extra = case.get("other", (1000, 7, 25))
    other = df.sample(min(n, len(df)), random_state=seed)
    return df, pd.concat([other, other.head(extra)], ignore_index=True)


def _expected_profile(df) -> dict:
    return {"n_messages": len(df), "spam_share": float((df.label == "spam").mean()),
            "duplicate_texts": int(df.text.duplicated().sum())}


def _repeat_counts(df) -> set[int]:
    """The right answers for duplicate_texts: exact repeats, or repeats once case and spacing
    are ignored (lesson 01's definition, :func:`mlkit.data.prep.dedupe`)."""
    from mlkit.data import prep

    return {int(df.text.duplicated().sum()), prep.dedupe(df)[1]}


def _ask_q1(case: dict, profile_data) -> dict:
    df, other = _q1_frames(case)
    return {"df": call(profile_data, df.copy()), "other": call(profile_data, other.copy())}


def _judge_q1(got: dict, case: dict) -> str:
    df, other = _q1_frames(case)
    mine = _need_dict(got["df"].value, _Q1_KEYS, "profile_data(df)")
    want = _expected_profile(df)
    share = mine["spam_share"]
    if not _close(mine["n_messages"], want["n_messages"], 0):
        hint = " (that is the number of distinct texts)" if _close(mine["n_messages"], df.text.nunique(), 0) else ""
        raise Mistake(f"n_messages is {mine['n_messages']}{hint}; the frame has {want['n_messages']} rows: len(df).")
    if _close(share, 100 * want["spam_share"], 0.01):
        raise Mistake(f"spam_share is {share:.2f}: a percentage. Give a fraction between 0 and 1.")
    if _close(share, 1 - want["spam_share"], 1e-6):
        raise Mistake(f"spam_share is {share:.3f}: that is the share of ham. Spam is the rarer class.")
    if _close(share, (df.label == "spam").sum(), 0):
        raise Mistake(f"spam_share is {share}: a count. Divide by the number of messages.")
    if not _close(share, want["spam_share"], 1e-6):
        raise Mistake(f"spam_share is {share}; look at (df.label == 'spam').mean().")
    dups = mine["duplicate_texts"]
    if _close(dups, int(df.text.duplicated(keep=False).sum()), 0):
        raise Mistake(f"duplicate_texts is {dups}: that counts every copy, first ones included. "
                      "Count only the extra copies (duplicated() keeps the first by default).")
    if not any(_close(dups, n, 0) for n in _repeat_counts(df)):
        raise Mistake(f"duplicate_texts is {dups}; there are {want['duplicate_texts']} repeated texts "
                      "(compare the text column, not whole rows).")
    # the same function on other data: the numbers must be computed, not typed in
    mine2 = _need_dict(got["other"].value, _Q1_KEYS, "profile_data(df)")
    want2 = _expected_profile(other)
    for key in _Q1_KEYS:
        if key == "duplicate_texts" and any(_close(mine2[key], n, 0) for n in _repeat_counts(other)):
            continue
        if not _close(mine2[key], want2[key], 1e-6):
            raise Mistake(f"On a {len(other):,}-message sample your {key} is {mine2[key]}, not {want2[key]}: "
                          "compute every number from df, do not type the numbers in.")
    return (f"{want['n_messages']:,} messages, {want['spam_share']:.1%} spam, {int(dups)} "
            "repeated texts: an imbalanced, slightly messy data set. Lesson 01 deals with both.")


def _hidden_q1(rng: random.Random) -> dict:
    return {"frac": round(rng.uniform(0.3, 0.85), 3), "seed": rng.randrange(10**6),
            "other": (rng.randint(300, 1500), rng.randrange(10**6), rng.randint(5, 60))}


q1 = Question(
    LESSON, "q1", "Data requirements: profile the SMS data", answer="profile_data",
    ask=_ask_q1, judge=_judge_q1, hidden=_hidden_q1,
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


def _q2_texts(case: dict) -> list[str]:
    start = case.get("start", 0)
    return list(fixtures.sms().text[start:start + case.get("n", 300)])


def _ask_q2(case: dict, latency_ms) -> dict:
    slow = _TimedModel(case.get("cost_ms", 2.0) / 1000)
    timed = call(latency_ms, slow, _q2_texts(case))
    _, test, model = _split_and_model()
    return {"timed": timed, "rows": slow.rows, "real": call(latency_ms, model, list(test.text))}


def _judge_q2(got: dict, case: dict) -> str:
    n, per_msg = len(_q2_texts(case)), case.get("cost_ms", 2.0)  # ms of pure model time per message
    timed = got["timed"].value
    if not isinstance(timed, Real) or isinstance(timed, bool) or not math.isfinite(float(timed)):
        raise Mistake(f"latency_ms should return one number (milliseconds per message); it returned {timed!r}.")
    if got["rows"] == 0:
        raise Mistake("Your function never called model.predict: time the real prediction.")
    if got["rows"] < n:
        raise Mistake(f"model.predict saw {got['rows']} of the {n} messages: time them all.")
    timed = float(timed)
    if timed <= 0:
        raise Mistake(f"{timed} ms is not a duration: use time.perf_counter() before and after predict.")
    if timed < per_msg / 100:
        raise Mistake(f"{timed:.6f} looks like seconds; a model that takes {per_msg:g} ms per message should read "
                      f"about {per_msg:g} (milliseconds). Multiply seconds by 1000.")
    if timed > per_msg * n / 10:
        raise Mistake(f"{timed:.0f} ms looks like the time of the whole batch of {n}: divide by the number "
                      "of messages.")
    if not per_msg * 0.8 <= timed <= per_msg * 20:
        raise Mistake(f"{timed:.3f} ms per message is off: a model that sleeps {per_msg:g} ms per message measured "
                      f"{timed:.3f}. Time model.predict(texts) once and divide by len(texts).")
    real = got["real"].value
    if not (isinstance(real, Real) and not isinstance(real, bool) and math.isfinite(float(real)) and real > 0):
        raise Mistake(f"On the real model your function returned {real!r}.")
    return (f"Your timer read {timed:.2f} ms on a model known to take {per_msg:g} ms, and {float(real):.3f} ms per "
            "message on the TF-IDF model: a CPU serves it easily. Compute needs come from measurements.")


def _hidden_q2(rng: random.Random) -> dict:
    return {"n": rng.randint(100, 200), "start": rng.randint(0, 4000), "cost_ms": rng.choice([1.0, 1.5, 2.5, 3.0])}


q2 = Question(
    LESSON, "q2", "Compute needs: measure serving latency", answer="latency_ms",
    ask=_ask_q2, judge=_judge_q2, hidden=_hidden_q2,
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


@fixtures.by_case
def _q3_labels(case: dict):
    """(y_true, y_pred) of the model on the test split; a hidden case takes part of it and flips
    a few predictions."""
    import numpy as np

    _, test, model = _split_and_model()
    y_true, y_pred = test.label.to_numpy(), model.predict(test.text)
    if "seed" in case:
        rng = np.random.default_rng(case["seed"])
        keep = np.sort(rng.choice(len(y_true), int(case["frac"] * len(y_true)), replace=False))
        y_true, y_pred = y_true[keep], y_pred[keep].copy()
        flip = rng.choice(len(y_pred), case["flip"], replace=False)
        y_pred[flip] = np.where(y_pred[flip] == "spam", "ham", "spam")
    return y_true, y_pred


def _ask_q3(case: dict, spam_metrics) -> dict:
    import numpy as np

    y_true, y_pred = _q3_labels(case)
    always_ham = np.full(len(y_true), "ham", dtype=object)
    return {"model": call(spam_metrics, y_true.copy(), y_pred.copy()),
            "always_ham": call(spam_metrics, y_true.copy(), always_ham)}


def _judge_q3(got: dict, case: dict) -> str:
    y_true, y_pred = _q3_labels(case)
    mine = _need_dict(got["model"].value, _Q3_KEYS, "spam_metrics(y_true, y_pred)")
    want, ham = _sklearn_metrics(y_true, y_pred, "spam"), _sklearn_metrics(y_true, y_pred, "ham")
    for key in _Q3_KEYS:
        if _close(mine[key], 100 * want[key], 1e-3) and want[key] > 0:
            raise Mistake(f"{key} is {mine[key]}: a percentage. Give fractions between 0 and 1.")
    if all(_close(mine[k], ham[k], 1e-6) for k in ("precision", "recall")):
        raise Mistake("Your precision and recall are those of the class 'ham'. Spam is the positive class "
                      "(pos_label='spam'): the filter's job is to find spam.")
    if _close(mine["precision"], want["recall"], 1e-6) and _close(mine["recall"], want["precision"], 1e-6):
        raise Mistake("precision and recall are swapped. Precision: of the messages flagged, how many are spam. "
                      "Recall: of the spam, how much was flagged.")
    for key in _Q3_KEYS:
        if not _close(mine[key], want[key], 1e-6):
            raise Mistake(f"{key} is {mine[key]}; expected {want[key]:.4f}. Look at sklearn.metrics.{key}_score "
                          "(f1_score for f1) with pos_label='spam'.")
    if not got["always_ham"].ok and got["always_ham"].is_a("ZeroDivisionError"):
        raise Mistake("A filter that flags nothing made your function divide by zero. Precision is undefined "
                      "there: count it as 0 (zero_division=0).")
    base = _need_dict(got["always_ham"].value, _Q3_KEYS, "spam_metrics(y_true, y_pred)")
    if any(isinstance(base[k], float) and math.isnan(base[k]) for k in _Q3_KEYS):
        raise Mistake("For a filter that flags nothing your function returns NaN: report 0 (zero_division=0).")
    if not (_close(base["recall"], 0.0) and _close(base["accuracy"], float((y_true == "ham").mean()), 1e-6)):
        raise Mistake(f"For a filter that flags nothing, accuracy should be the ham share and recall 0; yours: {base}.")
    return (f"The model: accuracy {want['accuracy']:.3f}, F1 {want['f1']:.3f}. A filter that flags nothing: "
            f"accuracy {float(base['accuracy']):.3f}, recall 0. With 13% spam, accuracy hides a useless filter; "
            "report precision, recall and F1 for the spam class.")


def _hidden_q3(rng: random.Random) -> dict:
    return {"seed": rng.randrange(10**6), "frac": round(rng.uniform(0.4, 0.9), 3), "flip": rng.randint(5, 40)}


q3 = Question(
    LESSON, "q3", "Success metrics: accuracy, precision, recall, F1 for spam", answer="spam_metrics",
    ask=_ask_q3, judge=_judge_q3, hidden=_hidden_q3,
    hints=[
        "sklearn.metrics has accuracy_score, precision_score, recall_score and f1_score.",
        "The labels are strings: tell the scores which one is positive with pos_label='spam'.",
        "A filter that flags nothing has no precision: zero_division=0 reports it as 0.",
    ],
)


# --- q4: monitoring ------------------------------------------------------------------------------
_Q4_DAYS = [("normal", 400, 0.13), ("big normal day", 2000, 0.14), ("small normal day", 90, 0.12),
            ("spam wave", 400, 0.35), ("filter broken (no spam)", 400, 0.0), ("slight rise", 500, 0.16)]
_Q4_EXAMPLE = {"days": _Q4_DAYS, "seed": 0, "baseline": 0.132, "tolerance": 0.05,
               "again": {"days": ["slight rise", "normal"], "tolerance": 0.01}}


@fixtures.by_case
def _q4_days(case: dict) -> dict[str, list[str]]:
    """Realistic days of predictions, built from real messages: {name: predicted labels}."""
    import numpy as np

    df = fixtures.sms()
    rng = np.random.default_rng(case["seed"])
    spam, ham = df[df.label == "spam"].label.to_numpy(), df[df.label == "ham"].label.to_numpy()

    def day(n: int, share: float):
        k = round(n * share)
        labels = np.concatenate([rng.choice(spam, k), rng.choice(ham, n - k)])
        return [str(x) for x in rng.permutation(labels)]

    return {name: day(n, share) for name, n, share in case["days"]}


def _alerts_wanted(days: dict[str, list[str]], names: list[str], baseline: float, tolerance: float) -> list[bool]:
    return [abs(days[n].count("spam") / len(days[n]) - baseline) > tolerance for n in names]


def _ask_q4(case: dict, spam_rate_alerts) -> dict:
    days, again = _q4_days(case), case["again"]
    return {"all": call(spam_rate_alerts, [list(d) for d in days.values()], case["baseline"], case["tolerance"]),
            "again": call(spam_rate_alerts, [list(days[n]) for n in again["days"]], case["baseline"],
                          again["tolerance"])}


def _as_flags(value: Any) -> list[bool]:
    if isinstance(value, (str, bytes, dict)):
        raise TypeError
    return [bool(x) for x in value]


def _judge_q4(got: dict, case: dict) -> str:
    days = _q4_days(case)
    names = list(days)
    mine = got["all"].value
    try:
        mine = _as_flags(mine)
    except TypeError:
        raise Mistake(f"spam_rate_alerts should return a list of True/False, one per day; it returned {mine!r}.") from None
    if len(mine) != len(names):
        raise Mistake(f"{len(names)} days went in and {len(mine)} alerts came out: return one per day.")
    wanted = _alerts_wanted(days, names, case["baseline"], case["tolerance"])
    for name, alert, want in zip(names, mine, wanted):
        if alert == want:
            continue
        rate = days[name].count("spam") / len(days[name])
        if rate == 0:
            raise Mistake("No alert on a day with 0% spam predicted (a broken filter). A drop matters as much "
                          "as a rise: compare abs(rate - baseline) with the tolerance.")
        if name in {"big normal day", "small normal day"}:
            raise Mistake(f"The {name} ({len(days[name])} messages, {rate:.1%} spam) raised an alert: compare "
                          "rates (spam count / day size), not counts.")
        raise Mistake(f"The day '{name}' has {rate:.1%} spam against a baseline of {case['baseline']:.1%} and "
                      f"tolerance {100 * case['tolerance']:g} points: alert should be {want}, yours is {alert}.")
    # other parameters: the baseline and the tolerance must be used, not typed in
    again = case["again"]
    try:
        mine2 = _as_flags(got["again"].value)
    except TypeError:
        mine2 = got["again"].value
    wanted2 = _alerts_wanted(days, again["days"], case["baseline"], again["tolerance"])
    if mine2 != wanted2:
        rates = [f"{days[n].count('spam') / len(days[n]):.0%}" for n in again["days"]]
        raise Mistake(f"With tolerance {again['tolerance']:g}, days at {' and '.join(rates)} spam should give "
                      f"{wanted2}; yours: {mine2}. Use the tolerance argument.")
    return ("Alerts on the spam wave and on the broken filter, silence on normal days of any size. "
            "In production the same rule runs on every day's predictions (lesson 05).")


def _hidden_q4(rng: random.Random) -> dict:
    """Six days of other sizes around another baseline and tolerance: some inside the band, some
    outside (above and below), none within a point of its edge."""
    baseline, tolerance = round(rng.uniform(0.08, 0.2), 3), round(rng.uniform(0.03, 0.07), 3)
    sign = lambda: rng.choice([-1, 1])  # noqa: E731
    wide, narrow = sign() * rng.uniform(0.45, 0.6) * tolerance, sign() * rng.uniform(0, 0.15) * tolerance
    offsets = [wide, narrow, rng.uniform(-0.6, 0.6) * tolerance,  # inside the band
               tolerance + rng.uniform(0.02, 0.12), -min(baseline, tolerance + rng.uniform(0.02, 0.06)),
               -baseline]  # a rise, a drop, an empty filter
    order = rng.sample(range(6), 6)
    days = [(f"day {order[i] + 1}", rng.randint(300, 2500), round(baseline + off, 4)) for i, off in enumerate(offsets)]
    days.sort()
    # with a third of the tolerance, the wide day alerts and the narrow one does not (rounding < 0.002)
    return {"days": days, "seed": rng.randrange(10**6), "baseline": baseline, "tolerance": tolerance,
            "again": {"days": [f"day {order[0] + 1}", f"day {order[1] + 1}"],
                      "tolerance": round(0.3 * tolerance, 4)}}


q4 = Question(
    LESSON, "q4", "Monitoring: alert when the spam rate moves", answer="spam_rate_alerts",
    ask=_ask_q4, judge=_judge_q4, examples=[_Q4_EXAMPLE], hidden=_hidden_q4,
    hints=[
        "For each day: the share of predictions that are 'spam', compared with the baseline.",
        "Days have different sizes, and the rate can fall as well as rise.",
        "alert = abs(day.count('spam') / len(day) - baseline) > tolerance",
    ],
)


# --- q5: failure modes ---------------------------------------------------------------------------
_Q5_WHAT = {
    "empty texts": "three messages are empty or only spaces: look at df.text.str.strip() == ''",
    "missing labels": "two labels are missing: look at df.label.isna()",
    "unknown labels": "two labels are 'Spam' and 'spam ': look for labels not in {'ham', 'spam'}",
    "missing column": "the upstream system renamed the column 'text' to 'message': check the columns first, "
                      "and return a problem instead of crashing",
}


@fixtures.by_case
def _q5_batches(case: dict) -> dict[str, Any]:
    """Batches of real messages: a clean one, and one per fault with that fault injected."""
    import numpy as np

    clean = fixtures.sms_deduped().sample(case.get("n", 300), random_state=case.get("seed", 3))
    clean = clean.reset_index(drop=True)
    rows = case.get("rows", {"empty": [5, 17, 42], "missing": [3, 9], "unknown": [4, 8]})
    empty = clean.copy()
    empty.loc[rows["empty"], "text"] = ["", "   ", ""]
    missing = clean.copy()
    missing.loc[rows["missing"], "label"] = [None, np.nan]
    unknown = clean.copy()
    unknown.loc[rows["unknown"], "label"] = case.get("unknown", ["Spam", "spam "])
    renamed = clean.rename(columns={"text": case.get("renamed", "message")})
    return {"clean": clean, "empty texts": empty, "missing labels": missing, "unknown labels": unknown,
            "missing column": renamed}


def _ask_q5(case: dict, validate_batch) -> dict:
    return {name: call(validate_batch, batch.copy()) for name, batch in _q5_batches(case).items()}


def _judge_q5(got: dict, case: dict) -> str:
    found = got["clean"].value
    if not isinstance(found, (list, tuple)):
        raise Mistake(f"validate_batch should return a list of problems (strings); it returned {kind(found)}.")
    if found:
        raise Mistake(f"A clean batch of {len(_q5_batches(case)['clean'])} real messages was flagged: "
                      f"{list(found)[:3]}. False alarms teach people to ignore alerts.")
    for name, what in _Q5_WHAT.items():
        outcome = got[name]
        if not outcome.ok:
            first = outcome.text.splitlines()[0]
            raise Mistake(f"On a batch with {name}, validate_batch raised {first}. "
                          f"A validator must report the problem, not crash: {what}.")
        if not outcome.value:
            raise Mistake(f"validate_batch found nothing wrong in a batch with {name}: {what}.")
    return ("Every fault caught, no false alarm. Lesson 01 writes such rules as a Great Expectations suite "
            "that runs before every training.")


def _hidden_q5(rng: random.Random) -> dict:
    n = rng.randint(200, 600)
    rows = rng.sample(range(n), 7)
    return {"n": n, "seed": rng.randrange(10**6),
            "rows": {"empty": rows[:3], "missing": rows[3:5], "unknown": rows[5:]},
            "unknown": rng.sample(["SPAM", "Ham", "spam ", " ham", "junk", "Spam"], 2),
            "renamed": rng.choice(["message", "body", "sms", "Text"])}


q5 = Question(
    LESSON, "q5", "Failure modes: validate an incoming batch", answer="validate_batch",
    ask=_ask_q5, judge=_judge_q5, hidden=_hidden_q5,
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
