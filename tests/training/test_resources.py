"""Unit tests for mlkit.training.resources (lesson 02): oracles are published parameter counts and
real measurements of a training step."""

import json
import subprocess
import sys

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
    assert full.total > 100e9                                    # mixed precision: over 100 GB
    assert 80e9 < resources.estimate_memory(spec, 1, "bf16").total < 100e9  # all-bf16: 84.5 GB, not "over 100"


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


def test_saved_tensor_counter_skips_parameter_views_without_private_apis():
    import inspect

    assert "_base" not in inspect.getsource(resources._SavedCounter)
    lin = torch.nn.Linear(100, 50)  # its forward saves the input and a transposed view of the weight
    on_meta = resources.spec_from_model(lin, (100,))
    assert on_meta.activations_per_sample == 100  # the input only: the weight view is a parameter
    measured = resources.measure_training_memory(torch.nn.Linear(100, 50), torch.rand(8, 100), torch.randint(0, 2, (8,)))
    assert 8 * 100 * 4 <= measured.activations < 8 * 100 * 4 + 2 * 8 * 50 * 4 + 100  # input, loss terms
    assert measured.activations < measured.weights / 4                            # no 20 kB weight view


# The peak resident memory is the whole process's: measured in a fresh process, so that what
# a test process did before (other tests, their threads, a fragmented heap) cannot add to it.
_MEASURE = """
import json, sys, torch
from mlkit.training import models, resources
torch.manual_seed(0)
if sys.argv[1] == "linear":  # 8 MB of fp32 weights
    model, X, y, opt, shape = torch.nn.Linear(4000, 500), torch.rand(256, 4000), torch.randint(0, 2, (256,)), "sgd", (4000,)
else:
    model, X, y, opt = models.SmallCNN(), torch.rand(256, 1, 28, 28), torch.randint(0, 10, (256,)), "adam"
    shape = (1, 28, 28)
resources.measure_peak_memory(model, X[:4], y[:4])  # warm-up: lazy initialisation of torch's kernels
peak = resources.measure_peak_memory(model, X, y, optimizer=opt)
est = resources.estimate_memory(resources.spec_from_model(model, shape), 256, "fp32", opt)
print(json.dumps({"method": peak.method, "bytes": peak.bytes, "phases": peak.phases, "mb": peak.as_mb(),
                  "weights": est.weights, "activations": est.activations, "grads": est.grads, "total": est.total}))
"""


def _measured(workload: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", _MEASURE, workload], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.splitlines()[-1])


def test_independent_peak_agrees_with_the_estimate_part_by_part():
    """SGD on a linear model, measured by the OS (or the GPU allocator), not by the estimate's
    own accounting: copying the model and batch, then the backward pass, add what the
    estimate says they add; the peak is above the estimate only by temporaries."""
    m = _measured("linear")
    assert "peak resident memory" in m["method"] or "max_memory_allocated" in m["method"]
    assert list(m["phases"]) == ["model and batch copied", "forward", "backward", "optimizer step"]
    assert m["phases"]["model and batch copied"] == pytest.approx(m["weights"] + m["activations"], rel=0.15), m
    assert m["phases"]["backward"] - m["phases"]["forward"] >= 0.9 * m["grads"], m
    assert m["total"] * 0.9 < m["bytes"] < m["total"] * 1.6, m


def test_adam_and_convolutions_need_more_than_the_estimate_never_less():
    m = _measured("cnn")
    assert 0.9 * m["total"] < m["bytes"] < 3 * m["total"], m  # temporaries: im2col, activation grads


def test_course_table_is_data_with_every_row_explained():
    table = resources.course_table_comparison()
    assert list(table["course text"]) == [row["model"] for row in resources.COURSE_TABLE]
    assert table["explanation"].str.len().gt(80).all()
    llm = table.set_index("course text").loc["LLM (7B params)"]
    assert llm["calculator (GB)"] == 84.5 and "over 100 GB only in mixed precision" in llm["explanation"]
    assert "138.4 GB in mixed" in llm["explanation"] and "27.0 GB" in llm["explanation"]
    r152 = table.set_index("course text").loc["Large CNN (ResNet-152)"]
    assert 12 <= r152["calculator (GB)"] <= 16                  # inside the text's 12-16 GB
