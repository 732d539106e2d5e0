"""A local webhook receiver for Alertmanager (lesson 05): it appends every notification it
receives to a JSON-lines file, and lists them on ``GET /``.

Run by the lesson through ``BackgroundServer``::

    python -m mlkit.monitoring.webhook --port 9000 --out alerts.jsonl
"""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def serve(port: int, out: Path) -> None:
    """Serve on 127.0.0.1:port until killed."""
    out.parent.mkdir(parents=True, exist_ok=True)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)) or 0)
            try:
                payload = json.loads(body or b"{}")
            except json.JSONDecodeError:
                payload = {"raw": body.decode(errors="replace")}
            with out.open("a") as f:
                f.write(json.dumps(payload) + "\n")
            self._send(200, b'{"ok": true}')

        def do_GET(self) -> None:
            self._send(200, out.read_bytes() if out.exists() else b"")

        def _send(self, code: int, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # quiet
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def received(out: Path) -> list[dict]:
    """The notifications received so far, oldest first."""
    if not Path(out).exists():
        return []
    return [json.loads(line) for line in Path(out).read_text().splitlines() if line.strip()]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    serve(args.port, args.out)
