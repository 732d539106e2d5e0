"""Unit tests for mlkit.training.models (lesson 02): shapes, data preparation, learning behaviour."""

import pytest

torch = pytest.importorskip("torch")

from mlkit.training import models  # noqa: E402


def test_spam_mlp_shapes():
    m = models.SpamMLP(100, hidden=8)
    assert m(torch.zeros(3, 100)).shape == (3, 2)
    assert models.count_parameters(m) == 100 * 8 + 8 + 8 * 2 + 2


def test_cnn_accepts_images_and_flat_rows():
    m = models.SmallCNN(channels=4, hidden=8)
    assert m(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert m(torch.zeros(2, 784)).shape == (2, 10)


def test_spam_data_has_no_leakage_and_is_stratified():
    sp = models.spam_data(max_features=500)
    assert not set(sp.extra["text_train"]) & set(sp.extra["text_test"])
    assert sp.X_train.shape[1] == sp.n_features <= 500
    assert abs(sp.y_train.float().mean() - sp.y_test.float().mean()) < 0.01
    assert abs(len(sp.y_test) / (len(sp.y_train) + len(sp.y_test)) - 0.25) < 0.005
    assert len(sp.extra["data_version"]) == 12


def test_spam_data_is_deterministic():
    a, b = models.spam_data(max_features=300), models.spam_data(max_features=300)
    assert torch.equal(a.X_test, b.X_test) and a.extra["data_version"] == b.extra["data_version"]


def test_spam_data_uses_the_split_of_the_release_frame():
    from mlkit.course import datasets
    from mlkit.data import prep

    frame = prep.release_frame(datasets.load_sms_spam().iloc[:800])
    frame.attrs["data_version"] = "md5-of-the-release"
    sp = models.spam_data(frame, max_features=200)
    assert sp.extra["text_test"].tolist() == frame[frame.split == "test"].text.tolist()
    assert sp.y_train.tolist() == frame[frame.split == "train"].label.eq("spam").astype(int).tolist()
    assert sp.extra["data_version"] == "md5-of-the-release"
    raw = datasets.load_sms_spam().iloc[:800]  # a frame without a split goes through release_frame
    assert models.spam_data(raw, max_features=200).extra["text_test"].tolist() == sp.extra["text_test"].tolist()


def test_spam_pipeline_saves_and_loads_without_pickle(tmp_path):
    import json

    import numpy as np

    sp = models.spam_data(max_features=300)
    torch.manual_seed(0)
    pipe = models.SpamPipeline(sp.extra["vectorizer"], models.SpamMLP(sp.n_features, hidden=8))
    files = pipe.save(tmp_path)
    assert sorted(p.name for p in files) == sorted(models.SpamPipeline.FILES)
    assert json.loads((tmp_path / "spam_mlp.json").read_text())["hidden"] == 8
    back = models.SpamPipeline.load(tmp_path)
    texts = list(sp.extra["text_test"][:100]) + ["WIN a prize, call now", ""]
    assert np.array_equal(back.features(texts).numpy(), pipe.features(texts).numpy())
    assert np.array_equal(back.predict_proba(texts), pipe.predict_proba(texts))
    assert back.predict_proba("one text").shape == (1,)
    assert set(back.predict(texts, threshold=0.5)) <= {0, 1}
    assert np.array_equal(back.predict(texts, threshold=0.0), np.ones(len(texts), dtype=np.int64))


def test_mnist_data():
    mn = models.mnist_data()
    assert mn.X_train.shape[1:] == (1, 28, 28) and len(mn.X_train) == 4000
    assert float(mn.X_train.min()) >= 0 and float(mn.X_train.max()) <= 1
    assert sorted(set(mn.y_test.tolist())) == list(range(10))
    assert len(mn.subset(100).X_train) == 100


def test_spam_model_beats_chance_quickly():
    from mlkit.training import loop

    sp = models.spam_data(max_features=1000)
    torch.manual_seed(0)
    tr = loop.Trainer(models.SpamMLP(sp.n_features), lr=2e-3, epochs=3, seed=0, progress=False)
    tr.fit((sp.X_train, sp.y_train))
    assert tr.evaluate((sp.X_test, sp.y_test))["accuracy"] > 0.9
