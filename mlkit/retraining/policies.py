"""Lesson 06: when to retrain, and a year of production replayed under each rule.

A policy looks, at the start of each week, at what production knows then (:class:`Context`)
and says whether to retrain. :func:`simulate` runs one policy over the stream: the served
model predicts each week, its error is measured, and a retrain fits a fresh model on the
labelled rows of the last ``window_weeks`` weeks. Four rules:

- :class:`Never`: the model trained on the first weeks (winter) serves all year;
- :class:`Scheduled`: every ``every`` weeks;
- :class:`DriftTriggered`: when lesson 05's :class:`~mlkit.monitoring.drift.DriftDetector`
  finds last week's weather drifted from the model's training data;
- :class:`PerformanceTriggered`: when the error on the latest labelled week passes a threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlkit.evaluation.metrics import mae, relative_error
from mlkit.retraining import replay
from mlkit.training import bike

if TYPE_CHECKING:
    import pandas as pd

DRIFT_COLUMNS = ("temp", "hum")


@dataclass
class Context:
    """What production knows at the start of ``week``."""

    week: int
    weeks_since_retrain: int
    recent_error: float | None  # relative error of the served model on the latest labelled week
    reference: pd.DataFrame  # the served model's training rows
    last_week: pd.DataFrame  # last week's rows (features known; labels perhaps not yet)


class Policy:
    """A retraining rule: :meth:`should_retrain` sees a :class:`Context` and answers yes or no."""

    name = "policy"

    def should_retrain(self, ctx: Context) -> bool:  # pragma: no cover - the subclasses say
        raise NotImplementedError

    def __repr__(self) -> str:
        shown = {k: v for k, v in vars(self).items() if k not in ("name", "last", "columns")}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


class Never(Policy):
    """Never retrain: the first model serves all year."""

    name = "never"

    def should_retrain(self, ctx: Context) -> bool:
        return False


@dataclass(repr=False)
class Scheduled(Policy):
    """Retrain every ``every`` weeks, whatever happens."""

    every: int = 4
    name: str = "scheduled"

    def should_retrain(self, ctx: Context) -> bool:
        if self.every < 1:
            raise ValueError(f"every must be at least 1 week, not {self.every}.")
        return ctx.weeks_since_retrain >= self.every


@dataclass(repr=False)
class DriftTriggered(Policy):
    """Retrain when lesson 05's detector finds last week drifted from the training data.

    ``threshold`` is the per-column Wasserstein distance (in reference standard deviations);
    ``columns`` the watched features. Drift needs no labels, so it can fire before the error
    is even measurable.
    """

    threshold: float = 1.0
    columns: Sequence[str] = DRIFT_COLUMNS
    method: str = "wasserstein"
    name: str = "drift_triggered"
    last: Any = field(default=None, compare=False)

    def should_retrain(self, ctx: Context) -> bool:
        from mlkit.monitoring import drift

        detector = drift.DriftDetector(ctx.reference, list(self.columns), method=self.method,
                                       threshold=self.threshold, drift_share=0.5)
        self.last = detector.quick(ctx.last_week)
        return self.last.drifted


@dataclass(repr=False)
class PerformanceTriggered(Policy):
    """Retrain when the served model's relative error on the latest labelled week exceeds ``threshold``."""

    threshold: float = 0.3
    name: str = "performance_triggered"

    def should_retrain(self, ctx: Context) -> bool:
        return ctx.recent_error is not None and ctx.recent_error > self.threshold


POLICIES = {"never": Never, "scheduled": Scheduled, "drift_triggered": DriftTriggered,
            "performance_triggered": PerformanceTriggered}


def make(name: str, threshold: float | None = None) -> Policy:
    """A policy by name; ``threshold`` is the weeks for "scheduled", the drift or error threshold otherwise."""
    if name not in POLICIES:
        raise ValueError(f"Unknown policy {name!r}; choose one of {sorted(POLICIES)}.")
    if threshold is None or name == "never":
        return POLICIES[name]()
    if name == "scheduled":
        return Scheduled(every=max(1, round(threshold)))
    return POLICIES[name](threshold=float(threshold))


@dataclass
class Simulation:
    """One policy's year: ``weekly`` has one row per served week (``week``, ``mae``, ``rel_error``,
    ``retrained``, ``model_week``); ``retrain_weeks`` lists the weeks that started with a retrain."""

    policy: str
    weekly: pd.DataFrame
    retrain_weeks: list[int]

    @property
    def mae(self) -> float:
        """Mean absolute error (bikers per hour) over every served hour."""
        return float((self.weekly["mae"] * self.weekly["rows"]).sum() / self.weekly["rows"].sum())

    @property
    def retrains(self) -> int:
        return len(self.retrain_weeks)


