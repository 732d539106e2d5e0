"""Lesson 06: CI/CD for ML. The retraining pipeline as a ``dvc.yaml`` and a GitHub Actions
workflow that runs it and the promotion gate, generated into a workspace and checked for structure.

The stages name ``python -m mlkit.retraining.steps <step>`` commands (:mod:`mlkit.retraining.steps`,
the command-line entry a project ships for its CI). The lesson generates the files, checks their
structure (:func:`check`) and runs the same steps in-process through
:class:`mlkit.retraining.pipeline.RetrainingPipeline`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mlkit.training.bike import BIKE_MODEL

STAGES = {
    "validate": {"cmd": "python -m mlkit.retraining.steps validate data/bike.parquet",
                 "deps": ["data/bike.parquet"], "outs": ["reports/validation.json"]},
    "train": {"cmd": "python -m mlkit.retraining.steps train data/bike.parquet --alpha ${alpha}",
              "deps": ["data/bike.parquet", "reports/validation.json"], "params": ["alpha"],
              "outs": ["models/challenger.json"], "metrics": [{"reports/train.json": {"cache": False}}]},
    "gate": {"cmd": "python -m mlkit.retraining.steps gate models/challenger.json --margin ${margin}",
             "deps": ["models/challenger.json", "models/champion.json", "data/recent.parquet"], "params": ["margin"],
             "metrics": [{"reports/gate.json": {"cache": False}}]},
}
JOBS = ("retrain", "gate")


def dvc_pipeline() -> dict[str, Any]:
    """The ``dvc.yaml`` content: validate -> train -> gate."""
    return {"stages": {name: dict(stage) for name, stage in STAGES.items()}}


def workflow(python: str = "3.11") -> dict[str, Any]:
    """A GitHub Actions workflow: weekly and on demand, reproduce the pipeline, then gate and promote."""
    def setup() -> list[dict[str, Any]]:  # fresh dicts per job: no YAML anchors in the file
        return [{"uses": "actions/checkout@v4"},
                {"uses": "actions/setup-python@v5", "with": {"python-version": python}},
                {"run": "pip install -r requirements.lock && pip install -e ."}]

    return {
        "name": f"retrain {BIKE_MODEL}",
        "on": {"schedule": [{"cron": "0 3 * * 1"}], "workflow_dispatch": {}},
        "jobs": {
            "retrain": {"runs-on": "ubuntu-latest",
                        "steps": [*setup(), {"run": "dvc pull"}, {"run": "dvc repro train"},
                                  {"run": "dvc push"}]},
            "gate": {"runs-on": "ubuntu-latest", "needs": "retrain",
                     "steps": [*setup(), {"run": "dvc pull"}, {"run": "dvc repro gate"},
                               {"name": "promote only if the gate passed",
                                "run": "python -m mlkit.retraining.steps promote reports/gate.json"}]},
        },
    }


def write(root: str | Path) -> dict[str, Path]:
    """Write ``dvc.yaml``, ``params.yaml`` and ``.github/workflows/retrain.yml`` under ``root`` (lesson 06)."""
    import yaml

    root = Path(root)
    paths = {"dvc": root / "dvc.yaml", "params": root / "params.yaml",
             "workflow": root / ".github" / "workflows" / "retrain.yml"}
    paths["workflow"].parent.mkdir(parents=True, exist_ok=True)
    paths["dvc"].write_text(yaml.safe_dump(dvc_pipeline(), sort_keys=False))
    paths["params"].write_text(yaml.safe_dump({"alpha": 1.0, "margin": 0.02}))
    paths["workflow"].write_text(yaml.safe_dump(workflow(), sort_keys=False))
    return paths


def check(root: str | Path) -> list[str]:
    """The structural problems of the generated files under ``root`` (empty list: all fine)."""
    import yaml

    root, problems = Path(root), []
    try:
        dvc = yaml.safe_load((root / "dvc.yaml").read_text())
        params = yaml.safe_load((root / "params.yaml").read_text()) or {}
        flow = yaml.safe_load((root / ".github" / "workflows" / "retrain.yml").read_text())
    except (OSError, yaml.YAMLError) as exc:
        return [f"cannot read the files: {exc}"]
    stages = (dvc or {}).get("stages") or {}
    outs = {o for s in stages.values() for o in s.get("outs", [])}
    for name, stage in stages.items():
        if not stage.get("cmd"):
            problems.append(f"stage {name} has no cmd")
        for p in stage.get("params", []):
            if p not in params:
                problems.append(f"stage {name} uses param {p!r}, missing from params.yaml")
    if list(stages)[-1:] != ["gate"]:
        problems.append("the last stage must be the gate")
    if "models/challenger.json" not in outs:
        problems.append("no stage produces the challenger")
    # PyYAML reads the key `on` as True (YAML 1.1)
    triggers = (flow or {}).get("on", (flow or {}).get(True))
    if not triggers:
        problems.append("the workflow has no trigger (on:)")
    jobs = (flow or {}).get("jobs") or {}
    for job in JOBS:
        if job not in jobs:
            problems.append(f"the workflow lacks the job {job!r}")
        elif not jobs[job].get("runs-on") or not jobs[job].get("steps"):
            problems.append(f"job {job!r} needs runs-on and steps")
    if "gate" in jobs and jobs["gate"].get("needs") != "retrain":
        problems.append("the gate job must need the retrain job")
    return problems


# ------------------------------------------------------------------ CI/CD that blocks (lesson 06, section 6)
WORKFLOW_FILE = ".github/workflows/ci.yml"
LOCAL_ONLY_SKIP = "${{ !env.LOCAL_CI }}"  # the `if:` of the steps only a hosted runner needs
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colour codes in a step's output
PRE_JOBS = ("test", "gate")  # decide whether a push is accepted (pre-receive)
POST_JOBS = ("promote",)  # run once it is (post-receive)

CI_WORKFLOW = f"""\
# CI/CD of the bike-demand model (lesson 06), written by mlkit.retraining.cicd.
#
# On GitHub: every push to main and every pull request runs these jobs on hosted runners
# (fresh ubuntu-latest machines): check out the commit, install the pinned environment, then
# the `run:` steps. `promote` runs only for a push to main, once `test` and `gate` passed.
#
# In the course: the bare remote store/bike-data.git runs the same `run:` steps in its git
# hooks, on this machine, in a scratch copy of the pushed commit. `test` and `gate` run in the
# pre-receive hook (a failing step rejects the push: the branch does not move), `promote`
# in the post-receive hook. Steps with `if: {LOCAL_ONLY_SKIP}` run only on a hosted runner
# (the hook already has the course's environment); `uses:` steps are the hosted checkout.
name: bike-demand CI/CD
on:
  push:
    branches: [main]
  pull_request:
  workflow_dispatch:
