"""Lesson 06: CI/CD for ML. The retraining pipeline as a ``dvc.yaml`` and a GitHub Actions
workflow that runs it and the promotion gate, generated into a workspace and checked for structure.

The stages name ``python -m mlkit.retraining.steps <step>`` commands (:mod:`mlkit.retraining.steps`,
the command-line entry a project ships for its CI). The lesson generates the files, checks their
structure (:func:`check`) and runs the same steps in-process through
:class:`mlkit.retraining.pipeline.RetrainingPipeline`.
"""

from __future__ import annotations

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
