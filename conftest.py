"""Test-wide environment: a throw-away workspace home and fast lessons, for pytest and nbval.

nbval runs the exercise solutions (solutions/*.ipynb) as the batch runner would: in strict
mode, so a check that fails raises and fails its cell instead of only printing.
"""

import os
import tempfile

import pytest

# Never write into the learner's ~/mlkit-workspace; lessons run with small data. One throw-away
# home per test run: pytest-xdist's workers inherit the main process's (the course store is built
# for concurrent use, as when `mlkit run -j 2` runs two lessons at once).
if not os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["MLKIT_HOME"] = tempfile.mkdtemp(prefix="mlkit-test-home-")
os.environ["MLKIT_FAST"] = "1"


def _is_nbval(item: pytest.Item) -> bool:
    return type(item).__module__.startswith("nbval")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if _is_nbval(item):  # before nbval starts the notebook's kernel, which inherits the environment
        os.environ["MLKIT_STRICT"] = "1"


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    if _is_nbval(item):
        os.environ.pop("MLKIT_STRICT", None)
