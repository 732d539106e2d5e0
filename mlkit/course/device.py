"""Pick the compute device: cuda, then mps, then cpu (used by every lesson's set-up)."""

from __future__ import annotations

from mlkit.course.config import DEVICE_ENV, settings
from mlkit.course.errors import DeviceError

VALID_DEVICES = ("auto", "cuda", "mps", "cpu")


def requested_device(name: str | None = None) -> str:
    """The device asked for, checked by name only (torch is not imported): "auto" when nothing is.

    Args:
        name: "auto", "cuda", "cuda:1", "mps" or "cpu"; None reads $MLKIT_DEVICE, else "auto".

    Raises:
        DeviceError: the name is unknown.
    """
    requested = (name or settings().device or "auto").strip().lower()
    if requested.split(":", 1)[0] not in VALID_DEVICES:
        raise DeviceError(
            f"Unknown device {requested!r}. Valid devices: {', '.join(VALID_DEVICES)} "
            f"(pass device=... to mlkit.setup or set {DEVICE_ENV})."
        )
    return requested


def pick_device(name: str | None = None) -> str:
    """Return the device to use as a string torch understands ("cuda", "mps", "cpu").

    Args:
        name: "auto" (or None) picks the best available; "cuda", "cuda:1", "mps" or
            "cpu" ask for one. When None, the environment variable $MLKIT_DEVICE is read.

    Raises:
        DeviceError: the name is unknown, or that device is not available here.
    """
    requested = requested_device(name)
    kind = requested.split(":", 1)[0]
    if kind == "cpu":
        return requested
    import torch

    cuda_ok = torch.cuda.is_available()
    mps_ok = hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
    if kind == "auto":
        return "cuda" if cuda_ok else "mps" if mps_ok else "cpu"
    if kind == "cuda" and not cuda_ok:
        raise DeviceError(
            "Device 'cuda' was asked for but torch sees no CUDA GPU here "
            f"(torch {torch.__version__}). Use device='auto' or 'cpu', or install a CUDA "
            "build of torch (see README.md, 'Using a GPU')."
        )
    if kind == "mps" and not mps_ok:
        raise DeviceError("Device 'mps' was asked for but it is not available; use 'auto' or 'cpu'.")
    return requested
