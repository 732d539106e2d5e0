"""Create the course's virtual environment from requirements.lock: with uv when it can, else pip.

    python3 scripts/install.py .venv                # what `make setup` runs
    python3 scripts/install.py VENV --no-compile    # no bytecode at all (hot_modules.py records so)

uv installs the same pins about 15 times faster than pip. A uv on PATH is used; else it is
bootstrapped into the venv with pip. uv does not read pip's configuration, so the find-links folders,
extra indexes and constraint files that pip is configured with (`pip config list`, PIP_*
variables) are read here at run time and passed on. If uv cannot be had or fails, plain pip
installs the same lock, and one line says so.

Bytecode: where PYTHONDONTWRITEBYTECODE is set, Python never caches what it compiles, so a
venv without .pyc files recompiles torch, mlflow and Great Expectations in every kernel and
server, every time. Compiling all of site-packages (about 39,000 files) takes over a minute
on 2 cores, yet the course imports only a fifth of them. uv therefore installs without
compiling, and then the modules the course really imports (scripts/hot-modules.txt,
recorded by `python scripts/hot_modules.py`) are compiled, in parallel. Anything else
still works: Python compiles it when it is imported. pip compiles everything, as it always does.
"""

from __future__ import annotations

import os
import py_compile
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
HOT = Path(__file__).with_name("hot-modules.txt")


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


def uv_args(settings: dict[str, list[str]], venv: bool = False) -> list[str]:
    """The same sources for uv, which may then take each package from any of them (`uv venv`
    takes no constraints)."""
    args = []
    for url in settings.get("index-url", [])[:1]:
        args += ["--index-url", url]
    for url in dict.fromkeys(settings.get("extra-index-url", [])):
        args += ["--extra-index-url", url]
    for folder in dict.fromkeys(settings.get("find-links", [])):
        args += ["--find-links", folder]
    for path in dict.fromkeys([] if venv else settings.get("constraint", [])):
        if Path(path).is_file():
            args += ["--constraint", path]
    if len(args) > 2:
        args += ["--index-strategy", "unsafe-best-match"]
    return args


def hot_modules() -> list[str]:
    """Paths, relative to site-packages, of the modules the course imports."""
    if not HOT.exists():
        return []
    return [x for x in HOT.read_text().splitlines() if x and not x.startswith("#")]


def _compile(paths: list[str]) -> int:
    done = 0
    for path in paths:
        try:
            py_compile.compile(path, doraise=True)
            done += 1
        except (py_compile.PyCompileError, OSError):
            pass  # a module that does not compile here is compiled (or fails) at import, as usual
    return done


def compile_hot() -> int:
    """Compile the listed modules of *this* interpreter's site-packages, one process per core.
    Run with the venv's Python (`install.py --compile-hot`), so the bytecode matches it."""
    import sysconfig
    from concurrent.futures import ProcessPoolExecutor

    site = Path(sysconfig.get_paths()["purelib"])
    paths = [str(site / rel) for rel in hot_modules() if (site / rel).exists()]
    workers = max(1, os.cpu_count() or 1)
    chunks = [paths[i::workers * 4] for i in range(workers * 4)]
    with ProcessPoolExecutor(workers) as pool:
        done = sum(pool.map(_compile, chunks))
    print(f"install: compiled {done} of the {len(paths)} modules the course imports")
    return 0


def run(cmd: list[str], **kw) -> bool:
    return subprocess.run(cmd, **kw).returncode == 0


def find_uv(python: str) -> list[str] | None:
    """A working uv: on PATH, else in the venv, else bootstrapped into the venv with pip."""
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    on_path = shutil.which("uv")
    if on_path and run([on_path, "--version"], **quiet):
        return [on_path]
    if Path(python).exists() and (run([python, "-m", "uv", "--version"], **quiet) or run(
            [python, "-m", "pip", "install", "-q", "uv"], stdout=subprocess.DEVNULL)):
        return [python, "-m", "uv"]
    return None


def main(venv: str = ".venv", compile_bytecode: bool = True) -> int:
    venv_dir = Path(venv)
    python = str(venv_dir / "bin" / "python")
    start = time.perf_counter()
    sources = pip_settings(sys.executable)
    uv = find_uv(python)
    if not Path(python).exists():  # uv makes a venv (with pip) in a second; `python -m venv` takes several
        made = uv and run([*uv, "venv", "-q", "--seed", "--python", sys.executable, *uv_args(sources, venv=True),
                           str(venv_dir)])
        if not made and not run([sys.executable, "-m", "venv", str(venv_dir)]):
            print(f"install: could not create {venv_dir} with {sys.executable}", file=sys.stderr)
            return 1
        uv = uv or find_uv(python)
    installed = False
    if uv:  # the lock's pins and the course itself (editable, no further dependencies) in one go
        installed = run([*uv, "pip", "install", "--python", python, *uv_args(sources), "-r", str(LOCK),
                         "-e", str(ROOT)], env={**os.environ, "UV_NO_PROGRESS": "1"})
        if installed and compile_bytecode:
            run([python, str(Path(__file__).resolve()), "--compile-hot"])
    if not installed:
        print("install: uv is not available here (or failed), installing with pip instead (a few minutes)")
        run([python, "-m", "ensurepip"], stdout=subprocess.DEVNULL)  # a no-op where pip is there
        installed = run([python, "-m", "pip", "install", "-r", str(LOCK)]) and run(
            [python, "-m", "pip", "install", "--no-deps", "-e", str(ROOT)])
    if not installed:
        print("install: installing requirements.lock failed; see the messages above", file=sys.stderr)
        return 1
    print(f"install: {venv_dir} ready in {time.perf_counter() - start:.0f} s "
          f"({'uv' if uv else 'pip'}, pins from {LOCK.name})")
    return 0


if __name__ == "__main__":
    if "--compile-hot" in sys.argv:
        sys.exit(compile_hot())
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    sys.exit(main(*args[:1], compile_bytecode="--no-compile" not in sys.argv))
