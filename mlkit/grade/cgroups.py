"""Bound a whole submission, every process it starts included: Linux control groups (v1).

One group per submission in each controller that this machine lets root create groups in:

* ``pids``: ``pids.max`` caps the processes and threads of the submission together (a fork
  or thread bomb hits it at once); ``pids.events`` counts the forks refused;
* ``memory``: ``memory.limit_in_bytes`` caps the memory of all its processes together (a
  child that allocates without end is killed by the kernel's OOM killer, inside the group);
* ``cpu``: ``cpu.cfs_quota_us`` caps its CPU share, so parallel submissions share the cores;
* ``cpuacct``: the CPU time it used (what a grading run costs, whatever else the machine does).

The grader joins the submission's first process to the groups before anything runs
(:meth:`SubmissionGroups.join`, in the child between fork and exec), reads what happened
afterwards (:meth:`SubmissionGroups.usage`) and removes the groups. Where a controller is
missing or not writable (no root, cgroup v2 only, a container), that bound is absent and
:func:`available` says so; the rlimits of :mod:`mlkit.grade.sandbox` still apply per process.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("pids", "memory", "cpu", "cpuacct")


def _own_group(controller: str) -> Path | None:
    """This process's group of a v1 controller, as a path under /sys/fs/cgroup (None if absent)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, names, path = line.split(":", 2)
        if controller in names.split(","):
            base = ROOT / controller
            return base / path.lstrip("/") if base.is_dir() else None
    return None


def available() -> tuple[str, ...]:
    """The controllers in which this process may create a child group."""
    if os.geteuid() != 0:
        return ()
    found = []
    for controller in CONTROLLERS:
        group = _own_group(controller)
        if group is not None and group.is_dir() and os.access(group, os.W_OK):
            found.append(controller)
    return tuple(found)


@dataclass(frozen=True)
class Usage:
    """What a submission's groups saw: peak processes, refused forks, peak memory, OOM kills."""

    peak_processes: int | None = None
    refused_forks: int = 0
    peak_memory_mb: float | None = None
    oom_kills: int = 0
    memory_hits: int = 0
    cpu_s: float | None = None


class SubmissionGroups:
    """The control groups of one submission (see the module docstring). A context manager:
    on exit every process still in them is killed and the groups are removed."""

    def __init__(self, name: str, processes: int, memory_mb: int, cpus: float | None) -> None:
        self.name = name
        self.paths: dict[str, Path] = {}
        for controller in available():
            path = _own_group(controller) / name
            try:
                path.mkdir()
            except OSError:
                continue
            self.paths[controller] = path
        self._write("pids", "pids.max", str(processes))
        mem = str(memory_mb * 1024 * 1024)
        self._write("memory", "memory.limit_in_bytes", mem)
        self._write("memory", "memory.memsw.limit_in_bytes", mem)  # no swap either, where swap accounting exists
        if cpus:
            period = 100_000
            self._write("cpu", "cpu.cfs_period_us", str(period))
            self._write("cpu", "cpu.cfs_quota_us", str(int(cpus * period)))
        # the file descriptors the child writes its pid to, opened now (no Python work after fork)
        self._procs = [os.open(p / "cgroup.procs", os.O_WRONLY) for p in self.paths.values()]

    @property
    def bounds(self) -> tuple[str, ...]:
        """The controllers this submission is bounded by."""
        return tuple(self.paths)

    def _write(self, controller: str, file: str, value: str) -> None:
        path = self.paths.get(controller)
        if path is not None:
            try:
                (path / file).write_text(value)
            except OSError:
                pass

    def _read(self, controller: str, file: str) -> str:
        path = self.paths.get(controller)
        try:
            return (path / file).read_text() if path is not None else ""
        except OSError:
            return ""

    def join(self) -> None:
        """Move the calling process into the groups (call it in the child, before exec)."""
        pid = str(os.getpid()).encode()
        for fd in self._procs:
            os.write(fd, pid)

    def refused_forks(self) -> int:
        """How many forks and thread starts the process cap has refused so far."""
        for line in self._read("pids", "pids.events").splitlines():
            key, _, value = line.partition(" ")
            if key == "max":
                return int(value)
        return 0

    def processes(self) -> int | None:
        """The processes and threads in the submission now."""
        text = self._read("pids", "pids.current").strip()
        return int(text) if text else None

    def usage(self) -> Usage:
        """What the groups recorded (see :class:`Usage`)."""
        peak = self._read("pids", "pids.peak").strip()
        mem = self._read("memory", "memory.max_usage_in_bytes").strip()
        oom = 0
        for line in self._read("memory", "memory.oom_control").splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                oom = int(value)
        hits = self._read("memory", "memory.failcnt").strip()
        cpu = self._read("cpuacct", "cpuacct.usage").strip()
        return Usage(peak_processes=int(peak) if peak else None, refused_forks=self.refused_forks(),
                     peak_memory_mb=round(int(mem) / 2**20, 1) if mem else None, oom_kills=oom,
                     memory_hits=int(hits) if hits else 0, cpu_s=round(int(cpu) / 1e9, 2) if cpu else None)

    def kill_all(self) -> None:
        """SIGKILL every process still in the submission's groups, until none is left."""
        for _ in range(100):
            pids = set()
            for controller in self.paths:
                pids.update(int(p) for p in self._read(controller, "cgroup.procs").split())
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)

    def __enter__(self) -> SubmissionGroups:
        return self

    def __exit__(self, *exc: object) -> None:
        for fd in self._procs:
            os.close(fd)
        self._procs = []
        self.kill_all()
        for path in self.paths.values():
            for _ in range(50):  # a group is removable once its last process is reaped
                try:
                    path.rmdir()
                    break
                except OSError:
                    time.sleep(0.05)
