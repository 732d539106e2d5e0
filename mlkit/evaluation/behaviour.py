"""Behaviour tests of a text classifier (lesson 03), in the spirit of CheckList
(Ribeiro et al., 2020): test what the model does, not only how often it is right.

* :class:`MinimumFunctionality`: simple cases any usable model gets right;
* :class:`Invariance`: a change that must not matter (a name, a number) changes nothing;
* :class:`Direction`: a change that must push one way ("WIN a prize, call now") does.

Each test runs against ``predict_proba(list_of_texts) -> P(spam)`` and returns a
:class:`Result`; :func:`run` makes a table of results and :func:`check` fails loudly
(raises :class:`BehaviourTestFailure` naming every failed test and an example).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

PredictProba = Callable[[list[str]], Any]


class BehaviourTestFailure(AssertionError):
    """One or more behaviour tests failed; the message lists them with an example each."""


@dataclass(frozen=True)
class Result:
    """The outcome of one behaviour test."""

    name: str
    kind: str
    cases: int
    failures: int
    max_failure_rate: float
    examples: tuple[str, ...] = ()

    @property
    def failure_rate(self) -> float:
        return self.failures / self.cases if self.cases else 0.0

    @property
    def passed(self) -> bool:
        return self.cases > 0 and self.failure_rate <= self.max_failure_rate


def _proba(predict_proba: PredictProba, texts: Sequence[str]) -> np.ndarray:
    p = np.asarray(predict_proba(list(texts)), dtype=float).reshape(-1)
    if len(p) != len(texts):
        raise ValueError(f"predict_proba returned {len(p)} values for {len(texts)} texts: one P(spam) per text.")
    return p


@dataclass(frozen=True)
class MinimumFunctionality:
    """Cases with obvious labels (1 spam, 0 ham) that the model must get right."""

    name: str
    texts: Sequence[str]
    labels: Sequence[int]
    threshold: float = 0.5
    max_failure_rate: float = 0.0
    kind: str = field(default="minimum functionality", init=False)

    def run(self, predict_proba: PredictProba) -> Result:
        if len(self.texts) != len(self.labels):
            raise ValueError(f"{self.name}: {len(self.texts)} texts but {len(self.labels)} labels.")
        pred = (_proba(predict_proba, self.texts) >= self.threshold).astype(int)
        wrong = [i for i, (y, p) in enumerate(zip(self.labels, pred)) if int(y) != p]
        examples = tuple(f"{self.texts[i]!r} should be {'spam' if self.labels[i] else 'ham'}" for i in wrong[:3])
        return Result(self.name, self.kind, len(self.texts), len(wrong), self.max_failure_rate, examples)


@dataclass(frozen=True)
class Invariance:
    """Pairs of texts that must get the same label and nearly the same P(spam)."""

    name: str
    pairs: Sequence[tuple[str, str]]
    tolerance: float = 0.1
    threshold: float = 0.5
    max_failure_rate: float = 0.0
    kind: str = field(default="invariance", init=False)

    def run(self, predict_proba: PredictProba) -> Result:
        a = _proba(predict_proba, [x for x, _ in self.pairs])
        b = _proba(predict_proba, [y for _, y in self.pairs])
        bad = (np.abs(a - b) > self.tolerance) | ((a >= self.threshold) != (b >= self.threshold))
        idx = np.flatnonzero(bad)
        examples = tuple(f"{self.pairs[i][0]!r} {a[i]:.2f} vs {self.pairs[i][1]!r} {b[i]:.2f}" for i in idx[:3])
        return Result(self.name, self.kind, len(self.pairs), len(idx), self.max_failure_rate, examples)


@dataclass(frozen=True)
class Direction:
    """Texts that ``transform`` must make more (``expect="up"``) or less spam-like."""

    name: str
    texts: Sequence[str]
    transform: Callable[[str], str]
    expect: str = "up"
    tolerance: float = 0.0
    max_failure_rate: float = 0.0
    kind: str = field(default="direction", init=False)

    def run(self, predict_proba: PredictProba) -> Result:
        if self.expect not in ("up", "down"):
            raise ValueError(f"{self.name}: expect must be 'up' or 'down', not {self.expect!r}.")
        changed = [self.transform(t) for t in self.texts]
        before, after = _proba(predict_proba, self.texts), _proba(predict_proba, changed)
        delta = after - before if self.expect == "up" else before - after
        idx = np.flatnonzero(delta < -self.tolerance)
        examples = tuple(f"{changed[i]!r}: {before[i]:.2f} -> {after[i]:.2f}" for i in idx[:3])
        return Result(self.name, self.kind, len(self.texts), len(idx), self.max_failure_rate, examples)


BehaviourTest = MinimumFunctionality | Invariance | Direction


def run(tests: Sequence[BehaviourTest], predict_proba: PredictProba) -> pd.DataFrame:
    """Run every test; one row per test (kind, cases, failures, failure rate, passed, example)."""
    import pandas as pd

    results = [t.run(predict_proba) for t in tests]
    return pd.DataFrame([{"test": r.name, "kind": r.kind, "cases": r.cases, "failures": r.failures,
                          "failure rate": r.failure_rate, "allowed": r.max_failure_rate, "passed": r.passed,
                          "example": r.examples[0] if r.examples else ""} for r in results]).set_index("test")


def check(table: pd.DataFrame) -> None:
    """Raise :class:`BehaviourTestFailure` when any test in ``run``'s table failed (CI does this)."""
    failed = table[~table["passed"]]
    if len(failed):
        lines = [f"- {name} ({row.kind}): {row.failures} of {row.cases} cases failed, e.g. {row.example}"
                 for name, row in failed.iterrows()]
        raise BehaviourTestFailure(f"{len(failed)} of {len(table)} behaviour tests failed:\n" + "\n".join(lines))


# --- building cases -------------------------------------------------------------------------------
def swap_numbers(text: str, seed: int = 0) -> str:
    """Every digit replaced by another digit (same length and layout): 07781 -> 35029."""
    rng = np.random.default_rng(seed)
    return re.sub(r"\d", lambda m: str((int(m.group()) + int(rng.integers(1, 10))) % 10), text)


def name_pairs(templates: Sequence[str], names: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Pairs of a template filled with two names: ("Hi {name}, ...", [("John", "Priya")])."""
    return [(t.format(name=a), t.format(name=b)) for t in templates for a, b in names]
