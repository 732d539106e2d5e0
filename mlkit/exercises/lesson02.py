"""Lesson 02 exercises: tracking, the registry, memory estimates, reproducibility.

Four exercises on the lesson's real models and data, each a small function the learner
writes, checked by running it:

* q1 ``train_tracked``: add MLflow tracking to a bare PyTorch loop;
* q2 ``register_best``: find the best run of an experiment and register it as ``champion``;
* q3 ``training_memory_gb``: estimate the training memory of a configuration;
* q4 ``reproducible_run``: make a training run give the same numbers twice.

Each check is an ``ask`` (runs the learner's function, in a temporary MLflow store where it
logs, and records what it returned and what the store then holds) and a ``judge`` (decides
from that record); ``hidden`` draws the inputs a grader adds. The quiz is
``quizzes/02_training.toml``. Used by ``solutions/02_training.ipynb`` and its learner copy
``exercises/02_training.ipynb``.
"""

from __future__ import annotations

import math
import random
from functools import lru_cache
from numbers import Real
from typing import Any

from mlkit.exercises import fixtures
from mlkit.exercises.answers import Returned, call
from mlkit.exercises.question import Mistake, Question

LESSON = "02_training"


# --- shared fixtures -------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _spam():
    from mlkit.training import models

    return models.spam_data(max_features=1000)


def _is_number(x: Any) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool) and math.isfinite(float(x))


# --- q1: add tracking to a bare loop ------------------------------------------------------------
_Q1_EXAMPLE = {"lr": 0.01, "epochs": 3, "start": 0}


def _observe_run(client: Any, run_id: Any) -> dict:
    """What the store holds for ``run_id``: its parameters, metrics and loss curve (or that it has none)."""
    import mlflow

    if not isinstance(run_id, str):
        return {}
    try:
        run = client.get_run(run_id)
    except mlflow.exceptions.MlflowException:
        return {"exists": False}
    history = client.get_metric_history(run_id, "loss")
    return {"exists": True, "params": dict(run.data.params), "metrics": dict(run.data.metrics),
            "loss": [[m.step, m.value] for m in history]}


def _ask_q1(case: dict, train_tracked) -> dict:
    import mlflow

    data, start = _spam(), case.get("start", 0)
    with fixtures.temp_mlflow("q1"):
        X, y = data.X_train[start:start + 800], data.y_train[start:start + 800]
        X_val, y_val = data.X_train[start + 800:start + 1200], data.y_train[start + 800:start + 1200]  # never trained on
        run_id = call(train_tracked, X, y, X_val, y_val, case["lr"], case["epochs"])
        active = mlflow.active_run() is not None
        observed = _observe_run(mlflow.MlflowClient(), run_id.value) if run_id.ok else {}
    return {"run_id": run_id, "active_after": active, **observed}


def _judge_q1(got: dict, case: dict) -> str:
    run_id = got["run_id"].value
    epochs = case["epochs"]
    if got["active_after"]:
        raise Mistake("A run is still active after train_tracked returned: use `with mlflow.start_run() as run:`.")
    if not isinstance(run_id, str):
        raise Mistake(f"train_tracked should return the run's id (run.info.run_id), a string; got {run_id!r}.")
    if not got.get("exists"):
        raise Mistake(f"No MLflow run has the id {run_id!r}: return run.info.run_id.")
    params = got["params"]
    for key, want in (("lr", case["lr"]), ("epochs", epochs)):
        if key not in params:
            raise Mistake(f"The run has no parameter {key!r} (it has {sorted(params) or 'none'}): "
                          "mlflow.log_params({'lr': lr, 'epochs': epochs}).")
        try:
            logged = float(params[key])
        except ValueError:
            logged = math.nan
        if logged != want:
            raise Mistake(f"Parameter {key!r} is {params[key]}, but train_tracked was called with {key}={want}.")
    history, metrics = got["loss"], got["metrics"]
    if not history:
        raise Mistake(f"The run has no metric 'loss' (it has {sorted(metrics) or 'none'}): "
                      "log it once per epoch with mlflow.log_metric('loss', value, step=epoch).")
    steps = sorted(step for step, _ in history)
    if len(history) != epochs:
        raise Mistake(f"'loss' was logged {len(history)} times for {epochs} epochs: log it once per epoch.")
    if len(set(steps)) != epochs:
        raise Mistake(f"The 'loss' points all have step {steps}: pass step=epoch so they form a curve.")
    values = [v for _, v in sorted(history, key=lambda m: m[0])]
    if not all(_is_number(v) for v in values) or values[-1] >= values[0]:
        raise Mistake(f"The logged losses {[round(v, 4) for v in values]} do not go down: log the epoch's "
                      "training loss (a float, loss.item()), after the optimizer steps.")
    if "val_f1" not in metrics:
        train_only = " (it has 'accuracy': on the training data it measures memory)" if "accuracy" in metrics else ""
        raise Mistake(f"Log the F1 on the validation data at the end{train_only}: "
                      "mlflow.log_metric('val_f1', f1_score(y_val, model(X_val).argmax(1))).")
    if not _is_number(metrics["val_f1"]) or not 0.3 <= metrics["val_f1"] <= 1.0:
        raise Mistake(f"val_f1 is {metrics['val_f1']}: F1 on spam of (X_val, y_val) is a fraction between 0 "
                      "and 1 (here above 0.3); score the trained model on X_val, not on X.")
    return (f"One run, 2 parameters, a loss curve of {epochs} points ({values[0]:.3f} -> {values[-1]:.3f}) and "
            f"the validation F1 ({metrics['val_f1']:.3f}): every later comparison of runs starts from this.")


