"""Unit tests for mlkit.training.loop (lesson 02): the Trainer and its helpers."""

import pytest

torch = pytest.importorskip("torch")

from mlkit.training import loop  # noqa: E402


def _trainer(toy, tmp_path=None, **kw):
    kw.setdefault("epochs", 4)
    return loop.Trainer(toy.model(), lr=1e-2, batch_size=32, seed=0, progress=False,
                            checkpoint_dir=tmp_path, **kw)


def test_learns_a_separable_problem(toy):
    X, y = toy.data()
    tr = _trainer(toy, epochs=8)
    hist = tr.fit((X, y), (X, y))
    assert hist["val_accuracy"][-1] > 0.9
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    assert set(hist.last) >= {"epoch", "train_loss", "val_loss", "val_accuracy", "seconds", "samples_per_s"}


def test_same_seed_same_metrics(toy):
    X, y = toy.data()
    a = _trainer(toy).fit((X, y), (X, y))
    b = _trainer(toy).fit((X, y), (X, y))
    assert a["val_loss"] == b["val_loss"] and a["train_loss"] == b["train_loss"]


def test_dataloader_input_matches_tensors_in_spirit(toy):
    X, y = toy.data()
    loader = loop.make_loader(X, y, batch_size=32, seed=0)
    hist = _trainer(toy).fit(loader, (X, y))
    assert hist["val_accuracy"][-1] > 0.8