env:
  MARGIN: "0.02"  # the gate's margin, a share of the champion's MAE
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - name: install the pinned environment
        if: {LOCAL_ONLY_SKIP}
        run: pip install -r requirements.lock && pip install -e .
      - name: tests of the training code
        env:
          PYTEST_DISABLE_PLUGIN_AUTOLOAD: "1"  # they need no plugin; loading every installed one costs seconds
        run: python -m pytest -q -p no:cacheprovider tests
  gate:
    needs: test
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - name: install the pinned environment
        if: {LOCAL_ONLY_SKIP}
        run: pip install -r requirements.lock && pip install -e .
      - name: fetch the data release this commit names (DVC)
        run: dvc pull -q
      - name: train the challenger with this commit's code
        run: python train.py bike.parquet models/challenger.json
      - name: gate it against the registry's champion on the last labelled week
        run: python -m mlkit.retraining.steps gate models/challenger.json --champion registry --recent last-week --data bike.parquet --margin $MARGIN
  promote:
    needs: gate
    if: github.event_name == 'push'
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: register the gated challenger and move the champion alias
        run: python -m mlkit.retraining.steps promote reports/gate.json --data bike.parquet --challenger models/challenger.json --tag "$DATA_TAG" --commit "$GITHUB_SHA"
"""

TRAIN_PY = '''\
"""The bike model's training code. Every change to it is tested and gated before it ships (lesson 06).

