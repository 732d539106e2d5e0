"""The bike-demand model of lessons 00 and 06, defined once: hourly rentals from the hour and the weather.

* **Inputs** (:data:`INPUTS`: what one row of ``mlkit.course.datasets.load_bike_sharing()`` and
  one request to the model server carry): ``hr``, ``workingday``, ``weathersit``, ``temp``,
  ``hum``, ``windspeed``.
* **Features** (:func:`encode`): ``hour_of_day``, the hour with the kind of day ("08 workday":
  commuters make working days peak at 8:00 and 17:00, days off in the afternoon), one-hot, so
  17:00 is not "17 times" 1:00; the weather code one-hot; temperature, humidity and wind as
  numbers. The categories are fixed in advance (48 hours of day, 4 weather codes), never
  learned from the rows, so every model has the same :data:`N_FEATURES` columns and a year can
  be encoded once (lesson 06's replay).
* **Estimator**: ridge regression.

:func:`make_model` is the scikit-learn pipeline (features, then ridge) that lesson 00 fits and
prints. :class:`BikeModel` is a fitted one: lesson 00 compares a stale one with a refitted one,
lesson 06 replays a year of them, registers them as :data:`BIKE_MODEL` (stored as JSON, no
pickle), gates them and serves them through lesson 04's model server.

scikit-learn, pandas and mlflow are imported inside the functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlkit.course.errors import MlkitError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from sklearn.pipeline import Pipeline

BIKE_MODEL = "bike-demand"  # the registered name of the bike model (lesson 06)
TARGET = "bikers"  # riders in the hour
INPUTS = ("hr", "workingday", "weathersit", "temp", "hum", "windspeed")
NUMERIC = ("temp", "hum", "windspeed")  # shares of their maximum, 0..1
CATEGORICAL = ("hour_of_day", "weathersit")
WEATHER = ("clear", "cloudy/misty", "light rain/snow", "heavy rain/snow")
DAY_KINDS = {1: "workday", 0: "day off"}  # workingday -> the kind of day in hour_of_day
HOURS_OF_DAY = tuple(f"{h:02d} {kind}" for kind in DAY_KINDS.values() for h in range(24))
FEATURE_NAMES = (*(f"hour_of_day_{h}" for h in HOURS_OF_DAY), *(f"weathersit_{w}" for w in WEATHER), *NUMERIC)
N_FEATURES = len(FEATURE_NAMES)  # 48 hours of day + 4 weather codes + 3 numbers
MIN_ROWS = 24  # a model needs at least one day of labelled hours


def check_columns(frame: pd.DataFrame, needed: tuple[str, ...] = INPUTS) -> None:
    """Raise a KeyError naming the columns of ``needed`` that ``frame`` lacks."""
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise KeyError(f"The bike data lacks the column(s) {missing}: load it with "
                       "mlkit.course.datasets.load_bike_sharing() (a model needs "
                       f"{list(needed)}).")


def hour_of_day(frame: pd.DataFrame) -> pd.Series:
    """The hour with the kind of day, e.g. "08 workday" or "15 day off" (one category per hour and kind)."""
    return frame["hr"].map("{:02d}".format) + " " + frame["workingday"].map(DAY_KINDS)


def encode(frame: pd.DataFrame) -> np.ndarray:
    """The features of rows of :data:`INPUTS`: one row each, the :data:`FEATURE_NAMES` columns.

    Each category becomes its position in the fixed list (``pandas.Categorical``), then a one-hot
    row; a value outside the list (an hour of 24, a weather code the data never had) is refused.
    """
    import numpy as np
    import pandas as pd

    check_columns(frame)
    blocks = []
    for name, values, categories in (("hour_of_day", hour_of_day(frame), HOURS_OF_DAY),
                                     ("weathersit", frame["weathersit"], WEATHER)):
        codes = pd.Categorical(values, categories=categories).codes
        if (codes < 0).any():
            bad = sorted({str(v) for v, c in zip(values, codes) if c < 0})[:5]
            raise ValueError(f"Unknown {name} value(s) {bad}: hr must be 0-23, workingday 0 or 1, "
                             f"weathersit one of {list(WEATHER)}.")
        blocks.append(np.eye(len(categories))[codes])
    blocks.append(frame[list(NUMERIC)].to_numpy(float))
    return np.hstack(blocks)


def make_model(alpha: float = 1.0) -> Pipeline:
    """The model: the features (:func:`encode`), then a ridge regression with penalty ``alpha``; fit it on rows of
    :data:`INPUTS` and their :data:`TARGET`."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    return Pipeline([("features", FunctionTransformer(encode)), ("ridge", Ridge(alpha=alpha))])


