"""Run one untrusted notebook contained, then judge its answers from outside it.

What contains a submission (each layer where the platform allows it):

* its own process tree, killed whole when the notebook's time is up;
* rlimits per process: address space (memory), CPU seconds, size of any file written, open files;
* a temporary HOME, workspace (``MLKIT_HOME``), TMPDIR and Jupyter folders, deleted after;
* as root on Linux, what a container runtime sets up:
  - control groups (:mod:`mlkit.grade.cgroups`) that bound the whole submission: a cap on its
    processes and threads together (a fork or thread bomb stops the submission at once, as
    "too many processes"), on the memory of all its processes together (a child that
    allocates without end is killed by the kernel, "memory limit"), and on its CPU share;
  - its own unprivileged user id per parallel slot (:mod:`mlkit.grade.slots`), with
    ``RLIMIT_NPROC`` as a second process cap;
  - its files on a size-capped tmpfs;
  - namespaces: a network with only loopback; its own PIDs, so nothing it starts outlives it
    or sees the host's processes; a file system that holds only what the kernel needs, read-only
    (the system, Python, the course package, the lesson and exercise notebooks), with an empty
    ``solutions/``, no tests, no git history and no other folder of the machine; then every
    capability dropped (``setpriv``);
* not root: the same rlimits and folders, but no process or memory cap for the whole tree, no
  other user, and the network and the file system are NOT fenced off (the gradebook's
  ``sandbox`` column says so).

The grading request (the nonce and the hidden cases) reaches the worker through a file
descriptor of a deleted file, never through the sandbox's folders. The answers the notebook
writes are judged here, after it has ended (:mod:`mlkit.grade.judge`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from mlkit.course import config


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission (instructor-tunable)."""

    notebook_s: float = 600.0  # wall time for the whole notebook
    cell_s: float = 120.0  # wall time for one cell (a stuck cell is interrupted)
    answer_s: float = 300.0  # wall time for one question's answers (its examples and hidden cases)
    memory_mb: int = 6144  # memory of all its processes together (cgroups); else the address space of each
    cpu_s: int = 900  # CPU seconds of every process
    file_mb: int = 512  # largest file it may write
    open_files: int = 1024
    processes: int = 256  # processes and threads of the whole submission, at once
    cpus: float | None = None  # its CPU share in cores; None: this machine's cores / the parallel jobs
    disk_mb: int = 2048  # its files together (as root: the size of its tmpfs)


_TOOLS = ("unshare", "setpriv", "ip", "mount", "umount", "mknod", "chroot")


def isolation() -> str:
    """How strongly this machine can fence a submission in: "namespaces" or "limits only"."""
    if sys.platform.startswith("linux") and os.geteuid() == 0 and all(shutil.which(t) for t in _TOOLS):
        return "namespaces"
    return "limits only"


def _preexec(limits: Limits, groups, nproc: int | None):
    """What runs in the child between fork and exec: join the groups, then the rlimits.

    Where the memory group bounds the whole submission, each process may map twice that
    (address space is not memory: torch alone maps 2-3 GB), so that the group's limit is the
    one a growing process meets; without the group, the address space is the only bound."""
    import resource

    mb = 1024 * 1024
    per_process = limits.memory_mb * (2 if groups is not None and "memory" in groups.bounds else 1) * mb

    def apply() -> None:
        os.setsid()
        if groups is not None:
            groups.join()
        resource.setrlimit(resource.RLIMIT_AS, (per_process, per_process))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * mb, limits.file_mb * mb))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        if nproc is not None:  # counts the slot user's processes; root (the fence) is exempt
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))

    return apply


