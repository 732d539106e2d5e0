"""mlkit.training.footprint: a model measured on the meta device and one real step's accounting agree with the calculator."""

import pytest

torch = pytest.importorskip("torch")

from mlkit.training import footprint, models, resources  # noqa: E402


@pytest.mark.parametrize("make, shape", [(lambda: models.SmallCNN(), (1, 28, 28)),
                                          (lambda: models.SpamMLP(500), (500,))])
def test_estimate_matches_a_measured_training_step(make, shape):
    torch.manual_seed(0)
    model = make()
    spec = footprint.spec_from_model(model, shape)
    assert spec.params == models.count_parameters(model)
    X, y = torch.rand(32, *shape), torch.randint(0, 2, (32,))
    measured = footprint.measure_training_memory(model, X, y)
    est = resources.estimate_memory(spec, 32, "fp32", "adam")
    assert measured.weights == est.weights and measured.optimizer == est.optimizer
    assert measured.activations == pytest.approx(est.activations, rel=0.05)
    assert measured.total == pytest.approx(est.total, rel=0.05)


def test_saved_tensor_counter_skips_parameter_views_without_private_apis():
    import inspect

    assert "_base" not in inspect.getsource(footprint._SavedCounter)
    lin = torch.nn.Linear(100, 50)  # its forward saves the input and a transposed view of the weight
    on_meta = footprint.spec_from_model(lin, (100,))
    assert on_meta.activations_per_sample == 100  # the input only: the weight view is a parameter
    measured = footprint.measure_training_memory(torch.nn.Linear(100, 50), torch.rand(8, 100), torch.randint(0, 2, (8,)))
    assert 8 * 100 * 4 <= measured.activations < 8 * 100 * 4 + 2 * 8 * 50 * 4 + 100  # input, loss terms
    assert measured.activations < measured.weights / 4                            # no 20 kB weight view
