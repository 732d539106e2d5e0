"""The one process launcher: real servers and jobs, and nothing left running afterwards."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from mlkit.course import http
from mlkit.course.errors import MlkitError, ProcessError
from mlkit.course.processes import BackgroundServer, Job, free_port, stop_all, wait_for

# A job that starts two children, one in its own session (as torchrun starts its ranks),
# writes their pids, then sleeps (or exits at once with "exit").
SPAWNER = textwrap.dedent("""
    import subprocess, sys, time, pathlib
    sleep = [sys.executable, "-c", "import time; time.sleep(120)"]
    a = subprocess.Popen(sleep)
    b = subprocess.Popen(sleep, start_new_session=True)
    pathlib.Path(sys.argv[1]).write_text(f"{a.pid} {b.pid}")
    if sys.argv[2] != "exit":
        time.sleep(120)
""")


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(pids, seconds: float = 15.0) -> list[int]:
    """The pids still running after up to ``seconds``."""
    wait_for(lambda: all(gone(p) for p in pids), seconds, every=0.1)
    return [p for p in pids if not gone(p)]


def read_pids(path: Path, seconds: float = 30.0) -> list[int]:
    if not wait_for(lambda: path.exists() and bool(path.read_text().strip()), seconds):
        raise AssertionError(f"the job wrote no pids to {path}")
    return [int(p) for p in path.read_text().split()]


def tree(pid: int) -> list[int]:
    return [pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))]


def file_server(folder: Path, **kwargs) -> BackgroundServer:
    return BackgroundServer.python("-m", "http.server", "{port}", "--bind", "127.0.0.1", name="file server",
                                   cwd=folder, **kwargs)


def test_real_http_server_starts_answers_and_stops_with_its_children(tmp_path):
    (tmp_path / "hello.txt").write_text("hi")
    server = file_server(tmp_path)
    with server:
        assert server.running and server.is_ready and server.url == f"http://127.0.0.1:{server.port}"
        assert http.text(server.url + "/hello.txt", timeout=5) == "hi"
        pids = tree(server.pid)
        assert len(pids) == 2  # the watchdog and the server
        assert psutil.Process(pids[1]).cmdline()[1:3] == ["-m", "http.server"]
    assert not server.running and wait_gone(pids, 0) == []
    with pytest.raises(http.HttpError, match="nothing answers"):
        http.text(server.url + "/hello.txt", timeout=2)
    server.stop()  # twice is fine
    assert "GET /hello.txt" in server.log_tail()


def test_with_block_that_raises_still_stops_the_server(tmp_path):
    with pytest.raises(ZeroDivisionError), file_server(tmp_path) as server:
        pids = tree(server.pid)
        raise ZeroDivisionError("a notebook cell failed")
    assert wait_gone(pids, 0) == [] and not server.running


def test_non_blocking_start_then_wait_ready(tmp_path):
    slow = BackgroundServer.python("-c", "import time, sys; time.sleep(1.5); sys.argv = ['x', '{port}'];"
                                   " import runpy; runpy.run_module('http.server', run_name='__main__')",
                                   name="slow server", cwd=tmp_path)
    try:
        assert slow.start(wait=False) is slow
        assert slow.running and not slow.is_ready  # returned before the server answers
        assert slow.wait_ready(timeout=30) is slow and slow.is_ready
        assert slow.start() is slow  # already running: nothing new is started
    finally:
        slow.stop()


def test_wait_ready_before_start_is_a_clear_error():
    with pytest.raises(ProcessError, match="was not started"):
        BackgroundServer(["true"], name="idle").wait_ready()


def test_ready_callable_instead_of_http(tmp_path):
    flag = tmp_path / "ready"
    server = BackgroundServer.python("-c", f"import pathlib, time; pathlib.Path({str(flag)!r}).touch(); time.sleep(60)",
                                     name="flag server", ready=lambda s: flag.exists())
    with server:
        assert server.is_ready and flag.exists()


def test_a_server_that_dies_reports_its_log():
    server = BackgroundServer.python("-c", "import sys; print('bad config'); sys.exit(3)", name="broken")
    with pytest.raises(MlkitError, match="broken exited during start-up:\nbad config"):
        server.start()
    assert server.returncode == 3


def test_a_command_that_does_not_exist_says_so():
    with pytest.raises(ProcessError, match="cannot start 'no-such-program-xyz'"):
        BackgroundServer(["no-such-program-xyz"], name="ghost").start()


def test_a_server_that_never_answers_times_out_and_is_stopped():
    server = BackgroundServer.python("-c", "import time; time.sleep(60)", name="silent", startup_timeout=1)
    with pytest.raises(ProcessError, match="silent did not answer on http://127.0.0.1:.* within 1 s"):
        server.start()
    assert not server.running and wait_gone([server.pid], 0) == []


def test_job_stopped_midway_leaves_no_child_even_one_in_its_own_session(tmp_path):
    pid_file = tmp_path / "pids"
    job = Job.python("-c", SPAWNER, str(pid_file), "sleep", name="spawner").start()
    children = read_pids(pid_file)
    assert not any(gone(p) for p in children) and not job.done
    job.stop(timeout=5)
    assert wait_gone([job.pid, *children], 0) == [] and job.done


def test_job_that_exits_leaves_no_child_behind(tmp_path):
    pid_file = tmp_path / "pids"
    job = Job.python("-c", SPAWNER, str(pid_file), "exit", name="spawner", timeout=60).start()
    assert job.wait() == 0 and job.wall_s is not None
    assert wait_gone(read_pids(pid_file)) == []


def test_job_result_failure_and_timeout(tmp_path):
    out = tmp_path / "r.json"
    ok = Job.python("-c", f"import json; json.dump({{'acc': 0.9}}, open({str(out)!r}, 'w'))", result_file=out)
    assert ok.start().result() == {"acc": 0.9} and ok.returncode == 0
    bad = Job.python("-c", "import sys; print('the data is gone'); sys.exit(3)", name="trainer", result_file=out)
    with pytest.raises(ProcessError, match=r"trainer failed \(exit 3\).*\n.*the data is gone"):
        bad.start().result()
    assert not out.exists()  # start() removed the old result: it cannot pass for this run's
    with pytest.raises(ProcessError, match="trainer failed"):
        Job.python("-c", "raise SystemExit(2)", name="trainer").run()
    slow = Job.python("-c", "import time; time.sleep(60)", name="slow job", timeout=0.5).start()
    with pytest.raises(ProcessError, match="slow job did not finish within 0 s and was stopped"):
        slow.wait()
    assert wait_gone([slow.pid], 0) == []


def test_stop_all_stops_every_running_process(tmp_path):
    servers = [file_server(tmp_path).start(wait=False), Job.python("-c", "import time; time.sleep(60)").start()]
    pids = [pid for s in servers for pid in tree(s.pid)]
    stop_all()
    assert wait_gone(pids, 0) == []


OWNER = textwrap.dedent("""
    import os, signal, sys
    from mlkit.course.processes import BackgroundServer
    server = BackgroundServer.python("-m", "http.server", "{port}", "--bind", "127.0.0.1").start()
    import psutil
    print(server.pid, *[c.pid for c in psutil.Process(server.pid).children(recursive=True)], flush=True)
    if sys.argv[1] == "raise":
        raise RuntimeError("a notebook cell failed")
    if sys.argv[1] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)  # no atexit: the watchdog must clean up
""")


@pytest.mark.parametrize("how", ["exit", "raise", "kill"])
def test_no_orphan_after_the_python_that_started_a_server_ends(how):
    res = subprocess.run([sys.executable, "-c", OWNER, how], capture_output=True, text=True, timeout=60)
    pids = [int(p) for p in res.stdout.split()]
    assert len(pids) == 2, res.stderr
    assert wait_gone(pids, 10) == []


def test_free_port_is_free_and_bindable():
    ports = {free_port() for _ in range(5)}
    assert all(1024 < p < 65536 for p in ports)
    port = ports.pop()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass


def test_log_tail_and_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GONE_VAR", "x")
    job = Job.python("-c", "import os; print(os.environ['MY_VAR']); print(os.environ['MLFLOW_DISABLE_TELEMETRY']);"
                     " print(os.environ.get('GONE_VAR', 'unset'))",
                     env={"MY_VAR": "hello", "GONE_VAR": None}, log_file=tmp_path / "job.log").run()
    assert job.log_tail().splitlines() == ["hello", "true", "unset"]
    assert job.returncode == 0
