"""Unit tests for mlkit.training.resources (lesson 02): oracles are published parameter counts and
real measurements of a training step."""

import pytest

torch = pytest.importorskip("torch")

from mlkit.training import models, resources  # noqa: E402


def test_published_parameter_counts():
    assert resources.bert_base().params == 109_482_240          # Hugging Face bert-base-uncased
    assert resources.llama_7b().params == 6_738_415_616         # LLaMA-7B
    assert resources.resnet152().params == 60_192_808           # torchvision resnet152


def test_resnet152_flops_and_activations_are_in_the_known_range():
    spec = resources.resnet152()
    assert 22e9 < spec.flops_per_sample < 24e9                  # ~11.6 GMACs per 224x224 image
    assert 100e6 < spec.activations_per_sample * 4 < 300e6      # ~0.2 GB of fp32 activations per image


def test_bytes_per_parameter_rules():
    spec = resources.ModelSpec("toy", params=1000, activations_per_sample=10, flops_per_sample=1)
    fp32 = resources.estimate_memory(spec, batch_size=4, precision="fp32")
    assert (fp32.weights, fp32.grads, fp32.optimizer, fp32.activations) == (4000, 4000, 8000, 160)
    assert resources.estimate_memory(spec, 4, "mixed").activations == 80
    assert resources.estimate_memory(spec, 4, "bf16").total == 2000 + 2000 + 4000 + 80
    assert resources.estimate_memory(spec, 4, "fp32", "sgd").optimizer == 0
    assert resources.estimate_memory(spec, 4, "fp32", training=False).total == 4000
    with pytest.raises(ValueError):
        resources.estimate_memory(spec, 4, "fp8")


def test_7b_reasoning_of_the_course_table():
    spec = resources.llama_7b()
    fp32_weights = resources.estimate_memory(spec, 1, "fp32", training=False).total
    assert 26e9 < fp32_weights < 28e9                            # "28 GB+": the fp32 weights alone
    full = resources.estimate_memory(spec, 1, "mixed")
    assert full.total > 100e9                                    # training needs several GPUs


@pytest.mark.parametrize("make, shape", [(lambda: models.SmallCNN(), (1, 28, 28)),
                                          (lambda: models.SpamMLP(500), (500,))])
def test_estimate_matches_a_measured_training_step(make, shape):
    torch.manual_seed(0)
    model = make()
    spec = resources.spec_from_model(model, shape)
    assert spec.params == models.count_parameters(model)
    X, y = torch.rand(32, *shape), torch.randint(0, 2, (32,))
    measured = resources.measure_training_memory(model, X, y)
    est = resources.estimate_memory(spec, 32, "fp32", "adam")
    assert measured.weights == est.weights and measured.optimizer == est.optimizer
    assert measured.activations == pytest.approx(est.activations, rel=0.05)
    assert measured.total == pytest.approx(est.total, rel=0.05)


def test_compute_and_time():
    spec = resources.ModelSpec("toy", params=10, activations_per_sample=1, flops_per_sample=100.0)
    assert resources.training_flops(spec, 10) == 3000
    assert resources.training_time_s(1e15, peak_flops=1e15, utilization=0.5) == 2.0


def test_table():
    df = resources.table([(resources.bert_base(), 32, "mixed")])
    assert df.loc[0, "params (M)"] == 109.5 and df.loc[0, "total (GB)"] > 10
