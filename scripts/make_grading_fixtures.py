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
