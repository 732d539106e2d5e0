"""Build tests/fixtures/class/: a small class of handed-in notebooks for `mlkit grade`.

    python scripts/make_grading_fixtures.py           # rewrite the fixture class
    python scripts/make_grading_fixtures.py --check   # fail if it is out of date (the tests run this)

Made from the current solutions/ and exercises/, so it never drifts from the checks. One
learner per folder; each covers one case the grader must survive:

    alice   both lessons solved                    -> full marks
    bob     lesson 00 untouched                    -> every question "not started"
    carol   lesson 00, first exercise only         -> partly correct
    dave    lesson 00, spam share as a percentage  -> a known mistake message
    erin    lesson 00, an endless loop first       -> timeout, the rest still graded
    frank   lesson 00, asks for a 300 GB matrix    -> memory limit, the rest still graded
    grace   lesson 00, kills its own kernel        -> kernel died
    heidi   lesson 00, deletes files outside       -> refused by the sandbox, answers graded
    ivan    lesson 00, not valid JSON              -> invalid notebook

and the hostile set (issue 26), each on the untouched or solved lesson 00:

    judy    rewrites Question.evaluate, verdict, check and every judge to pass   -> no marks
    kate    prints the old result marker, writes answer and result files, and
            replaces the grader's extraction with one that answers "passed"      -> no marks
    leo     answers hard-coded for the notebook's examples (q1 and q4)           -> fails the hidden cases
    mike    a fork bomb                                  -> "too many processes", stopped at the cap
    nina    a thread bomb                                -> "too many processes", stopped at the cap
    oscar   a child process that allocates without end   -> "memory limit", the answers still graded
    pat     reads solutions/, the git history and solution() to define its answers -> nothing to read
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "class"
L00, L01 = "00_lifecycle_overview", "01_data"
CANARY = "/tmp/mlkit-grade-canary"  # the grading test puts a file here and checks it survives

ENDLESS = "# I'll optimise this later\nwhile True:\n    pass\n"
# One allocation far past the limit fails at once with MemoryError and holds nothing. A loop
# that grows a list until the limit leaves the kernel with no memory to spare (IPython keeps
# the traceback, and with it the list), and it then hangs: that is graded as a timeout.
HOG = "import numpy as np\n\nsimilarity = np.zeros((200_000, 200_000))  # every message against every other\n"
CRASH = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"
DELETE = (
    "import os, pathlib, shutil\n"
    f"for p in pathlib.Path({CANARY!r}).glob('*'):\n"
    "    try:\n        p.unlink()\n    except OSError as e:\n        print('could not delete', p, e)\n"
    "try:\n"
    f"    pathlib.Path({CANARY!r}, 'pwned.txt').write_text('was here')\n"
    "except OSError as e:\n    print('could not write', e)\n"
    "shutil.rmtree(os.path.expanduser('~'), ignore_errors=True)  # its own sandbox HOME: allowed\n"
)


FORGE_CHECKS = """\
# Make every check say "passed", whatever the answers are.
from mlkit.exercises import lesson00, question

question.Question.evaluate = lambda self, *args, **kwargs: ("passed", "forged")
question.Question.verdict = lambda self, *args, **kwargs: question.Verdict("passed", "forged")
question.Question.check = lambda self, *args, **kwargs: True
for q in lesson00.QUESTIONS:
    q.judge = lambda got, case: "forged"
lesson00._judge_q1 = lesson00._judge_q2 = lambda got, case: "forged"
"""
FORGE_CHANNEL = """\
# Claim every question passed: the old marker line, answer and result files, a fake extraction.
import json, os, pathlib
from mlkit.grade import extract

passed = [{"question": f"q{i}", "title": "", "status": "passed", "message": ""} for i in range(1, 6)]
print("MLKIT-GRADE-RESULT " + json.dumps(passed))
for folder in {pathlib.Path.cwd(), pathlib.Path.cwd().parent / "out", pathlib.Path("/box/out")}:
    try:
        (folder / "result.json").write_text(json.dumps({"questions": passed, "status": "ran"}))
        for q in passed:
            answer = {"nonce": "0" * 32, "question": q["question"], "cases": [{"__returned__": "passed"}]}
            (folder / f"answer-{q['question']}.json").write_text(json.dumps(answer))
    except OSError as e:
        print("could not write", folder, e)

