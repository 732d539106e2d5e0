"""Create the course's virtual environment from requirements.lock: with uv when it can, else pip.

    python3 scripts/install.py .venv          # what `make setup` runs

uv installs the same pins about 15 times faster than pip. It is bootstrapped into the venv
with pip when missing. uv does not read pip's configuration, so the find-links folders,
extra indexes and constraint files that pip is configured with (`pip config list`, PIP_*
variables) are read here at run time and passed on. If uv cannot be had or fails, plain pip
installs the same lock, and one line says so. Both leave compiled bytecode in the venv,
so that no process recompiles torch or sklearn at start-up (which matters where
PYTHONDONTWRITEBYTECODE is set: every kernel and server would pay for it, every time).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"


def pip_settings(python: str) -> dict[str, list[str]]:
    """pip's configured find-links, extra-index-url, index-url and constraint values."""
    out = subprocess.run([python, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    found: dict[str, list[str]] = {}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        name = key.rsplit(".", 1)[-1]
        if name in {"find-links", "extra-index-url", "index-url", "constraint"}:
            found.setdefault(name, []).extend(shlex.split(value.strip().strip("'\"")))
    return found


def uv_args(settings: dict[str, list[str]]) -> list[str]:
    """The same sources for uv, which may then take each package from any of them."""
    args = []
    for url in settings.get("index-url", [])[:1]:
        args += ["--index-url", url]
    for url in dict.fromkeys(settings.get("extra-index-url", [])):
        args += ["--extra-index-url", url]
    for folder in dict.fromkeys(settings.get("find-links", [])):
        args += ["--find-links", folder]
    for path in dict.fromkeys(settings.get("constraint", [])):
        if Path(path).is_file():
            args += ["--constraint", path]
    if len(args) > 2:
        args += ["--index-strategy", "unsafe-best-match"]
    return args


def run(cmd: list[str], **kw) -> bool:
    return subprocess.run(cmd, **kw).returncode == 0


def main(venv: str = ".venv") -> int:
    venv_dir = Path(venv)
    python = str(venv_dir / "bin" / "python")
    if not Path(python).exists() and not run([sys.executable, "-m", "venv", str(venv_dir)]):
        print(f"install: could not create {venv_dir} with {sys.executable}", file=sys.stderr)
        return 1
    start = time.perf_counter()
    quiet = {"stdout": subprocess.DEVNULL}
    have_uv = run([python, "-m", "uv", "--version"], **quiet, stderr=subprocess.DEVNULL) or run(
        [python, "-m", "pip", "install", "-q", "uv"], **quiet)
    installed = False
    if have_uv:
        cmd = [python, "-m", "uv", "pip", "install", "--compile-bytecode", "--python", python,
               *uv_args(pip_settings(python))]
        installed = run([*cmd, "-r", str(LOCK)], env={**os.environ, "UV_NO_PROGRESS": "1"}) and run(
            [*cmd, "--no-deps", "-e", str(ROOT)])
    if not installed:
        print("install: uv is not available here, installing with pip instead (a few minutes)")
        installed = run([python, "-m", "pip", "install", "-r", str(LOCK)]) and run(
            [python, "-m", "pip", "install", "--no-deps", "-e", str(ROOT)])
    if not installed:
        print("install: installing requirements.lock failed; see the messages above", file=sys.stderr)
        return 1
    print(f"install: {venv_dir} ready in {time.perf_counter() - start:.0f} s "
          f"({'uv' if have_uv else 'pip'}, pins from {LOCK.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
