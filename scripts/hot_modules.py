"""Record which installed modules the course imports: scripts/hot-modules.txt.

    python3 scripts/hot_modules.py          # about 10 minutes on 2 cores; rerun after changing the lock

`make setup` compiles these modules' bytecode and no others (scripts/install.py says why).
To find them, this builds a throw-away venv from requirements.lock *without* bytecode,
lets Python write bytecode (PYTHONDONTWRITEBYTECODE unset), and runs what learners and CI
run: every lesson in fast mode (kernels, MLflow and model servers, DVC stages, Prometheus
clients), JupyterLab's server, and pytest collecting the test suite. Every `__pycache__`
file that appears in site-packages afterwards marks a module that was imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).with_name("hot-modules.txt")
TAG = sys.implementation.cache_tag  # e.g. cpython-311
SERVERS = "import jupyterlab.labapp, jupyter_server.serverapp, nbclient, papermill, nbval, playwright.sync_api"


def imported(site: Path) -> list[str]:
    """Source files (relative to site-packages) that have a bytecode file next to them."""
    found = []
    for pyc in site.rglob(f"__pycache__/*.{TAG}.pyc"):
        src = pyc.parent.parent / (pyc.name.split(".")[0] + ".py")
        if src.exists():
            found.append(src.relative_to(site).as_posix())
    return sorted(found)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, str(ROOT / "scripts" / "install.py"), str(venv), "--no-compile"], check=True)
        py = str(venv / "bin" / "python")
        site = Path(subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   capture_output=True, text=True, check=True).stdout.strip())
        before = set(imported(site))  # compiled at install time (pip, when `python -m venv` made it)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(MLKIT_HOME=str(Path(tmp) / "home"), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
        steps = [
            [str(venv / "bin" / "mlkit"), "run", "--fast", "-o", str(Path(tmp) / "runs")],
            [py, "-c", SERVERS],
            [py, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", str(ROOT / "tests")],
        ]
        for cmd in steps:
            print("hot_modules:", " ".join(cmd[:4]), flush=True)
            subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)  # a failed lesson still imported
        rows = sorted(set(imported(site)) - before)
    header = [f"# Modules (relative to site-packages) the course imports, {len(rows)} files.",
              "# make setup compiles their bytecode; written by scripts/hot_modules.py (rerun it after",
              "# changing requirements.lock). A module missing here still works: it is compiled at import."]
    OUT.write_text("\n".join(header + rows) + "\n")
    print(f"hot_modules: {len(rows)} modules -> {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