def _hidden_q1(rng: random.Random) -> dict:
    return {"lr": rng.choice([0.008, 0.012, 0.015, 0.02]), "epochs": rng.choice([2, 4]), "start": rng.randint(1, 1500)}


q1 = Question(
    LESSON, "q1", "Add MLflow tracking to a bare training loop", answer="train_tracked",
    ask=_ask_q1, judge=_judge_q1, examples=[_Q1_EXAMPLE], hidden=_hidden_q1,
    hints=[
        "Wrap the whole loop in `with mlflow.start_run() as run:` and return run.info.run_id.",
        "Before the loop: mlflow.log_params({'lr': lr, 'epochs': epochs}). At the end of each epoch: "
        "mlflow.log_metric('loss', epoch_loss, step=epoch).",
        "After the loop, on the validation data: y_pred = model(X_val).argmax(1) (under torch.no_grad()); "
        "mlflow.log_metric('val_f1', f1_score(y_val, y_pred)) with sklearn.metrics.f1_score.",
    ],
)


# --- q2: find the best run and register it --------------------------------------------------------
# the best (lowest) val_loss is not the first nor the last run, and not the best test_f1: choose on validation
_Q2_EXAMPLE = {"losses": [0.31, 0.12, 0.25, 0.18], "f1s": [0.88, 0.93, 0.95, 0.91], "name": "q2-model"}


def _make_runs(store: fixtures.TempMlflow, losses: list[float], f1s: list[float]) -> tuple[str, list[str]]:
    """An experiment with a finished run per (val_loss, test_f1), each with a logged model, and a
    crashed run with a better loss; returns the experiment id and the finished runs' ids."""
    import mlflow
    import torch

    ids = []
    for i, (loss, f1) in enumerate(zip(losses, f1s)):
        with mlflow.start_run(run_name=f"candidate {i}") as run:
            mlflow.log_params({"lr": 10 ** -(i + 1)})
            mlflow.log_metrics({"val_loss": loss, "test_f1": f1})
            model = torch.nn.Linear(4, 2)
            example = torch.zeros(2, 4).numpy()
            mlflow.pytorch.log_model(model, name="model", input_example=example, pip_requirements=["torch"])
            ids.append(run.info.run_id)
    # an unfinished run with an even better loss: it must not win
    with mlflow.start_run(run_name="crashed") as run:
        mlflow.log_metric("val_loss", 0.01)
        crashed = run.info.run_id
    mlflow.MlflowClient().set_terminated(crashed, "FAILED")
    return store.experiment_id, ids


def _version_of(outcome: Any) -> Any:
    """What register_best returned, as a version number (or the value itself, as data)."""
    if not outcome.ok:
        return outcome
    value = outcome.value
    return Returned(str(getattr(value, "version", value)) if value is not None else None)


def _champion(client: Any, name: str) -> dict | None:
    import mlflow

    try:
        mv = client.get_model_version_by_alias(name, "champion")
    except mlflow.exceptions.MlflowException:
        return None
    return {"version": str(mv.version), "run_id": mv.run_id}


def _ask_q2(case: dict, register_best) -> dict:
    import mlflow
    import mlflow.pytorch
    import numpy as np

    name = case["name"]
    with fixtures.temp_mlflow("q2") as store:
        exp_id, ids = _make_runs(store, case["losses"], case["f1s"])
        client = mlflow.MlflowClient()
        out: dict[str, Any] = {"ids": ids, "returned": _version_of(call(register_best, exp_id, name))}
        out["champion"] = _champion(client, name)
        if out["champion"] is not None and out["champion"]["run_id"] in ids:
            chosen = client.get_run(out["champion"]["run_id"]).data.metrics
            out["chosen"] = {k: chosen.get(k) for k in ("val_loss", "test_f1")}
            model = mlflow.pyfunc.load_model(f"models:/{name}@champion", model_config={"device": "cpu"})
            out["outputs"] = int(np.asarray(model.predict(np.zeros((1, 4), dtype="float32"))).shape[1])
            out["again"] = _version_of(call(register_best, exp_id, name))
            out["champion_after"] = _champion(client, name)
    return out


