"""Lesson 02's models in the course store: the champion rule, and how ``ws.require`` builds them.

* :func:`ranked_runs`: the champion rule, written once. A sweep's child runs, best first:
  validation F1 of spam, ties broken by the lower validation loss. The first becomes the
  ``champion``, the second the ``challenger``. Lesson 02's sweep, :func:`build_models` and the
  tests rank with it.
* :class:`SpamModelRef`: a registered version of :data:`~mlkit.training.tracking.SPAM_MODEL`
  behind an alias, with its lineage; ``.load()`` gives the texts-in pipeline.
* :func:`build_models`: lesson 02 in brief, what ``ws.require("model@champion")`` runs when
  the store lacks it.
* :data:`PROVIDER`: how the store asks for ``model@...`` (an entry point of group
  ``mlkit.store`` in ``pyproject.toml``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from mlkit.course.quiet import quiet
from mlkit.course.store import ModelRef, Provider, Store, StoreError
from mlkit.training.tracking import SPAM_MODEL

if TYPE_CHECKING:
    import pandas as pd

    from mlkit.training.models import SpamPipeline

ALIASES = ("champion", "challenger")  # the best and the second best run of lesson 02's sweep
TRAIN_EXPERIMENT = "02_training"
CHAMPION_ORDER = ["metrics.val_f1 DESC", "metrics.val_loss ASC"]  # the champion rule, as MLflow sorts
FAST_SWEEP = [(1e-3, 64), (3e-3, 32)]  # lesson 02's sweep in fast mode, and ws.require's: (learning rate, hidden)
SPAM_EPOCHS = 8  # epochs of each run of the sweep


def ranked_runs(experiment_id: str, parent_run_id: str) -> pd.DataFrame:
    """The child runs of the sweep ``parent_run_id``, best first by the champion rule (lesson 02):
    validation F1 of spam (``metrics.val_f1``), ties broken by the lower validation loss. One
    row per run, as ``mlflow.search_runs`` gives it. The test F1 is never used to choose."""
    import mlflow

    return mlflow.search_runs(experiment_ids=[experiment_id], order_by=CHAMPION_ORDER,
                              filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'")


@dataclass(frozen=True)
class SpamModelRef(ModelRef):
    """A registered version of lesson 02's spam model behind an alias, with its lineage."""

    def load(self) -> SpamPipeline:
        """The model itself (:func:`mlkit.training.tracking.load_spam_model`), texts in, P(spam) out."""
        from mlkit.training import tracking

        return tracking.load_spam_model(self.uri)


def build_models(store: Store, alias: str = "champion", seed: int = 0) -> SpamModelRef:
    """Lesson 02 in brief: train the spam MLP for each setting of the fast sweep on data v1,
    log each as an MLflow run (params, data and code version, metrics, the model), register
    the best by :func:`ranked_runs` as ``champion`` and the runner-up as ``challenger``."""
    import mlflow

    from mlkit.training import models, tracking

    release = store.require("data@v1", seed=seed)
    spam = models.spam_data(release)
    fit_data, val_data = spam.holdout(0.15, seed=seed)
    versions = {"data_version": release.md5, "code_version": tracking.code_version()}
    with quiet():
        exp_id = store.experiment(TRAIN_EXPERIMENT)
        with mlflow.start_run(run_name="sweep (built by ws.require)") as parent:
            mlflow.set_tags({**versions, "built_by": "ws.require"})
            for lr, hidden in FAST_SWEEP:
                with mlflow.start_run(run_name=f"mlp lr={lr:g} hidden={hidden}", nested=True):
                    mlflow.set_tags(versions)
                    tracking.train_spam_run(spam, fit_data, val_data, lr=lr, hidden=hidden, epochs=SPAM_EPOCHS,
                                            seed=seed)
        runs = ranked_runs(exp_id, parent.info.run_id)
        for name, (_, best) in zip(ALIASES, runs.iterrows()):
            tracking.register_spam_model(best["tags.model_uri"], name, versions)
    return _find(store, alias)


def _find(store: Store, alias: str) -> SpamModelRef | None:
    try:
        return SpamModelRef(**asdict(store.model(alias, SPAM_MODEL)))
    except StoreError:
        return None


def summary(store: Store) -> str:
    """Lesson 02's model versions with their aliases and lineage, as a table (``mlkit store``)."""
    from tabulate import tabulate

    from mlkit.data import releases

    rows = store.models(SPAM_MODEL)
    if not rows:
        return f"{SPAM_MODEL}: none registered yet (run lesson 02)"
    tag_of = releases.versions(store)  # {md5: tag}
    table = [[f"{SPAM_MODEL} v{m['version']}", ", ".join(m["aliases"]) or "-",
              f"{m['data_version']} ({tag_of.get(m['data_version'], '?')})", m["code_version"], m["run_id"],
              "-" if m["test_f1"] is None else f"{m['test_f1']:.3f}"] for m in rows]
    return tabulate(table, headers=["model version", "aliases", "data (DVC md5, release)", "code version",
                                    "MLflow run", "test F1"])


PROVIDER = Provider(kind="model", lesson="lesson 02", buildable=ALIASES, find=_find,
                    build=lambda store, alias, seed: build_models(store, alias, seed), summary=summary,
                    models=(SPAM_MODEL,))