class BikeModel:
    """A fitted :func:`make_model` (lessons 00 and 06): rows of :data:`INPUTS` in, bikers per hour out.

    Stored as JSON (:meth:`to_dict`: the penalty, the feature names, the coefficients and the
    intercept), logged to MLflow as ``model/model.json`` (:meth:`log`) and loaded back by
    registry URI (:meth:`load`).
    """

    FILE = "model.json"

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def __repr__(self) -> str:
        return f"BikeModel(alpha={self.alpha:g}, {N_FEATURES} features)"

    @property
    def alpha(self) -> float:
        return float(self.pipeline[-1].alpha)

    @staticmethod
    def _enough(n: int) -> None:
        if n < MIN_ROWS:
            raise ValueError(f"Only {n} labelled rows to train on; need at least a day ({MIN_ROWS}).")

    @classmethod
    def fit(cls, frame: pd.DataFrame, alpha: float = 1.0) -> BikeModel:
        """Fit :func:`make_model` on labelled rows (:data:`INPUTS` and :data:`TARGET`)."""
        check_columns(frame, (*INPUTS, TARGET))
        cls._enough(len(frame))
        return cls(make_model(alpha).fit(frame[list(INPUTS)], frame[TARGET].to_numpy(float)))

    @classmethod
    def fit_encoded(cls, X: np.ndarray, y: np.ndarray, alpha: float = 1.0) -> BikeModel:
        """The same model, fitted on rows already encoded by :func:`encode`: only the ridge learns
        (lesson 06's replay encodes the year once and refits hundreds of times)."""
        cls._enough(len(y))
        model = make_model(alpha)
        model[-1].fit(X, y)
        return cls(model)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predicted bikers per hour for rows of :data:`INPUTS`."""
        check_columns(frame)
        return self.pipeline.predict(frame[list(INPUTS)])

    def predict_encoded(self, X: np.ndarray) -> np.ndarray:
        """Predicted bikers per hour for rows already encoded by :func:`encode`."""
        return self.pipeline[-1].predict(X)

    # ---------------------------------------------------------------- storage
    def to_dict(self) -> dict[str, Any]:
        """The fitted model as JSON-ready numbers."""
        ridge = self.pipeline[-1]
        return {"alpha": self.alpha, "columns": list(FEATURE_NAMES), "coef": [float(c) for c in ridge.coef_],
                "intercept": float(ridge.intercept_)}

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> BikeModel:
        """The model that :meth:`to_dict` wrote. A stored feature the model does not make is refused;
        one it makes but the file lacks (never seen in training) weighs 0."""
        import numpy as np

        try:
            weights = dict(zip(stored["columns"], stored["coef"], strict=True))
            alpha, intercept = float(stored["alpha"]), float(stored["intercept"])
        except (KeyError, TypeError, ValueError) as exc:
            raise MlkitError(f"Not a stored bike model ({type(exc).__name__}: {exc}); write one with "
                             "BikeModel.to_dict().") from None
        unknown = sorted(set(weights) - set(FEATURE_NAMES))
        if unknown:
            raise MlkitError(f"The stored bike model has features this model does not make: {unknown[:5]}.")
        model = make_model(alpha)
        ridge = model[-1]  # a fitted ridge is its coefficients and intercept
        ridge.coef_ = np.array([float(weights.get(c, 0.0)) for c in FEATURE_NAMES])
        ridge.intercept_ = intercept
        ridge.n_features_in_ = N_FEATURES
        return cls(model)

    def log(self, artifact_path: str = "model") -> None:
        """Log the model as ``<artifact_path>/model.json`` in the active MLflow run (lesson 06)."""
        import mlflow

        mlflow.log_dict(self.to_dict(), f"{artifact_path}/{self.FILE}")

    @classmethod
    def load(cls, uri: str) -> BikeModel:
        """The bike model behind an MLflow URI (``models:/bike-demand@champion``, ``models:/bike-demand/3``,
        ``runs:/<id>/model``); raises MlkitError when there is none."""
        import json
        import tempfile
        from pathlib import Path

        import mlflow

        from mlkit.course.quiet import quiet

        with tempfile.TemporaryDirectory() as tmp, quiet():
            try:
                local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp))
            except mlflow.exceptions.MlflowException as exc:
                raise MlkitError(f"Cannot load the bike model {uri}: {exc.message.splitlines()[0]}") from None
            found = sorted(local.rglob(cls.FILE)) if local.is_dir() else [local]
            if not found:
                raise MlkitError(f"{uri} is not a bike model (no {cls.FILE} among its files).")
            return cls.from_dict(json.loads(found[0].read_text()))
