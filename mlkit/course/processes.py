"""Real servers started and stopped from a notebook, always on 127.0.0.1.

Every lesson that needs a server (a data API, the MLflow UI, a model server) uses
:class:`BackgroundServer`: it picks a free port, starts the command as a child
process, waits until the health URL answers, and stops the whole process group on
``stop()``, at the end of a ``with`` block, or when the kernel exits.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from mlkit.course.errors import MlkitError

HOST = "127.0.0.1"
_RUNNING: set[BackgroundServer] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class BackgroundServer:
    """A server process on 127.0.0.1, started and stopped by the code.

    Args:
        command: the argv to run; ``{port}`` in any item is replaced by the port.
        name: a short name for messages, e.g. "MLflow UI".
        port: the port; None picks a free one.
        health_path: the path polled until it answers with HTTP status < 500.
        startup_timeout: seconds to wait for the health URL.
        log_file: where the server's stdout and stderr go (kept for error messages).
        env: extra environment variables.
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
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike | None = None,
    ) -> None:
        self.name = name
        self.port = port or free_port()
        self.command = [str(c).replace("{port}", str(self.port)) for c in command]
        self.health_path = health_path
        self.startup_timeout = startup_timeout
        self.log_file = Path(log_file) if log_file else None
        self.env = env or {}
        self.cwd = cwd
        self.process: subprocess.Popen | None = None

    @classmethod
    def python(cls, *args: str, **kwargs) -> BackgroundServer:
        """A server run by this Python: ``BackgroundServer.python("-m", "uvicorn", ...)``."""
        return cls([sys.executable, *args], **kwargs)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> BackgroundServer:
        """Start the process and wait until it answers; raise with its log if it does not."""
        if self.running:
            return self
        if self.log_file is None:
            import tempfile

            self.log_file = Path(tempfile.mkstemp(prefix="mlkit-server-", suffix=".log")[1])
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_file, "wb")
        self.process = subprocess.Popen(
            self.command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **self.env},
            cwd=self.cwd,
            start_new_session=True,  # its own process group: stop() takes its children too
        )
        log.close()
        _RUNNING.add(self)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise MlkitError(f"{self.name} exited during start-up:\n{self.log_tail()}")
            if self._healthy():
                return self
            time.sleep(0.2)
        self.stop()
        raise MlkitError(
            f"{self.name} did not answer on {self.url}{self.health_path} within "
            f"{self.startup_timeout:.0f} s. Its log:\n{self.log_tail()}"
        )

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + self.health_path, timeout=2) as resp:
                return resp.status < 500
        except urllib.error.HTTPError as exc:
            return exc.code < 500
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and its children (SIGTERM, then SIGKILL). Safe to call twice."""
        proc, self.process = self.process, None
        _RUNNING.discard(self)
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_file or not self.log_file.exists():
            return "(no log)"
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{self.name} {state} at {self.url}>"


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING):
        server.stop(timeout=3)