def _environment(box: Path, threads: int) -> dict[str, str]:
    """A minimal environment: nothing of the instructor's but PATH to this Python."""
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(box / "home"), config.HOME_ENV: str(box / "mlkit-home"), "TMPDIR": str(box / "tmp"),
        config.FAST_ENV: "1", config.GRADING_ENV: "1", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
        "IPYTHONDIR": str(box / "home" / ".ipython"), "JUPYTER_RUNTIME_DIR": str(box / "home" / "runtime"),
        "JUPYTER_CONFIG_DIR": str(box / "home" / ".jupyter"), "MPLCONFIGDIR": str(box / "home" / ".mpl"),
        "LANG": "C.UTF-8", "USER": "learner", "LOGNAME": "learner",
        "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
        config.THREADS_ENV: str(threads), **config.QUIET_ENV,
    }
    for key in (config.ROOT_ENV, "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def _views() -> tuple[list[str], list[str]]:
    """(read-only paths the sandbox sees, empty folders made for it): the system, Python, the
    course package, and the course's notebooks/ and exercises/ with an empty solutions/."""
    import mlkit

    wanted = ["/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/sys",
              sys.base_prefix, sys.prefix, str(Path(mlkit.__file__).resolve().parent)]
    empty = []
    try:
        root = config.course_root()
        wanted += [str(root / "notebooks"), str(root / "exercises")]
        empty.append(str(root / "solutions"))
    except Exception:  # noqa: BLE001 - a course without its folders: the package alone
        pass
    kept: list[str] = []
    for path in sorted({os.path.normpath(p) for p in wanted if os.path.lexists(p)}, key=len):
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    empty = [e for e in empty if not any(e.startswith(k.rstrip("/") + "/") for k in kept)]
    return kept, empty


INSIDE = Path("/box")  # where the sandbox folder is seen from inside the namespaces


def _command(box: Path, inside: Path, request_fd: int, limits: Limits, mode: str, uid: int | None) -> list[str]:
    worker = [sys.executable, "-m", "mlkit.grade.worker", str(inside / "work" / "submission.ipynb"), str(inside / "out"),
              "--request-fd", str(request_fd), "--cell-timeout", str(limits.cell_s),
              "--answer-timeout", str(limits.answer_s)]
    if mode != "namespaces":
        return worker
    return ["unshare", "--net", "--pid", "--mount", "--fork", "--kill-child",
            "sh", "-c", _FENCE, "sh", str(box), str(uid), *worker]


# Run as root inside the new namespaces, before any learner code. $1: the sandbox folder (seen
# as /box inside), $2: the slot's user id; MLKIT_FENCE_RO and MLKIT_FENCE_EMPTY: ":"-separated paths.
_FENCE = r"""
set -e
box="$1"; uid="$2"; shift 2
path="$PATH"; PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"; chroot=$(command -v chroot)
new="$box/root"
ro="$MLKIT_FENCE_RO"; empty="$MLKIT_FENCE_EMPTY"; unset MLKIT_FENCE_RO MLKIT_FENCE_EMPTY
mount --make-rprivate /
mount -t tmpfs -o mode=755,size=8m tmpfs "$new"
mkdir -p "$new/box" "$new/tmp" "$new/proc" "$new/dev"
mount --bind "$box" "$new/box"
mount --bind "$box/tmp" "$new/tmp"  # first: a Python or course under /tmp is bound inside it below
IFS=:
for p in $ro; do
  if [ -L "$p" ]; then
    mkdir -p "$new$(dirname "$p")"; ln -s "$(readlink "$p")" "$new$p"
  elif [ -d "$p" ]; then
    mkdir -p "$new$p"; mount --bind "$p" "$new$p"; mount -o remount,bind,ro "$new$p"
  fi
done
for p in $empty; do mkdir -p "$new$p"; done
unset IFS
mount --bind "$box/passwd" "$new/etc/passwd"
mount --bind "$box/group" "$new/etc/group"
mount -t proc -o nosuid,nodev,noexec proc "$new/proc"
for f in sysrq-trigger kcore keys timer_list; do
  [ -e "$new/proc/$f" ] && mount --bind /dev/null "$new/proc/$f"
done
mount -o bind,ro "$new/proc/sys" "$new/proc/sys"
mount -t tmpfs -o mode=755,nosuid,size=1m tmpfs "$new/dev"
mknod -m 666 "$new/dev/null" c 1 3; mknod -m 666 "$new/dev/zero" c 1 5; mknod -m 666 "$new/dev/full" c 1 7
mknod -m 666 "$new/dev/random" c 1 8; mknod -m 666 "$new/dev/urandom" c 1 9
ln -s /proc/self/fd "$new/dev/fd"
ln -s /proc/self/fd/0 "$new/dev/stdin"; ln -s /proc/self/fd/1 "$new/dev/stdout"; ln -s /proc/self/fd/2 "$new/dev/stderr"
mkdir "$new/dev/shm"; mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$new/dev/shm"
mount -o remount,ro "$new"
ip link set lo up
PATH="$path"
exec "$chroot" "$new" setpriv --reuid "$uid" --regid "$uid" --clear-groups --no-new-privs \
  --bounding-set=-all --inh-caps=-all -- "$@"
"""


def _request_fd(box: Path, request: dict) -> int:
    """An open, already deleted file holding the request: the worker inherits it; no path leads to it."""
    path = box / "request.json"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, json.dumps(request, allow_nan=True).encode())
    os.lseek(fd, 0, os.SEEK_SET)
    path.unlink()
    return fd


