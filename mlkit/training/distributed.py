"""Beyond one machine (lesson 02): run the data-parallel training script with ``torchrun``.

:func:`run_ddp` starts ``torchrun --standalone --nproc_per_node=N -m mlkit.training.ddp_train`` as a
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
    """The argv that trains with DDP: ``python -m torch.distributed.run ... -m mlkit.training.ddp_train``."""
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            "-m", "mlkit.training.ddp_train", "--out", str(out)]
    for key, value in options.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args


class DdpJob:
    """A torchrun job running in the background (like a job submitted to a cluster):
    ``result()`` waits for it and returns rank 0's JSON result."""

    def __init__(self, cmd: list[str], out: Path, env: dict[str, str], timeout: float) -> None:
        self.cmd, self.out, self.timeout = cmd, out, timeout
        self.log = out.with_suffix(".log")
        self._log = open(self.log, "w")
        self.t0 = time.perf_counter()
        self.process = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                        stdin=subprocess.DEVNULL)

    @property
    def done(self) -> bool:
        return self.process.poll() is not None

    def result(self) -> dict[str, Any]:
        """Wait for the job; return its result plus ``wall_s``. Raises RuntimeError with the log if it failed."""
        try:
            rc = self.process.wait(timeout=max(1.0, self.timeout - (time.perf_counter() - self.t0)))
        except subprocess.TimeoutExpired:
            self.process.kill()
            rc = self.process.wait()
        finally:
            self._log.close()
        wall = time.perf_counter() - self.t0
        if rc != 0 or not self.out.exists():
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])
            raise RuntimeError(f"torchrun failed (exit {rc}); its log {self.log}:\n{tail}")
        return {**json.loads(self.out.read_text()), "wall_s": wall}


def start_ddp(
    nproc: int = 2, *, epochs: int = 3, batch_size: int = 64, lr: float = 2e-3, seed: int = 0, n_train: int = 0,
    device: str = "cpu", out_dir: str | os.PathLike | None = None, threads_per_proc: int = 1, timeout: float = 600,
) -> DdpJob:
    """Start training the lesson's CNN on the MNIST sample with ``nproc`` DDP processes,
    in the background; ``.result()`` waits and returns rank 0's result (accuracy, loss,
    backend, seconds, ...) plus ``wall_s``, the time torchrun took."""
    out_dir = Path(out_dir or tempfile.mkdtemp(prefix="mlkit-ddp-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "ddp_result.json"
    out.unlink(missing_ok=True)
    cmd = torchrun_command(nproc, out, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                           n_train=n_train, device=device)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads_per_proc), "PYTHONUNBUFFERED": "1"}
    return DdpJob(cmd, out, env, timeout)


def run_ddp(nproc: int = 2, **options: Any) -> dict[str, Any]:
    """:func:`start_ddp` and wait for its result."""
    return start_ddp(nproc, **options).result()