def _judge_q2(got: dict, case: dict) -> str:
    name, ids = case["name"], got["ids"]
    best = ids[case["losses"].index(min(case["losses"]))]
    returned = got["returned"].value
    mv = got["champion"]
    if mv is None:
        raise Mistake(f"No version of {name!r} has the alias 'champion': "
                      "MlflowClient().set_registered_model_alias(name, 'champion', version).")
    if mv["run_id"] not in ids:
        raise Mistake("The champion's version does not come from one of the experiment's finished runs: "
                      "filter with \"attributes.status = 'FINISHED'\".")
    if mv["run_id"] != best:
        chosen = got["chosen"]
        raise Mistake(f"You registered the run with val_loss {chosen.get('val_loss')}, test_f1 "
                      f"{chosen.get('test_f1')}. Choose the lowest val_loss "
                      "(order_by=['metrics.val_loss ASC']): the test set must not choose the model.")
    if str(returned) != mv["version"]:
        raise Mistake(f"register_best returned {returned!r}; return the registered version "
                      "(what mlflow.register_model returns, or its .version).")
    again = got["again"].value
    if got["champion_after"] is None or got["champion_after"]["version"] == mv["version"]:
        raise Mistake("Calling register_best a second time should register a new version and move the "
                      "alias to it.")
    return (f"Version {mv['version']} of {name!r} is the champion (run with the lowest val_loss, not the best "
            f"test_f1); it loads by alias and predicts ({got['outputs']} outputs). A second call made version "
            f"{again}: promoting is moving the alias.")


def _hidden_q2(rng: random.Random) -> dict:
    """Three or four runs in another order, the lowest val_loss neither first, last, nor the best test_f1."""
    n = rng.choice([3, 4])
    while True:
        losses = [round(rng.uniform(0.1, 0.4), 3) for _ in range(n)]
        f1s = [round(rng.uniform(0.85, 0.97), 3) for _ in range(n)]
        best = losses.index(min(losses))
        if len(set(losses)) == n and 0 < best < n - 1 and f1s.index(max(f1s)) != best:
            return {"losses": losses, "f1s": f1s, "name": f"spam-{rng.randrange(1000)}"}


q2 = Question(
    LESSON, "q2", "Find the best run and register it as champion", answer="register_best",
    ask=_ask_q2, judge=_judge_q2, examples=[_Q2_EXAMPLE], hidden=_hidden_q2,
    hints=[
        "mlflow.search_runs(experiment_ids=[experiment_id], filter_string=..., order_by=[...]) returns a "
        "DataFrame, best first.",
        "Keep finished runs only (\"attributes.status = 'FINISHED'\") and sort by 'metrics.val_loss ASC'; "
        "the best run's id is runs.iloc[0].run_id.",
        "version = mlflow.register_model(f'runs:/{run_id}/model', name); then "
        "mlflow.MlflowClient().set_registered_model_alias(name, 'champion', version.version).",
    ],
)


# --- q3: estimate the memory of a configuration -----------------------------------------------------
_Q3_EXAMPLE = {"configs": [
    # (params, activations per sample (elements), batch, precision, optimizer)
    (110_000_000, 5_000_000, 16, "fp32", "adam"),
    (1_300_000_000, 40_000_000, 4, "mixed", "adam"),
    (7_000_000_000, 0, 1, "bf16", "sgd"),
    (350_000_000, 2_000_000, 8, "fp32", "sgd_momentum"),
]}


def _ask_q3(case: dict, training_memory_gb) -> dict:
    return {"answers": [call(training_memory_gb, *config) for config in case["configs"]]}


