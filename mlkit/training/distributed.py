"""Beyond one machine (lesson 02): run the data-parallel training script with ``torchrun``.

:func:`run_ddp` starts ``torchrun --standalone --nproc_per_node=N -m mlkit.training.ddp_train`` as a
child process (N processes on this machine; gloo on the CPU, NCCL when each process has a
GPU) and returns the JSON result rank 0 wrote. The same script runs on several machines with
``--nnodes`` and a rendezvous address instead of ``--standalone``: :mod:`mlkit.training.cluster`
builds that command into a SLURM batch script and a Kubernetes Job.

Data parallelism (this script): every process holds the whole model and a slice of each
batch; gradients are averaged. It speeds up training of a model that fits on one device.
Model parallelism (tensor, pipeline, or sharding the weights and optimizer state as FSDP
and ZeRO do) splits the model itself: it is what makes a model that does not fit trainable.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlkit.course.processes import Job


def torchrun_command(
    nproc: int = 2, out: str | os.PathLike = "ddp_result.json", *, nnodes: int = 1,
    rdzv_endpoint: str | None = None, rdzv_id: str = "mlkit-ddp", launcher: Sequence[str] | None = None,
    **options: Any,
) -> list[str]:
    """The argv that trains with DDP: ``python -m torch.distributed.run ... -m mlkit.training.ddp_train``.

    On one machine (no ``rdzv_endpoint``): ``--standalone``. On ``nnodes`` machines (lesson 02's
    SLURM script and Kubernetes Job, :mod:`mlkit.training.cluster`): every node runs the same
    command and they meet at ``rdzv_endpoint`` (``HOST:PORT``) through the c10d rendezvous.
    ``launcher`` replaces ``python -m torch.distributed.run`` (e.g. ``["torchrun"]`` on a cluster);
    ``options`` become the script's ``--key value`` arguments.
    """
    args = list(launcher) if launcher else [sys.executable, "-m", "torch.distributed.run"]
    if rdzv_endpoint is None:
        if nnodes != 1:
            raise ValueError(f"nnodes={nnodes}: several machines need an rdzv_endpoint (HOST:PORT) to meet at")
        args.append("--standalone")
    else:
        args += [f"--nnodes={nnodes}", "--rdzv_backend=c10d", f"--rdzv_endpoint={rdzv_endpoint}",
                 f"--rdzv_id={rdzv_id}"]
    args += [f"--nproc_per_node={nproc}", "-m", "mlkit.training.ddp_train", "--out", str(out)]
    for key, value in options.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args


class DdpJob(Job):
    """A torchrun job running in the background (like a job submitted to a cluster), run by
    the course's one launcher (:class:`mlkit.course.processes.Job`): torchrun and its ranks
    are stopped together on ``stop()``, at kernel exit, or if the kernel dies.
    ``result()`` waits for it and returns rank 0's JSON result."""

    def __init__(self, cmd: list[str], out: Path, env: dict[str, str] | None = None, timeout: float = 600) -> None:
        super().__init__(cmd, name="torchrun", timeout=timeout, result_file=out,
                         log_file=Path(out).with_suffix(".log"), env=env)

    @property
    def cmd(self) -> list[str]:
        return self.command

    @property
    def out(self) -> Path:
        return self.result_file

    @property
    def log(self) -> Path:
        return self.log_file

    def result(self, timeout: float | None = None) -> dict[str, Any]:
        """Wait for the job; return its result plus ``wall_s``. Raises
        :class:`~mlkit.course.errors.ProcessError` (a RuntimeError) with the log if it failed."""
        return {**super().result(timeout), "wall_s": self.wall_s}


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
    cmd = torchrun_command(nproc, out, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                           n_train=n_train, device=device)
    env = {"OMP_NUM_THREADS": str(threads_per_proc), "PYTHONUNBUFFERED": "1"}
    return DdpJob(cmd, out, env, timeout).start()


def run_ddp(nproc: int = 2, **options: Any) -> dict[str, Any]:
    """:func:`start_ddp` and wait for its result."""
    return start_ddp(nproc, **options).result()
