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
SIGKILL for the whole tree when the command does not stop). It stops processes with the
launcher's own :func:`mlkit.course.processes.terminate` (psutil).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from mlkit.course.processes import collect_zombies, descendants, terminate

POLL_S = 0.25  # how often the launching Python's liveness is checked


def _stop(procs: list) -> None:
    """Stop ``procs`` and collect the zombies this subreaper adopted, while waiting."""
    terminate(procs, reap=collect_zombies)


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
            _stop(descendants(os.getpid()))
            child.wait()
            return 128 + signal.SIGTERM
        ticks += 1
        if ticks % 8 == 0:
            collect_zombies(keep=child.pid)
    leftovers = descendants(os.getpid())
    if leftovers:
        _stop(leftovers)
    collect_zombies()
    return rc if rc >= 0 else 128 - rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
