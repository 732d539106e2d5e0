"""mlkit.course.http: the one client for the course's local servers, against a real server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mlkit.course import http
from mlkit.course.processes import free_port


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass

    def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/echo"):
            self._send(200, json.dumps({"path": self.path, "id": self.headers.get("x-request-id")}).encode())
        elif self.path == "/metrics":
            self._send(200, b"up 1\n", "text/plain")
        elif self.path == "/empty":
            self._send(204, b"")
        elif self.path == "/plain-error":
            self._send(503, b"overloaded, try later", "text/plain")
        else:
            self._send(404, json.dumps({"detail": f"no route {self.path}"}).encode())

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if body.get("bad"):
            self._send(422, json.dumps({"message": "bad is not allowed"}).encode())
        else:
            self._send(200, json.dumps({"got": body}).encode())


@pytest.fixture(scope="module")
def url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_call_gets_and_posts_json(url):
    assert http.call(url, "/echo", params={"a": "1"}, headers={"x-request-id": "r1"}) == {"path": "/echo?a=1",
                                                                                          "id": "r1"}
    assert http.call(url, "/post", {"text": "hi"}) == {"got": {"text": "hi"}}
    assert http.call(url, "/empty") is None
    assert http.text(url + "/metrics") == "up 1\n"


def test_an_error_answer_raises_with_the_servers_message(url):
    with pytest.raises(http.HttpError, match="/post answered 422: bad is not allowed") as err:
        http.call(url, "/post", {"bad": True})
    assert err.value.status == 422
    with pytest.raises(http.HttpError, match="answered 404: no route /nowhere"):
        http.call(url, "/nowhere")
    with pytest.raises(http.HttpError, match="answered 503: overloaded, try later"):
        http.text(url + "/plain-error")


def test_request_returns_any_status(url):
    assert http.request("GET", url + "/nowhere").status_code == 404


def test_nothing_listening_says_is_the_server_running():
    port = free_port()
    with pytest.raises(http.HttpError, match=f"nothing answers at http://127.0.0.1:{port}/x .*server running") as err:
        http.call(f"http://127.0.0.1:{port}", "/x")
    assert err.value.status is None
