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


def _third_party_imports() -> dict[str, str]:
    """{top-level module: first file:line} of every import in mlkit/ that is neither the standard
    library nor mlkit, inside functions too; an import inside ``try: ... except ImportError`` is
    optional and left out."""
    import ast
    import sys

    found: dict[str, str] = {}

    def optional(handlers: list[ast.ExceptHandler]) -> bool:
        names = {getattr(h.type, "id", None) for h in handlers} | {
            getattr(e, "id", None) for h in handlers if isinstance(h.type, ast.Tuple) for e in h.type.elts}
        return bool(names & {"ImportError", "ModuleNotFoundError"})

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Try) and optional(child.handlers):
                continue
            names = []
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                names = [child.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "mlkit":
                    found.setdefault(top, f"{where}:{child.lineno}")
            visit(child, where)

    for path in sorted((ROOT / "mlkit").rglob("*.py")):
        visit(ast.parse(path.read_text()), str(path.relative_to(ROOT)))
    return found


def test_every_package_that_mlkit_imports_is_declared_in_pyproject():
    from importlib.metadata import packages_distributions

    declared = {canonicalize_name(Requirement(d).name) for d in _pyproject()["project"]["dependencies"]}
    dists = packages_distributions()
    imports = _third_party_imports()
    assert {"torch", "yaml", "pydantic_settings"} <= set(imports)  # the scan sees imports inside functions too
    missing = [f"{module} (imported at {where}; distribution {', '.join(dists.get(module, ['unknown']))})"
               for module, where in sorted(imports.items())
               if not {canonicalize_name(d) for d in dists.get(module, [])} & declared]
    assert not missing, "declare in pyproject.toml's dependencies (and pin in requirements.lock):\n" + "\n".join(missing)