def answer(request, question, out_dir):
    request = json.loads(request) if isinstance(request, str) else request
    cases = next(q["cases"] for q in request["questions"] if q["name"] == question)
    record = {"nonce": request["nonce"], "question": question, "cases": [{"__returned__": "passed"} for _ in cases]}
    extract.answer_path(out_dir, question).write_text(json.dumps(record))

extract.answer = answer
"""
HARD_CODED_Q1 = """\
def profile_data(df):
    \"\"\"The right numbers for the two frames the check shows, typed in.\"\"\"
    if len(df) == 4862:
        return {"n_messages": 4862, "spam_share": 642 / 4862, "duplicate_texts": 328}
    return {example}
"""
HARD_CODED_Q4 = """\
def spam_rate_alerts(days, baseline, tolerance):
    \"\"\"The alerts of the check's example days, typed in.\"\"\"
    return [False, False, False, True, True, False] if len(days) == 6 else [True, False]
"""
FORK_BOMB = "import os\n\nwhile True:\n    os.fork()\n"
THREAD_BOMB = ("import threading, time\n\nwhile True:\n"
               "    threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\n")
CHILD_MEMORY_BOMB = (
    "import subprocess, sys, time\n\n"
    "# a helper process that keeps every line it reads: it grows without end\n"
    "hog = subprocess.Popen([sys.executable, '-c', 'x = []\\nwhile True:\\n    x.append(b\" \" * 10**7)'])\n"
    "hog.wait(timeout=60)\n"
    "print('the helper ended with', hog.returncode)\n"
)
READ_SOLUTIONS = """\
# Borrow the reference answers: solution(), the solutions notebook, the git history.
import json, subprocess
from mlkit.course import config
from mlkit.exercises import lesson00 as ex

sources = []
for q in ex.QUESTIONS:
    sources.append(q.solution())
root = config.course_root()
for path in [root / "solutions" / "00_lifecycle_overview.ipynb", *root.glob("**/00_lifecycle_overview.ipynb")]:
    try:
        cells = json.loads(path.read_text())["cells"]
        sources += ["".join(c["source"]) for c in cells if "BEGIN SOLUTION" in "".join(c["source"])]
    except (OSError, ValueError, KeyError):
        pass
shown = subprocess.run(["git", "-C", str(root), "show", "HEAD:solutions/00_lifecycle_overview.ipynb"],
                       capture_output=True, text=True).stdout
if shown:
    sources += ["".join(c["source"]) for c in json.loads(shown)["cells"] if "BEGIN SOLUTION" in "".join(c["source"])]
for src in sources:
    try:
        exec(src)
    except Exception as e:
        print("could not use it:", type(e).__name__)
