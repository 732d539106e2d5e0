"""One exercise: ``ex.q1.check()``, ``ex.q1.hint()``, ``ex.q1.solution()``.

A check is two functions, so that the verdict never has to be computed by the learner's code:

* ``ask(case, *answers)`` runs the learner's functions on the check's inputs (described by
  ``case``, a small dict) and returns what came back: the outcome of each call
  (:func:`~mlkit.exercises.answers.call`) and whatever it observed, as plain data. It runs
  where the learner's code runs.
* ``judge(got, case)`` decides from that data alone: it raises :class:`Mistake` naming the
  mistake, or returns a short success message. It never sees the learner's objects.

In the notebook, :meth:`Question.check` runs both in the kernel, with the record passed
through JSON between them. When grading, only ``ask`` runs in the learner's kernel (on the
notebook's own examples and on hidden cases drawn from the instructor's seed, see
:meth:`Question.cases`); the grader reads the record from a file and judges it in its own
process (:mod:`mlkit.grade.judge`). So the message a learner sees is the same in both places.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import mlkit.exercises.answers as answers  # the submodules, not the package (its __init__ imports this module)
import mlkit.exercises.records as records
from mlkit.course import config
from mlkit.course.config import STRICT_ENV
from mlkit.exercises.answers import LearnerError, Raised, Returned
from mlkit.exercises.feedback import describe_error, in_ipython, show
from mlkit.exercises.solutions import solution_source


class Mistake(Exception):
    """Raised by a judge: the learner's answer is wrong; the message says how."""


class NotStarted(NotImplementedError):
    """Strict mode (batch runs): the exercise still holds its stub."""


class CheckFailed(AssertionError):
    """Strict mode (batch runs): the learner's answer failed its check."""


def strict() -> bool:
    """True in batch runs ($MLKIT_STRICT=1): failed checks raise instead of printing."""
    return config.flag(STRICT_ENV)


@dataclass(frozen=True)
class Verdict:
    """A check's outcome: status ("passed", "failed", "not started"), the message the learner
    sees, and, for a hidden case, what the judge said (for the instructor only)."""

    status: str
    message: str
    note: str = ""


def _is_stub(value: Any) -> bool:
    return value is None or value is Ellipsis or value is NotImplemented


