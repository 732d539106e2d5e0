"""mlkit.exercises.lesson02: the reference answers pass; typical mistakes get specific feedback;
the checks never touch the learner's own MLflow store."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
mlflow = pytest.importorskip("mlflow")

from exercise_checks import expect as _expect  # noqa: E402
from exercise_checks import hidden_verdict  # noqa: E402

from mlkit.exercises import lesson02 as ex  # noqa: E402
from mlkit.exercises import quiz  # noqa: E402
from mlkit.training import models  # noqa: E402


@pytest.fixture(scope="module")
def reference(solutions):
    """The answers defined by solutions/02_training.ipynb's own cells."""
    return solutions(ex.LESSON, *(q.answers[0] for q in ex.QUESTIONS), mlflow=mlflow, torch=torch, models=models)




# --- q1 ----------------------------------------------------------------------------------------
def _tracked(log_params=True, log_steps=True, log_val=True, end_run=True, on_train=False):
    def train_tracked(X, y, X_val, y_val, lr, epochs):
        run = mlflow.start_run()
        if log_params:
            mlflow.log_params({"lr": lr, "epochs": epochs})
        torch.manual_seed(0)
        model = models.SpamMLP(X.shape[1])
        opt = torch.optim.AdamW(model.parameters(), lr=lr)
        for epoch in range(epochs):
            for i in range(0, len(X), 64):  # batches of 64, as the exercise asks
                loss = torch.nn.functional.cross_entropy(model(X[i:i + 64]), y[i:i + 64])
                opt.zero_grad()
                loss.backward()
                opt.step()
            mlflow.log_metric("loss", loss.item(), step=epoch if log_steps else 0)
        if on_train:
            mlflow.log_metric("accuracy", (model(X).argmax(1) == y).float().mean().item())
        if log_val:
            from sklearn.metrics import f1_score

            with torch.no_grad():
                mlflow.log_metric("val_f1", f1_score(y_val.numpy(), model(X_val).argmax(1).numpy()))
        if end_run:
            mlflow.end_run()
        return run.info.run_id
    return train_tracked


def test_q1_reference_passes_and_leaves_the_learner_store_alone(tmp_path, monkeypatch, reference):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mine.db")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mine.db")
    _expect(ex.q1, reference["train_tracked"], "passed")
    _expect(ex.q1, _tracked(), "passed")  # start_run() ... end_run() without `with` is right too
    assert mlflow.get_tracking_uri() == f"sqlite:///{tmp_path}/mine.db"
    assert not (tmp_path / "mine.db").exists(), "the check wrote nothing to the learner's store"


def test_q1_mistakes():
    _expect(ex.q1, _tracked(log_params=False), says="no parameter 'lr'")
    _expect(ex.q1, _tracked(log_steps=False), says="step")
    _expect(ex.q1, _tracked(log_val=False), says="val_f1")
    _expect(ex.q1, _tracked(log_val=False, on_train=True), says="on the training data")
    _expect(ex.q1, _tracked(end_run=False), says="still active")
    _expect(ex.q1, lambda X, y, X_val, y_val, lr, epochs: None, says="run's id")


# --- q2 ----------------------------------------------------------------------------------------
def _register(order="metrics.val_loss ASC", finished_only=True, alias=True):
    def register_best(experiment_id, name):
        runs = mlflow.search_runs(experiment_ids=[experiment_id], order_by=[order],
                                  filter_string="attributes.status = 'FINISHED'" if finished_only else "")
        version = mlflow.register_model(f"runs:/{runs.iloc[0].run_id}/model", name)
        if alias:
            mlflow.MlflowClient().set_registered_model_alias(name, "champion", version.version)
        return version
    return register_best


def test_q2_reference_passes(reference):
    _expect(ex.q2, reference["register_best"], "passed")


def test_q2_mistakes():
    _expect(ex.q2, _register(order="metrics.test_f1 DESC"), says="lowest val_loss")
    _expect(ex.q2, _register(alias=False), says="alias 'champion'")


# --- q3 ----------------------------------------------------------------------------------------
def test_q3_reference_passes(reference):
    _expect(ex.q3, reference["training_memory_gb"], "passed")


def test_q3_mistakes(reference):
    right = reference["training_memory_gb"]
    _expect(ex.q3, lambda *a: right(*a) * 1e9, says="bytes")
    _expect(ex.q3, lambda *a: right(*a) * 1e9 / 2**30, says="GiB")
    _expect(ex.q3, lambda p, a, b, prec="fp32", opt="adam": p * 4 / 1e9 if prec == "fp32" else p * (4 if prec == "mixed" else 2) / 1e9,
            says="weights alone")
    _expect(ex.q3, lambda p, a, b, prec="fp32", opt="adam": p * 16 / 1e9, says="lesson's rules")


# --- q4 ----------------------------------------------------------------------------------------
def _run(seed_weights=True, seed_order=True, use_seed=True):
    def reproducible_run(X, y, seed):
        s = seed if use_seed else 0
        if seed_weights:
            torch.manual_seed(s)
        model = models.SpamMLP(X.shape[1])
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        gen = torch.Generator().manual_seed(s) if seed_order else None
        losses = []
        for _ in range(2):
            order = torch.randperm(len(X), generator=gen)
            total = 0.0
            for i in range(0, len(X), 64):
                idx = order[i:i + 64]
                loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item()
            losses.append(total)
        return losses
    return reproducible_run


def test_q4_reference_passes(reference):
    _expect(ex.q4, reference["reproducible_run"], "passed")


def test_q4_mistakes():
    _expect(ex.q4, _run(seed_weights=False), says="different losses")
    _expect(ex.q4, _run(use_seed=False), says="not used")
    _expect(ex.q4, lambda X, y, seed: 0.5, says="list of epoch losses")


# --- quiz --------------------------------------------------------------------------------------
def test_quiz_grades_the_bytes_per_parameter_question():
    q = next(q for q in quiz.questions(ex.LESSON) if q.id == "bytes_per_param")
    assert q.grade(16)[0] and not q.grade(4)[0]
    assert "weight alone" in q.grade(4)[1] and "two states" in q.grade(12)[1]


@pytest.mark.parametrize("name", [q.name for q in ex.QUESTIONS if q.hidden is not None])
def test_reference_answer_passes_a_hidden_case(name, reference):
    q = getattr(ex, name)
    verdict = hidden_verdict(q, *((reference[a]) for a in q.answers), seed=11)
    assert verdict.status == "passed", verdict
