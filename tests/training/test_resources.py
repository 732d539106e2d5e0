"""Unit tests for mlkit.training.resources (lesson 02), the calculator: bytes per parameter, compute, time."""

import pytest

torch = pytest.importorskip("torch")

from mlkit.training import architectures, resources  # noqa: E402


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
    spec = architectures.llama_7b()
    fp32_weights = resources.estimate_memory(spec, 1, "fp32", training=False).total
    assert 26e9 < fp32_weights < 28e9                            # "28 GB+": the fp32 weights alone
    full = resources.estimate_memory(spec, 1, "mixed")
    assert full.total > 100e9                                    # mixed precision: over 100 GB
    assert 80e9 < resources.estimate_memory(spec, 1, "bf16").total < 100e9  # all-bf16: 84.5 GB, not "over 100"


def test_compute_and_time():
    spec = resources.ModelSpec("toy", params=10, activations_per_sample=1, flops_per_sample=100.0)
    assert resources.training_flops(spec, 10) == 3000
    assert resources.training_time_s(1e15, peak_flops=1e15, utilization=0.5) == 2.0


def test_table():
    df = resources.table([(architectures.bert_base(), 32, "mixed")])
    assert df.loc[0, "params (M)"] == 109.5 and df.loc[0, "total (GB)"] > 10
