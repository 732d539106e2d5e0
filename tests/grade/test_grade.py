"""mlkit grade: a fixture class (tests/fixtures/class) graded in sandboxes, every outcome as expected.

The class (scripts/make_grading_fixtures.py) holds solved, untouched, partly solved and wrong
notebooks, and ones that loop forever, ask for 300 GB, kill their kernel, delete files
outside their sandbox, or are not valid JSON; and the hostile set of issue 26: forged checks,
a forged answer channel, answers typed in for the examples, borrowed solutions, a fork bomb, a
thread bomb and a child that allocates without end. Each must fail alone, with a clear reason,
and get no marks for a question it did not answer.

The class is graded once, with room for a loaded CI machine, all but erin's endless loop (graded
alone with a short cell limit, so that the suite does not wait a minute on it) and the three
bombs (graded together, with a small process and memory cap)."""

from __future__ import annotations

import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from mlkit import grade
from mlkit.course.errors import MlkitError
from mlkit.grade import cgroups, collect, gradebook, judge  # noqa: F401 - grade.cgroups, grade.judge

pytestmark = pytest.mark.notebooks  # grading runs the class's notebooks
ROOT = Path(__file__).resolve().parents[2]
CLASS = ROOT / "tests" / "fixtures" / "class"
CANARY = Path("/tmp/mlkit-grade-canary")
LIMITS = grade.Limits(cell_s=60, notebook_s=400, memory_mb=4096)  # room for a loaded CI machine
LOOPER = "erin"  # her notebook loops forever: graded alone, see test_an_endless_loop_times_out_and_the_rest_is_graded
BOMBS = ("mike", "nina", "oscar")  # fork bomb, thread bomb, memory bomb in a child: see test_bombs_*
BOMB_LIMITS = grade.Limits(cell_s=60, notebook_s=300, memory_mb=2048, processes=64)
SEED = 2026  # the instructor's seed of the hidden cases
L00 = "00_lifecycle_overview"