def _judge_q3(got: dict, case: dict) -> str:
    from mlkit.training import resources

    for (params, act, batch, precision, optimizer), outcome in zip(case["configs"], got["answers"]):
        spec = resources.ModelSpec("x", params, act, 0.0)
        want = resources.estimate_memory(spec, batch, precision, optimizer).total / 1e9
        mine = outcome.value
        if not _is_number(mine):
            raise Mistake(f"training_memory_gb should return a number of GB; it returned {mine!r}.")
        mine = float(mine)
        case_text = (f"{params / 1e6:,.0f}M parameters, {act:,} activations per sample, batch {batch}, "
                     f"{precision}, {optimizer}")
        if math.isclose(mine, want * 1e9, rel_tol=1e-3):
            raise Mistake(f"For {case_text} you return {mine:.3g}: bytes. Divide by 1e9 for GB.")
        if math.isclose(mine * 2**30, want * 1e9, rel_tol=1e-3):  # bytes / 2**30 instead of / 1e9
            raise Mistake("You divide by 2**30 (GiB); the lesson uses GB = 1e9 bytes.")
        if not math.isclose(mine, want, rel_tol=1e-3):
            weights_only = resources.estimate_memory(spec, batch, precision, optimizer, training=False).total / 1e9
            if math.isclose(mine, weights_only, rel_tol=1e-3):
                raise Mistake(f"For {case_text} you return {mine:.2f} GB: the weights alone. Training also holds "
                              "gradients, optimizer state and activations.")
            raise Mistake(f"For {case_text} you return {mine:.3f} GB; the lesson's rules give {want:.3f} GB. "
                          "Bytes: fp32 4/4/4 per weight, grad, optimizer state, activations 4; mixed as fp32 but "
                          "activations 2; bf16 2 for everything. Adam keeps 2 states, sgd_momentum 1, sgd 0.")
    return ("Right on four configurations, from BERT-sized to 7B. The rule of thumb: 16 bytes per parameter "
            "to train with Adam (weights + grads + two moments), plus activations x batch.")


def _hidden_q3(rng: random.Random) -> dict:
    return {"configs": [(rng.randint(5, 9000) * 1_000_000, rng.randint(0, 60) * 500_000, rng.choice([1, 2, 8, 32, 64]),
                         rng.choice(["fp32", "mixed", "bf16"]), rng.choice(["adam", "sgd", "sgd_momentum"]))
                        for _ in range(4)]}


q3 = Question(
    LESSON, "q3", "Estimate the training memory of a configuration", answer="training_memory_gb",
    ask=_ask_q3, judge=_judge_q3, examples=[_Q3_EXAMPLE], hidden=_hidden_q3,
    hints=[
        "Add four parts: weights, gradients, optimizer state (per parameter) and activations (per sample).",
        "Bytes per number: fp32 -> weights 4, grads 4, each optimizer state 4, activations 4; mixed -> the same "
        "but activations 2; bf16 -> 2 for all. Optimizer states: adam 2, sgd_momentum 1, sgd 0.",
        "params * (w + g + states * s) + activations_per_sample * batch_size * a, divided by 1e9.",
    ],
)


# --- q4: make a run reproducible ----------------------------------------------------------------------
_Q4_EXAMPLE = {"seed": 7, "other": 8, "start": 0}


def _ask_q4(case: dict, reproducible_run) -> dict:
    import torch

    data, start = _spam(), case.get("start", 0)
    X, y = data.X_train[start:start + 600], data.y_train[start:start + 600]
    torch.manual_seed(12345)  # the caller's RNG state must not matter
    a = call(reproducible_run, X, y, case["seed"])
    torch.rand(100)          # nor what ran in between
    b = call(reproducible_run, X, y, case["seed"])
    return {"first": a, "second": b, "other": call(reproducible_run, X, y, case["other"])}


def _judge_q4(got: dict, case: dict) -> str:
    a, b = got["first"].value, got["second"].value
    for name, v in (("first", a), ("second", b)):
        if not isinstance(v, (list, tuple)) or not v or not all(_is_number(x) for x in v):
            raise Mistake(f"reproducible_run should return the list of epoch losses (floats); the {name} call "
                          f"returned {v!r}.")
    if list(a) != list(b):
        raise Mistake(f"Two calls with seed {case['seed']} gave different losses ({a[0]:.6f} vs {b[0]:.6f} in "
                      "epoch 1). Seed the weights (torch.manual_seed(seed) before building the model) and the "
                      "shuffling (a torch.Generator seeded with seed, passed to torch.randperm or the DataLoader).")
    c = got["other"].value
    if isinstance(c, (list, tuple)) and list(a) == list(c):
        raise Mistake(f"Seeds {case['seed']} and {case['other']} gave identical losses: the seed argument is not used.")
    return "Same seed, same losses to the last bit; another seed, other losses. Record the seed as a parameter."


def _hidden_q4(rng: random.Random) -> dict:
    seed = rng.randrange(10**6)
    return {"seed": seed, "other": seed + rng.randint(1, 99), "start": rng.randint(1, 2000)}


q4 = Question(
    LESSON, "q4", "Make a training run reproducible", answer="reproducible_run",
    ask=_ask_q4, judge=_judge_q4, examples=[_Q4_EXAMPLE], hidden=_hidden_q4,
    hints=[
        "Two sources of randomness: the initial weights, and the order of the batches (and dropout).",
        "Call torch.manual_seed(seed) right before building the model.",
        "Shuffle with g = torch.Generator().manual_seed(seed); order = torch.randperm(len(X), generator=g).",
    ],
)


# --- the exercises, in the order learners meet them ----------------------------------------------
QUESTIONS = [q1, q2, q3, q4]