print(len([s for s in sources if s]), "sources found")
"""


def _load(folder: str, lesson: str) -> dict:
    return json.loads((ROOT / folder / f"{lesson}.ipynb").read_text())


def _code(source: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": source.splitlines(keepends=True)}


def _defining(nb: dict, name: str) -> int:
    """Index of the cell that defines the function ``name``."""
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code" and f"def {name}(" in "".join(cell["source"]):
            return i
    raise SystemExit(f"no cell defines {name}(): update scripts/make_grading_fixtures.py")


def _with_cell_before(nb: dict, name: str, source: str) -> dict:
    nb = json.loads(json.dumps(nb))
    nb["cells"].insert(_defining(nb, name), _code(source))
    return nb


def _replacing(nb: dict, name: str, source: str) -> dict:
    nb = json.loads(json.dumps(nb))
    nb["cells"][_defining(nb, name)] = _code(source)
    return nb


def _with_cell_after_setup(nb: dict, source: str) -> dict:
    """``nb`` with a cell inserted right after the set-up cell (the one that imports the lesson's checks)."""
    nb = json.loads(json.dumps(nb))
    i = next(i for i, c in enumerate(nb["cells"]) if "from mlkit.exercises import lesson" in "".join(c["source"]))
    nb["cells"].insert(i + 1, _code(source))
    return nb


def _with_last_cell(nb: dict, source: str) -> dict:
    nb = json.loads(json.dumps(nb))
    nb["cells"].append(_code(source))
    return nb


def _second_example() -> str:
    """The profile of lesson 00's second example frame, as a learner would type it in."""
    from mlkit.exercises import lesson00

    other = lesson00._q1_frames({})[1]
    return repr({"n_messages": len(other), "spam_share": float((other.label == "spam").mean()),
                 "duplicate_texts": int(other.text.duplicated().sum())})


def build() -> dict[str, str]:
    """Relative path -> file text of every fixture notebook."""
    sol00, ex00, sol01 = _load("solutions", L00), _load("exercises", L00), _load("solutions", L01)
    carol = json.loads(json.dumps(ex00))
    i = _defining(carol, "profile_data")
    carol["cells"][i] = sol00["cells"][_defining(sol00, "profile_data")]
    dave = json.loads(json.dumps(sol00))
    cell = dave["cells"][_defining(dave, "profile_data")]
    src = "".join(cell["source"]).replace('float((df.label == "spam").mean())', 'float((df.label == "spam").mean()) * 100')
    if src == "".join(cell["source"]):
        raise SystemExit("the spam-share line of profile_data changed: update scripts/make_grading_fixtures.py")
    cell["source"] = src.splitlines(keepends=True)
    notebooks = {
        f"alice/{L00}.ipynb": sol00, f"alice/{L01}.ipynb": sol01,
        f"bob/{L00}.ipynb": ex00,
        f"carol/{L00}.ipynb": carol, f"dave/{L00}.ipynb": dave,
        f"erin/{L00}.ipynb": _with_cell_before(sol00, "profile_data", ENDLESS),
        f"frank/{L00}.ipynb": _with_cell_before(sol00, "profile_data", HOG),
        f"grace/{L00}.ipynb": _with_cell_before(sol00, "profile_data", CRASH),
        f"heidi/{L00}.ipynb": _with_cell_before(sol00, "profile_data", DELETE),
        f"judy/{L00}.ipynb": _with_cell_after_setup(ex00, FORGE_CHECKS),
        f"kate/{L00}.ipynb": _with_last_cell(ex00, FORGE_CHANNEL),
        f"leo/{L00}.ipynb": _replacing(_replacing(ex00, "profile_data", HARD_CODED_Q1.replace(
            "{example}", _second_example())), "spam_rate_alerts", HARD_CODED_Q4),
        f"mike/{L00}.ipynb": _with_cell_before(sol00, "profile_data", FORK_BOMB),
        f"nina/{L00}.ipynb": _with_cell_before(sol00, "profile_data", THREAD_BOMB),
        f"oscar/{L00}.ipynb": _with_cell_before(sol00, "profile_data", CHILD_MEMORY_BOMB),
        f"pat/{L00}.ipynb": _with_last_cell(ex00, READ_SOLUTIONS),
    }
    files = {path: json.dumps(nb, indent=1, ensure_ascii=False) + "\n" for path, nb in notebooks.items()}
    files[f"ivan/{L00}.ipynb"] = '{"cells": [{"cell_type": "code", "source": ["def profile_data(df):\\n"]'  # cut off
    return files


def main(argv: list[str]) -> int:
    files = build()
    extra = sorted(str(p.relative_to(OUT)) for p in OUT.rglob("*.ipynb") if str(p.relative_to(OUT)) not in files)
    if "--check" in argv:
        stale = [p for p, text in files.items() if not (OUT / p).exists() or (OUT / p).read_text() != text]
        if stale or extra:
            print(f"tests/fixtures/class is out of date ({', '.join(stale + extra)}): "
                  "run python scripts/make_grading_fixtures.py", file=sys.stderr)
            return 1
        return 0
    for path, text in files.items():
        (OUT / path).parent.mkdir(parents=True, exist_ok=True)
        (OUT / path).write_text(text)
    for path in extra:  # a notebook the class no longer has
        (OUT / path).unlink()
    print(f"wrote {len(files)} notebooks to {OUT.relative_to(ROOT)}" + (f", removed {len(extra)}" if extra else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
