"""Test-wide environment: a throw-away workspace home, fast lessons and one thread per process,
for pytest and nbval, and what they start (kernels, servers, the browser tests' JupyterLab).

nbval runs the exercise solutions (solutions/*.ipynb) as the batch runner would: in strict
mode, so a check that fails raises and fails its cell instead of only printing.

One OpenMP/BLAS thread per process: the tests run on several workers at once (`make test`), each
with kernels and servers of its own, and a second thread per process then waits for a busy core
and spins (measured on 2 cores: the training tests took twice the CPU time and two to four times
the wall time with the default of one thread per core). The lessons' own torch threads are set by
``loop.set_threads`` (cores - 1, so one on 2 cores) either way; set OMP_NUM_THREADS to override.
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
os.environ.setdefault("OMP_NUM_THREADS", "1")  # before anything imports torch, numpy or sklearn


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
