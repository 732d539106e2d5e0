"""One launcher for every process a lesson starts: servers and jobs, always stopped.

- :class:`BackgroundServer`: a server on 127.0.0.1 (a data API, the MLflow UI, a model
  server). It picks a free port, starts the command, and waits until a health URL
  answers (or a ``ready`` callable says so); ``start(wait=False)`` returns at once and
  :meth:`~BackgroundServer.wait_ready` waits later.
- :class:`Job`: a command that runs to its end (a torchrun training, a batch script):
  ``start()``, then ``wait()`` or ``result()`` (the JSON file it wrote).

Both run the command in a process group of its own, under a small watchdog
(:mod:`mlkit.course.guard`), with stdout and stderr in a log file (``log_tail()``). The
command and everything it started (even children that left the group, like torchrun's
ranks) are stopped, SIGTERM then SIGKILL, on ``stop()``, at the end of a ``with`` block
(also when it ends with an exception), at interpreter or kernel exit, and, through the
watchdog, when the Python that started them dies without stopping them.

:func:`terminate` is the course's one way to stop processes (psutil), used here and by the
watchdog; waiting is polled with tenacity, and a server's health URL is asked through the
course's HTTP client (:mod:`mlkit.course.http`).

Used by lesson 01 (the data API), lesson 02 (MLflow UI, DDP) and the browser tests.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from mlkit.course.config import QUIET_ENV
from mlkit.course.errors import ProcessError

HOST = "127.0.0.1"
GUARD = Path(__file__).with_name("guard.py")
GRACE_S = 5.0  # seconds between SIGTERM and SIGKILL
_RUNNING: set[ManagedProcess] = set()


# ---------------------------------------------------------------- stopping processes (psutil)
def alive(proc: Any) -> bool:
    """Whether a ``psutil.Process`` still runs (a zombie, dead but not collected, counts as gone)."""
    import psutil

    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def descendants(pid: int) -> list[Any]:
    """Every process below ``pid`` (``psutil.Process`` objects), children first; [] when it is gone."""
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def collect_zombies(keep: int | None = None) -> None:
    """Collect this process's exited (zombie) children, except ``keep`` (the watchdog, a
    subreaper, adopts orphaned grandchildren and must collect them)."""
    import psutil

    for proc in descendants(os.getpid()):
        if proc.pid != keep:
            try:
                if proc.ppid() == os.getpid() and proc.status() == psutil.STATUS_ZOMBIE:
                    os.waitpid(proc.pid, os.WNOHANG)
            except (psutil.Error, ChildProcessError):
                pass


def wait_for(condition: Callable[[], bool], timeout: float, every: float = 0.05) -> bool:
    """Poll ``condition()`` every ``every`` seconds until it is true (True) or ``timeout`` passes (False)."""
    from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

    return Retrying(retry=retry_if_result(lambda done: not done), stop=stop_after_delay(timeout),
                    wait=wait_fixed(every), retry_error_callback=lambda state: False)(condition)


def terminate(procs: Iterable[Any], grace: float = GRACE_S, *, groups: Iterable[int] = (),
              done: Callable[[], bool] = lambda: True, reap: Callable[[], Any] = lambda: None) -> None:
    """Stop processes: SIGTERM to each ``psutil.Process`` in ``procs`` and to each process group
    in ``groups``; after ``grace`` seconds SIGKILL to whatever is left, and wait 2 s more.

    ``done()`` must also be true for the stop to count as finished (a launcher's own check of
    its children); ``reap()`` is called while waiting (the watchdog collects its zombies)."""
    import psutil

    procs, groups = list(procs), list(groups)
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        for pgid in groups:
            try:
                os.killpg(pgid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        for proc in procs:
            if alive(proc):
                try:
                    proc.send_signal(sig)
                except psutil.Error:  # gone in between
                    pass

        def stopped() -> bool:
            reap()
            return done() and not any(alive(p) for p in procs)

        if wait_for(stopped, wait):
            return


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class ManagedProcess:
    """A command in its own process group, logged, and stopped with all its descendants.

    The shared base of :class:`BackgroundServer` and :class:`Job`.

    Args:
        command: the argv to run.
        name: a short name for messages, e.g. "MLflow UI".
        log_file: where stdout and stderr go (default: a temporary file).
        env: extra environment variables (over this process's, with telemetry off); a value
            of None removes that variable from the command's environment.
        cwd: the working folder.
    """

    def __init__(self, command: Sequence[str], *, name: str = "process", log_file: str | os.PathLike | None = None,
                 env: dict[str, str | None] | None = None, cwd: str | os.PathLike | None = None) -> None:
        self.name = name
        self.command = [str(c) for c in command]
        self.log_file = Path(log_file) if log_file else None
        self.env = dict(env or {})
        self.cwd = cwd
        self.process: subprocess.Popen | None = None
        self.started_at: float | None = None
        self._owner = os.getpid()

    @classmethod
    def python(cls, *args: str, **kwargs: Any) -> Any:
        """The command run by this Python: ``BackgroundServer.python("-m", "uvicorn", ...)``."""
        return cls([sys.executable, *args], **kwargs)

    @property
    def pid(self) -> int | None:
        """The process id of the group leader (the watchdog); also the process group id."""
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        """The command's exit status once it ended (128 + N when stopped by signal N), else None."""
        return self.process.poll() if self.process else None

    def launch(self) -> None:
        """Start the command (non-blocking). A running process is left as it is."""
        if self.running:
            return
        if self.log_file is None:
            fd, name = tempfile.mkstemp(prefix=f"mlkit-{self.name.replace(' ', '-')}-", suffix=".log")
            os.close(fd)
            self.log_file = Path(name)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **QUIET_ENV, **self.env}
        with open(self.log_file, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-I", str(GUARD), str(os.getpid()), "--", *self.command],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={k: v for k, v in env.items() if v is not None}, cwd=self.cwd,
                start_new_session=True,  # its own process group: stop() reaches its children
            )
        self.started_at = time.monotonic()
        self._owner = os.getpid()
        _RUNNING.add(self)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the command and everything it started (SIGTERM, then SIGKILL after
        ``timeout`` s). Safe to call twice, and after the command ended by itself."""
        stop_all([self], timeout)

    def log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines of the log (for error messages)."""
        if not self.log_file or not self.log_file.exists():
            return "(no log)"
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> Any:
        return self.start()

    def start(self) -> Any:  # overridden
        self.launch()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "not started" if self.process is None else "stopped"
        return f"<{type(self).__name__} {self.name!r} {state}>"