def _caller_namespace() -> dict[str, Any]:
    """The namespace of the code that called check(): the notebook's user namespace."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("mlkit.exercises"):
        frame = frame.f_back
    if frame is not None:
        return frame.f_globals
    if in_ipython():
        return sys.modules["IPython"].get_ipython().user_ns
    return {}


class Question:
    """One exercise: what to ask the learner's code, how to judge it, tiered hints, the solution.

    Args:
        lesson: the lesson id, e.g. "00_lifecycle_overview" (names the solutions notebook).
        name: the question's short name, e.g. "q1" (used in progress).
        title: what the exercise asks, in a few words.
        answer: the name (or names) of the function(s) the learner defines in the notebook.
        ask: ``ask(case, *answers) -> data``: calls the learner's function(s) on the inputs
            ``case`` describes, with :func:`~mlkit.exercises.answers.call`, and returns the
            outcomes and what it observed. No verdict here: it runs beside the learner's code.
        judge: ``judge(got, case) -> str | None``: decides from ``got`` (what ``ask``
            returned, after a trip through JSON); raises ``Mistake("what is wrong and what to
            look at")``, or returns a short success message.
        hints: tiered hints, from a nudge to nearly the answer; each ``hint()`` call reveals one more.
        examples: the cases the notebook's check runs (default: one case, ``{}``).
        hidden: ``hidden(rng) -> case``: a case the learner never saw, drawn from a
            ``random.Random`` seeded by the instructor's grading seed.
    """

    def __init__(
        self,
        lesson: str,
        name: str,
        title: str,
        answer: str | Sequence[str],
        ask: Callable[..., Any],
        judge: Callable[[Any, dict], Any],
        hints: Sequence[str] = (),
        examples: Sequence[dict] = ({},),
        hidden: Callable[[random.Random], dict] | None = None,
    ) -> None:
        self.lesson = lesson
        self.name = name
        self.title = title
        self.answers = (answer,) if isinstance(answer, str) else tuple(answer)
        self.ask = ask
        self.judge = judge
        self.hints = list(hints)
        self.examples = [json.loads(json.dumps(c)) for c in examples]  # as they travel: JSON
        self.hidden = hidden
        self._hints_shown = 0

    def __repr__(self) -> str:
        return f"<Question {self.lesson}.{self.name}: {self.title} (answer: {', '.join(self.answers)})>"

    # --- the cases -------------------------------------------------------------------------
    def cases(self, seed: int | str | None = None, n_hidden: int = 1) -> list[dict]:
        """The notebook's examples, then (with a seed) ``n_hidden`` hidden cases drawn from it."""
        out = [dict(c) for c in self.examples]
        if seed is not None and self.hidden is not None:
            for k in range(n_hidden):
                case = self.hidden(random.Random(f"{seed}:{self.lesson}:{self.name}:{k}"))
                out.append(json.loads(json.dumps(case)))
        return out

    # --- asking: runs beside the learner's code ---------------------------------------------------
    def lookup(self, namespace: dict[str, Any]) -> tuple[Any, ...] | str:
        """The learner's objects, by name, from ``namespace``; the first missing name otherwise."""
        missing = [n for n in self.answers if namespace.get(n) is None]
        return missing[0] if missing else tuple(namespace[n] for n in self.answers)

    def collect(self, values: tuple[Any, ...] | str, cases: Sequence[dict]) -> dict:
        """Ask the learner's objects ``values`` about every case; a JSON-ready record.

        ``values`` may be the name :meth:`lookup` found missing. Nothing is judged here.
        """
        if isinstance(values, str):
            return {"missing": values}
        stub = next((n for n, v in zip(self.answers, values) if _is_stub(v)), None)
        if stub is not None:
            return {"stub": stub}
        not_callable = next(((n, type(v).__name__) for n, v in zip(self.answers, values) if not callable(v)), None)
        if not_callable is not None:
            return {"not_callable": list(not_callable)}
        out = []
        for case in cases:
            try:
                data = self.ask(dict(case), *values)
            except Exception as exc:  # noqa: BLE001 - raised by the learner's code, or by what it returned
                data = answers.raised(exc)
            out.append(answers.encode(data))
        return {"cases": out}

    # --- judging: never touches the learner's objects ------------------------------------------
    def verdict(self, record: Any, cases: Sequence[dict], n_examples: int | None = None,
                from_file: bool = False) -> Verdict:
        """Judge a decoded record of :meth:`collect` for ``cases``, of which the first
        ``n_examples`` are the notebook's own (their messages are shown in full).

        ``from_file``: the record came from a notebook being graded, so a case that is not what
        an ask returns (a dict) is called malformed instead of being judged."""
        n_examples = len(self.examples) if n_examples is None else n_examples
        if not isinstance(record, dict):
            return Verdict("failed", "No answer came back from the notebook for this question.")
        if "missing" in record:
            return Verdict("not started", f"Define `{record['missing']}` in the cell above (and run that cell), "
                                          "then check again.")
        if "stub" in record:
            return Verdict("not started", f"`{self.answers[0]}` is still empty: replace the stub with your code.")
        if "not_callable" in record:
            name, type_name = (list(record["not_callable"]) + ["?", "?"])[:2]
            return Verdict("failed", f"`{name}` should be a function (def {name}(...): ...), not a {type_name}.")
        got = record.get("cases")
        if not isinstance(got, list) or len(got) != len(cases):
            return Verdict("failed", "The answers that came back from the notebook do not match the questions "
                                     "asked.")
        first = ""
        for i, (case, data) in enumerate(zip(cases, got)):
            if from_file and not isinstance(data, (dict, Raised)):
                return Verdict("failed", "The answer that came back is not what this question's check records "
                                         f"(a {answers.kind(data)} where a record of calls belongs): it cannot be "
                                         "judged. Was the grader's extraction rewritten?")
            status, message = self._judge_one(data, case)
            if status == "passed":
                first = first or message
                continue
            if i < n_examples:
                return Verdict(status, message)
            return Verdict("failed", _hidden_message(i - n_examples + 1, data), note=message)
        return Verdict("passed", first)

    def _judge_one(self, data: Any, case: dict) -> tuple[str, str]:
        try:
            if isinstance(data, Raised):
                raise LearnerError(data)
            result = self.judge(data, dict(case))
        except Mistake as exc:
            return "failed", str(exc)
        except LearnerError as exc:
            if exc.raised.is_a("NotImplementedError"):
                return "not started", (f"`{self.answers[0]}` still raises NotImplementedError: replace "
                                       "`raise NotImplementedError()` with your code.")
            return "failed", "Your code raised an error while it was being checked.\n" + exc.raised.text
        except Exception as exc:  # noqa: BLE001 - what the learner's code returned broke the judge
            return "failed", "Your code raised an error while it was being checked.\n" + describe_error(exc)
        return "passed", result if isinstance(result, str) else ""

    # --- in the notebook --------------------------------------------------------------------
    def evaluate(self, *values: Any, namespace: dict[str, Any] | None = None) -> tuple[str, str]:
        """Run the check on the notebook's examples without showing anything; (status, message).

        status is "passed", "failed" or "not started". Values are the learner's objects;
        without them they are looked up by name in ``namespace``. The record passes through
        JSON between asking and judging, exactly as when the grader judges it.
        """
        found = values if values else self.lookup(namespace if namespace is not None else {})
        record = answers.loads(json.dumps(self.collect(found, self.examples), allow_nan=True))
        verdict = self.verdict(record, self.examples)
        return verdict.status, verdict.message

    def check(self, *values: Any) -> bool:
        """Check the learner's answer and show feedback. Returns True when it is right.

        In batch runs ($MLKIT_STRICT=1) an unfinished answer raises NotStarted and a wrong
        one CheckFailed, so a notebook run stops there. While a notebook is graded, the
        grader asks and judges after the last cell instead (nothing runs here).
        """
        title = f"{self.name} · {self.title}"
        if config.flag(config.GRADING_ENV):
            show("info", f"{title}: the grader checks this after your notebook has run.")
            return False
        namespace = None if values else _caller_namespace()
        status, message = self.evaluate(*values, namespace=namespace)
        if status != "not started":
            _record(self.lesson, self.name, status == "passed")
        if status == "passed":
            show("ok", f"Correct: {title}", message)
            return True
        if status == "not started":
            if strict():
                raise NotStarted(f"{title}: not started yet. {message}")
            show("todo", f"Not started yet: {title}", message)
            return False
        if strict():
            raise CheckFailed(f"{title}: {message}")
        left = len(self.hints) - self._hints_shown
        tip = f"\n(Stuck? ex.{self.name}.hint() gives a hint" + (f"; {left} left.)" if left else ".)")
        show("fail", f"Not yet: {title}", message + (tip if self.hints else ""))
        return False

    # --- hints and solution -----------------------------------------------------------------
    def hint(self) -> str:
        """Show the next hint (each call reveals one more) and return it."""
        if not self.hints:
            text = "No hints for this one: re-read the exercise text, or see the solution."
            show("hint", f"{self.name}: no hints", text)
            return text
        if self._hints_shown < len(self.hints):
            self._hints_shown += 1
        n = self._hints_shown
        shown = "\n".join(f"{i + 1}. {h}" for i, h in enumerate(self.hints[:n]))
        more = (f"\n(ex.{self.name}.hint() again for hint {n + 1} of {len(self.hints)}.)"
                if n < len(self.hints) else f"\n(That was the last hint; ex.{self.name}.solution() shows one answer.)")
        show("hint", f"Hint {n} of {len(self.hints)} · {self.title}", shown + more)
        _record_hint(self.lesson, self.name, n)
        return self.hints[n - 1]

    def solution_source(self) -> str:
        """The reference code: the solutions notebook's cell that defines the answer."""
        return solution_source(self.lesson, self.answers[0])

    def solution(self) -> str:
        """Show the reference code (read from solutions/<lesson>.ipynb) and return it."""
        try:
            code = self.solution_source()
        except LookupError as exc:
            show("info", f"No solution to show for {self.name}", str(exc))
            return ""
        show("info", f"One solution · {self.title}", "Compare it with yours; there are other right answers.", code)
        return code


def _hidden_message(k: int, data: Any) -> str:
    """What a learner is told about a hidden case: their own result, never the inputs or the answer."""
    outcome = _first_outcome(data)
    if isinstance(outcome, Returned):
        said = f" Your function returned {answers.short_repr(outcome.value)[:160]}."
    elif isinstance(outcome, Raised):
        said = f" Your function raised {outcome.text.splitlines()[0][:160]}."
    else:
        said = ""
    return (f"Right on the notebook's examples, but wrong on new inputs drawn for grading (hidden case {k}).{said} "
            "Compute every result from the function's inputs: an answer typed in for the examples fails here.")


def _first_outcome(data: Any) -> Returned | Raised | None:
    if isinstance(data, (Returned, Raised)):
        return data
    items = data.values() if isinstance(data, dict) else data if isinstance(data, (list, tuple)) else ()
    for item in items:
        found = _first_outcome(item)
        if found is not None:
            return found
    return None


# --- progress (never allowed to break a lesson) -------------------------------------------
def _record(lesson: str, name: str, passed: bool) -> None:
    try:
        records.record_check(lesson, name, passed)
    except Exception:  # noqa: BLE001 - progress is a nicety; the check result matters
        pass


def _record_hint(lesson: str, name: str, n: int) -> None:
    try:
        records.record_hint(lesson, name, n)
    except Exception:  # noqa: BLE001
        pass
