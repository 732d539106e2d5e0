"""scripts/install.py (`make setup`): uv gets pip's sources, and the modules the course imports
are compiled. The install itself runs in CI's `make setup`; its time is a benchmark."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from script_loader import load

ROOT = Path(__file__).resolve().parents[2]


def _load():
    return load("scripts/install.py")


def test_uv_gets_pips_sources_and_venv_gets_no_constraints(tmp_path):
    install = _load()
    constraint = tmp_path / "c.txt"
    constraint.write_text("")
    settings = {"extra-index-url": ["file:///a", "file:///b", "file:///a"], "find-links": ["/w"],
                "constraint": [str(constraint), str(tmp_path / "missing.txt")]}
    args = install.uv_args(settings)
    assert args == ["--extra-index-url", "file:///a", "--extra-index-url", "file:///b", "--find-links", "/w",
                    "--constraint", str(constraint), "--index-strategy", "unsafe-best-match"]
    assert "--constraint" not in install.uv_args(settings, venv=True)  # `uv venv` takes none


def test_hot_module_list_names_the_heavy_libraries():
    install = _load()
    hot = install.hot_modules()
    assert len(hot) > 5000 and all(p.endswith(".py") and not p.startswith("/") for p in hot)
    tops = {p.split("/")[0] for p in hot}
    assert {"torch", "mlflow", "great_expectations", "evidently", "dvc", "sklearn", "pandas"} <= tops
    assert "mlkit" not in tops  # the course itself lives in the repository, not in site-packages


def test_compile_hot_writes_bytecode_for_listed_modules_only(tmp_path):
    site = tmp_path / "site"
    (site / "pkg").mkdir(parents=True)
    (site / "pkg" / "a.py").write_text("X = 1\n")
    (site / "pkg" / "b.py").write_text("Y = 2\n")
    (site / "pkg" / "broken.py").write_text("def (:\n")
    hot = tmp_path / "hot.txt"
    hot.write_text("# header\npkg/a.py\npkg/broken.py\npkg/gone.py\n")
    code = (f"import sys, sysconfig; sys.path.insert(0, {str(ROOT / 'scripts')!r}); import install;"
            f"install.HOT = __import__('pathlib').Path({str(hot)!r});"
            f"sysconfig.get_paths = lambda: {{'purelib': {str(site)!r}}};"
            "sys.exit(install.compile_hot())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "compiled 1 of the 2 modules" in out  # the broken one is left for import time to report
    cached = {p.name.split(".")[0] for p in (site / "pkg" / "__pycache__").glob("*.pyc")}
    assert cached == {"a"}
