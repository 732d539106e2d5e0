"""The peak memory of one real training step (lesson 02), measured by the operating system or the
GPU allocator, not by the calculator's own accounting: the check of
:func:`mlkit.training.resources.estimate_memory` against a figure it does not compute itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PeakMemory:
    """Memory one training step really took, measured independently of the estimate.

    Attributes:
        bytes: peak memory during the step above what was in use before it (model copy,
            batch copy, gradients, optimizer state, activations, and temporaries).
        method: how it was measured, in words (say it next to the number).
    """

    bytes: float
    method: str
    phases: dict[str, float] = field(default_factory=dict)

    def as_mb(self) -> dict[str, float]:
        """The peak so far after each phase of the step, in MB: where the memory went."""
        return {k: round(v / 1e6, 2) for k, v in self.phases.items()}


def _proc_status(key: str) -> int:
    import re

    with open("/proc/self/status") as fh:
        match = re.search(rf"^{key}:\s+(\d+) kB", fh.read(), re.M)
    return int(match.group(1)) * 1024 if match else -1


def _rss_peak_window() -> tuple[Any, str]:
    """A way to read this process's peak resident memory from now on, and its name."""
    import contextlib
    import resource
    import sys

    try:
        if sys.platform.startswith("linux"):
            import ctypes

            with contextlib.suppress(OSError, AttributeError):  # glibc: give memory freed earlier back to
                ctypes.CDLL("libc.so.6").malloc_trim(0)         # the OS, so reusing it shows in the peak
        with open("/proc/self/clear_refs", "w") as fh:  # Linux: reset the peak (VmHWM) to the current RSS
            fh.write("5")
        return (lambda: _proc_status("VmHWM")), "peak resident memory of this process (Linux VmHWM, reset before the step)"
    except OSError:
        scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
        return (lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale), \
            "peak resident memory of this process (getrusage ru_maxrss: only growth above the earlier peak shows)"


def measure_peak_memory(model: Any, X: Any, y: Any, optimizer: str = "adam", warmup: bool = True) -> PeakMemory:
    """Run one training step of a copy of ``model`` on a copy of (X, y) and measure its peak
    memory with the operating system or the GPU allocator (lesson 02), not with the
    estimate's own accounting:

    * on CUDA: ``torch.cuda.max_memory_allocated`` (reset before the step);
    * on the CPU: the process's peak resident memory (Linux: ``VmHWM`` reset through
      ``/proc/self/clear_refs``; elsewhere ``resource.getrusage``).

    The copies are made inside the measured window, so weights, the batch, gradients,
    optimizer state, activations and temporaries all count. With ``warmup`` a step on two
    samples runs first, unmeasured: torch's first step in a process initialises its kernels
    (about 90 MB here). The CPU figure is coarse (pages; libraries may cache buffers): use
    batches of a few MB.
    """
    import copy
    import gc

    import torch

    device = next(model.parameters()).device
    make_opt = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}.get(optimizer)

    phases: dict[str, float] = {}

    def step(mark: Callable[[str], None]) -> None:
        m = copy.deepcopy(model)
        xb, yb = X.to(device).clone(), y.to(device).clone()
        params = [p for p in m.parameters() if p.requires_grad]
        opt = make_opt(params, lr=1e-3) if make_opt else torch.optim.SGD(
            params, lr=1e-3, momentum=0.9 if optimizer == "sgd_momentum" else 0)
        m.train()
        mark("model and batch copied")
        loss = torch.nn.functional.cross_entropy(m(xb), yb)
        mark("forward")
        opt.zero_grad()
        loss.backward()
        mark("backward")
        opt.step()
        mark("optimizer step")

    if warmup:
        measure_peak_memory(model, X[:2], y[:2], optimizer, warmup=False)
    phases.clear()
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)

        def mark(phase: str) -> None:
            torch.cuda.synchronize(device)
            phases[phase] = float(torch.cuda.max_memory_allocated(device) - before)

        step(mark)
        return PeakMemory(max(phases.values()), "torch.cuda.max_memory_allocated "
                          "(GPU allocator peak, reset before the step)", phases)
    if device.type != "cpu":
        raise ValueError(f"measure_peak_memory measures on 'cpu' or 'cuda', not {device.type!r}")
    peak, method = _rss_peak_window()
    before = _proc_status("VmRSS") if "VmHWM" in method else peak()

    def mark(phase: str) -> None:
        phases[phase] = float(max(peak() - before, 0))

    step(mark)
    return PeakMemory(max(phases.values()), method, phases)  # the kernel's RSS counters lag by a few pages
