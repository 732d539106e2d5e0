"""mlkit.training.bike: the bike-demand model, defined once and used by lessons 00 and 06 and the server."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from mlkit.course import datasets
from mlkit.training import bike

PACKAGE = Path(bike.__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bikes():
    return datasets.load_bike_sharing()


def test_encode_equals_scikit_learns_one_hot_encoder(bikes):
    """Oracle: the fixed-category one-hot of the hour of day and the weather, then the numbers, is what
    scikit-learn's OneHotEncoder makes with the same categories."""
    from sklearn.preprocessing import OneHotEncoder

    frame = bikes.assign(hour_of_day=bike.hour_of_day(bikes))
    one_hot = OneHotEncoder(categories=[list(bike.HOURS_OF_DAY), list(bike.WEATHER)], sparse_output=False)
    want = np.hstack([one_hot.fit_transform(frame[list(bike.CATEGORICAL)]), frame[list(bike.NUMERIC)].to_numpy()])
    got = bike.encode(bikes)
    assert got.shape == (len(bikes), bike.N_FEATURES) == (len(bikes), 55)
    np.testing.assert_array_equal(got, want)
    assert list(one_hot.get_feature_names_out(bike.CATEGORICAL)) + list(bike.NUMERIC) == list(bike.FEATURE_NAMES)


def test_hour_of_day_is_a_category_per_kind_of_day(bikes):
    hod = bike.hour_of_day(bikes)
    assert hod[(bikes.hr == 8) & (bikes.workingday == 1)].unique().tolist() == ["08 workday"]
    assert hod[(bikes.hr == 15) & (bikes.workingday == 0)].unique().tolist() == ["15 day off"]
    assert sorted(hod.unique()) == sorted(bike.HOURS_OF_DAY)


def test_unknown_values_and_missing_columns_are_refused(bikes):
    rows = bikes.head(3).copy()
    with pytest.raises(ValueError, match=r"Unknown weathersit value\(s\) \['snow'\]"):
        bike.encode(rows.assign(weathersit="snow"))
    with pytest.raises(ValueError, match="hr must be 0-23"):
        bike.encode(rows.assign(hr=24))
    with pytest.raises(KeyError, match="load_bike_sharing"):
        bike.encode(rows.drop(columns="temp"))
    with pytest.raises(ValueError, match="at least a day"):
        bike.BikeModel.fit(bikes.head(10))


def test_fit_encoded_is_the_same_model_as_fit(bikes):
    """Lesson 06's fast path (encode the year once, refit only the ridge) gives lesson 00's model."""
    train = bikes[bikes.datetime.dt.month <= 3]
    full = bike.BikeModel.fit(train)
    fast = bike.BikeModel.fit_encoded(bike.encode(train), train[bike.TARGET].to_numpy(float))
    np.testing.assert_allclose(fast.predict(bikes), full.predict(bikes), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fast.predict_encoded(bike.encode(bikes)), full.predict(bikes), rtol=1e-9, atol=1e-9)
    sklearn_pipeline = bike.make_model().fit(train[list(bike.INPUTS)], train[bike.TARGET])
    np.testing.assert_allclose(sklearn_pipeline.predict(bikes[list(bike.INPUTS)]), full.predict(bikes), rtol=1e-12)


def test_json_round_trip_and_old_files(bikes):
    model = bike.BikeModel.fit(bikes[bikes.datetime.dt.month == 1], alpha=2.0)
    stored = json.loads(json.dumps(model.to_dict()))
    again = bike.BikeModel.from_dict(stored)
    assert again.alpha == 2.0 and stored["columns"] == list(bike.FEATURE_NAMES)
    np.testing.assert_allclose(again.predict(bikes), model.predict(bikes), rtol=1e-12)
    # a file that lacks a feature (written when only the seen categories had columns): it weighs 0
    heavy = stored["columns"].index("weathersit_heavy rain/snow")
    old = {k: [v for i, v in enumerate(stored[k]) if i != heavy] if k in ("columns", "coef") else stored[k]
           for k in stored}
    rows = bikes[bikes.weathersit != "heavy rain/snow"]
    np.testing.assert_allclose(bike.BikeModel.from_dict(old).predict(rows), model.predict(rows), rtol=1e-12)
    with pytest.raises(Exception, match="does not make"):
        bike.BikeModel.from_dict({**stored, "columns": ["nonsense", *stored["columns"][1:]]})
    with pytest.raises(Exception, match="Not a stored bike model"):
        bike.BikeModel.from_dict({"coef": [1.0]})


def test_log_and_load_through_mlflow(bikes, tmp_path):
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    exp = mlflow.create_experiment("bike", artifact_location=(tmp_path / "artifacts").as_uri())
    model = bike.BikeModel.fit(bikes.head(500))
    with mlflow.start_run(experiment_id=exp) as run:
        model.log("model")
    loaded = bike.BikeModel.load(f"runs:/{run.info.run_id}/model")
    np.testing.assert_allclose(loaded.predict(bikes), model.predict(bikes), rtol=1e-12)
    with pytest.raises(Exception, match="Cannot load the bike model"):
        bike.BikeModel.load("runs:/0123456789abcdef/model")


def _names_used(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.attr if isinstance(n, ast.Attribute) else n.id for n in ast.walk(tree)
            if isinstance(n, (ast.Attribute, ast.Name))}


def test_the_bike_model_is_defined_once(bikes, tmp_path):
    """Issue 29: one feature definition and one model. Lesson 00's comparison, lesson 06's replay,
    lesson 06's pipeline and CI steps, and the model server all use mlkit.training.bike."""
    from mlkit.deployment.server import adapters
    from mlkit.overview import degradation
    from mlkit.retraining import pipeline, policies, replay, steps

    year = replay.load_stream()
    train = year[year.week < 8]
    want = bike.BikeModel.fit(train)
    (tmp_path / "model.json").write_text(json.dumps(want.to_dict()))
    rows = year.sample(50, random_state=0)
    # the callers get the same class ...
    made = {"lesson 00": degradation.fit(degradation.add_features(train).assign(month=1), [1]),
            "lesson 06 replay": policies.Encoded(year).fit(year.week < 8),
            "lesson 06 CI steps": steps._model(tmp_path / "model.json")}
    assert pipeline.BikeModel is bike.BikeModel and pipeline.COLUMNS[2:-1] == list(bike.INPUTS)
    for name, model in made.items():
        assert type(model) is bike.BikeModel, name
        np.testing.assert_allclose(model.predict(rows), want.predict(rows), rtol=1e-9, err_msg=name)
    # ... and the server's adapter scores request rows with it
    served = adapters.BikeAdapter(want).score(rows[list(bike.INPUTS)].to_dict("records"))
    np.testing.assert_allclose([s.value for s in served], want.predict(rows), rtol=1e-12)
    assert adapters.BikeAdapter.input_fields == bike.INPUTS
    # no module of the stages that use it builds a ridge or one-hot encodes, and none but bike.py
    # spells out the bike model's features
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == Path(bike.__file__).resolve():
            continue
        if path.parent.name in ("overview", "retraining", "deployment", "server"):
            assert not _names_used(path) & {"Ridge", "OneHotEncoder", "get_dummies", "LinearRegression"}, path
        assert "hour_of_day" not in path.read_text() and "light rain/snow" not in path.read_text(), path