def test_fixture_class_is_up_to_date():
    proc = subprocess.run([sys.executable, "scripts/make_grading_fixtures.py", "--check"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_collect_names_learners_and_lessons(tmp_path):
    subs = collect.collect([CLASS], tmp_path)
    found = {(s.learner, s.lesson) for s in subs}
    assert ("alice", "01_data") in found and ("dave", "00_lifecycle_overview") in found
    assert len(subs) == 17 and len({s.learner for s in subs}) == 16
    loose = tmp_path / "zoe-01_data.ipynb"
    loose.write_text("{}")
    assert collect.collect([loose], tmp_path)[0].learner == "zoe"
    assert collect.collect([loose], tmp_path)[0].lesson == "01_data"  # from the file name


def test_a_zip_of_the_class_is_unpacked_and_one_escaping_the_folder_is_refused(tmp_path):
    good = tmp_path / "class.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.write(CLASS / "bob" / "00_lifecycle_overview.ipynb", "bob/00_lifecycle_overview.ipynb")
    subs = collect.collect([good], tmp_path / "scratch")
    assert [(s.learner, s.lesson) for s in subs] == [("bob", "00_lifecycle_overview")]
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../escaped.ipynb", "{}")
    with pytest.raises(MlkitError, match="outside the grading folder"):
        collect.collect([evil], tmp_path / "scratch2")
    assert not (tmp_path / "escaped.ipynb").exists()
    with pytest.raises(MlkitError, match="no such file"):
        collect.collect([tmp_path / "missing"], tmp_path)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    CANARY.mkdir(exist_ok=True)
    (CANARY / "canary.txt").write_text("keep me")
    (CANARY / "pwned.txt").unlink(missing_ok=True)
    before = {p: p.stat().st_mtime_ns for p in CLASS.rglob("*")}
    out = tmp_path_factory.mktemp("grades")
    learners = sorted(p for p in CLASS.iterdir() if p.is_dir() and p.name not in (LOOPER, *BOMBS))
    book = grade.grade_class(learners, jobs=2, out_dir=out, limits=LIMITS, progress=False, seed=SEED)
    after = {p: p.stat().st_mtime_ns for p in CLASS.rglob("*")}
    return book, out, before == after


def _result(book, learner, lesson="00_lifecycle_overview"):
    return next(r for r in book.results if r["learner"] == learner and r["lesson"] == lesson)


def _statuses(result):
    return {q["question"]: q["status"] for q in result.get("questions", [])}


def test_solved_notebooks_get_full_marks_and_untouched_ones_zero(graded):
    book, _, _ = graded
    for lesson in ("00_lifecycle_overview", "01_data"):
        solved = _statuses(_result(book, "alice", lesson))
        assert solved and set(solved.values()) == {"passed"}, (lesson, solved)
    solved, untouched = _statuses(_result(book, "alice")), _statuses(_result(book, "bob"))
    assert untouched.keys() == solved.keys() and set(untouched.values()) == {"not started"}, untouched


def test_partly_correct_and_a_known_mistake(graded):
    book, _, _ = graded
    carol = _statuses(_result(book, "carol"))
    assert carol["q1"] == "passed" and list(carol.values()).count("not started") == len(carol) - 1
    dave = _result(book, "dave")
    q1 = next(q for q in dave["questions"] if q["question"] == "q1")
    assert q1["status"] == "failed" and "a percentage" in q1["message"]
    assert {s for q, s in _statuses(dave).items() if q != "q1"} == {"passed"}


def test_hostile_notebooks_fail_alone_with_a_clear_reason(graded):
    book, _, _ = graded
    frank, grace = _result(book, "frank"), _result(book, "grace")
    assert frank["status"] == "memory limit" and "4096 MB" in frank["reason"]
    assert set(_statuses(frank).values()) == {"passed"}
    assert grace["status"] == "kernel died" and not grace.get("questions")
    ivan = _result(book, "ivan")
    assert ivan["status"] == "invalid notebook" and "JSON" in ivan["reason"]


def test_an_endless_loop_times_out_and_the_rest_is_graded(tmp_path):
    limits = grade.Limits(cell_s=20, notebook_s=200, memory_mb=4096)  # lesson 00's cells take a few seconds
    [erin] = grade.grade_class([CLASS / LOOPER], out_dir=tmp_path, limits=limits, progress=False).results
    assert erin["status"] == "timeout" and "20 s" in erin["reason"], erin
    assert set(_statuses(erin).values()) == {"passed"}  # the loop was interrupted; the rest still ran


def test_nothing_outside_the_sandbox_changes(graded):
    book, _, class_unchanged = graded
    heidi = _result(book, "heidi")
    assert (CANARY / "canary.txt").read_text() == "keep me"
    assert not (CANARY / "pwned.txt").exists()
    assert class_unchanged, "grading modified the handed-in files"
    assert heidi["status"] == "ran"  # its deletes were refused (it catches the errors itself)
    assert set(_statuses(heidi).values()) == {"passed"}


def test_gradebook_files(graded):
    book, out, _ = graded
    table = book.frame
    assert set(gradebook.COLUMNS) <= set(table.columns) and (out / "gradebook.csv").exists()
    q1 = book.summary.set_index(["lesson", "question"]).loc[("00_lifecycle_overview", "q1")]
    assert 0 < q1.pass_rate < 1 and "a percentage" in q1.most_common_mistake
    assert "<img" in (out / "summary.html").read_text()
    feedback = (out / "feedback").glob("dave_00_lifecycle_overview*.md")
    assert "a percentage" in next(feedback).read_text()


def test_forged_checks_and_a_forged_answer_channel_get_no_marks(graded):
    book, _, _ = graded
    judy, kate = _statuses(_result(book, "judy")), _statuses(_result(book, "kate"))
    assert judy and set(judy.values()) == {"not started"}, judy  # Question.evaluate & co. rewritten: no effect
    assert kate and set(kate.values()) == {"failed"}, kate  # marker line, answer files, extraction replaced
    messages = " ".join(q["message"] for q in _result(book, "kate")["questions"])
    assert "cannot be judged" in messages or "nonce" in messages, messages


def test_answers_typed_in_for_the_examples_fail_the_hidden_cases(graded):
    book, out, _ = graded
    leo = _result(book, "leo")
    statuses = _statuses(leo)
    assert statuses["q1"] == statuses["q4"] == "failed" and statuses["q2"] == "not started", statuses
    q4 = next(q for q in leo["questions"] if q["question"] == "q4")
    assert "hidden case" in q4["message"] and "[False, False, False, True, True, False]" in q4["message"]
    assert q4["note"], "the judge's own message is kept for the instructor"
    feedback = next((out / "feedback").glob("leo_*.md")).read_text()
    assert "hidden case" in feedback and q4["note"] not in feedback, "the learner never sees the judge's note"
    hidden = grade.judge.make_request(L00, SEED)["questions"][3]["cases"][1]
    assert str(hidden["baseline"]) not in feedback and hidden["days"][0][0] not in feedback, "nor the hidden inputs"
    assert str(SEED) == (out / "seed.txt").read_text().strip()


def test_borrowed_solutions_are_not_there_to_borrow(graded):
    book, _, _ = graded
    pat = _result(book, "pat")
    assert set(_statuses(pat).values()) == {"not started"}, pat["questions"]  # solutions/, git, solution(): gone


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    if "pids" not in grade.cgroups.available():
        pytest.skip("no control groups here (not root, or no cgroup v1): the bombs are bounded per process only")
    CANARY.mkdir(exist_ok=True)
    (CANARY / "canary.txt").write_text("keep me")
    start = time.perf_counter()
    book = grade.grade_class([CLASS / who for who in BOMBS], jobs=2, out_dir=tmp_path_factory.mktemp("bombs"),
                             limits=BOMB_LIMITS, progress=False, seed=SEED)
    return {r["learner"]: r for r in book.results}, time.perf_counter() - start


@pytest.mark.parametrize("who", ["mike", "nina"])
def test_a_fork_or_thread_bomb_is_stopped_at_the_process_cap(bombs, who):
    results, _ = bombs
    bomb = results[who]
    assert bomb["status"] == "too many processes" and "64 processes and threads" in bomb["reason"], bomb
    assert bomb["peak_processes"] <= BOMB_LIMITS.processes, "the cap held: never more processes than allowed"
    assert not any(q["status"] == "passed" for q in bomb["questions"])
    assert bomb["wall_s"] < 120, "stopped within seconds of the bomb, not at the notebook's time limit"


def test_a_child_that_allocates_without_end_is_killed_and_the_rest_is_graded(bombs):
    results, seconds = bombs
    oscar = results["oscar"]
    assert oscar["status"] == "memory limit" and "together" in oscar["reason"], oscar
    assert oscar["oom_kills"] >= 1 and oscar["peak_memory_mb"] <= BOMB_LIMITS.memory_mb + 1
    assert set(_statuses(oscar).values()) == {"passed"}, "the kernel survived: its answers were graded"
    assert seconds < 240
    assert (CANARY / "canary.txt").read_text() == "keep me"


def test_dask_gives_the_same_gradebook_as_jobs(graded):
    distributed = pytest.importorskip("distributed")
    who = ("dave", "ivan")  # a passed and a failed question, and a notebook that is not JSON
    subset = [CLASS / learner / "00_lifecycle_overview.ipynb" for learner in who]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        by_dask = grade.grade_class(subset, out_dir=None, dask=cluster.scheduler_address, limits=LIMITS,
                                    progress=False, seed=SEED)
    # messages may hold measured numbers (q2 times a model), so compare what each outcome is
    cols = ["learner", "lesson", "question", "status", "notebook_status"]
    by_jobs = graded[0].frame  # the same notebooks, graded with -j 2 by the fixture
    by_jobs = by_jobs[by_jobs.learner.isin(who) & (by_jobs.lesson == "00_lifecycle_overview")]
    sort = ["learner", "question"]
    assert by_jobs[cols].sort_values(sort).reset_index(drop=True).equals(
        by_dask.frame[cols].sort_values(sort).reset_index(drop=True))


def test_cli_grades_a_broken_notebook_and_writes_the_gradebook(tmp_path, capsys):
    from mlkit.cli import main

    assert main(["grade", str(CLASS / "ivan"), "-o", str(tmp_path / "grades")]) == 0
    out = capsys.readouterr().out
    assert "No question could be graded" in out and "0 ran to the end" in out
    assert "invalid notebook" in (tmp_path / "grades" / "gradebook.csv").read_text()
