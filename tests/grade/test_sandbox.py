"""The sandbox seen from inside: a probe notebook reports what it can reach. As root on Linux it
runs as its slot's own user, sees no solutions, tests, git history or other folder of the
machine, writes nowhere but its box, and has no network but its own loopback."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import nbformat
import pytest

from mlkit.course import config
from mlkit.grade import sandbox, slots

pytestmark = pytest.mark.skipif(sandbox.isolation() != "namespaces", reason="needs root and Linux namespaces")

PROBE = """
import json, os, socket
root = {root!r}
found = {{"uid": os.getuid(), "home": os.path.expanduser("~"), "solutions": os.listdir(os.path.join(root, "solutions")),
         "tests": os.path.exists(os.path.join(root, "tests")), "git": os.path.exists(os.path.join(root, ".git")),
         "notebooks": os.path.exists(os.path.join(root, "notebooks"))}}
for key, path in {{"secret": {secret!r}, "root_home": "/root/.bashrc"}}.items():
    try:
        found[key] = open(path).read()
    except OSError as e:
        found[key] = type(e).__name__
try:
    open(os.path.join(root, "pwned.txt"), "w").write("x")
    found["write"] = "written"
except OSError as e:
    found["write"] = type(e).__name__
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    found["net"] = "connected"
except OSError as e:
    found["net"] = type(e).__name__
print("FOUND " + json.dumps(found))
"""


def test_the_probe_sees_only_its_box(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the instructor's")
    server = socket.create_server(("127.0.0.1", 0))
    root = config.course_root()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PROBE.format(
        root=str(root), secret=str(secret), port=server.getsockname()[1]))])
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    try:
        result = sandbox.run_submission(path, "00_lifecycle_overview", sandbox.Limits(cell_s=60, notebook_s=120))
    finally:
        server.close()
    line = next(x for x in result["output_tail"].splitlines() if x.startswith("FOUND "))
    found = json.loads(line.removeprefix("FOUND "))
    assert found["uid"] >= slots.BASE_UID and found["home"] == "/box/home", found
    assert found["solutions"] == [] and not found["tests"] and not found["git"] and found["notebooks"], found
    assert found["secret"] in ("FileNotFoundError", "PermissionError"), found
    assert found["root_home"] in ("FileNotFoundError", "PermissionError"), found
    assert found["write"] in ("OSError", "PermissionError") and not (root / "pwned.txt").exists(), found
    assert found["net"] != "connected", found
    assert result["sandbox"].startswith("namespaces") and Path(os.devnull).exists()
