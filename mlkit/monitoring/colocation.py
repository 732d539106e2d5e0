"""Training beside serving, measured (lesson 05): the model server under steady load, alone, with a
training job on the same machine, and with that job held back.

* :func:`start_trainer`: the training job (:mod:`mlkit.monitoring.trainer`) as a process with its
  own ``/metrics`` (started paused, :func:`resume` lets it train);
* :func:`limit`: hold a running process back, as ``renice`` and ``taskset -a`` would: lowest
  priority (nice 19) and one CPU, for every one of its threads (Linux sets both per thread),
  and one torch thread (the trainer's ``SIGUSR1``);
* :func:`measure`: one phase: load from lesson 04's load generator, and the CPU and memory each
  process used meanwhile, from their ``process_*`` metrics (two scrapes each), and what the
  rest of the machine used (the noisy neighbours a shared machine has);
* :func:`compare`: the phases side by side, one row each.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlkit.monitoring import scrape

if TYPE_CHECKING:
    import pandas as pd

    from mlkit.course.processes import BackgroundServer
    from mlkit.deployment.loadgen import LoadResult

CPU, MEMORY = "process_cpu_seconds_total", "process_resident_memory_bytes"


def start_trainer(*, seconds: float = 120.0, threads: int = 0, paused: bool = False, wait: bool = True,
                  name: str = "trainer", log_dir: str | os.PathLike | None = None) -> BackgroundServer:
    """Start the training job; it stops by itself after ``seconds`` of training. ``threads=0``
    leaves torch its default (one per core). Ready once ``/metrics`` answers: when it trains, or,
    ``paused``, when it waits for :func:`resume`. ``wait=False`` returns at once (then call
    ``.wait_ready()``)."""
    from pathlib import Path

    from mlkit.course.processes import BackgroundServer

    env = {"OMP_NUM_THREADS": None, "MKL_NUM_THREADS": None, "PYTHONWARNINGS": "ignore"}  # torch picks, as a job would
    flags = ["--paused"] if paused else []
    return BackgroundServer.python("-m", "mlkit.monitoring.trainer", "--port", "{port}", "--seconds", str(seconds),
                                   "--threads", str(threads), *flags, name=name, health_path="/metrics",
                                   startup_timeout=120, env=env,
                                   log_file=Path(log_dir) / f"{name}.log" if log_dir else None).start(wait=wait)


def resume(trainer: BackgroundServer) -> None:
    """Let a trainer started ``paused`` train (``SIGUSR2``)."""
    trainer.wait_ready()
    os.kill(command_pid(trainer), signal.SIGUSR2)


def last_cpu() -> int:
    """The highest CPU this process may run on (where :func:`limit` puts the trainer)."""
    return max(os.sched_getaffinity(0))


def command_pid(process: BackgroundServer) -> int:
    """The process id of the command a launched process runs (the launcher puts a watchdog above it)."""
    from mlkit.course.processes import descendants

    found = descendants(process.pid) if process.pid else []
    if not found:
        raise RuntimeError(f"{process.name} is not running: start it first")
    return found[0].pid


def limit(process: BackgroundServer | int, *, nice: int = 19, cpus: Sequence[int] | None = None,
          one_thread: bool = True) -> dict[str, Any]:
    """Hold a running process back: priority ``nice`` and CPUs ``cpus`` (default: the last one) for
    each of its threads, and ``SIGUSR1`` (the trainer then uses one torch thread). Takes a launched
    process or a pid; returns what was set."""
    import psutil

    pid = process if isinstance(process, int) else command_pid(process)
    cpus = list(cpus) if cpus is not None else [last_cpu()]
    threads = [t.id for t in psutil.Process(pid).threads()]
    for tid in threads:
        os.setpriority(os.PRIO_PROCESS, tid, nice)
        os.sched_setaffinity(tid, cpus)
    if one_thread:
        os.kill(pid, signal.SIGUSR1)
    return {"nice": nice, "cpus": cpus, "threads": len(threads), "one_torch_thread": one_thread}


@dataclass
class Phase:
    """One phase: the load run (from ``started`` to ``ended``, unix seconds), and each process's CPU
    (cores) and memory (MB) meanwhile."""

    name: str
    load: LoadResult
    started: float = 0.0
    ended: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    rss_mb: dict[str, float] = field(default_factory=dict)
    steps_per_s: float | None = None
    others_cpu: float | None = None  # cores used by every other program (the load generator's process excluded)


def usage(before: scrape.Snapshot, after: scrape.Snapshot) -> tuple[float, float]:
    """CPU used between two scrapes of one process (cores: CPU seconds per second) and its memory
    at the second (MB)."""
    seconds = after.at - before.at
    return ((after.value(CPU) - before.value(CPU)) / seconds if seconds > 0 else float("nan"),
            after.value(MEMORY) / 1e6)


def measure(name: str, server_url: str, messages: Sequence[str], *, seconds: float, rate: float,
            concurrency: int = 8, others: Mapping[str, str] | None = None) -> Phase:
    """Steady load on ``server_url`` for ``seconds``; the CPU and memory of the server and of each
    of ``others`` ({job: metrics url}) from scrapes before and after."""
    import time

    import psutil

    from mlkit.deployment import loadgen

    targets = {"model server": server_url.rstrip("/") + "/metrics", **(others or {})}
    before = {job: scrape.scrape(url) for job, url in targets.items()}
    me, machine = psutil.Process().cpu_times(), psutil.cpu_times()
    started = time.time()
    load = loadgen.run(server_url, messages, concurrency=concurrency, rate=rate, duration=seconds)
    ended = time.time()
    me_after, machine_after = psutil.Process().cpu_times(), psutil.cpu_times()
    after = {job: scrape.scrape(url) for job, url in targets.items()}
    phase = Phase(name, load, started, ended)
    busy = [sum(t) - t.idle - getattr(t, "iowait", 0.0) for t in (machine, machine_after)]
    mine = (me_after.user + me_after.system) - (me.user + me.system)
    for job in targets:
        phase.cpu[job], phase.rss_mb[job] = usage(before[job], after[job])
        steps = after[job].value("mlkit_trainer_steps_total") - before[job].value("mlkit_trainer_steps_total")
        if steps:
            phase.steps_per_s = steps / (after[job].at - before[job].at)
    phase.others_cpu = max(0.0, (busy[1] - busy[0] - mine) / (ended - started) - sum(phase.cpu.values()))
    return phase


def compare(phases: Sequence[Phase]) -> pd.DataFrame:
    """One row per phase: requests, errors, p50 and p99 (ms, as the client saw them), throughput,
    each process's CPU (cores) and memory (MB), the trainer's steps per second, and the CPU that
    every other program on the machine used (cores)."""
    import pandas as pd

    rows = {}
    for p in phases:
        row: dict[str, Any] = {"requests": p.load.sent, "errors": p.load.failed,
                               "p50_ms": p.load.percentile(50), "p99_ms": p.load.percentile(99),
                               "req_per_s": p.load.throughput}
        row.update({f"{job} CPU": cores for job, cores in p.cpu.items()})
        row.update({f"{job} MB": mb for job, mb in p.rss_mb.items()})
        row["trainer steps/s"] = p.steps_per_s
        row["other programs CPU"] = p.others_cpu
        rows[p.name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def figure(phases: Sequence[Phase], panels: Mapping[str, Mapping[str, Any]]) -> Any:
    """Time series from Prometheus (``{panel title: {job: pandas Series by unix time}}``, as
    :func:`mlkit.monitoring.prom.series` gives them), one panel each, with the phases shaded."""
    import matplotlib.pyplot as plt

    start = phases[0].started
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3), layout="constrained", squeeze=False)
    for ax, (title, series) in zip(axes[0], panels.items()):
        for job, values in series.items():
            ax.plot(values.index - start, values.values, label=job)
        for p in phases:
            ax.axvspan(p.started - start, p.ended - start, alpha=0.1, color="grey")
            ax.text((p.started + p.ended) / 2 - start, 1.0, p.name, transform=ax.get_xaxis_transform(), ha="center",
                    va="bottom", fontsize=7)
        ax.set(xlabel="seconds since the first phase began", ylabel=title)
    axes[0][0].legend(fontsize=8)
    return fig
