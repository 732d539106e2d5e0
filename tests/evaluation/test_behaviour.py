"""mlkit.evaluation.behaviour: the tests flag a model that ignores its input, and fail loudly."""

from __future__ import annotations

import numpy as np
import pytest

from mlkit.evaluation import behaviour

SPAM_WORDS = ("win", "prize", "free", "call now")


def keyword_model(texts):
    """A toy spam filter: P(spam) grows with the spam words in the text."""
    return np.array([min(1.0, 0.1 + 0.3 * sum(w in t.lower() for w in SPAM_WORDS)) for t in texts])


def ignores_input(texts):
    return np.full(len(texts), 0.3)


def suite():
    return [
        behaviour.MinimumFunctionality("obvious", ["WIN a FREE prize, call now", "see you later", "free prize"],
                                       [1, 0, 1]),
        behaviour.Invariance("names", behaviour.name_pairs(["Hi {name}, lunch?"], [("John", "Priya"), ("Kate", "Wei")])),
        behaviour.Direction("add spam", ["see you at 6", "ok thanks"], lambda t: t + " WIN a prize, call now"),
    ]


def test_a_sensible_model_passes():
    table = behaviour.run(suite(), keyword_model)
    assert table.passed.all(), table
    behaviour.check(table)  # no exception


def test_a_model_that_ignores_its_input_is_flagged_loudly():
    table = behaviour.run(suite(), ignores_input)
    assert not table.loc["obvious", "passed"]
    with pytest.raises(behaviour.BehaviourTestFailure, match="obvious .*2 of 3 cases failed"):
        behaviour.check(table)


def test_direction_and_invariance_catch_the_wrong_behaviour():
    backwards = lambda texts: 1 - keyword_model(texts)  # noqa: E731
    table = behaviour.run(suite(), backwards)
    assert not table.loc["add spam", "passed"] and table.loc["add spam", "failures"] == 2
    name_sensitive = lambda texts: np.array([0.9 if "Priya" in t else 0.1 for t in texts])  # noqa: E731
    result = suite()[1].run(name_sensitive)
    assert result.failures == 1 and not result.passed and "Priya" in result.examples[0]


def test_allowed_failure_rate():
    t = behaviour.Invariance("digits", [("call 123", "call 456"), ("a", "a"), ("b", "b"), ("c", "c")],
                             max_failure_rate=0.25)
    flaky = lambda texts: np.array([0.9 if "456" in x else 0.1 for x in texts])  # noqa: E731
    assert t.run(flaky).passed and t.run(flaky).failure_rate == 0.25


def test_swap_numbers_keeps_the_layout():
    out = behaviour.swap_numbers("Call 09061701461 now, 2 days", seed=3)
    assert out != "Call 09061701461 now, 2 days"
    assert [c.isdigit() for c in out] == [c.isdigit() for c in "Call 09061701461 now, 2 days"]
    assert all(a != b for a, b in zip(out, "Call 09061701461 now, 2 days") if b.isdigit())


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="2 texts but 1 labels"):
        behaviour.MinimumFunctionality("x", ["a", "b"], [1]).run(keyword_model)
    with pytest.raises(ValueError, match="one P\\(spam\\) per text"):
        behaviour.MinimumFunctionality("x", ["a", "b"], [1, 0]).run(lambda texts: [0.5])
    with pytest.raises(ValueError, match="'up' or 'down'"):
        behaviour.Direction("x", ["a"], str.upper, expect="sideways").run(keyword_model)
