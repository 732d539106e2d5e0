"""mlkit.exercises.lesson03: the reference answers (from the solutions notebook) pass, and
typical mistakes get their specific message."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("fairlearn")

from exercise_checks import expect as _expect  # noqa: E402
from exercise_checks import hidden_verdict  # noqa: E402
from sklearn import metrics as skm  # noqa: E402

from mlkit.evaluation import behaviour, metrics  # noqa: E402
from mlkit.exercises import fixtures  # noqa: E402
from mlkit.exercises import lesson03 as ex  # noqa: E402


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("MLKIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLKIT_STRICT", raising=False)


@pytest.fixture(scope="module")
def champion():
    """A spam pipeline trained as lesson 02 trains the champion (a few epochs): q5's model."""
    from mlkit.training import loop, models

    spam = models.spam_data(seed=0)
    torch.manual_seed(0)
    mlp = models.SpamMLP(spam.n_features)
    loop.Trainer(mlp, device="cpu", epochs=5, seed=0, progress=False).fit((spam.X_train, spam.y_train))
    return models.SpamPipeline(spam.extra["vectorizer"], mlp)


@pytest.fixture(scope="module")
def reference(solutions):
    test = fixtures.sms_split(seed=0)[1]
    return solutions(ex.LESSON, *(q.answers[0] for q in ex.QUESTIONS), np=np, skm=skm, behaviour=behaviour,
                     test=test)




@pytest.mark.parametrize("name", ["q1", "q2", "q3", "q4", "q5"])
def test_reference_answer_passes(name, reference, champion, monkeypatch):
    monkeypatch.setattr(ex, "champion", lambda: champion)
    q = getattr(ex, name)
    _expect(q, reference[q.answers[0]], "passed")


def test_questions_are_listed_with_hints():
    assert [q.name for q in ex.QUESTIONS] == ["q1", "q2", "q3", "q4", "q5"]
    assert all(len(q.hints) >= 3 for q in ex.QUESTIONS)


# --- q1 --------------------------------------------------------------------------------------------------
def _dcg(rel, order, k):
    return float(np.sum(np.asarray(rel, float)[order][:k] / np.log2(np.arange(2, min(k, len(rel)) + 2))))


def test_q1_mistakes():
    unnormalised = lambda rel, s, k: _dcg(rel, np.argsort(-s), k)  # noqa: E731
    _expect(ex.q1, unnormalised, says="divide the DCG by the ideal DCG")
    ascending = lambda rel, s, k: skm.ndcg_score([rel], [-s], k=k)  # noqa: E731
    _expect(ex.q1, ascending, says="lowest score up")
    self_ideal = lambda rel, s, k: _dcg(rel, np.argsort(-s), k) / _dcg(rel, np.argsort(-s), k)  # noqa: E731
    _expect(ex.q1, self_ideal, says="sort by the true relevance")
    precision = lambda rel, s, k: float((np.asarray(rel)[np.argsort(-s)][:k] > 0).mean())  # noqa: E731
    _expect(ex.q1, precision, says="That is precision@k")

    def zero_rank(rel, s, k):
        top = np.asarray(rel, float)[np.argsort(-s)][:k]
        with np.errstate(divide="ignore"):
            return float(np.sum(top / np.log2(np.arange(1, len(top) + 1))))

    _expect(ex.q1, zero_rank, says="ranks start at 1")
    _expect(ex.q1, lambda rel, s, k: None, says="one number")


# --- q2 --------------------------------------------------------------------------------------------------
def test_q2_mistakes():
    _expect(ex.q2, lambda y, p, r: 0.99, says="gives recall")  # too strict: recall below the requirement
    _expect(ex.q2, lambda y, p, r: 0.0, says="highest precision")
    _expect(ex.q2, lambda y, p, r: (0.5, 0.9), says="not a tuple")


# --- q3 --------------------------------------------------------------------------------------------------
def _compare(paired=True, honest=True, sign=1):
    def compare(y, a, b, seed=0, n_boot=400):
        rng = np.random.default_rng(seed)
        diffs = []
        for _ in range(n_boot):
            i = rng.integers(0, len(y), len(y))
            j = i if paired else rng.integers(0, len(y), len(y))
            diffs.append(metrics.f1(y[i], b[i]) - metrics.f1(y[j], a[j]))  # = skm.f1_score, faster
        low, high = np.percentile(diffs, [2.5, 97.5])
        diff = sign * (skm.f1_score(y, b) - skm.f1_score(y, a))
        if honest:
            verdict = "not significant" if low <= 0 <= high else ("B" if diff > 0 else "A")
        else:
            verdict = "B" if diff > 0 else "A"
        return {"diff": diff, "low": low, "high": high, "verdict": verdict}
    return compare


def test_q3_mistakes():
    _expect(ex.q3, _compare(honest=False), says="not significant")
    _expect(ex.q3, _compare(paired=False), says="pairing")
    _expect(ex.q3, _compare(sign=-1), says="wrong sign")
    _expect(ex.q3, lambda y, a, b, seed=0: (0.1, 0.0, 0.2), says="dict with the keys")


# --- q4 --------------------------------------------------------------------------------------------------
def test_q4_mistakes():
    _expect(ex.q4, lambda mf, m: mf.by_group[m].idxmax(), says="compare the absolute gaps")
    _expect(ex.q4, lambda mf, m: mf.difference()[m], says="return the group's name")
    _expect(ex.q4, lambda mf, m: (mf.by_group[m] - mf.overall[m]).idxmax(), says="")


# --- q5 --------------------------------------------------------------------------------------------------
def test_q5_mistakes(champion, monkeypatch):
    monkeypatch.setattr(ex, "champion", lambda: champion)
    passes = behaviour.MinimumFunctionality("easy", ["WIN a FREE prize! call 09061701461 now to claim"] * 3, [1, 1, 1])
    _expect(ex.q5, lambda: passes, says="The champion passes your test")
    short = behaviour.MinimumFunctionality("short", ["hello"], [1])
    _expect(ex.q5, lambda: short, says="at least 3")
    _expect(ex.q5, lambda: "a test", says="should return a behaviour test")


def test_stubs_read_not_started():
    def stub(*args, **kwargs):
        raise NotImplementedError()

    for q in ex.QUESTIONS:
        assert q.evaluate(stub)[0] == "not started"


@pytest.mark.parametrize("name", [q.name for q in ex.QUESTIONS if q.hidden is not None])
def test_reference_answer_passes_a_hidden_case(name, reference, champion, monkeypatch):
    monkeypatch.setattr(ex, "champion", lambda: champion)
    q = getattr(ex, name)
    verdict = hidden_verdict(q, *((reference[a]) for a in q.answers), seed=11)
    assert verdict.status == "passed", verdict
