"""requirements.lock, pyproject.toml and environment.yml describe the same environment."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.lock: {line!r} is not pinned with =="
            pins[canonicalize_name(name)] = version.split(";")[0].strip()
    return pins


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_dependency_is_pinned_in_the_lock_within_its_range():
    pins = _lock()
    project = _pyproject()["project"]
    deps = project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]
    for dep in map(Requirement, deps):
        name = canonicalize_name(dep.name)
        assert name in pins, f"{dep.name} is a dependency in pyproject.toml but not pinned in requirements.lock"
        assert dep.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {dep.name}=={pins[name]}, outside pyproject.toml's range {dep.specifier}")


def test_environment_yml_installs_the_same_lock_on_a_python_the_project_allows():
    env = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*-\s*-r requirements\.lock\s*$", env, re.M), "environment.yml must install requirements.lock"
    assert re.search(r"^\s*-\s*-e \.\s*$", env, re.M), "environment.yml must install the package itself"
    python = re.search(r"^\s*-\s*python=(\d+\.\d+)", env, re.M).group(1)
    requires = _pyproject()["project"]["requires-python"]
    assert Requirement(f"python{requires}").specifier.contains(f"{python}.0"), (
        f"environment.yml's python={python} is outside requires-python {requires}")


def test_the_lock_pins_torch_to_the_build_that_lies_on_disk():
    # an unpinned torch downloads a multi-GB CUDA build (FACTS.md)
    assert _lock()["torch"].startswith("2.13")
