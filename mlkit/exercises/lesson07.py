"""Capstone exercises (lesson 07): three of the practical exercise's prompts, each checked by running it.

* q1 ``precision_at_recall``: the offline success metric, the best precision at a required recall;
* q2 ``hold_out_campaign``: the held-out campaign split, a spam family chosen by a visible rule;
* q3 ``campaign_alarm``: the monitoring plan as a drift check that fires on the campaign and
  stays quiet on normal traffic.

Each check is an ``ask`` (runs the learner's function, records what it returned) and a
``judge`` (decides from that record); ``hidden`` draws the inputs a grader adds. Used by
``solutions/07_capstone_spam.ipynb`` and its learner copy ``exercises/07_capstone_spam.ipynb``.
The quiz is ``mlkit/exercises/quizzes/07_capstone_spam.toml``.
"""

from __future__ import annotations

import math
import random
from functools import lru_cache
from numbers import Real
from typing import Any

from mlkit.exercises import fixtures
from mlkit.exercises.answers import call, kind
from mlkit.exercises.question import Mistake, Question

LESSON = "07_capstone_spam"
CAMPAIGN_RULE = r"\b(?:txt|text)\b"  # the capstone's campaign: spam that says txt or text


def _is_number(x: Any) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool) and math.isfinite(float(x))


