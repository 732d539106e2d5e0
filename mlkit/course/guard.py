"""The watchdog between a launched process and the Python that launched it.

:mod:`mlkit.course.processes` runs every server and job as
``python -I guard.py PARENT_PID -- command ...``, as the leader of a new process group.
The guard starts the command, waits for it, and exits with its exit status. It makes
sure nothing it started outlives it:

- when the command exits, its leftover descendants are stopped (on Linux the guard is
  a "child subreaper", so orphaned grandchildren, e.g. torchrun's ranks, which run in
  sessions of their own, become its children and are found);
- when the launching Python dies without stopping it (killed, crashed, a kernel that
  was shut down hard), the command and all its descendants are stopped.

Signals: SIGTERM/SIGINT/SIGHUP sent to the process group reach the command too; the guard
itself only notes them and keeps waiting for the command (the launcher escalates to
SIGKILL for the whole tree when the command does not stop). Run as a script, it imports
only the standard library and psutil.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

GRACE_S = 5.0  # seconds between SIGTERM and SIGKILL for leftovers
POLL_S = 0.25  # how often the launching Python's liveness is checked


def alive(proc) -> bool:  # a psutil.Process that is running (zombies count as gone)
    import psutil

    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def descendants(pid: int) -> list:
    """Every process below ``pid`` (psutil.Process objects), children first."""
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def terminate(procs: list, grace: float = GRACE_S) -> None:
    """SIGTERM every process in ``procs``; SIGKILL those still running after ``grace`` s."""
    import psutil

    for sig in (signal.SIGTERM, signal.SIGKILL):
        for proc in procs:
            try:
                proc.send_signal(sig)
            except psutil.Error:
                pass
        deadline = time.monotonic() + (grace if sig == signal.SIGTERM else 2.0)
        while time.monotonic() < deadline and any(alive(p) for p in procs):
            _reap()
            time.sleep(0.05)
        procs = [p for p in procs if alive(p)]
        if not procs:
            return


def _reap(keep: int | None = None) -> None:
    """Collect exited (zombie) children adopted as subreaper, except ``keep``."""
    import psutil

    for proc in descendants(os.getpid()):
        if proc.pid != keep:
            try:
                if proc.ppid() == os.getpid() and proc.status() == psutil.STATUS_ZOMBIE:
                    os.waitpid(proc.pid, os.WNOHANG)
            except (psutil.Error, ChildProcessError):
                pass


def _become_subreaper() -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_CHILD_SUBREAPER = 36
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        except (OSError, AttributeError):
            pass


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: guard.py PARENT_PID -- command ...", file=sys.stderr)
        return 2
    parent, command = int(argv[0]), argv[2:]
    received: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: received.append(signum))
    _become_subreaper()
    try:
        child = subprocess.Popen(command)
    except OSError as exc:
        print(f"cannot start {command[0]!r}: {exc}", file=sys.stderr, flush=True)
        return 127
    ticks = 0
    while True:
        try:
            rc = child.wait(timeout=POLL_S)
            break
        except subprocess.TimeoutExpired:
            pass
        if os.getppid() != parent:  # the launching Python is gone: stop everything
            terminate(descendants(os.getpid()))
            child.wait()
            return 128 + signal.SIGTERM
        ticks += 1
        if ticks % 8 == 0:
            _reap(keep=child.pid)
    leftovers = descendants(os.getpid())
    if leftovers:
        terminate(leftovers)
    _reap()
    return rc if rc >= 0 else 128 - rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