def test_checkpoint_resume_equals_uninterrupted(tmp_path, toy):
    X, y = toy.data()
    full = _trainer(toy, tmp_path / "a")
    full.fit((X, y), (X, y), epochs=4)
    part = _trainer(toy, tmp_path / "b")
    part.fit((X, y), (X, y), epochs=2)
    resumed = _trainer(toy, tmp_path / "b")  # a fresh process would build it the same way
    resumed.fit((X, y), (X, y), epochs=4, resume=True)
    assert len(resumed.history) == 4
    assert resumed.history["val_loss"] == pytest.approx(full.history["val_loss"], abs=1e-6)
    for p, q in zip(full.model.parameters(), resumed.model.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def test_checkpoint_is_weights_only_loadable(tmp_path, toy):
    X, y = toy.data()
    tr = _trainer(toy, tmp_path, epochs=2)
    tr.fit((X, y), (X, y))
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    assert state["epoch"] == 2 and "model" in state and "optimizer" in state
    assert (tmp_path / "best.pt").exists()
    fresh = loop.load_weights(toy.model(seed=1), tmp_path / "last.pt")
    for p, q in zip(fresh.parameters(), tr.model.parameters()):
        assert torch.equal(p, q)


def test_early_stopping_restores_best_weights(toy):
    X, y = toy.data()
    Xv, yv = X, 1 - y  # a validation set the model gets worse on as it learns
    tr = _trainer(toy, epochs=20, patience=2)
    hist = tr.fit((X, y), (Xv, yv))
    assert len(hist) < 20
    assert len(hist) == tr.best_epoch + 2
    assert tr.evaluate((Xv, yv))["loss"] == pytest.approx(tr.best, rel=1e-5)


def test_callbacks_get_each_epoch(toy):
    X, y = toy.data()
    seen = []
    _trainer(toy, callbacks=[seen.append], epochs=3).fit((X, y))
    assert [r["epoch"] for r in seen] == [1, 2, 3]


def test_monitor_accuracy_is_maximised(toy):
    tr = _trainer(toy, monitor="val_accuracy")
    assert tr.mode == "max"


def test_amp_off_on_cpu_by_default_and_bf16_when_asked(toy):
    X, y = toy.data()
    assert _trainer(toy).amp is False
    tr = _trainer(toy, amp=True, epochs=1)
    tr.fit((X, y), (X, y))
    assert tr.amp_dtype == torch.bfloat16 and tr.scaler is None


def test_predict_and_accuracy(toy):
    X, y = toy.data()
    tr = _trainer(toy, epochs=6)
    tr.fit((X, y))
    logits = tr.predict(X)
    assert logits.shape == (len(X), 2) and logits.dtype == torch.float32
    assert loop.accuracy(logits, y) == pytest.approx(tr.evaluate((X, y))["accuracy"])


def test_set_threads_never_exceeds_cores():
    import os

    n = loop.set_threads(1000)
    assert 1 <= n <= (os.cpu_count() or 1)
    assert torch.get_num_threads() == n


def test_plain_loop_and_trainer_end_with_bit_identical_weights(toy):
    X, y = toy.data()
    plain = loop.train_plain(toy.model(), X, y, lr=1e-2, epochs=3, batch_size=32, seed=0)
    trainer = loop.Trainer(toy.model(), lr=1e-2, epochs=3, batch_size=32, seed=0, progress=False)
    trainer.fit((X, y), (X, y))  # validating after each epoch changes nothing in training
    assert loop.same_weights(plain, trainer.model)
    other_seed = loop.train_plain(toy.model(), X, y, lr=1e-2, epochs=3, batch_size=32, seed=1)
    assert not loop.same_weights(plain, other_seed)  # the test can fail: the seed matters (dropout, order)


def test_plain_loop_learns(toy):
    X, y = toy.data()
    model = loop.train_plain(toy.model(), X, y, lr=1e-2, epochs=8, batch_size=32)
    model.eval()
    with torch.no_grad():
        assert loop.accuracy(model(X), y) > 0.9


def test_early_stopping_is_observable_in_the_history(toy):
    X, y = toy.data()
    Xv, yv = X, 1 - y  # a validation set the model gets worse on as it learns
    hist = _trainer(toy, epochs=20, patience=2).fit((X, y), (Xv, yv))
    assert hist.stopped_early and hist.stopped_epoch == len(hist) < 20
    assert hist.stopped_epoch == hist.best_epoch + 2
    assert hist.reason.startswith(f"stopped early after epoch {hist.stopped_epoch} of 20: val_loss did not improve "
                                  "for 2 epochs")
    assert f"weights of epoch {hist.best_epoch}" in hist.reason


def test_a_run_that_never_stops_says_so(toy):
    X, y = toy.data()
    hist = _trainer(toy, epochs=3, patience=5).fit((X, y), (X, y))
    assert not hist.stopped_early and hist.stopped_epoch == 3
    assert hist.reason.startswith("ran all 3 epochs") and "patience 5 never ran out" in hist.reason
    hist = _trainer(toy, epochs=2).fit((X, y))
    assert not hist.stopped_early and hist.best_epoch is None
    assert hist.reason == "ran all 2 epochs (no early stopping)"


def test_resume_without_a_checkpoint_dir_says_what_to_do(toy):
    X, y = toy.data()
    with pytest.raises(ValueError, match="checkpoint_dir"):
        _trainer(toy).fit((X, y), resume=True)


def test_resume_keeps_the_best_weights_for_early_stopping(tmp_path, toy):
    X, y = toy.data()
    Xv, yv = X, 1 - y
    full = _trainer(toy, tmp_path / "a", epochs=20, patience=2)
    full.fit((X, y), (Xv, yv))
    part = _trainer(toy, tmp_path / "b", epochs=20, patience=2)
    part.fit((X, y), (Xv, yv), epochs=2)
    resumed = _trainer(toy, tmp_path / "b", epochs=20, patience=2)
    resumed.fit((X, y), (Xv, yv), resume=True)
    assert resumed.best_epoch == full.best_epoch
    for p, q in zip(full.model.parameters(), resumed.model.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def test_tensorboard_callback_records_each_epoch_and_changes_nothing(tmp_path, toy):
    """Lesson 02 logs each epoch to TensorBoard from a Trainer callback: the event files hold the
    history's values (as 32-bit floats), and the weights equal the plain loop's."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    X, y = toy.data()
    with SummaryWriter(tmp_path / "run") as writer:
        def log(r):
            for name, value in r.items():
                if name != "epoch":
                    writer.add_scalar(name, value, global_step=int(r["epoch"]))
        tr = loop.Trainer(toy.model(), lr=1e-2, batch_size=32, epochs=3, seed=0, progress=False, callbacks=[log])
        hist = tr.fit((X, y), (X, y))
    events = EventAccumulator(str(tmp_path / "run")).Reload()
    assert set(events.Tags()["scalars"]) == set(hist.last) - {"epoch"}
    for name in ("train_loss", "val_loss", "val_accuracy"):
        assert [(e.step, e.value) for e in events.Scalars(name)] == [
            (i, float(torch.tensor(v, dtype=torch.float32))) for i, v in enumerate(hist[name], start=1)]
    plain = loop.train_plain(toy.model(), X, y, lr=1e-2, epochs=3, batch_size=32, seed=0)
    assert loop.same_weights(plain, tr.model)


def test_the_progress_bar_stays_when_training_ends(monkeypatch, toy):
    """A bar closed with leave=False removes its widget, which leaves an empty widget view in
    JupyterLab's saved output (lesson 02's CNN cell did): the Trainer's bar stays, complete."""
    import tqdm.auto

    bars = []

    class Recorder(tqdm.auto.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **{**kwargs, "disable": True})
            bars.append(kwargs)

    monkeypatch.setattr(tqdm.auto, "tqdm", Recorder)
    X, y = toy.data()
    loop.Trainer(toy.model(), epochs=2, batch_size=64, progress=True).fit((X, y))
    assert len(bars) == 1 and bars[0]["total"] == 2 * 4 and bars[0].get("leave", True) is True