# --- q1: precision at a required recall -----------------------------------------------------------
@lru_cache(maxsize=1)
def _scores() -> tuple[Any, Any]:
    """(y_test, P(spam)) of a TF-IDF + logistic regression fitted on the course's one split."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    train, test = fixtures.sms_split(0)
    vec = TfidfVectorizer(sublinear_tf=True, min_df=2)
    model = LogisticRegression(max_iter=1000).fit(vec.fit_transform(train.text), train.label == "spam")
    return (test.label == "spam").to_numpy().astype(int), model.predict_proba(vec.transform(test.text))[:, 1]


@fixtures.by_case
def _q1_scores(case: dict) -> tuple[Any, Any]:
    import numpy as np

    y, proba = _scores()
    if "seed" in case:
        keep = np.sort(np.random.default_rng(case["seed"]).choice(len(y), int(case["frac"] * len(y)), replace=False))
        y, proba = y[keep], proba[keep]
    return y, proba


def reference_precision_at_recall(y_true: Any, proba: Any, required_recall: float) -> tuple[float, float]:
    """(threshold, precision): the most precise threshold whose recall reaches ``required_recall``."""
    import numpy as np

    from mlkit.evaluation import metrics

    grid = metrics.at_threshold(y_true, proba, np.unique(proba))
    ok = grid["recall"] >= required_recall
    i = int(np.flatnonzero(ok)[np.argmax(grid["precision"][ok])])
    return float(grid["threshold"][i]), float(grid["precision"][i])


def _ask_q1(case: dict, precision_at_recall) -> dict:
    y, proba = _q1_scores(case)
    return {"answers": [call(precision_at_recall, y.copy(), proba.copy(), r) for r in case.get("recalls", [0.8, 0.9, 0.95])]}


def _judge_q1(got: dict, case: dict) -> str:
    y, proba = _q1_scores(case)
    spam_share = float(y.mean())
    for required, outcome in zip(case.get("recalls", [0.8, 0.9, 0.95]), got["answers"]):
        want_t, want_p = reference_precision_at_recall(y, proba, required)
        mine = outcome.value
        if not (isinstance(mine, tuple) and len(mine) == 2 and all(_is_number(v) for v in mine)):
            raise Mistake(f"precision_at_recall returned {mine!r}; return a tuple (threshold, precision) of two numbers.")
        t, p = float(mine[0]), float(mine[1])
        flagged = proba >= t
        recall = float(flagged[y == 1].mean())
        precision = float(y[flagged].mean()) if flagged.any() else 0.0
        if p > 1:
            raise Mistake(f"precision {p:g} is above 1: return a fraction, not a percentage.")
        if recall < required - 1e-12:
            raise Mistake(f"At your threshold {t:.3f} recall is {recall:.3f}, below the required {required}: "
                          "keep only thresholds whose recall reaches the requirement (>=, counted on spam).")
        if abs(p - precision) > 1e-9:
            hint = " That is the recall: precision is spam flagged / all flagged." if abs(p - recall) < 1e-9 else ""
            raise Mistake(f"At your threshold {t:.3f} the precision is {precision:.3f}, but you returned {p:.3f}.{hint}")
        if abs(p - spam_share) < 1e-9 and want_p > p + 1e-9:
            raise Mistake(f"Precision {p:.3f} is the spam share: flagging everything meets any recall. Take the "
                          "most precise threshold that still meets it.")
        if p < want_p - 1e-9:
            raise Mistake(f"For recall >= {required} a threshold with precision {want_p:.3f} exists (yours: {p:.3f}). "
                          "Look at every threshold, and keep the most precise one that meets the recall.")
    t, p = reference_precision_at_recall(y, proba, 0.9)
    return (f"At recall >= 0.9: threshold {t:.3f}, precision {p:.3f} on {len(y)} test messages "
            f"(flag everything: precision {spam_share:.3f}).")


def _hidden_q1(rng: random.Random) -> dict:
    return {"seed": rng.randrange(10**6), "frac": round(rng.uniform(0.5, 0.9), 3),
            "recalls": sorted(round(rng.uniform(0.7, 0.95), 2) for _ in range(3))}


q1 = Question(
    LESSON, "q1", "Success metric: precision at a required recall", answer="precision_at_recall",
    ask=_ask_q1, judge=_judge_q1, hidden=_hidden_q1,
    hints=[
        "Try every distinct score as a threshold (flag a message when P(spam) >= threshold); compute recall and "
        "precision at each.",
        "Keep the thresholds whose recall reaches the requirement; of those, return the one with the highest "
        "precision.",
        "mlkit.evaluation.metrics.at_threshold(y_true, proba, np.unique(proba)) returns arrays of recall and "
        "precision, one entry per threshold.",
    ],
)


# --- q2: the held-out campaign split --------------------------------------------------------------
_Q2_EXAMPLE = {"rule": CAMPAIGN_RULE}


@fixtures.by_case
def _q2_frame(case: dict):
    df = fixtures.sms_deduped()
    if "seed" in case:
        df = df.sample(frac=case["frac"], random_state=case["seed"])
    return df.reset_index(drop=True)


def _ask_q2(case: dict, hold_out_campaign) -> dict:
    return {"split": call(hold_out_campaign, _q2_frame(case).copy(), case["rule"])}


def _judge_q2(got: dict, case: dict) -> str:
    df, rule = _q2_frame(case), case["rule"]
    split = got["split"].value
    if not (isinstance(split, tuple) and len(split) == 2):
        raise Mistake(f"hold_out_campaign returned {kind(split)}; return a tuple (rest, campaign) of frames.")
    rest, campaign = split
    matches = df.text.str.contains(rule, case=False, regex=True)
    want = df[matches & (df.label == "spam")]
    if not hasattr(campaign, "label") or not hasattr(rest, "label"):
        raise Mistake("Return two DataFrames with the columns text and label: (rest, campaign).")
    if (campaign.label != "spam").any():
        raise Mistake(f"The campaign holds {(campaign.label != 'spam').sum()} ham message(s): it is a spam family. "
                      "Ham that uses the same words stays in the rest, as it would in real traffic.")
    if len(rest) + len(campaign) != len(df):
        raise Mistake(f"{len(df)} messages in, {len(rest)} + {len(campaign)} out: every message goes to exactly "
                      "one side.")
    if set(rest.text) & set(campaign.text):
        raise Mistake("Some messages are on both sides: the campaign must be held OUT of the rest.")
    in_campaign = set(campaign.text)
    missed = want[~want.text.isin(in_campaign)]
    if len(missed):
        example = missed.text.iloc[0][:70]
        raise Mistake(f"{len(missed)} spam message(s) that match the rule are still in the rest, e.g. {example!r}: "
                      "match case-insensitively (TXT, Text), with the rule as a regular expression.")
    extra = campaign[~campaign.text.isin(set(want.text))]
    if len(extra):
        raise Mistake(f"{len(extra)} campaign message(s) do not match the rule, e.g. {extra.text.iloc[0][:70]!r}: "
                      "use the rule's word boundaries (\\b), not a plain substring ('context' is not 'text').")
    return (f"{len(campaign)} spam messages held out ({len(campaign) / (df.label == 'spam').sum():.0%} of the spam); "
            f"{int((matches & (df.label == 'ham')).sum())} ham messages that match the rule stay.")


def _hidden_q2(rng: random.Random) -> dict:
    word = rng.choice([r"\b(?:call|ring)\b", r"\b(?:free|gratis)\b", r"\b(?:win|won|winner)\b", r"\b(?:claim|prize)\b"])
    return {"rule": word, "seed": rng.randrange(10**6), "frac": round(rng.uniform(0.6, 0.95), 3)}


q2 = Question(
    LESSON, "q2", "Build the held-out campaign split", answer="hold_out_campaign",
    ask=_ask_q2, judge=_judge_q2, examples=[_Q2_EXAMPLE], hidden=_hidden_q2,
    hints=[
        "The campaign is the spam whose text matches the rule; everything else (including ham that matches) "
        "is the rest.",
        "df.text.str.contains(rule, case=False, regex=True) gives a boolean mask; combine it with "
        "df.label == 'spam'.",
        "mask = ...contains(...) & (df.label == 'spam'); return df[~mask], df[mask].",
    ],
)


# --- q3: the monitoring plan, as a drift alarm ----------------------------------------------------
FEATURES = ["n_chars", "n_words", "n_digits", "upper_share"]
_Q3_EXAMPLE = {"seed": 0}


@fixtures.by_case
def _windows(case: dict) -> dict[str, Any]:
    """A reference window of normal traffic, two more normal windows and two campaign windows:
    the text and the features known at prediction time (no label)."""
    import pandas as pd

    from mlkit.data import prep

    seed = case["seed"]
    df = fixtures.sms_deduped()
    campaign_mask = df.text.str.contains(CAMPAIGN_RULE, case=False, regex=True) & (df.label == "spam")
    normal = prep.add_features(df[~campaign_mask]).sample(frac=1, random_state=seed).reset_index(drop=True)
    campaign = prep.add_features(df[campaign_mask]).sample(frac=1, random_state=seed).reset_index(drop=True)
    keep = ["text", *FEATURES]
    reference = normal.iloc[:600][keep]
    windows = {f"normal traffic {i + 1}": normal.iloc[600 + 250 * i:850 + 250 * i][keep] for i in range(2)}
    half = len(campaign) // 2
    for i, part in enumerate((campaign.iloc[:half], campaign.iloc[half:])):
        mixed = pd.concat([normal.iloc[1400 + 150 * i:1550 + 150 * i], part]).sample(frac=1, random_state=seed + i)
        windows[f"campaign {i + 1}"] = mixed[keep].reset_index(drop=True)
    return {"reference": reference.reset_index(drop=True), "windows": windows}


def _ask_q3(case: dict, campaign_alarm) -> dict:
    data = _windows(case)
    return {name: call(campaign_alarm, data["reference"].copy(), window.copy())
            for name, window in data["windows"].items()}


def _judge_q3(got: dict, case: dict) -> str:
    import numpy as np

    fired = {}
    for name in _windows(case)["windows"]:
        v = got[name].value
        if not isinstance(v, (bool, np.bool_)):
            raise Mistake(f"campaign_alarm returned {v!r} ({kind(v)}); return True (alarm) or False.")
        fired[name] = bool(v)
    quiet = [n for n, f in fired.items() if n.startswith("normal") and f]
    missed = [n for n, f in fired.items() if n.startswith("campaign") and not f]
    if quiet and missed:
        raise Mistake(f"It fires on {quiet} and stays silent on {missed}: it reacts to the wrong thing. Compare "
                      "the distributions of the features (length, digits, capitals) between the two windows.")
    if len(quiet) == 2:
        raise Mistake("It fires on every window, normal traffic too: an alarm that always rings gets ignored. "
                      "Fire only when the current window's features differ from the reference.")
    if quiet:
        raise Mistake(f"A false alarm on {quiet}: normal traffic must stay quiet. Require several features to "
                      "drift (Evidently's drift_share), not a single one.")
    if missed:
        raise Mistake(f"Silent on {missed}: the campaign's messages are longer and carry more digits. Compare "
                      "those features with a drift test (DriftDetector(reference, columns).check(current)).")
    return (f"Fires on both campaign windows, quiet on {sum(n.startswith('normal') for n in fired)} windows of "
            "normal traffic.")


def _hidden_q3(rng: random.Random) -> dict:
    return {"seed": rng.randrange(1, 10**6)}


q3 = Question(
    LESSON, "q3", "The monitoring plan: an alarm that fires on the campaign", answer="campaign_alarm",
    ask=_ask_q3, judge=_judge_q3, examples=[_Q3_EXAMPLE], hidden=_hidden_q3,
    hints=[
        "Only what is known at prediction time can be watched before labels arrive: message length, words, "
        "digits, capitals.",
        "Lesson 05's drift.DriftDetector(reference, columns) runs Evidently's DataDriftPreset; .check(current) "
        "returns a verdict with .drifted.",
        "return drift.DriftDetector(reference, ['n_chars', 'n_words', 'n_digits', 'upper_share'])"
        ".check(current).drifted",
    ],
)

QUESTIONS = [q1, q2, q3]
