import urllib.request

import pytest

from mlkit.course.errors import MlkitError
from mlkit.course.processes import BackgroundServer, free_port


def test_real_http_server_starts_answers_and_stops(tmp_path):
    (tmp_path / "hello.txt").write_text("hi")
    server = BackgroundServer.python("-m", "http.server", "{port}", "--bind", "127.0.0.1",
                                     name="file server", cwd=tmp_path)
    with server:
        assert server.running and server.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(server.url + "/hello.txt", timeout=5) as resp:
            assert resp.read() == b"hi"
        pid = server.process.pid
    assert not server.running
    with pytest.raises(OSError):
        urllib.request.urlopen(server.url + "/hello.txt", timeout=2)
    server.stop()  # twice is fine
    assert pid > 0


def test_a_server_that_dies_reports_its_log():
    server = BackgroundServer.python("-c", "import sys; print('bad config'); sys.exit(3)", name="broken")
    with pytest.raises(MlkitError, match="broken exited during start-up:\nbad config"):
        server.start()


def test_a_server_that_never_answers_times_out_and_is_stopped():
    server = BackgroundServer.python("-c", "import time; time.sleep(60)", name="silent", startup_timeout=1)
    with pytest.raises(MlkitError, match="did not answer"):
        server.start()
    assert not server.running


def test_free_port_is_bindable():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", free_port()))
