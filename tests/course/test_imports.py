"""The import graph of mlkit/: layers you can draw, no cycle, and no private name of another distribution.

Read statically (ast), so the tests name each offender as file:line. Every import counts, also
one inside a function or under ``if TYPE_CHECKING:``: a circle hidden from the interpreter is
still a circle for the reader.

The layers, from the ground up (:data:`LAYERS`): ``course`` (what the course runs on; it knows no
stage), the stages in lifecycle order, ``overview`` (lesson 00 previews every stage), then
``exercises``, ``grade`` and the command line. An import that runs upward needs a line in the
importing module's docstring that names the module imported and says why, in this form::

    Upward import: mlkit.deployment.k8s, because the cluster Job reuses its manifest helpers.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

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


def imports(path: Path, module: str) -> list[tuple[str, int, bool, ast.AST]]:
    """(imported module, line, at import time?, node) for every import in a file, those under
    ``if TYPE_CHECKING:`` included. Relative imports are resolved."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
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


LAYERS = ["course", "data", "training", "evaluation", "deployment", "monitoring", "retraining", "overview",
          "exercises", "grade", "cli"]
UPWARD = re.compile(r"^\s*Upward import: `?(mlkit(?:\.\w+)+)`?,? (?:because|as|since|for) (\S+(?: \S+){2,})", re.M)


def layer(module: str) -> int:
    """The layer of a module: its package's place in :data:`LAYERS` (``mlkit`` itself is ground,
    ``mlkit.__main__`` the command line)."""
    parts = module.split(".")
    if len(parts) == 1:
        return 0
    name = "cli" if parts[1] == "__main__" else parts[1]
    if name not in LAYERS:
        raise AssertionError(f"{module}: its package is in no layer; add it to LAYERS in {__file__}")
    return LAYERS.index(name)


def upward_imports() -> list[tuple[str, str, int]]:
    """(importer, imported, line) of every import from a lower layer to a higher one."""
    return sorted((a, b, line) for a, targets in graph(import_time_only=False).items()
                  for b, line in targets.items() if layer(b) > layer(a))


def reasons(module: str) -> dict[str, str]:
    """{imported module: reason} from the ``Upward import: ...`` lines of a module's docstring."""
    doc = ast.get_docstring(ast.parse(MODULES[module].read_text())) or ""
    return {m.group(1): m.group(2) for m in UPWARD.finditer(doc)}


def test_the_course_package_is_the_ground_floor():
    """mlkit/course imports no stage (the store asks providers that the stages register)."""
    found = [f"{a} -> {b} ({MODULES[a].relative_to(PACKAGE.parent)}:{line})"
             for a, b, line in upward_imports() if layer(a) == 0]
    assert not found, "mlkit/course must import no stage package:\n" + "\n".join(found)


def test_every_upward_import_says_why_in_its_docstring():
    found = []
    for a, b, line in upward_imports():
        said = reasons(a)
        if not any(b == name or b.startswith(name + ".") for name in said):
            found.append(f"{a} -> {b} ({MODULES[a].relative_to(PACKAGE.parent)}:{line})")
    assert not found, ("an import from a lower layer to a higher one needs a docstring line "
                       "'Upward import: mlkit.x.y, because ...' in the importing module:\n" + "\n".join(found))


def _names_defined_in_mlkit() -> set[str]:
    """Names mlkit defines: functions, classes, variables, arguments, and attributes it sets on its
    own objects (``self.x = ...``, ``cls.x = ...``). An assignment to another object's attribute
    (``mlflow.tracking.fluent._x = ...``) defines nothing: it writes into that library."""
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


