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