def _mount_tmpfs(box: Path, size_mb: int) -> bool:
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=755", "tmpfs", str(box)],
                          capture_output=True)
    return proc.returncode == 0


def _layout(box: Path, inside: Path, uid: int | None) -> None:
    os.chmod(box, 0o755)
    for sub in ("home", "mlkit-home", "tmp", "work", "out"):
        (box / sub).mkdir()
        if uid is not None:
            os.chown(box / sub, uid, uid)
    (box / "root").mkdir()
    (box / "passwd").write_text(f"root:x:0:0:root:/root:/bin/sh\nlearner:x:{uid}:{uid}:learner:{inside / 'home'}:/bin/sh\n")
    (box / "group").write_text(f"root:x:0:\nlearner:x:{uid}:\n")


class _Tail:
    """Reads a child's output in a thread, keeping only its last lines (a flood cannot fill memory)."""

    def __init__(self, stream) -> None:
        self.text = b""
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream) -> None:
        for chunk in iter(lambda: stream.read(8192), b""):
            self.text = (self.text + chunk)[-16384:]

    def lines(self, n: int = 3) -> list[str]:
        self.thread.join(timeout=2)
        return self.text.decode(errors="replace").strip().splitlines()[-n:]


def run_submission(notebook: Path, lesson: str, limits: Limits | None = None, mode: str | None = None,
                   request: dict | None = None, cpus: float | None = None) -> dict:
    """Run one notebook in a fresh sandbox and judge its answers; return how it ended.

    ``status`` is "ran" (its answers were judged), "timeout", "too many processes", "memory
    limit", "kernel died" or "error"; ``reason`` says why in one line; ``questions`` holds
    one result per question (empty when no answer came back). ``request`` is the grading
    request (:func:`mlkit.grade.judge.make_request`; default: the examples only).
    """
    from contextlib import ExitStack

    from mlkit.grade.cgroups import SubmissionGroups
    from mlkit.grade.judge import judge, make_request
    from mlkit.grade.slots import Slot

    limits = limits or Limits()
    mode = mode or isolation()
    request = request or make_request(lesson, seed=None)
    share = limits.cpus or cpus or float(os.cpu_count() or 1)
    threads = max(1, int(share))
    box = Path(tempfile.mkdtemp(prefix="mlkit-grade-"))
    mounted = mode == "namespaces" and _mount_tmpfs(box, limits.disk_mb)
    try:
        with ExitStack() as stack:
            uid = groups = None
            if mode == "namespaces":
                uid = stack.enter_context(Slot()).uid
                groups = stack.enter_context(SubmissionGroups(box.name, limits.processes, limits.memory_mb, share))
            inside = INSIDE if mode == "namespaces" else box
            _layout(box, inside, uid)
            copy = box / "work" / "submission.ipynb"
            shutil.copyfile(notebook, copy)
            if uid is not None:
                os.chown(copy, uid, uid)
            fd = _request_fd(box, request)
            env = _environment(inside, threads)
            if mode == "namespaces":
                ro, empty = _views()
                env.update(MLKIT_FENCE_RO=":".join(ro), MLKIT_FENCE_EMPTY=":".join(empty))
            start = time.perf_counter()
            try:
                proc = subprocess.Popen(
                    _command(box, inside, fd, limits, mode, uid), cwd=box / "work", env=env, stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=(fd,),
                    preexec_fn=_preexec(limits, groups, limits.processes + 16 if uid is not None else None))
            finally:
                os.close(fd)
            tail = _Tail(proc.stdout)
            stopped = _watch(proc, groups, limits, start)
            usage = groups.usage() if groups is not None else None
            if groups is not None:
                groups.kill_all()
            data = _worker_result(box / "out")
            ran = time.perf_counter()
            questions = judge(request, box / "out") if stopped != "processes" else []
            out = {**(data or {}), "questions": questions, "sandbox": _describe(mode, groups),
                   "wall_s": round(time.perf_counter() - start, 1), "judge_s": round(time.perf_counter() - ran, 2)}
            if usage is not None:
                out.update(peak_processes=usage.peak_processes, peak_memory_mb=usage.peak_memory_mb,
                           oom_kills=usage.oom_kills, cpu_s=usage.cpu_s)
            out["status"], out["reason"] = _verdict(data, limits, stopped, usage, tail)
            return out
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(box)], capture_output=True)
        shutil.rmtree(box, ignore_errors=True)


