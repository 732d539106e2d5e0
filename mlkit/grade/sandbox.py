"""Run one untrusted notebook contained: its own process, limits, HOME, workspace, no network.

What contains a submission (each layer where the platform allows it):

* its own process tree, killed whole when the notebook's time is up;
* rlimits: address space (memory), CPU seconds, size of any file written, open files;
* a temporary HOME, workspace (``MLKIT_HOME``), TMPDIR and Jupyter folders, deleted after;
* as root on Linux, namespaces (as a container runtime sets them up): a network namespace
  with only loopback up (``unshare --net``); a PID namespace, so that nothing the notebook
  starts outlives it or sees the host's processes; a mount namespace in which every file
  system is read-only except the sandbox folder, /dev holds only null, zero, full and
  random, and /proc's dangerous files are masked; then every capability is dropped
  (``setpriv``), so the notebook cannot undo any of it;
* not root: the same limits and folders, but the network and the file system outside the
  sandbox are NOT fenced off (the gradebook's ``sandbox`` column says so).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlkit.course import config


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission (instructor-tunable)."""

    notebook_s: float = 600.0  # wall time for the whole notebook
    cell_s: float = 120.0  # wall time for one cell (a stuck cell is interrupted)
    memory_mb: int = 6144  # address space of every process (torch alone maps ~2-3 GB)
    cpu_s: int = 900  # CPU seconds of every process
    file_mb: int = 512  # largest file it may write
    open_files: int = 1024


def isolation() -> str:
    """How strongly this machine can fence a submission in: "namespaces" or "limits only"."""
    if sys.platform.startswith("linux") and os.geteuid() == 0 and all(
            shutil.which(tool) for tool in ("unshare", "setpriv", "ip", "mount", "mknod")):
        return "namespaces"
    return "limits only"


def _rlimits(limits: Limits):
    import resource

    def apply() -> None:
        mb = 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb, limits.memory_mb * mb))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * mb, limits.file_mb * mb))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        os.setsid()

    return apply


def _environment(box: Path) -> dict[str, str]:
    """A minimal environment: nothing of the instructor's but PATH to this Python."""
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(box / "home"), config.HOME_ENV: str(box / "mlkit-home"), "TMPDIR": str(box / "tmp"),
        config.FAST_ENV: "1", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
        "IPYTHONDIR": str(box / "home" / ".ipython"), "JUPYTER_RUNTIME_DIR": str(box / "home" / "runtime"),
        "JUPYTER_CONFIG_DIR": str(box / "home" / ".jupyter"), "MPLCONFIGDIR": str(box / "home" / ".mpl"),
        "LANG": "C.UTF-8",
    }
    for key in (config.ROOT_ENV, "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def _command(notebook: Path, result: Path, lesson: str, limits: Limits, mode: str) -> list[str]:
    worker = [sys.executable, "-m", "mlkit.grade.worker", str(notebook), str(result), lesson,
              "--cell-timeout", str(limits.cell_s)]
    if mode != "namespaces":
        return worker
    return ["unshare", "--net", "--pid", "--mount", "--fork", "--kill-child", "--mount-proc",
            "sh", "-c", _FENCE, "sh", str(notebook.parents[1]), *worker]


# Run as root inside the new namespaces, before any learner code: $1 is the sandbox folder.
_FENCE = r"""
set -e
box="$1"; shift
mount --make-rprivate /
mount --bind "$box" "$box"
mount -o remount,bind,ro /
mount -t tmpfs -o ro tmpfs /sys/fs/cgroup 2>/dev/null || true
mount -o remount,bind,ro /sys
mount -t tmpfs -o mode=755,nosuid tmpfs /dev
mknod -m 666 /dev/null c 1 3; mknod -m 666 /dev/zero c 1 5; mknod -m 666 /dev/full c 1 7
mknod -m 666 /dev/random c 1 8; mknod -m 666 /dev/urandom c 1 9
ln -s /proc/self/fd /dev/fd; mkdir /dev/shm; mount -t tmpfs -o nosuid,nodev tmpfs /dev/shm
for f in /proc/sysrq-trigger /proc/kcore /proc/keys /proc/timer_list; do
  [ -e "$f" ] && mount --bind /dev/null "$f"
done
mount -o bind,ro /proc/sys /proc/sys
ip link set lo up
exec setpriv --no-new-privs --bounding-set=-all --inh-caps=-all -- "$@"
"""


def run_submission(notebook: Path, lesson: str, limits: Limits | None = None, mode: str | None = None) -> dict:
    """Run one notebook in a fresh sandbox; return the worker's result plus how it ended.

    ``status`` is "ran" (the checks were asked), "timeout", "kernel died", "memory limit",
    "invalid notebook" or "error"; ``reason`` says why in one line.
    """
    limits = limits or Limits()
    mode = mode or isolation()
    box = Path(tempfile.mkdtemp(prefix="mlkit-grade-"))
    try:
        for sub in ("home", "mlkit-home", "tmp", "work"):
            (box / sub).mkdir()
        copy = box / "work" / "submission.ipynb"
        shutil.copyfile(notebook, copy)
        result = box / "work" / "result.json"
        proc = subprocess.Popen(_command(copy, result, lesson, limits, mode), cwd=box / "work",
                                env=_environment(box), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                preexec_fn=_rlimits(limits))
        try:
            log, _ = proc.communicate(timeout=limits.notebook_s)
        except subprocess.TimeoutExpired:
            _kill(proc)
            return {"status": "timeout", "reason": f"the notebook ran past its {limits.notebook_s:.0f} s limit",
                    "sandbox": mode}
        tail = log.decode(errors="replace").strip().splitlines()[-3:]
        if not result.exists():
            return {"status": "error", "reason": "the grader's worker stopped early: " + " | ".join(tail)[-300:],
                    "sandbox": mode}
        data = json.loads(result.read_text())
        data["sandbox"] = mode
        data["status"], data["reason"] = _verdict(data, limits)
        return data
    finally:
        shutil.rmtree(box, ignore_errors=True)


def _verdict(data: dict, limits: Limits) -> tuple[str, str]:
    errors = " ".join(e["error"] for e in data.get("cell_errors", []))
    if data.get("kernel_died"):
        if "MemoryError" in errors:
            return "memory limit", f"the kernel died after running out of its {limits.memory_mb} MB"
        return "kernel died", "the kernel crashed or was killed while running a cell"
    if "MemoryError" in errors:
        return "memory limit", f"a cell tried to use more than the {limits.memory_mb} MB allowed"
    if "CellTimeoutError" in errors or "KeyboardInterrupt" in errors:
        return "timeout", f"a cell ran past its {limits.cell_s:.0f} s limit and was interrupted"
    if data.get("probe_error"):
        return "error", "the checks could not run: " + data["probe_error"]
    if data.get("cell_errors"):
        return "ran", "some cells raised errors (see cell_errors)"
    return "ran", "ran to the end"


def _kill(proc: subprocess.Popen) -> None:
    """Kill the submission's whole process group (the PID namespace, where there is one)."""
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