python train.py DATA OUT: fit on the rows of DATA (Parquet), write the model to OUT (JSON).
"""

import json
import sys
from pathlib import Path

import pandas as pd

from mlkit.training.bike import BikeModel

ALPHA = 1.0  # the ridge penalty: larger shrinks every coefficient towards zero


def fit(frame: pd.DataFrame) -> BikeModel:
    """The model for the labelled rows ``frame``."""
    return BikeModel.fit(frame, alpha=ALPHA)


if __name__ == "__main__":
    data, out = sys.argv[1:3]
    model = fit(pd.read_parquet(data))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(model.to_dict()))
    print(f"challenger fitted on {data} with alpha={ALPHA}: {out}")
'''

TEST_TRAIN_PY = '''\
"""Tests of the training code (the CI workflow's job `test`)."""

import numpy as np
import pandas as pd

import train


def _rows(n=96):
    rng = np.random.default_rng(0)
    hours = np.arange(n) % 24
    return pd.DataFrame({"hr": hours, "workingday": (np.arange(n) // 24) % 2, "weathersit": "clear",
                         "temp": rng.uniform(0, 1, n), "hum": rng.uniform(0, 1, n),
                         "windspeed": rng.uniform(0, 1, n), "bikers": 50 + 10 * (hours >= 7)})


def test_fit_learns_the_hours():
    model = train.fit(_rows())
    predicted = model.predict(_rows())
    assert np.isfinite(predicted).all() and predicted.shape == (96,)
    assert predicted[8] > predicted[3]  # busier by day than at night, as the rows say


def test_alpha_is_a_positive_penalty():
    assert float(train.ALPHA) > 0
'''


def add_training_code(repo: str | Path, data_tag: str | None = None) -> bool:
    """Commit ``train.py``, its tests and the workflow to ``repo`` (as written above); False when unchanged.

    ``data_tag``: pin the data to that release's ``bike.parquet.dvc`` (the champion's data, so that
    CI compares code with code on the same rows; DVC fetches the file by its md5 when CI runs)."""
    from mlkit.data import versioning

    repo = Path(repo)
    if data_tag is not None:
        versioning.sh(["git", "checkout", data_tag, "--", "bike.parquet.dvc"], repo, echo=False)
    for rel, text in {"train.py": TRAIN_PY, "tests/test_train.py": TEST_TRAIN_PY, WORKFLOW_FILE: CI_WORKFLOW}.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    versioning.sh(["git", "add", "train.py", "tests", WORKFLOW_FILE, "bike.parquet.dvc"], repo, echo=False)
    if not versioning.sh(["git", "status", "--porcelain"], repo, echo=False).strip():
        return False
    versioning.sh(["git", "commit", "-q", "-m", "CI: the training code, its tests and the workflow"], repo, echo=False)
    return True


HOOK = """#!/bin/sh
# {stage} of the course's bare remote: run the workflow's jobs {jobs} (lesson 06)
MLKIT_HOME='{home}' exec '{python}' -m mlkit.retraining.cicd {stage}
"""


def attach_remote(repo: str | Path, bare: str | Path, home: str | Path) -> Path:
    """A fresh bare repository ``bare`` cloned from ``repo``, with the hooks that run the workflow,
    as ``repo``'s remote ``origin``; returns its path."""
    import shutil
    import stat
    import sys

    from mlkit.data import versioning

    repo, bare = Path(repo), Path(bare)
    shutil.rmtree(bare, ignore_errors=True)
    versioning.sh(["git", "clone", "-q", "--bare", str(repo), str(bare)], repo.parent, echo=False)
    for stage, jobs in (("pre-receive", PRE_JOBS), ("post-receive", POST_JOBS)):
        hook = bare / "hooks" / stage
        hook.write_text(HOOK.format(stage=stage, jobs=", ".join(jobs), home=Path(home).resolve(), python=sys.executable))
        hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    remotes = versioning.sh(["git", "remote"], repo, echo=False).split()
    action = "set-url" if "origin" in remotes else "add"
    versioning.sh(["git", "remote", action, "origin", str(bare)], repo, echo=False)
    return bare


def push(repo: str | Path, branch: str | None = None) -> tuple[bool, str]:
    """``git push origin <branch>``: (accepted, what the remote said, its ``remote:`` lines)."""
    import subprocess

    from mlkit.data import versioning

    repo = Path(repo)
    branch = branch or versioning.sh(["git", "symbolic-ref", "--short", "HEAD"], repo, echo=False).strip()
    done = subprocess.run(["git", "push", "origin", branch], cwd=repo, capture_output=True, text=True, timeout=600)
    said = "\n".join(line.removeprefix("remote: ").rstrip() for line in done.stderr.splitlines()
                     if line.startswith("remote: "))
    return done.returncode == 0, said


def branch_head(bare: str | Path, branch: str = "HEAD") -> str:
    """The commit a branch of the bare remote points at."""
    from mlkit.data import versioning

    return versioning.sh(["git", "rev-parse", branch], Path(bare), echo=False).strip()


def validate_workflow(*paths: str | Path) -> dict[str, list[str]]:
    """Validate workflow files against GitHub's workflow schema with check-jsonschema (offline, its
    vendored copy of the schema); ``{file: [errors]}``, an empty list for a valid file."""
    import subprocess
    import sys

    cli = Path(sys.executable).with_name("check-jsonschema")
    done = subprocess.run([str(cli), "--builtin-schema", "vendor.github-workflows", "-o", "JSON",
                           *map(str, paths)], capture_output=True, text=True, timeout=120)
    import json

    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"check-jsonschema gave no report (exit {done.returncode}): {done.stderr[-500:]}") from None
    found: dict[str, list[str]] = {str(p): [] for p in paths}
    for err in report.get("errors", []):
        best = err.get("best_deep_match") or err.get("best_match") or err  # the most specific reason
        found.setdefault(err.get("filename", "?"), []).append(f"{best.get('path', '$')}: {best.get('message', '')}")
    for err in report.get("parse_errors", []):
        found.setdefault(err.get("filename", "?"), []).append(f"cannot parse: {err.get('message', '')}")
    return found


# ------------------------------------------------------------------ the hooks (child processes of git)
def _jobs_in_order(flow: dict[str, Any], names: tuple[str, ...]) -> list[tuple[str, dict[str, Any]]]:
    jobs = flow.get("jobs") or {}
    missing = [n for n in names if n not in jobs]
    if missing:
        raise KeyError(f"the workflow has no job {missing}: the hook runs {list(names)}")
    return [(n, jobs[n]) for n in names]


def run_jobs(workdir: Path, names: tuple[str, ...], env: dict[str, str]) -> tuple[bool, list[str]]:
    """Run the ``run:`` steps of the workflow's jobs ``names`` in ``workdir`` (what a hosted runner
    would run, less the hosted-only steps); stop at the first failing step. (passed, lines to show)."""
    import subprocess

    import yaml

    flow = yaml.safe_load((workdir / WORKFLOW_FILE).read_text())
    shown = []
    for name, job in _jobs_in_order(flow, names):
        for step in job.get("steps", []):
            if "run" not in step or step.get("if") == LOCAL_ONLY_SKIP:
                continue
            label = step.get("name", step["run"].split("\n")[0])
            settings = {**(flow.get("env") or {}), **(job.get("env") or {}), **(step.get("env") or {})}
            done = subprocess.run(step["run"], shell=True, cwd=workdir, capture_output=True, text=True, timeout=600,
                                  env={**env, **{k: str(v) for k, v in settings.items()}})
            out = [ANSI.sub("", ln) for ln in (done.stdout + done.stderr).splitlines() if ln.strip()]
            if done.returncode != 0:
                shown += [f"CI {name} > {label}: FAILED (exit {done.returncode})", *[f"    {ln}" for ln in out[-8:]]]
                return False, shown
            shown.append(f"CI {name} > {label}: ok" + (f" ({out[-1].strip()[:150]})" if out else ""))
    return True, shown


def _data_tag(commit: str, pointer: str = "bike.parquet.dvc") -> str:
    """The release tag whose data pointer is the one ``commit`` holds ("untagged" if none)."""
    import subprocess

    def show(rev: str) -> str:
        return subprocess.run(["git", "show", f"{rev}:{pointer}"], capture_output=True, text=True).stdout

    mine = show(commit)
    tags = subprocess.run(["git", "tag", "--sort=-creatordate"], capture_output=True, text=True).stdout.split()
    return next((t for t in tags if mine and show(t) == mine), "untagged")


def _hook(stage: str) -> int:
    import os
    import shutil
    import subprocess
    import sys
    import tarfile

    bare = Path.cwd()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}  # the steps are not git's business
    env.update({"LOCAL_CI": "1", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
                "PYTHONDONTWRITEBYTECODE": "1"})
    status = 0
    for line in sys.stdin.read().splitlines():
        old, new, ref = line.split()
        if set(new) == {"0"}:
            continue  # a deleted branch: nothing to build
        work = bare / "ci-runs" / new[:12]
        if stage == "pre-receive":
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            tar = subprocess.run(["git", "archive", "--format=tar", new], capture_output=True, check=True).stdout
            import io

            with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
                archive.extractall(work, filter="data")
            (work / ".dvc" / "config.local").write_text("[core]\n    no_scm = true\n")  # a copy, not a git repo
            (work / ".data-tag").write_text(_data_tag(new))
        elif not work.exists():
            print(f"CI: no pre-receive run for {new[:12]}; nothing to promote")
            continue
        env.update({"DATA_TAG": (work / ".data-tag").read_text().strip(), "GITHUB_SHA": new})
        ok, shown = run_jobs(work, PRE_JOBS if stage == "pre-receive" else POST_JOBS, env)
        print("\n".join(shown))
        if not ok:
            print(f"CI: {ref.removeprefix('refs/heads/')} stays at {old[:12]}: the push is rejected")
            status = 1
        elif stage == "pre-receive":
            print(f"CI: {new[:12]} may ship")
    return status


if __name__ == "__main__":
    import sys

    if sys.argv[1:] not in (["pre-receive"], ["post-receive"]):
        raise SystemExit("usage: python -m mlkit.retraining.cicd pre-receive|post-receive (run by git's hooks)")
    raise SystemExit(_hook(sys.argv[1]))