def stop_all(procs: Sequence[ManagedProcess] | None = None, timeout: float = 10.0) -> None:
    """Stop ``procs`` (default: every process this Python started and did not stop yet)
    together: SIGTERM to each process group and every member of each tree, SIGKILL after
    ``timeout`` seconds to whatever is left (:func:`terminate`)."""
    procs = list(_RUNNING if procs is None else procs)
    mine = []
    for p in procs:
        _RUNNING.discard(p)
        if p.process is not None and p._owner == os.getpid():
            mine.append(p)
    if not mine:
        return
    victims = [v for p in mine for v in descendants(p.process.pid)]  # snapshot before signalling
    terminate(victims, timeout, groups=[p.process.pid for p in mine],
              done=lambda: all(p.process.poll() is not None for p in mine))


class BackgroundServer(ManagedProcess):
    """A server process on 127.0.0.1, started and stopped by the code.

    Args:
        command: the argv to run; ``{port}`` in any item is replaced by the port.
        name: a short name for messages, e.g. "MLflow UI".
        port: the port; None picks a free one.
        health_path: the path polled until it answers with HTTP status < 500.
        startup_timeout: seconds to wait for it to answer.
        log_file: where the server's stdout and stderr go (kept for error messages).
        env: extra environment variables (None removes one).
        cwd: the working folder.
        ready: instead of ``health_path``, a callable given the server that returns True
            once it is ready (for servers that are not HTTP).

    ``with BackgroundServer(...) as server:`` starts it and stops it at the end.
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        name: str = "server",
        port: int | None = None,
        health_path: str = "/",
        startup_timeout: float = 60.0,
        log_file: str | os.PathLike | None = None,
        env: dict[str, str | None] | None = None,
        cwd: str | os.PathLike | None = None,
        ready: Callable[[BackgroundServer], bool] | None = None,
    ) -> None:
        self.port = port or free_port()
        super().__init__([str(c).replace("{port}", str(self.port)) for c in command], name=name,
                         log_file=log_file, env=env, cwd=cwd)
        self.health_path = health_path
        self.startup_timeout = startup_timeout
        self.ready = ready
        self.is_ready = False

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, wait: bool = True) -> BackgroundServer:
        """Start the server; with ``wait`` (default) also :meth:`wait_ready`. Returns the server."""
        if not self.running:
            self.is_ready = False
            self.launch()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float | None = None) -> BackgroundServer:
        """Wait until the server answers (``timeout`` defaults to ``startup_timeout``, counted
        from the start). Raises :class:`ProcessError` with its log if it exits or never answers
        (and then stops it)."""
        if self.process is None:
            raise ProcessError(f"{self.name} was not started: call .start() first.")
        if timeout is None:  # the start-up budget, counted from start()
            limit, since = self.startup_timeout, self.started_at or time.monotonic()
        else:
            limit, since = timeout, time.monotonic()
        deadline = since + limit

        def ready() -> bool:
            if not self.running:
                raise ProcessError(f"{self.name} exited during start-up:\n{self.log_tail()}")
            return self._answers()

        if not self.is_ready:
            self.is_ready = wait_for(ready, max(0.0, deadline - time.monotonic()), every=0.2)
        if not self.is_ready:
            self.stop()
            where = "its readiness check" if self.ready else f"{self.url}{self.health_path}"
            raise ProcessError(f"{self.name} did not answer on {where} within {limit:.0f} s. "
                               f"Its log:\n{self.log_tail()}")
        return self

    def _answers(self) -> bool:
        if self.ready is not None:
            try:
                return bool(self.ready(self))
            except Exception:  # noqa: BLE001 - whatever the check raises means: not ready yet
                return False
        from mlkit.course import http

        try:
            return http.request("GET", self.url + self.health_path, timeout=2).status_code < 500
        except http.HttpError:
            return False

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{self.name} {state} at {self.url}>"


class Job(ManagedProcess):
    """A command that runs to its end, in the background: ``start()``, then ``wait()``.

    Args:
        command: the argv to run.
        name: a short name for messages, e.g. "torchrun".
        timeout: seconds the job may run, counted from ``start()``; then it is stopped.
        result_file: the JSON file the job writes; :meth:`result` reads it.
        log_file, env, cwd: as for :class:`ManagedProcess`.
    """

    def __init__(self, command: Sequence[str], *, name: str = "job", timeout: float | None = None,
                 result_file: str | os.PathLike | None = None, log_file: str | os.PathLike | None = None,
                 env: dict[str, str | None] | None = None, cwd: str | os.PathLike | None = None) -> None:
        super().__init__(command, name=name, log_file=log_file, env=env, cwd=cwd)
        self.timeout = timeout
        self.result_file = Path(result_file) if result_file else None
        self.wall_s: float | None = None

    def start(self) -> Job:
        """Start the job and return at once (a removed old result file cannot be mistaken for a new one)."""
        if not self.running:
            if self.result_file is not None:
                self.result_file.unlink(missing_ok=True)
            self.launch()
        return self

    @property
    def done(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the job to end and return its exit status. Past ``timeout`` (default: what
        is left of the job's own timeout) it is stopped and :class:`ProcessError` raised."""
        if self.process is None:
            raise ProcessError(f"{self.name} was not started: call .start() first.")
        if timeout is None and self.timeout is not None:
            timeout = max(0.0, self.timeout - (time.monotonic() - (self.started_at or 0.0)))
        try:
            rc = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise ProcessError(f"{self.name} did not finish within {timeout:.0f} s and was stopped. "
                               f"Its log {self.log_file}:\n{self.log_tail()}") from None
        if self.wall_s is None:
            self.wall_s = time.monotonic() - (self.started_at or time.monotonic())
        _RUNNING.discard(self)
        return rc

    def run(self, timeout: float | None = None) -> Job:
        """Start, wait, and raise :class:`ProcessError` with the log if the exit status is not 0."""
        rc = self.start().wait(timeout)
        if rc != 0:
            raise ProcessError(f"{self.name} failed (exit {rc}); its log {self.log_file}:\n{self.log_tail()}")
        return self

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the job and return the JSON it wrote to ``result_file``; raise
        :class:`ProcessError` with its log if it failed or wrote nothing."""
        rc = self.wait(timeout)
        if rc != 0 or self.result_file is None or not self.result_file.exists():
            why = f"exit {rc}" if rc != 0 else f"no result in {self.result_file}"
            raise ProcessError(f"{self.name} failed ({why}); its log {self.log_file}:\n{self.log_tail()}")
        return json.loads(self.result_file.read_text())


@atexit.register
def _stop_at_exit() -> None:
    stop_all(timeout=3.0)
