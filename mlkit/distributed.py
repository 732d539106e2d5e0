"""Beyond one machine (lesson 02): run the data-parallel training script with ``torchrun``.

:func:`run_ddp` starts ``torchrun --standalone --nproc_per_node=N -m mlkit.ddp_train`` as a
child process (N processes on this machine; gloo on the CPU, NCCL when each process has a
GPU) and returns the JSON result rank 0 wrote. The same script runs on several machines with
``--nnodes`` and a rendezvous address instead of ``--standalone``.

Data parallelism (this script): every process holds the whole model and a slice of each
batch; gradients are averaged. It speeds up training of a model that fits on one device.
Model parallelism (tensor, pipeline, or sharding the weights and optimizer state as FSDP
and ZeRO do) splits the model itself: it is what makes a model that does not fit trainable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def torchrun_command(nproc: int = 2, out: str | os.PathLike = "ddp_result.json", **options: Any) -> list[str]:
    """The argv that trains with DDP: ``python -m torch.distributed.run ... -m mlkit.ddp_train``."""
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            "-m", "mlkit.ddp_train", "--out", str(out)]
    for key, value in options.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args


def run_ddp(
    nproc: int = 2, *, epochs: int = 3, batch_size: int = 64, lr: float = 2e-3, seed: int = 0, n_train: int = 0,
    device: str = "cpu", out_dir: str | os.PathLike | None = None, threads_per_proc: int = 1, timeout: float = 600,
) -> dict[str, Any]:
    """Train the lesson's CNN on the MNIST sample with ``nproc`` DDP processes; return rank 0's
    result (accuracy, loss, backend, seconds, ...) plus ``wall_s``, the time torchrun took.

    Raises RuntimeError with the processes' output if the run fails."""
    out_dir = Path(out_dir or tempfile.mkdtemp(prefix="mlkit-ddp-"))
    out = out_dir / "ddp_result.json"
    out.unlink(missing_ok=True)
    cmd = torchrun_command(nproc, out, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                           n_train=n_train, device=device)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads_per_proc), "PYTHONUNBUFFERED": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not out.exists():
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise RuntimeError(f"torchrun failed (exit {proc.returncode}):\n{tail}")
    return {**json.loads(out.read_text()), "wall_s": wall}