def _root(node: ast.AST) -> str | None:
    """The name an attribute chain starts from (``mlflow`` for ``mlflow.tracking.fluent``)."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


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
            if isinstance(node, ast.Attribute) and _private(node.attr):
                root = _root(node.value)
                on_foreign = root in foreign  # a third-party module's object: never mlkit's own name
                if not on_foreign and (node.attr in own or (root in stdlib and root not in foreign)):
                    continue  # mlkit's own attribute; os._exit, sys._getframe: the standard library's own
                what = "assigns" if isinstance(node.ctx, ast.Store) else "uses"
                found.append(f"{where}:{node.lineno}: {what} .{node.attr} (another library's private attribute)")
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                  and node.func.id in ("getattr", "setattr", "hasattr", "delattr") and len(node.args) >= 2
                  and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
                  and _private(node.args[1].value) and _root(node.args[0]) in foreign):
                found.append(f"{where}:{node.lineno}: {node.func.id}(..., {node.args[1].value!r}) "
                             "(another library's private attribute)")
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
    (pkg / "a" / "four.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from mlkit.a import five\n")
    (pkg / "a" / "five.py").write_text("import mlkit.a.four\n")
    (pkg / "a" / "three.py").write_text(
        "import os, sys\nimport torch\nfrom mlflow.utils import _private_thing\nimport pandas._libs\n"
        "x = torch.ones(2)._base\nos._exit\nsys._getframe\nos.environ['_MLFLOW_SECRET'] = '1'\n"
        "class K:\n    def __init__(self):\n        self._mine = 1\n    def g(self):\n        return self._mine\n"
        "import mlflow\nmlflow.tracking.fluent._active_experiment_id = '1'\n"
        "getattr(mlflow.tracking.fluent, '_active_experiment_id', None)\nself_made = K()\nself_made._mine\n"
        "torch.nn._mine\nfrom mlflow.tracking import fluent\nfluent._active_experiment_id = '1'\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    monkeypatch.setattr(sys.modules[__name__], "MODULES", modules())
    assert cycles(graph(import_time_only=True)) == [["mlkit.a.five", "mlkit.a.four"]]  # TYPE_CHECKING counts
    assert sorted(cycles(graph(import_time_only=False))) == [["mlkit.a.five", "mlkit.a.four"],
                                                             ["mlkit.a.one", "mlkit.a.two"]]
    found = "\n".join(private_uses())
    for expected in ["three.py:3: from mlflow.utils import _private_thing", "three.py:4: imports pandas._libs",
                     "three.py:5: uses ._base", "three.py:8: '_MLFLOW_SECRET'",
                     "three.py:15: assigns ._active_experiment_id",  # writing into a library counts too
                     "three.py:16: getattr(..., '_active_experiment_id')",
                     "three.py:19: uses ._mine",  # a library's attribute, though mlkit has one of that name
                     "three.py:21: assigns ._active_experiment_id"]:  # through a name bound by `from ... import`
        assert expected in found, found
    assert "_exit" not in found and "_getframe" not in found and "three.py:18" not in found and "three.py:13" not in found


def test_the_layer_checks_see_what_they_should(tmp_path, monkeypatch):
    """On a made-up package: course importing a stage, an upward import without a reason, one with a
    reason, one with a reason that names another module, and a downward import."""
    pkg = tmp_path / "mlkit"
    for sub in ("course", "data", "training", "deployment"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "course" / "store.py").write_text("def f():\n    from mlkit.training import models\n")
    (pkg / "training" / "models.py").write_text("from mlkit.course import store\n")
    (pkg / "training" / "cluster.py").write_text(
        '"""Jobs.\n\nUpward import: mlkit.deployment.k8s, because the Job reuses its manifest helpers.\n"""\n'
        "from mlkit.deployment import k8s\n")
    (pkg / "deployment" / "k8s.py").write_text("")
    (pkg / "data" / "ingest.py").write_text(
        '"""Ingest.\n\nUpward import: mlkit.deployment.k8s, because of a reason.\n"""\nfrom mlkit.training import models\n')
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    monkeypatch.setattr(sys.modules[__name__], "MODULES", modules())
    assert upward_imports() == [("mlkit.course.store", "mlkit.training.models", 2),
                                ("mlkit.data.ingest", "mlkit.training.models", 5),
                                ("mlkit.training.cluster", "mlkit.deployment.k8s", 5)]
    assert reasons("mlkit.training.cluster") == {"mlkit.deployment.k8s": "the Job reuses its manifest helpers."}
    with pytest.raises(AssertionError, match="course/store.py:2"):
        test_the_course_package_is_the_ground_floor()
    with pytest.raises(AssertionError) as err:
        test_every_upward_import_says_why_in_its_docstring()
    assert "mlkit.data.ingest -> mlkit.training.models" in str(err.value)  # its reason names another module
    assert "cluster" not in str(err.value)  # this one says why