def _describe(mode: str, groups) -> str:
    bounds = [b for b in (groups.bounds if groups is not None else ()) if b != "cpuacct"]
    if bounds:
        return f"{mode} + cgroups ({', '.join(bounds)})"
    return mode


def _watch(proc: subprocess.Popen, groups, limits: Limits, start: float) -> str | None:
    """Wait for the sandbox to end; stop it early ("timeout", "processes") when a bound is hit."""
    while True:
        try:
            proc.wait(timeout=0.1)
            return None
        except subprocess.TimeoutExpired:
            pass
        if groups is not None and groups.refused_forks() > 0:
            _kill(proc, groups)
            return "processes"
        if time.perf_counter() - start > limits.notebook_s:
            _kill(proc, groups)
            return "timeout"


_WORKER_KEYS = {"kernel_died": bool, "kernel_error": str, "cell_errors": list, "extract_errors": list,
                "seconds": float, "timings": dict, "ran_to_end": bool, "output_tail": str}


def _worker_result(out_dir: Path) -> dict | None:
    """How the notebook ran, as the worker wrote it: only the keys it writes, of their types (the
    file lies where the notebook's code can write too, so nothing else is taken from it)."""
    from mlkit.grade.judge import read_small

    try:
        raw = read_small(out_dir / "result.json", 1 << 20)
        data = json.loads(raw) if raw else None
    except (ValueError, OSError):
        return None
    if not isinstance(data, dict):
        return None
    kept = {k: data[k] for k, kind in _WORKER_KEYS.items() if isinstance(data.get(k), kind)
            or (kind is float and isinstance(data.get(k), int) and not isinstance(data.get(k), bool))}
    kept["cell_errors"] = [e for e in kept.get("cell_errors", []) if isinstance(e, dict)]
    return kept


_FORK_FAILED = ("BlockingIOError", "Resource temporarily unavailable", "can't start new thread")


def _verdict(data: dict | None, limits: Limits, stopped: str | None, usage, tail: _Tail) -> tuple[str, str]:
    data = data or {}
    errors = " ".join(str(e.get("error", "")) for e in data.get("cell_errors", []) if isinstance(e, dict))
    oom = bool(usage and usage.oom_kills)
    if stopped == "processes" or any(s in errors for s in _FORK_FAILED):
        return "too many processes", (f"it started more than the {limits.processes} processes and threads a "
                                      "submission may run at once (a fork or thread bomb?); it was stopped")
    if stopped == "timeout":
        return "timeout", f"the notebook ran past its {limits.notebook_s:.0f} s limit"
    if oom:
        who = "its kernel" if data.get("kernel_died") or not data else "its largest process"
        return "memory limit", (f"its processes together went past the {limits.memory_mb} MB of memory a "
                                f"submission may use; the system stopped {who}")
    if not data:
        return "error", "the grader's worker stopped early: " + " | ".join(tail.lines())[-300:]
    if data.get("kernel_died"):
        if "MemoryError" in errors:
            return "memory limit", f"the kernel died after running out of its {limits.memory_mb} MB"
        return "kernel died", "the kernel crashed or was killed while running a cell"
    if "MemoryError" in errors:
        return "memory limit", f"a cell tried to use more than the {limits.memory_mb} MB allowed"
    if "CellTimeoutError" in errors or "KeyboardInterrupt" in errors:
        return "timeout", f"a cell ran past its {limits.cell_s:.0f} s limit and was interrupted"
    if data.get("cell_errors"):
        return "ran", "some cells raised errors (see cell_errors)"
    return "ran", "ran to the end"


def _kill(proc: subprocess.Popen, groups) -> None:
    """Kill the submission: its process group, the PID namespace with it, and its cgroups."""
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if groups is not None:
        groups.kill_all()
    proc.wait()
