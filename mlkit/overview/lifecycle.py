"""The lifecycle map of lesson 00: the six stages, their tools, lessons and failure modes.

The facts live in :data:`STAGES` (plain data, testable); :func:`stage_card` renders one
stage as HTML; :func:`lifecycle_map` is the interactive map; :func:`plot_loop` draws the loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ipywidgets
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class Tool:
    name: str
    why: str


@dataclass(frozen=True)
class Stage:
    number: int
    name: str
    goal: str
    tools: tuple[Tool, ...]
    lesson: str
    failure_modes: tuple[str, ...]
    infrastructure: tuple[str, ...]


STAGES: tuple[Stage, ...] = (
    Stage(
        1, "Data",
        "Gather raw records from files, databases and APIs; clean them, check them and freeze "
        "the exact version a model was trained on.",
        (Tool("Great Expectations", "declares what good data looks like and refuses a batch that breaks it"),
         Tool("DVC", "versions data sets next to the code in git, so any release can be restored"),
         Tool("Parquet / Dask", "columnar files and out-of-core processing when data outgrows memory")),
        "01_data",
        ("A renamed column or a unit change slips in and the model learns garbage, silently.",
         "Duplicates land on both sides of the train/test split and inflate the test score.",
         "Nobody can say which data trained the model in production."),
        ("object storage or a shared disk", "a pipeline runner", "a data-version store"),
    ),
    Stage(
        2, "Training",
        "Turn a data version into a model: run experiments, record every one, keep the best "
        "in a registry with a name and a version.",
        (Tool("PyTorch", "the training loop itself, on CPU or GPU"),
         Tool("MLflow tracking", "every run's parameters, metrics and artifacts, searchable"),
         Tool("MLflow registry", "named model versions with aliases such as 'champion'"),
         Tool("torchrun / DDP", "the same loop over several processes or GPUs")),
        "02_training",
        ("The best result of the week cannot be reproduced: seed, data or code were not recorded.",
         "A GPU sits idle behind a slow input pipeline.",
         "Training jobs run on the serving machines and starve production."),
        ("GPUs or CPU workers", "an experiment tracker", "a model registry", "checkpoint storage"),
    ),
    Stage(
        3, "Evaluation",
        "Decide whether a model is good enough and fair enough to ship, on data it never saw.",
        (Tool("scikit-learn metrics", "precision, recall, F1, ROC AUC, calibration"),
         Tool("Fairlearn", "metrics per group and mitigation of unequal error rates"),
         Tool("SHAP", "which features drive a prediction")),
        "03_evaluation",
        ("Accuracy looks great on imbalanced data while most positives are missed.",
         "The model is much worse for one group of users and nobody checked.",
         "The test set leaked into training, so the offline score is fiction."),
        ("batch inference compute", "a held-out test set under version control", "an evaluation report store"),
    ),
    Stage(
        4, "Deployment",
        "Put the model behind an API and move traffic to it without breaking anything.",
        (Tool("FastAPI + uvicorn", "an HTTP model server with a typed request schema"),
         Tool("blue-green / canary / shadow", "rollout strategies that make a bad release cheap to undo")),
        "04_deployment",
        ("A manual copy of a model file to a server: nobody knows what is running.",
         "A new version takes all traffic at once and an error spike hits every user.",
         "The serving code transforms features differently from the training code."),
        ("a model server", "a load balancer or router", "a deployment pipeline"),
    ),
    Stage(
        5, "Monitoring",
        "Watch the system (latency, errors) and the model (inputs, predictions) in production.",
        (Tool("Prometheus client", "counters and latency histograms scraped from the server"),
         Tool("Evidently", "data-drift and prediction-drift reports against a reference"),
         Tool("alert rules", "turn a threshold into a page before users notice")),
        "05_monitoring",
        ("Inputs drift with the season, accuracy falls for weeks, and no alarm fires.",
         "Only averages are watched, so a slow p99 goes unseen.",
         "Alerts fire so often that people stop reading them."),
        ("a metrics store", "dashboards", "a drift job", "an alert channel"),
    ),
    Stage(
        6, "Retraining",
        "Close the loop: new data or detected drift triggers training, a gate compares the "
        "candidate with the champion, and it is promoted or rolled back.",
        (Tool("a drift trigger", "starts a run when monitoring says the world moved"),
         Tool("an evaluation gate", "promotes only a candidate that beats the champion"),
         Tool("the registry alias", "promotion and rollback are one alias change")),
        "06_retraining",
        ("A retrained model that is worse replaces a good one automatically.",
         "Retraining on a fixed schedule wastes compute or reacts too late.",
         "A rollback needs a person at 3 a.m. because the old version was not kept."),
        ("a scheduler or event trigger", "the whole pipeline as code", "the registry"),
    ),
)

ANTI_PATTERNS: dict[str, tuple[str, str]] = {
    # name: (what it costs, what prevents it)
    "Manual deployments": ("releases that differ every time and cannot be repeated",
                           "a pipeline that builds, tests and deploys the same way every time"),
    "No model versioning": ("no rollback and no way to reproduce a result",
                            "a model registry, with data and code versions recorded on each run"),
    "Training in production": ("training jobs compete with live traffic for CPU, GPU and memory",
                               "separate training and serving environments"),
    "Ignoring data quality": ("a model that fails silently on broken inputs",
                              "validation gates at ingestion and monitoring of input distributions"),
    "No monitoring": ("degradation discovered by users, weeks late",
                      "system and model metrics with alerts"),
}


def stage(name_or_number: str | int) -> Stage:
    """Look a stage up by number (1-6) or name (case-insensitive)."""
    for s in STAGES:
        if name_or_number in (s.number, str(s.number)) or str(name_or_number).lower() == s.name.lower():
            return s
    names = ", ".join(f"{s.number} {s.name}" for s in STAGES)
    raise KeyError(f"No stage {name_or_number!r}; the stages are: {names}.")


def stage_card(s: Stage) -> str:
    """One stage as an HTML card: goal, tools and why, lesson, failure modes."""
    tools = "".join(f"<li><b>{escape(t.name)}</b>: {escape(t.why)}</li>" for t in s.tools)
    fails = "".join(f"<li>{escape(f)}</li>" for f in s.failure_modes)
    infra = ", ".join(escape(i) for i in s.infrastructure)
    return (
        f"<div class='mlkit-stage'><h3>{s.number}. {escape(s.name)}</h3>"
        f"<p>{escape(s.goal)}</p><p><b>Tools</b></p><ul>{tools}</ul>"
        f"<p><b>Infrastructure</b>: {infra}</p>"
        f"<p><b>What goes wrong</b></p><ul>{fails}</ul>"
        f"<p><b>Lesson</b>: <code>notebooks/{escape(s.lesson)}.ipynb</code></p></div>"
    )


def lifecycle_map(start: int = 1) -> ipywidgets.VBox:
    """The interactive map: pick a stage (or press "Next stage") to see its card."""
    import ipywidgets as w

    picker = w.ToggleButtons(options=[(f"{s.number} {s.name}", s.number) for s in STAGES], value=start)
    next_button = w.Button(description="Next stage ▶", tooltip="follow the loop to the next stage")
    card = w.HTML(stage_card(stage(start)))

    def show(change=None) -> None:
        card.value = stage_card(stage(picker.value))

    def step(_button=None) -> None:
        picker.value = picker.value % len(STAGES) + 1  # stage 6 loops back to stage 1

    picker.observe(show, names="value")
    next_button.on_click(step)
    box = w.VBox([next_button, picker, card])  # the first button moves the map on
    box.add_class("mlkit-main")
    return box


def plot_loop(highlight: int | None = None) -> Figure:
    """Draw the six stages as a loop, with the arrow from retraining back to data."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6, 6))
    angles = np.pi / 2 - 2 * np.pi * np.arange(len(STAGES)) / len(STAGES)
    xy = np.c_[np.cos(angles), np.sin(angles)]
    for i, s in enumerate(STAGES):
        nxt = xy[(i + 1) % len(STAGES)]
        ax.annotate("", xy=xy[i] + 0.78 * (nxt - xy[i]), xytext=xy[i] + 0.22 * (nxt - xy[i]),
                    arrowprops={"arrowstyle": "-|>", "lw": 2, "color": "tab:gray"})
        color = "tab:orange" if s.number == highlight else "tab:blue"
        ax.text(*xy[i], f"{s.number}\n{s.name}", ha="center", va="center", fontsize=11, color="white",
                bbox={"boxstyle": "round,pad=0.6", "fc": color, "ec": "none"})
    ax.text(0, 0, "the ML lifecycle\nis a loop", ha="center", va="center", fontsize=12, style="italic")
    ax.set(xlim=(-1.4, 1.4), ylim=(-1.4, 1.4), aspect="equal")
    ax.axis("off")
    return fig
