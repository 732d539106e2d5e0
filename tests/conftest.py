"""Shared fixtures for the unit tests; which tests are slow; how `make test` splits the work.

- Each lesson runs once per pass (see :func:`pytest_collection_modifyitems`).
- Tests that execute notebooks, drive JupyterLab or take seconds each are marked ``slow``
  (:data:`SLOW`, :data:`SLOW_FIXTURES`, nbval's cells, and the ``browser`` and ``notebooks`` marks):
  `make test-fast` runs everything else, `make test` runs all.
- The pytest-xdist workers (three in `make test`) take whole files, slow ones first; the browser
  tests are split into lab units (:data:`LAB_UNITS`), so that each worker drives a JupyterLab of
  its own.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Fixture notebooks are inputs of tests, not tests themselves (nbval would collect them).
collect_ignore_glob = ["fixtures/*", "browser/fixtures/*", "*/fixtures/*"]

BROWSER_FILE = "tests/browser/test_lessons.py"
# The browser tests, in units that one worker runs in one JupyterLab (and one course store), longest
# first. Lessons 01 and 02 build data v1 and the models that 03 and 04 read, so those four share a lab;
# 05 and 07 build what they read with ws.require (about 45 s) in a lab of their own, so that no worker
# runs most of the course alone. The other lessons and the harness's own tests form the last unit.
LAB_UNITS = (
    ("01_data", "02_training", "03_evaluation", "04_deployment"),
    ("05_monitoring", "07_capstone_spam"),
)

# Unit tests that take seconds each (servers, subprocesses, training, DVC, a real Prometheus, the course
# store's first build), measured with `pytest --durations=0` on 2 cores (benchmarks/RESULTS.md, "Tests"):
# `make test-fast` leaves them out. A file maps to None where a module fixture or the store's first build
# makes every test of it slow, else to the names of its slow tests.
SLOW_FIXTURES = {"registry", "servers"}  # lesson 04's tests: models trained, real servers started (per worker)
SLOW: dict[str, set[str] | None] = {
    "tests/course/test_store.py": {"test_two_lessons_asking_at_once_build_data_v1_once",  # builds data v1 twice at once
                                   "test_mlkit_store_lists_each_provider_every_registered_model_and_data_repository"},
    "tests/data/test_releases.py": None,            # builds data v1 with DVC
    "tests/training/test_registry.py": None,        # builds data v1 and the models
    "tests/deployment/test_router.py": None,        # servers for lesson 02's models, under load
    "tests/deployment/test_loadgen.py": None,
    "tests/exercises/test_lesson03.py": None,       # reads lesson 02's models from the store
    "tests/retraining/test_pipeline.py": None,      # a retraining run per module
    "tests/retraining/test_steps.py": None,
    "tests/retraining/test_canary.py": None,        # model servers behind the router, per test
    "tests/retraining/test_orchestration.py": {"test_the_course_text_dag_has_no_schedule_and_no_retries",  # Airflow
                                               "test_a_weekly_run_retries_a_transient_failure_and_tags_the_lineage"},
    "tests/retraining/test_cicd.py": {"test_the_ci_workflow_is_valid_and_a_typo_is_not",
                                      "test_a_degrading_push_is_rejected_and_an_improving_one_ships"},  # git hooks
    "tests/training/test_distributed.py": None,     # torchrun
    "tests/data/test_pipeline.py": None,            # dvc repro
    "tests/course/test_runner.py": {"test_failing_notebook_shows_cell_and_error", "test_cli_exit_codes_and_messages",
                                    "test_the_cli_measures_a_parallel_run_by_the_clock",
                                    "test_cli_unknown_device_is_a_clear_error",
                                    "test_the_kernel_runs_strict_and_fast_and_quiet"},
    "tests/data/test_versioning.py": {"test_init_repo_makes_git_dvc_and_a_remote_and_resets",
                                      "test_add_push_pull_and_restore_a_release"},
    "tests/data/test_formats.py": {"test_dask_on_partitions_matches_pandas"},
    "tests/deployment/test_server_fuzz.py": {"test_fuzz_from_openapi", "test_schemathesis_fuzz"},
    "tests/evaluation/test_stats.py": {"test_paired_difference_is_narrower_than_unpaired"},
    "tests/exercises/test_fixtures.py": {
        "test_temp_mlflow_restores_what_the_learner_set_in_code_even_after_an_error"},
    "tests/exercises/test_lesson01.py": {"test_q3_reference_passes_and_mistakes_are_named",
                                         "test_q4_reference_passes_and_mistakes_are_named",
                                         "test_exercise_repo_starts_with_untracked_data"},
    "tests/exercises/test_lesson02.py": {"test_q1_mistakes", "test_q2_mistakes", "test_q4_mistakes"},
    "tests/exercises/test_lesson06.py": {"test_q2", "test_q3"},
    "tests/exercises/test_lesson07.py": {"test_q3"},
    "tests/monitoring/test_alerts.py": {"test_error_fault_fires_in_a_real_prometheus"},
    "tests/monitoring/test_prom.py": {"test_real_prometheus_scrapes_and_agrees_with_python"},
    "tests/monitoring/test_colocation.py": {"test_trainer_waits_paused_then_trains_and_drops_to_one_thread"},  # torch
    "tests/training/test_cluster.py": {"test_slurm_script_runs_on_one_node_with_srun_as_a_pass_through"},
    "tests/training/test_loop.py": {"test_plain_loop_and_trainer_end_with_bit_identical_weights"},
    "tests/training/test_peak_memory.py": None,     # a training step measured in a fresh process
    "tests/training/test_bike.py": {"test_log_and_load_through_mlflow"},
    "tests/training/test_tracking.py": {"test_ui_starts_answers_and_stops",
                                        "test_spam_model_logged_registered_and_loaded_without_pickle"},
}


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty MLKIT_HOME for one test."""
    monkeypatch.setenv("MLKIT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _chromium_available() -> bool:
    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    try:
        import labdriver
    finally:
        sys.path.pop(0)
    return labdriver.find_chromium()[0] is not None


def _lab_unit(nodeid: str) -> int:
    """Which lab unit a browser test belongs to (the last one: everything not listed)."""
    return next((i for i, lessons in enumerate(LAB_UNITS) if any(f"[{name}.ipynb]" in nodeid for name in lessons)),
                len(LAB_UNITS))


def work_unit(nodeid: str) -> str:
    """What one xdist worker runs in one go: a browser lab unit, else a whole file."""
    path = nodeid.split("::", 1)[0]
    return f"{path}::lab-{_lab_unit(nodeid)}" if path == BROWSER_FILE else path


def _is_nbval(item: pytest.Item) -> bool:
    return type(item).__module__.startswith("nbval")


def _order(items: list[pytest.Item]) -> dict[str, tuple[int, int]]:
    """Per file (per lab unit): the browser units in LAB_UNITS' order, then files that execute
    notebooks, then files with slow tests, then the rest. All tests of a file share its key, so a
    stable sort keeps each file's own order."""
    key: dict[str, tuple[int, int]] = {}
    for item in items:
        unit = work_unit(item.nodeid)
        if item.get_closest_marker("browser"):
            rank = (0, _lab_unit(item.nodeid))
        elif item.get_closest_marker("notebooks") or _is_nbval(item):
            rank = (1, 0)
        else:
            rank = (2, 0) if item.get_closest_marker("slow") else (3, 0)
        key[unit] = min(key.get(unit, rank), rank)
    return key


def _is_slow(item: pytest.Item) -> bool:
    path = item.nodeid.split("::", 1)[0]
    if _is_nbval(item) or any(item.get_closest_marker(m) for m in ("browser", "notebooks")):
        return True
    if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    return path in SLOW and (SLOW[path] is None or getattr(item, "originalname", item.name) in SLOW[path])


def _check_slow_list(items) -> None:
    """A renamed or removed test must not silently leave the slow list (test-fast would slow down)."""
    names = {}
    for item in items:
        names.setdefault(item.nodeid.split("::", 1)[0], set()).add(getattr(item, "originalname", item.name))
    for path, tests in SLOW.items():
        if path in names and tests and tests - names[path]:
            raise pytest.UsageError(f"tests/conftest.py marks {sorted(tests - names[path])} in {path} as slow, "
                                    "but the file has no such test: update SLOW")


def pytest_collection_modifyitems(config, items):
    """Each lesson runs once per pass. Where the browser tests run a lesson in JupyterLab
    (Chromium present and ``test_lesson_in_jupyterlab[lesson]`` selected), that test also
    checks its key results, and the batch runner's copy of the lesson is deselected
    (tests/course/test_notebooks.py). Without Chromium the runner runs every lesson.

    The slow work goes first: `make test` hands work units (:func:`work_unit`) to its workers in
    this order (``--dist loadfile --no-loadscope-reorder``), so the workers end with short files
    and finish together, instead of one waiting while the other runs a long file picked up last."""
    _check_slow_list(items)
    for item in items:
        if _is_slow(item):
            item.add_marker(pytest.mark.slow)
    order = _order(items)
    items.sort(key=lambda item: order[work_unit(item.nodeid)])  # stable: each file keeps its order

    def by_param(test, key):
        return {item.callspec.params[key]: item for item in items if getattr(item, "originalname", "") == test}

    in_browser = by_param("test_lesson_in_jupyterlab", "lesson")
    in_runner = by_param("test_lesson_runs_and_reports", "name")
    drop = [item for lesson, item in in_runner.items() if lesson in in_browser]
    if drop and _chromium_available():
        config.hook.pytest_deselected(items=drop)
        items[:] = [item for item in items if item not in drop]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile`, with the browser file split into its lab units (:func:`work_unit`)."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LabUnitScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return LabUnitScheduling(config, log)
