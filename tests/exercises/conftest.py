"""Shared fixtures of the exercise tests: reference answers come from the solutions notebooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mlkit.exercises.solutions import solution_source


def _run_solution_cells(lesson: str, *names: str, **namespace: Any) -> dict[str, Any]:
    """Execute the cells of solutions/<lesson>.ipynb that define ``names`` (the one source of
    the reference answers, never a re-typed copy) in ``namespace``; return the namespace."""
    for name in names:
        exec(solution_source(lesson, name), namespace)
    return namespace


@pytest.fixture(scope="session")
def solutions() -> Callable[..., dict[str, Any]]:
    """``solutions(lesson, *names, **imports)``: the namespace after running the solution cells."""
    return _run_solution_cells
