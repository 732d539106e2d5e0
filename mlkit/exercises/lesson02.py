"""Lesson 02 exercises: tracking, the registry, memory estimates, reproducibility.

Four exercises on the lesson's real models and data, each a small function the learner
writes, checked by running it:

* q1 ``train_tracked``: add MLflow tracking to a bare PyTorch loop;
* q2 ``register_best``: find the best run of an experiment and register it as ``champion``;
* q3 ``training_memory_gb``: estimate the training memory of a configuration;
* q4 ``reproducible_run``: make a training run give the same numbers twice.

The quiz is ``quizzes/02_training.toml``. Used by ``solutions/02_training.ipynb`` and its learner
copy ``exercises/02_training.ipynb``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from numbers import Real
from typing import Any

from mlkit.exercises import fixtures
from mlkit.exercises.core import Mistake, Question

LESSON = "02_training"


# --- shared fixtures -------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _spam():
    from mlkit.training import models

    return models.spam_data(max_features=1000)


def _is_number(x: Any) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool) and math.isfinite(float(x))


# --- q1: add tracking to a bare loop ------------------------------------------------------------
def _check_q1(train_tracked) -> str:
    import mlflow

    data = _spam()
    with fixtures.temp_mlflow("q1"):
        X, y = data.X_train[:800], data.y_train[:800]
        X_val, y_val = data.X_train[800:1200], data.y_train[800:1200]  # messages it never trains on
        run_id = train_tracked(X, y, X_val, y_val, 0.01, 3)
        if mlflow.active_run() is not None:
            raise Mistake("A run is still active after train_tracked returned: use `with mlflow.start_run() as run:`.")
        if not isinstance(run_id, str):
            raise Mistake(f"train_tracked should return the run's id (run.info.run_id), a string; got {run_id!r}.")
        client = mlflow.MlflowClient()
        try:
            run = client.get_run(run_id)
        except mlflow.exceptions.MlflowException:
            raise Mistake(f"No MLflow run has the id {run_id!r}: return run.info.run_id.") from None
        params = run.data.params
        for key, want in (("lr", 0.01), ("epochs", 3)):
            if key not in params:
                raise Mistake(f"The run has no parameter {key!r} (it has {sorted(params) or 'none'}): "
                              "mlflow.log_params({'lr': lr, 'epochs': epochs}).")
            if float(params[key]) != want:
                raise Mistake(f"Parameter {key!r} is {params[key]}, but train_tracked was called with {key}={want}.")
        history = client.get_metric_history(run_id, "loss")
        if not history:
            raise Mistake(f"The run has no metric 'loss' (it has {sorted(run.data.metrics) or 'none'}): "
                          "log it once per epoch with mlflow.log_metric('loss', value, step=epoch).")
        steps = sorted(m.step for m in history)
        if len(history) != 3:
            raise Mistake(f"'loss' was logged {len(history)} times for 3 epochs: log it once per epoch.")
        if len(set(steps)) != 3:
            raise Mistake(f"The 'loss' points all have step {steps}: pass step=epoch so they form a curve.")
        values = [m.value for m in sorted(history, key=lambda m: m.step)]
        if not all(_is_number(v) for v in values) or values[-1] >= values[0]:
            raise Mistake(f"The logged losses {[round(v, 4) for v in values]} do not go down: log the epoch's "
                          "training loss (a float, loss.item()), after the optimizer steps.")
        metrics = run.data.metrics
        if "val_f1" not in metrics:
            train_only = " (it has 'accuracy': on the training data it measures memory)" if "accuracy" in metrics else ""
            raise Mistake(f"Log the F1 on the validation data at the end{train_only}: "
                          "mlflow.log_metric('val_f1', f1_score(y_val, model(X_val).argmax(1))).")
        if not _is_number(metrics["val_f1"]) or not 0.3 <= metrics["val_f1"] <= 1.0:
            raise Mistake(f"val_f1 is {metrics['val_f1']}: F1 on spam of (X_val, y_val) is a fraction between 0 "
                          "and 1 (here above 0.3); score the trained model on X_val, not on X.")
    return (f"One run, 2 parameters, a loss curve of 3 points ({values[0]:.3f} -> {values[-1]:.3f}) and the "
            f"validation F1 ({metrics['val_f1']:.3f}): every later comparison of runs starts from this.")


q1 = Question(
    LESSON, "q1", "Add MLflow tracking to a bare training loop", answer="train_tracked", check=_check_q1,
    hints=[
        "Wrap the whole loop in `with mlflow.start_run() as run:` and return run.info.run_id.",
        "Before the loop: mlflow.log_params({'lr': lr, 'epochs': epochs}). At the end of each epoch: "
        "mlflow.log_metric('loss', epoch_loss, step=epoch).",
        "After the loop, on the validation data: y_pred = model(X_val).argmax(1) (under torch.no_grad()); "
        "mlflow.log_metric('val_f1', f1_score(y_val, y_pred)) with sklearn.metrics.f1_score.",
    ],
)


# --- q2: find the best run and register it --------------------------------------------------------
def _make_runs(store: fixtures.TempMlflow, n: int = 4) -> tuple[str, list[str], str]:
    """An experiment with n finished runs (val_loss, test_f1, a logged model); returns the
    experiment id, the run ids, and the id of the run with the lowest val_loss."""
    import mlflow
    import torch

    exp_id = store.experiment_id
    losses = [0.31, 0.12, 0.25, 0.18][:n]  # the best (lowest) is not the first nor the last
    f1s = [0.88, 0.93, 0.95, 0.91][:n]     # the best f1 is not the best val_loss: choose on validation
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
    return exp_id, ids, ids[losses.index(min(losses))]


def _check_q2(register_best) -> str:
    import mlflow
    import mlflow.pytorch

    with fixtures.temp_mlflow("q2") as store:
        exp_id, ids, best = _make_runs(store)
        name = "q2-model"
        version = register_best(exp_id, name)
        client = mlflow.MlflowClient()
        try:
            mv = client.get_model_version_by_alias(name, "champion")
        except mlflow.exceptions.MlflowException:
            raise Mistake(f"No version of {name!r} has the alias 'champion': "
                          "MlflowClient().set_registered_model_alias(name, 'champion', version).") from None
        if mv.run_id not in ids:
            raise Mistake("The champion's version does not come from one of the experiment's finished runs: "
                          "filter with \"attributes.status = 'FINISHED'\".")
        if mv.run_id != best:
            chosen = client.get_run(mv.run_id).data.metrics
            raise Mistake(f"You registered the run with val_loss {chosen.get('val_loss')}, test_f1 "
                          f"{chosen.get('test_f1')}. Choose the lowest val_loss "
                          "(order_by=['metrics.val_loss ASC']): the test set must not choose the model.")
        if str(getattr(version, "version", version)) != str(mv.version):
            raise Mistake(f"register_best returned {version!r}; return the registered version "
                          "(what mlflow.register_model returns, or its .version).")
        model = mlflow.pyfunc.load_model(f"models:/{name}@champion", model_config={"device": "cpu"})
        out = model.predict(__import__("numpy").zeros((1, 4), dtype="float32"))
        # a second call registers a new version and moves the alias
        again = register_best(exp_id, name)
        mv2 = client.get_model_version_by_alias(name, "champion")
        if str(mv2.version) == str(mv.version):
            raise Mistake("Calling register_best a second time should register a new version and move the "
                          "alias to it.")
    return (f"Version {mv.version} of {name!r} is the champion (run with the lowest val_loss, not the best "
            f"test_f1); it loads by alias and predicts ({out.shape[1]} outputs). A second call made version "
            f"{getattr(again, 'version', again)}: promoting is moving the alias.")


q2 = Question(
    LESSON, "q2", "Find the best run and register it as champion", answer="register_best", check=_check_q2,
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
_Q3_CASES = [
    # (params, activations per sample (elements), batch, precision, optimizer)
    (110_000_000, 5_000_000, 16, "fp32", "adam"),
    (1_300_000_000, 40_000_000, 4, "mixed", "adam"),
    (7_000_000_000, 0, 1, "bf16", "sgd"),
    (350_000_000, 2_000_000, 8, "fp32", "sgd_momentum"),
]


def _check_q3(training_memory_gb) -> str:
    from mlkit.training import resources

    for params, act, batch, precision, optimizer in _Q3_CASES:
        spec = resources.ModelSpec("x", params, act, 0.0)
        want = resources.estimate_memory(spec, batch, precision, optimizer).total / 1e9
        got = training_memory_gb(params, act, batch, precision, optimizer)
        if not _is_number(got):
            raise Mistake(f"training_memory_gb should return a number of GB; it returned {got!r}.")
        got = float(got)
        case = f"{params / 1e6:,.0f}M parameters, {act:,} activations per sample, batch {batch}, {precision}, {optimizer}"
        if math.isclose(got, want * 1e9, rel_tol=1e-3):
            raise Mistake(f"For {case} you return {got:.3g}: bytes. Divide by 1e9 for GB.")
        if math.isclose(got * 2**30, want * 1e9, rel_tol=1e-3):  # bytes / 2**30 instead of / 1e9
            raise Mistake("You divide by 2**30 (GiB); the lesson uses GB = 1e9 bytes.")
        if not math.isclose(got, want, rel_tol=1e-3):
            weights_only = resources.estimate_memory(spec, batch, precision, optimizer, training=False).total / 1e9
            if math.isclose(got, weights_only, rel_tol=1e-3):
                raise Mistake(f"For {case} you return {got:.2f} GB: the weights alone. Training also holds "
                              "gradients, optimizer state and activations.")
            raise Mistake(f"For {case} you return {got:.3f} GB; the lesson's rules give {want:.3f} GB. "
                          "Bytes: fp32 4/4/4 per weight, grad, optimizer state, activations 4; mixed as fp32 but "
                          "activations 2; bf16 2 for everything. Adam keeps 2 states, sgd_momentum 1, sgd 0.")
    return ("Right on four configurations, from BERT-sized to 7B. The rule of thumb: 16 bytes per parameter "
            "to train with Adam (weights + grads + two moments), plus activations x batch.")


q3 = Question(
    LESSON, "q3", "Estimate the training memory of a configuration", answer="training_memory_gb", check=_check_q3,
    hints=[
        "Add four parts: weights, gradients, optimizer state (per parameter) and activations (per sample).",
        "Bytes per number: fp32 -> weights 4, grads 4, each optimizer state 4, activations 4; mixed -> the same "
        "but activations 2; bf16 -> 2 for all. Optimizer states: adam 2, sgd_momentum 1, sgd 0.",
        "params * (w + g + states * s) + activations_per_sample * batch_size * a, divided by 1e9.",
    ],
)


# --- q4: make a run reproducible ----------------------------------------------------------------------
def _check_q4(reproducible_run) -> str:
    import torch

    data = _spam()
    X, y = data.X_train[:600], data.y_train[:600]
    torch.manual_seed(12345)  # the caller's RNG state must not matter
    a = reproducible_run(X, y, 7)
    torch.rand(100)          # nor what ran in between
    b = reproducible_run(X, y, 7)
    c = reproducible_run(X, y, 8)
    for name, v in (("first", a), ("second", b)):
        if not isinstance(v, (list, tuple)) or not v or not all(_is_number(x) for x in v):
            raise Mistake(f"reproducible_run should return the list of epoch losses (floats); the {name} call "
                          f"returned {v!r}.")
    if list(a) != list(b):
        raise Mistake(f"Two calls with seed 7 gave different losses ({a[0]:.6f} vs {b[0]:.6f} in epoch 1). "
                      "Seed the weights (torch.manual_seed(seed) before building the model) and the "
                      "shuffling (a torch.Generator seeded with seed, passed to torch.randperm or the DataLoader).")
    if list(a) == list(c):
        raise Mistake("Seeds 7 and 8 gave identical losses: the seed argument is not used.")
    return "Same seed, same losses to the last bit; another seed, other losses. Record the seed as a parameter."


q4 = Question(
    LESSON, "q4", "Make a training run reproducible", answer="reproducible_run", check=_check_q4,
    hints=[
        "Two sources of randomness: the initial weights, and the order of the batches (and dropout).",
        "Call torch.manual_seed(seed) right before building the model.",
        "Shuffle with g = torch.Generator().manual_seed(seed); order = torch.randperm(len(X), generator=g).",
    ],
)


# --- the exercises, in the order learners meet them ----------------------------------------------
QUESTIONS = [q1, q2, q3, q4]