class Encoded:
    """The stream encoded once by the bike model's own features (:func:`mlkit.training.bike.encode`),
    with the target, the week and the time, so that a year of weekly refits of the same model
    (:meth:`~mlkit.training.bike.BikeModel.fit_encoded`) takes a fraction of a second."""

    def __init__(self, stream: pd.DataFrame) -> None:
        self.stream = stream
        self.X = bike.encode(stream)
        self.y = stream[bike.TARGET].to_numpy(dtype=float)
        self.week = stream["week"].to_numpy()
        self.time = stream["datetime"].to_numpy()

    def labelled(self, week: int, delay_days: float, window_weeks: int | None = None) -> Any:
        """A boolean mask: the rows labelled by the start of ``week`` (see :func:`replay.labelled_at`)."""
        import numpy as np

        start = np.datetime64(replay.week_start(self.stream, week)) - np.timedelta64(int(delay_days * 24), "h")
        mask = self.time < start
        if window_weeks is not None:
            mask &= self.week >= week - window_weeks
        return mask

    def fit(self, mask: Any) -> bike.BikeModel:
        """The bike model fitted on the rows of ``mask``."""
        return bike.BikeModel.fit_encoded(self.X[mask], self.y[mask])


def simulate(policy: Policy, stream: pd.DataFrame | Encoded | None = None, *, initial_weeks: int = 8,
             window_weeks: int = 8, delay_days: float = 7, min_gap: int = 1) -> Simulation:
    """Replay the year under ``policy`` (lesson 06).

    The first model is fitted on weeks ``0..initial_weeks-1``; from then on, at the start of
    each week the policy decides (at most one retrain every ``min_gap`` weeks), a retrain fits
    on the rows labelled by then within the last ``window_weeks`` weeks (labels arrive
    ``delay_days`` late), and the served model's error on the week is recorded.
    """
    import pandas as pd

    data = stream if isinstance(stream, Encoded) else Encoded(replay.load_stream() if stream is None else stream)
    if not 1 <= initial_weeks < replay.WEEKS:
        raise ValueError(f"initial_weeks must be between 1 and {replay.WEEKS - 1}, not {initial_weeks}.")
    train = data.week < initial_weeks
    model, model_week, since = data.fit(train), initial_weeks, 0
    rows, retrains = [], []
    for week in range(initial_weeks, replay.WEEKS):
        since += 1
        latest = data.labelled(week, delay_days) & ~data.labelled(week - 1, delay_days)
        recent = None
        if latest.sum() >= 24:
            recent = relative_error(data.y[latest], model.predict_encoded(data.X[latest]))
        ctx = Context(week, since, recent, data.stream[train], data.stream[data.week == week - 1])
        retrained = since >= min_gap and policy.should_retrain(ctx)
        if retrained:
            train = data.labelled(week, delay_days, window_weeks)
            model, model_week, since = data.fit(train), week, 0
            retrains.append(week)
        now = data.week == week
        y, pred = data.y[now], model.predict_encoded(data.X[now])
        rows.append({"week": week, "rows": int(now.sum()), "mae": mae(y, pred), "rel_error": relative_error(y, pred),
                     "recent_error": recent,
                     "retrained": retrained, "model_week": model_week})
    return Simulation(policy.name, pd.DataFrame(rows), retrains)


def compare(policies: Sequence[Policy], stream: pd.DataFrame | Encoded | None = None, **kwargs: Any
            ) -> tuple[pd.DataFrame, dict[str, Simulation]]:
    """Simulate each policy over the same stream; return a table (policy, mae, retrains) and the runs."""
    import pandas as pd
    from tqdm.auto import tqdm

    data = stream if isinstance(stream, Encoded) else Encoded(replay.load_stream() if stream is None else stream)
    runs = {p.name: simulate(p, data, **kwargs) for p in tqdm(policies, desc="policies", leave=False)}
    table = pd.DataFrame([{"policy": n, "mae": r.mae, "retrains": r.retrains,
                           "retrain_weeks": r.retrain_weeks} for n, r in runs.items()])
    return table.set_index("policy"), runs


def figure(runs: dict[str, Simulation]) -> Any:
    """Error over the weeks for each policy, retrains marked with dots (lesson 06's plot)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.5))
    for name, run in runs.items():
        w = run.weekly
        (line,) = ax.plot(w["week"], w["mae"], label=f"{name} ({run.retrains} retrains, MAE {run.mae:.0f})")
        hit = w[w["retrained"]]
        ax.plot(hit["week"], hit["mae"], "o", color=line.get_color())
    ax.set(xlabel="week of 2011", ylabel="MAE (bikers per hour)", title="served model's error, week by week")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
