"""What every exercise test asserts about a check (tests/exercises/test_lessonNN.py import it;
`pythonpath = ["tests"]` in pyproject.toml puts this folder on the path)."""

from __future__ import annotations

from typing import Any


def expect(q: Any, *answer: Any, status: str = "failed", says: str = "") -> str:
    """Evaluate ``answer`` with question ``q``; assert its status and that the message holds ``says``."""
    got, message = q.evaluate(*answer)
    assert got == status, message
    assert says in message, message
    return message


def front_end_classes(widget: Any) -> list[str]:
    """The CSS classes a widget's view gets in the browser: read from the state ipywidgets sends
    the front end (the public ``Widget.get_state()``, the widget protocol), not a private attribute."""
    return list(widget.get_state()["_dom_classes"])


def hidden_verdict(q: Any, *answer: Any, seed: int = 1) -> Any:
    """Judge ``answer`` on one hidden case of question ``q``, as the grader does: the record goes
    through JSON and is judged as if it came from a graded notebook."""
    import json

    from mlkit.exercises import answers

    cases = q.cases(seed, 1)[len(q.examples):]
    record = answers.loads(json.dumps(q.collect(answer, cases), allow_nan=True))
    return q.verdict(record, cases, 0, from_file=True)
