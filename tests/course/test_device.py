"""pick_device: the order cuda > mps > cpu, the environment variable, and clear errors."""

import pytest
import torch

from mlkit.course import config
from mlkit.course.device import pick_device
from mlkit.course.errors import DeviceError


@pytest.fixture
def machine(monkeypatch):
    """Pretend the machine has the given accelerators (torch's availability checks patched)."""

    def have(cuda: bool, mps: bool) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)

    monkeypatch.delenv(config.DEVICE_ENV, raising=False)
    return have


@pytest.mark.parametrize("cuda, mps, expected", [
    (True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu"),
])
def test_auto_prefers_cuda_then_mps_then_cpu(machine, cuda, mps, expected):
    machine(cuda=cuda, mps=mps)
    assert pick_device() == expected and pick_device("auto") == expected and pick_device(" AUTO ") == expected


def test_the_device_picked_here_is_one_torch_can_compute_on():
    device = pick_device()
    assert torch.ones(3, device=device).sum().item() == 3.0


def test_an_explicit_device_is_kept_when_available(machine):
    machine(cuda=True, mps=False)
    assert pick_device("cuda:1") == "cuda:1" and pick_device("CPU") == "cpu"


def test_environment_variable_is_read_and_the_parameter_beats_it(machine, monkeypatch):
    machine(cuda=True, mps=False)
    monkeypatch.setenv(config.DEVICE_ENV, "cpu")
    assert config.DEVICE_ENV == "MLKIT_DEVICE" and pick_device() == "cpu"
    monkeypatch.setenv(config.DEVICE_ENV, "tpu")
    assert pick_device("cuda") == "cuda"
    with pytest.raises(DeviceError, match="Unknown device 'tpu'"):
        pick_device()


def test_unknown_device_lists_the_valid_ones_and_says_where_to_set_it():
    with pytest.raises(DeviceError, match=r"Valid devices: auto, cuda, mps, cpu \(pass device=\.\.\. to "
                                          r"mlkit.setup or set MLKIT_DEVICE\)"):
        pick_device("tpu")


@pytest.mark.parametrize("name, message", [("cuda", "no CUDA GPU"), ("mps", "'mps' was asked for but it is not available")])
def test_unavailable_accelerator_says_what_to_do(machine, name, message):
    machine(cuda=False, mps=False)
    with pytest.raises(DeviceError, match=message):
        pick_device(name)
