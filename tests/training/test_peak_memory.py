"""mlkit.training.peak_memory: the peak of a real step, measured by the operating system or the GPU allocator, against the calculator."""

import json
import subprocess
import sys

import pytest

pytest.importorskip("torch")

# The peak resident memory is the whole process's: measured in a fresh process, so that what
# a test process did before (other tests, their threads, a fragmented heap) cannot add to it.
_MEASURE = """
import json, sys, torch
from mlkit.training import footprint, models, peak_memory, resources
torch.manual_seed(0)
if sys.argv[1] == "linear":  # 8 MB of fp32 weights
    model, X, y, opt, shape = torch.nn.Linear(4000, 500), torch.rand(256, 4000), torch.randint(0, 2, (256,)), "sgd", (4000,)
else:
    model, X, y, opt = models.SmallCNN(), torch.rand(256, 1, 28, 28), torch.randint(0, 10, (256,)), "adam"
    shape = (1, 28, 28)
peak_memory.measure_peak_memory(model, X[:4], y[:4])  # warm-up: lazy initialisation of torch's kernels
peak = peak_memory.measure_peak_memory(model, X, y, optimizer=opt)
est = resources.estimate_memory(footprint.spec_from_model(model, shape), 256, "fp32", opt)
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
