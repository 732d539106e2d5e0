"""The lifecycle map of lesson 00: the six stages, their tools, lessons and failure modes.

The facts live in plain data (testable): :data:`STAGES` (goal, tools, infrastructure, what
goes wrong, what the ML infrastructure engineer does there, the recommendation-system
example), :data:`CHALLENGES` (the five infrastructure challenges) and :data:`ANTI_PATTERNS`.
The ``*_table`` functions turn them into DataFrames for the notebook; :func:`stage_card`
renders one stage as HTML; :class:`LifecycleMap` is the lesson's main widget;
:func:`plot_loop` draws the loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from mlkit.course.widgets import MainWidget

if TYPE_CHECKING:
    import pandas as pd
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
    engineer: tuple[str, ...]  # what the ML infrastructure engineer builds and runs here
    recommender: str  # what a recommendation system does at this stage
    in_course: str  # what plays that part in this course


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
        ("builds and keeps running the pipelines that bring data in",
         "versions every data set, so that each model can name the data it learned from",
         "puts automatic quality checks in front of training"),
        "Every click and view is streamed into an event log (Kafka in the course text); a daily "
        "batch job turns the log into features kept in a feature store.",
        "Lesson 01: records pulled from a local HTTP API into SQLite, checked with Great "
        "Expectations, released as Parquet and versioned with DVC.",
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
        ("provisions GPUs or a cluster and shares them between teams",
         "runs the experiment tracker and the model registry",
         "makes training fast: input pipelines, mixed precision, several devices"),
        "A new model is trained every night on a GPU cluster; each run is tracked in MLflow and "
        "the best one is registered.",
        "Lesson 02: a PyTorch loop on the CPU (or one GPU), every run in MLflow, the winner in "
        "the registry; torchrun for the multi-process version.",
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
        ("builds one evaluation harness that scores every candidate the same way",
         "adds checks for unequal errors between groups of users",
         "wires evaluation into the pipeline, so nothing ships unscored"),
        "Candidates are scored offline on ranking metrics (AUC, NDCG), and an A/B test is made "
        "ready for the one that wins.",
        "Lesson 03: scikit-learn metrics with confidence intervals, Fairlearn per group, SHAP.",
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
        ("runs the serving platform: model servers, load balancing, autoscaling",
         "implements the rollout strategies (canary, blue-green, shadow)",
         "operates the container platform (Kubernetes, in most companies)"),
        "The new model first gets 5% of the traffic (a canary); after a day of healthy "
        "metrics it takes all of it.",
        "Lesson 04: a FastAPI model server on 127.0.0.1 and a router that sends a share of "
        "the requests to a canary.",
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
        ("runs the observability stack: metrics, logs, traces",
         "defines service-level objectives and the alerts that guard them",
         "builds the dashboards people actually look at"),
        "Dashboards watch latency against a 50 ms target, the click-through rate, and drift "
        "in the inputs.",
        "Lesson 05: Prometheus metrics and alert rules for the server, Evidently drift "
        "reports for the inputs.",
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
        ("automates the retraining pipeline from new data to promotion",
         "runs CI/CD for models: test, evaluate, promote",
         "keeps every old version, so that a rollback is one step"),
        "Once a week the model is retrained on the new interactions, evaluated automatically, "
        "and deployed only if it beats the one in production.",
        "Lesson 06: retraining on drifted data, a gate against the champion, promotion or "
        "rollback with one registry alias.",
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



@dataclass(frozen=True)
class Challenge:
    name: str
    problem: str
    remedies: tuple[str, ...]
    in_course: str


CHALLENGES: tuple[Challenge, ...] = (
    Challenge("Data volume and velocity",
              "Data keeps arriving, and soon outgrows the memory and disk of one machine.",
              ("distributed or object storage (HDFS, S3)", "stream processing (Kafka, Flink)",
               "compact columnar files (Parquet, ORC)"),
              "Lesson 01: Parquet files and Dask on one machine, code that runs unchanged on a cluster."),
    Challenge("Compute intensity",
              "A large model needs more GPU memory and more hours than one device offers.",
              ("GPU clusters", "data and model parallelism", "elastic cloud capacity",
               "spot instances, for price"),
              "Lesson 02: a memory calculator for any model size, and data parallelism with torchrun."),
    Challenge("Model versioning",
              "A result can be reproduced only if the model, its data and its code were recorded together.",
              ("a model registry", "git for code", "data versioning", "seeded, tracked experiments"),
              "Lessons 01 and 02: DVC data releases, MLflow runs and the MLflow registry."),
    Challenge("Serving latency",
              "A prediction that a user waits for must come back fast: the course text says under 100 ms.",
              ("smaller, faster models (quantization, pruning)", "caching", "batching",
               "GPU inference", "serving at the edge"),
              "Lesson 04 load-tests a model server; this lesson times the bike model below."),
    Challenge("Monitoring complexity",
              "The service and the model's answers both need watching, and they fail in different ways.",
              ("an observability stack", "metrics made for ML", "automatic alerts", "drift detection"),
              "Lesson 05; this lesson shows a model that is healthy as a service and worse as a model."),
)


def stage(name_or_number: str | int) -> Stage:
    """Look a stage up by number (1-6) or name (case-insensitive)."""
    for s in STAGES:
        if name_or_number in (s.number, str(s.number)) or str(name_or_number).lower() == s.name.lower():
            return s
    names = ", ".join(f"{s.number} {s.name}" for s in STAGES)
    raise KeyError(f"No stage {name_or_number!r}; the stages are: {names}.")


# ---------------------------------------------------------------- tables for the notebook
def _frame(rows: list[dict[str, str]], index: str) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(rows).set_index(index)


def stages_table() -> pd.DataFrame:
    """One row per stage: goal, tools, lesson (lesson 00, section 2)."""
    return _frame([{"stage": f"{s.number}. {s.name}", "goal": s.goal,
                    "tools": ", ".join(t.name for t in s.tools), "lesson": s.lesson} for s in STAGES], "stage")


def roles_table() -> pd.DataFrame:
    """What the ML infrastructure engineer builds and runs at each stage (lesson 00)."""
    return _frame([{"stage": f"{s.number}. {s.name}", "the engineer": "; ".join(s.engineer),
                    "infrastructure": ", ".join(s.infrastructure)} for s in STAGES], "stage")


def recommender_table() -> pd.DataFrame:
    """The recommendation-system example stage by stage, and what plays each part here (lesson 00)."""
    return _frame([{"stage": f"{s.number}. {s.name}", "in a recommendation system": s.recommender,
                    "in this course": s.in_course} for s in STAGES], "stage")


def challenges_table() -> pd.DataFrame:
    """The five infrastructure challenges: the problem, the usual remedies, where the course meets them."""
    return _frame([{"challenge": c.name, "problem": c.problem, "usual remedies": ", ".join(c.remedies),
                    "in this course": c.in_course} for c in CHALLENGES], "challenge")


def anti_patterns_table() -> pd.DataFrame:
    """The five anti-patterns: what each costs and what prevents it (lesson 00)."""
    return _frame([{"anti-pattern": name, "what it costs": cost, "what prevents it": cure}
                   for name, (cost, cure) in ANTI_PATTERNS.items()], "anti-pattern")


# ---------------------------------------------------------------- the main widget
def stage_card(s: Stage) -> str:
    """One stage as an HTML card: goal, tools and why, infrastructure, the engineer's job,
    the recommender example, failure modes, lesson."""
    tools = "".join(f"<li><b>{escape(t.name)}</b>: {escape(t.why)}</li>" for t in s.tools)
    fails = "".join(f"<li>{escape(f)}</li>" for f in s.failure_modes)
    duties = "".join(f"<li>{escape(d)}</li>" for d in s.engineer)
    infra = ", ".join(escape(i) for i in s.infrastructure)
    return (
        f"<div class='mlkit-stage'><h3>{s.number}. {escape(s.name)}</h3>"
        f"<p>{escape(s.goal)}</p><p><b>Tools</b></p><ul>{tools}</ul>"
        f"<p><b>Infrastructure</b>: {infra}</p>"
        f"<p><b>The ML infrastructure engineer</b></p><ul>{duties}</ul>"
        f"<p><b>In a recommendation system</b>: {escape(s.recommender)}</p>"
        f"<p><b>What goes wrong</b></p><ul>{fails}</ul>"
        f"<p><b>Lesson</b>: <code>notebooks/{escape(s.lesson)}.ipynb</code></p></div>"
    )


class LifecycleMap(MainWidget):
    """The lesson's main widget: pick a stage, or press "Next stage" to follow the loop.

    Attributes: ``next_button`` (Button, the one the browser tests click), ``picker``
    (ToggleButtons, value = stage number), ``card`` (HTML of the chosen stage); the status
    line says where in the loop you are.
    """

    def __init__(self, start: int = 1) -> None:
        import ipywidgets as w

        first = stage(start)
        self.next_button = w.Button(description="Next stage ▶", tooltip="follow the loop to the next stage")
        self.picker = w.ToggleButtons(options=[(f"{s.number} {s.name}", s.number) for s in STAGES],
                                      value=first.number)
        self.card = w.HTML(stage_card(first))
        super().__init__(self.next_button, self.picker, self.card, status=self._where(first), doing="show the stage")
        self.on_change(self.picker, self.refresh)
        self.on_click(self.next_button, self.step)

    @staticmethod
    def _where(s: Stage) -> str:
        after = STAGES[s.number % len(STAGES)]
        note = " (back to the start: the loop closes)" if s.number == len(STAGES) else ""
        return f"<i>Stage {s.number} of {len(STAGES)}; next: {escape(after.name)}{note}.</i>"

    def refresh(self) -> None:
        """Show the card of the stage the picker is on."""
        s = stage(self.picker.value)
        self.card.value = stage_card(s)
        self.show(self._where(s))

    def step(self) -> None:
        """Move to the next stage; after stage 6 comes stage 1."""
        self.picker.value = self.picker.value % len(STAGES) + 1


def lifecycle_map(start: int = 1) -> LifecycleMap:
    """The lifecycle map of lesson 00 (see :class:`LifecycleMap`)."""
    return LifecycleMap(start)


# ---------------------------------------------------------------- the loop figure
def plot_loop(highlight: int | None = None) -> Figure:
    """Draw the six stages as a loop, with the arrow from retraining back to data (lesson 00).

    Each arrow is clipped to the edges of the two stage boxes it joins, so its head sits
    in the gap before the next box instead of under it.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6, 6))
    angles = np.pi / 2 - 2 * np.pi * np.arange(len(STAGES)) / len(STAGES)
    xy = np.c_[np.cos(angles), np.sin(angles)]
    boxes = []
    for i, s in enumerate(STAGES):
        color = "tab:orange" if s.number == highlight else "tab:blue"
        text = ax.text(*xy[i], f"{s.number}\n{s.name}", ha="center", va="center", fontsize=11, color="white",
                       bbox={"boxstyle": "round,pad=0.6", "fc": color, "ec": "none"})
        boxes.append(text.get_bbox_patch())
    for i in range(len(STAGES)):
        j = (i + 1) % len(STAGES)
        ax.annotate("", xy=xy[j], xytext=xy[i],
                    arrowprops={"arrowstyle": "-|>,head_length=0.6,head_width=0.3", "lw": 2, "color": "tab:gray",
                                "patchA": boxes[i], "patchB": boxes[j], "shrinkA": 3, "shrinkB": 3})
    ax.text(0, 0, "the ML lifecycle\nis a loop", ha="center", va="center", fontsize=12, style="italic")
    ax.set(xlim=(-1.4, 1.4), ylim=(-1.4, 1.4), aspect="equal")
    ax.axis("off")
    return fig
