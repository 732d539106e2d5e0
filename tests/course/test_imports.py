"""The import graph of mlkit/: no cycle, and no private name of another distribution.

Read statically (ast), so the tests name each offender as file:line.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "mlkit"
# Underscore names that are public API by their library's own documentation.
PUBLIC_UNDERSCORE = {"_asdict", "_replace", "_fields", "_make", "_field_defaults",  # namedtuple
                     "_exit", "_getframe"}  # os._exit, sys._getframe


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = modules()


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(path: Path, module: str) -> list[tuple[str, int, bool, ast.AST]]:
    """(imported module, line, at import time?, node) for every import in a file, except
    those under ``if TYPE_CHECKING:``. Relative imports are resolved."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for sub in child.orelse:
                    visit(sub, top)
                continue
            inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, top, child) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    found.append((sub if sub in MODULES else base, child.lineno, top, child))
            visit(child, inner)

    visit(tree, True)
    return found


def graph(import_time_only: bool) -> dict[str, dict[str, int]]:
    edges: dict[str, dict[str, int]] = {m: {} for m in MODULES}
    for module, path in MODULES.items():
        for target, line, top, _ in imports(path, module):
            if target in MODULES and target != module and (top or not import_time_only):
                edges[module].setdefault(target, line)
    return edges


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """Each strongly connected component with more than one module (Tarjan), as one cycle path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(sorted(comp))

    for v in edges:
        if v not in index:
            strongconnect(v)
    return components


def describe(component: list[str], edges: dict[str, dict[str, int]]) -> str:
    inside = set(component)
    lines = [f"  {a} -> {b} ({MODULES[a].relative_to(PACKAGE.parent)}:{line})"
             for a in component for b, line in edges[a].items() if b in inside]
    return "cycle among " + ", ".join(component) + ":\n" + "\n".join(lines)


def test_no_import_cycle_at_import_time():
    edges = graph(import_time_only=True)
    found = [describe(c, edges) for c in cycles(edges)]
    assert not found, "\n".join(found)


def test_no_import_cycle_even_through_imports_inside_functions():
    """A cycle through a lazy import still ties two modules into one: break it by moving the
    shared piece into a third module."""
    edges = graph(import_time_only=False)
    found = [describe(c, edges) for c in cycles(edges)]
    assert not found, "\n".join(found)


def _names_defined_in_mlkit() -> set[str]:
    names = set()
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                  and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                names.add(node.attr)  # an attribute of mlkit's own object; `lib._x = ...` stays foreign
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
    return names


def _private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("_") and name not in PUBLIC_UNDERSCORE


def private_uses() -> list[str]:
    """Every use of another distribution's private name in mlkit/, as 'file:line: what'."""
    own = _names_defined_in_mlkit()
    stdlib = set(sys.stdlib_module_names)
    found = []
    for module, path in MODULES.items():
        where = str(path.relative_to(PACKAGE.parent))
        tree = ast.parse(path.read_text())
        foreign: dict[str, str] = {}  # local name -> the third-party module it is bound to
        for target, line, _, node in imports(path, module):
            top = target.split(".")[0]
            if top == "mlkit":
                continue
            if any(_private(part) for part in target.split(".")):
                found.append(f"{where}:{line}: imports {target} (a private module)")
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if _private(alias.name):
                        found.append(f"{where}:{line}: from {node.module} import {alias.name}")
            if top not in stdlib:
                for alias in node.names:
                    foreign[alias.asname or alias.name.split(".")[0]] = target
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in own:
                root = node.value
                while isinstance(root, ast.Attribute):
                    root = root.value
                if isinstance(root, ast.Name) and root.id in stdlib and root.id not in foreign:
                    continue  # os._exit, sys._getframe: the standard library's own
                found.append(f"{where}:{node.lineno}: .{node.attr} (not defined by mlkit: another library's private attribute)")
            elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) > 3
                  and node.value[0] == "_" and node.value[1] != "_" and node.value[1:].replace("_", "").isupper()):
                found.append(f"{where}:{node.lineno}: {node.value!r} (a private environment variable or setting)")
    return found


def test_no_private_name_of_another_distribution():
    found = private_uses()
    assert not found, "use public APIs instead of:\n" + "\n".join(found)


def test_the_checks_see_what_they_should(tmp_path, monkeypatch):
    """The checkers on a made-up package: they must find a cycle and each kind of private use."""
    pkg = tmp_path / "mlkit"
    (pkg / "a").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "__init__.py").write_text("")
    (pkg / "a" / "one.py").write_text("from mlkit.a import two\n")
    (pkg / "a" / "two.py").write_text("def f():\n    from . import one\n")
    (pkg / "a" / "three.py").write_text(
        "import os, sys\nimport torch\nfrom mlflow.utils import _private_thing\nimport pandas._libs\n"
        "x = torch.ones(2)._base\nos._exit\nsys._getframe\nos.environ['_MLFLOW_SECRET'] = '1'\n"
        "from mlflow.tracking import fluent\nfluent._active_experiment_id = '1'\n"
        "class K:\n    def __init__(self):\n        self._mine = 1\n    def g(self):\n        return self._mine\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    monkeypatch.setattr(sys.modules[__name__], "MODULES", modules())
    assert cycles(graph(import_time_only=True)) == []
    assert cycles(graph(import_time_only=False)) == [["mlkit.a.one", "mlkit.a.two"]]
    found = "\n".join(private_uses())
    for expected in ["three.py:3: from mlflow.utils import _private_thing", "three.py:4: imports pandas._libs",
                     "three.py:5: ._base", "three.py:8: '_MLFLOW_SECRET'", "three.py:10: ._active_experiment_id"]:
        assert expected in found, found
    assert "_exit" not in found and "_getframe" not in found and "_mine" not in found
