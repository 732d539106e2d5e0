import pytest
import torch

from mlkit.course.device import pick_device
from mlkit.course.errors import DeviceError


def test_auto_prefers_cuda_then_mps_then_cpu():
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert pick_device() == expected
    assert pick_device("auto") == expected


def test_cpu_always_works_and_names_are_case_insensitive():
    assert pick_device("CPU") == "cpu"


def test_environment_variable_is_read(monkeypatch):
    monkeypatch.setenv("MLKIT_DEVICE", "cpu")
    assert pick_device() == "cpu"


def test_parameter_beats_environment(monkeypatch):
    monkeypatch.setenv("MLKIT_DEVICE", "tpu")
    assert pick_device("cpu") == "cpu"


def test_unknown_device_lists_the_valid_ones():
    with pytest.raises(DeviceError, match="Valid devices: auto, cuda, mps, cpu"):
        pick_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_unavailable_cuda_says_what_to_do():
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        pick_device("cuda")
