"""Instant checks for exercises: ``ex.q1.check()``, ``ex.q1.hint()``, ``ex.q1.solution()``.

A lesson's exercise module (``mlkit/exercises/lessonNN.py``) defines one :class:`Question`
per exercise and lists them, in order, as ``QUESTIONS = [q1, q2, ...]``. A check function
receives the learner's object (looked up by name in the notebook) and raises
:class:`Mistake` with specific feedback when the behaviour is wrong.
Everything here is plain Python: no heavy imports, no front end needed.
"""

from __future__ import annotations

import ast
import html
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mlkit.course import config
from mlkit.course.config import STRICT_ENV
from mlkit.course.errors import MlkitError
from mlkit.exercises import records

_PKG_DIR = str(Path(__file__).resolve().parents[1])
_MISSING = object()


class Mistake(Exception):
    """Raised by a check function: the learner's answer is wrong; the message says how."""


class NotStarted(NotImplementedError):
    """Strict mode (batch runs): the exercise still holds its stub."""


class CheckFailed(AssertionError):
    """Strict mode (batch runs): the learner's answer failed its check."""


class LessonError(MlkitError, LookupError):
    """A lesson's exercise module or quiz file is missing or malformed; the message says what to add."""


def strict() -> bool:
    """True in batch runs ($MLKIT_STRICT=1): failed checks raise instead of printing."""
    return config.flag(STRICT_ENV)


def show(kind: str, title: str, body: str = "", code: str | None = None) -> None:
    """Show feedback: rich HTML in a notebook, plain text elsewhere.

    kind is "ok", "fail", "todo", "hint" or "info" (it picks the colour and the symbol).
    """
    colours = {"ok": "#1a7f37", "fail": "#cf222e", "todo": "#9a6700", "hint": "#0969da", "info": "#57606a"}
    symbols = {"ok": "✔", "fail": "✘", "todo": "…", "hint": "?", "info": "i"}
    text = f"{symbols.get(kind, '')} {title}" + (f"\n{body}" if body else "")
    if code:
        text += "\n\n" + code
    rich = (
        f'<div class="mlkit-feedback mlkit-{kind}" style="border-left:4px solid {colours.get(kind)};'
        f'padding:4px 10px;margin:4px 0">'
        f'<b style="color:{colours.get(kind)}">{symbols.get(kind, "")} {html.escape(title)}</b>'
        + (f"<div>{html.escape(body)}</div>" if body else "")
        + (f"<pre>{html.escape(code)}</pre>" if code else "")
        + "</div>"
    )
    if _in_ipython():
        from IPython.display import display

        display({"text/html": rich, "text/plain": text}, raw=True)
    else:
        print(text)


def _in_ipython() -> bool:
    ipython = sys.modules.get("IPython")
    return bool(ipython is not None and ipython.get_ipython() is not None)


def _caller_namespace() -> dict[str, Any]:
    """The namespace of the code that called check(): the notebook's user namespace."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("mlkit.exercises"):
        frame = frame.f_back
    if frame is not None:
        return frame.f_globals
    if _in_ipython():
        return sys.modules["IPython"].get_ipython().user_ns
    return {}


def _is_stub(value: Any) -> bool:
    return value is None or value is Ellipsis or value is NotImplemented


def _learner_frame(tb) -> traceback.FrameSummary | None:
    """The innermost traceback frame that is the learner's code (not mlkit, not a library)."""
    import sysconfig

    libraries = tuple({_PKG_DIR, *(sysconfig.get_paths()[k] for k in ("stdlib", "purelib", "platlib"))})
    found = None
    for frame in traceback.extract_tb(tb):
        name = frame.filename
        if name.startswith(libraries) or "site-packages" in name:
            continue
        found = frame
    return found


def describe_error(exc: BaseException) -> str:
    """A short, readable account of an exception raised by the learner's code."""
    msg = f"{type(exc).__name__}: {exc}".rstrip(": ")
    where = _learner_frame(exc.__traceback__)
    if where is not None:
        line = (where.line or "").strip()
        msg += f"\nIt was raised at line {where.lineno} of your code (in {where.name})" + (
            f":  {line}" if line else ".")
    else:
        msg += "\n(The error did not come from a notebook cell: look at what your code returned.)"
    return msg


class Question:
    """One exercise: a check on the learner's object, tiered hints and the reference solution.

    Args:
        lesson: the lesson id, e.g. "00_lifecycle_overview" (names the solutions notebook).
        name: the question's short name, e.g. "q1" (used in progress).
        title: what the exercise asks, in a few words.
        answer: the name (or names) the learner defines in the notebook; the check function
            receives the object(s) bound to it, in that order.
        check: a function that tests the learner's object(s) on real data and raises
            ``Mistake("what is wrong and what to look at")`` when the behaviour is wrong.
            It may return a short success message (a string).
        hints: tiered hints, from a nudge to nearly the answer; each ``hint()`` call reveals one more.
    """

    def __init__(
        self,
        lesson: str,
        name: str,
        title: str,
        answer: str | Sequence[str],
        check: Callable[..., Any],
        hints: Sequence[str] = (),
    ) -> None:
        self.lesson = lesson
        self.name = name
        self.title = title
        self.answers = (answer,) if isinstance(answer, str) else tuple(answer)
        self._check = check
        self.hints = list(hints)
        self._hints_shown = 0

    def __repr__(self) -> str:
        return f"<Question {self.lesson}.{self.name}: {self.title} (answer: {', '.join(self.answers)})>"

    # --- checking -------------------------------------------------------------------------
    def evaluate(self, *values: Any, namespace: dict[str, Any] | None = None) -> tuple[str, str]:
        """Run the check without showing anything; return (status, message).

        status is "passed", "failed" or "not started". Values are the learner's objects;
        without them they are looked up by name in ``namespace``.
        """
        if not values:
            namespace = namespace if namespace is not None else {}
            missing = [n for n in self.answers if namespace.get(n, None) is None]
            if missing:
                return "not started", (
                    f"Define `{missing[0]}` in the cell above (and run that cell), then check again.")
            values = tuple(namespace[n] for n in self.answers)
        if any(_is_stub(v) for v in values):
            return "not started", f"`{self.answers[0]}` is still empty: replace the stub with your code."
        try:
            result = self._check(*values)
        except Mistake as exc:
            return "failed", str(exc)
        except NotImplementedError:
            return "not started", (
                f"`{self.answers[0]}` still raises NotImplementedError: replace "
                "`raise NotImplementedError()` with your code.")
        except TypeError as exc:
            not_callable = [n for n, v in zip(self.answers, values) if not callable(v)]
            if "not callable" in str(exc) and not_callable:
                name = not_callable[0]
                return "failed", (f"`{name}` should be a function (def {name}(...): ...), "
                                  f"not a {type(values[self.answers.index(name)]).__name__}.")
            return "failed", "Your code raised an error while it was being checked.\n" + describe_error(exc)
        except Exception as exc:  # noqa: BLE001 - an error inside the learner's code (or what it returned)
            return "failed", "Your code raised an error while it was being checked.\n" + describe_error(exc)
        return "passed", result if isinstance(result, str) else ""

    def check(self, *values: Any) -> bool:
        """Check the learner's answer and show feedback. Returns True when it is right.

        In batch runs ($MLKIT_STRICT=1) an unfinished answer raises NotStarted and a wrong
        one CheckFailed, so a notebook run stops there.
        """
        namespace = None if values else _caller_namespace()
        status, message = self.evaluate(*values, namespace=namespace)
        if status != "not started":
            _record(self.lesson, self.name, status == "passed")
        title = f"{self.name} · {self.title}"
        if status == "passed":
            show("ok", f"Correct: {title}", message)
            return True
        if status == "not started":
            if strict():
                raise NotStarted(f"{title}: not started yet. {message}")
            show("todo", f"Not started yet: {title}", message)
            return False
        if strict():
            raise CheckFailed(f"{title}: {message}")
        left = len(self.hints) - self._hints_shown
        tip = f"\n(Stuck? ex.{self.name}.hint() gives a hint" + (f"; {left} left.)" if left else ".)")
        show("fail", f"Not yet: {title}", message + (tip if self.hints else ""))
        return False

    # --- hints and solution -----------------------------------------------------------------
    def hint(self) -> str:
        """Show the next hint (each call reveals one more) and return it."""
        if not self.hints:
            text = "No hints for this one: re-read the exercise text, or see the solution."
            show("hint", f"{self.name}: no hints", text)
            return text
        if self._hints_shown < len(self.hints):
            self._hints_shown += 1
        n = self._hints_shown
        shown = "\n".join(f"{i + 1}. {h}" for i, h in enumerate(self.hints[:n]))
        more = (f"\n(ex.{self.name}.hint() again for hint {n + 1} of {len(self.hints)}.)"
                if n < len(self.hints) else f"\n(That was the last hint; ex.{self.name}.solution() shows one answer.)")
        show("hint", f"Hint {n} of {len(self.hints)} · {self.title}", shown + more)
        _record_hint(self.lesson, self.name, n)
        return self.hints[n - 1]

    def solution_source(self) -> str:
        """The reference code: the solutions notebook's cell that defines the answer."""
        return solution_source(self.lesson, self.answers[0])

    def solution(self) -> str:
        """Show the reference code (read from solutions/<lesson>.ipynb) and return it."""
        try:
            code = self.solution_source()
        except LookupError as exc:
            show("info", f"No solution to show for {self.name}", str(exc))
            return ""
        show("info", f"One solution · {self.title}", "Compare it with yours; there are other right answers.", code)
        return code


def find_lesson_module(lesson: str):
    """The exercise module of a lesson id ("01_data" -> mlkit.exercises.lesson01), or None
    when the lesson has none. Raises LessonError when the id has no number or the module
    declares another lesson."""
    import importlib

    m = re.match(r"(\d+)_", lesson or "")
    if not m:
        raise LessonError(f"Lesson id {lesson!r} should be its number and topic, e.g. '01_data'.")
    name = f"mlkit.exercises.lesson{m.group(1)}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None
    declared = getattr(module, "LESSON", None)
    if declared is None:
        raise LessonError(f"mlkit/exercises/lesson{m.group(1)}.py has no LESSON line: add "
                          f"LESSON = {lesson!r} at its top.")
    if declared != lesson:
        raise LessonError(f"mlkit/exercises/lesson{m.group(1)}.py is for lesson {declared!r}, not {lesson!r}.")
    return module


def lesson_module(lesson: str):
    """The exercise module of a lesson id: "01_data" -> mlkit.exercises.lesson01."""
    module = find_lesson_module(lesson)
    if module is None:
        number = re.match(r"(\d+)", lesson).group(1)
        raise LessonError(f"No exercises or quiz for lesson {lesson!r} (mlkit/exercises/lesson{number}.py).")
    return module


def lesson_questions(module) -> list[Question]:
    """A lesson module's exercises: its ``QUESTIONS`` list, in the order learners meet them.

    Raises LessonError, saying what to add, when the list is missing, holds something that
    is not a Question, repeats a name, leaves out a Question the module defines, or mixes lessons.
    """
    where = f"mlkit/exercises/{module.__name__.rsplit('.', 1)[-1]}.py"
    defined = {n: v for n, v in vars(module).items() if isinstance(v, Question)}  # for the messages only
    listed = getattr(module, "QUESTIONS", None)
    if listed is None:
        names = ", ".join(defined) or "q1, q2, ..."
        raise LessonError(f"{where} has no QUESTIONS list. Add, after its last question: "
                          f"QUESTIONS = [{names}]  (the order learners meet them).")
    if not isinstance(listed, (list, tuple)):
        raise LessonError(f"{where}: QUESTIONS should be a list, e.g. QUESTIONS = [q1, q2]; "
                          f"it is a {type(listed).__name__}.")
    listed = list(listed)
    wrong = [x for x in listed if not isinstance(x, Question)]
    if wrong:
        raise LessonError(f"{where}: QUESTIONS holds {wrong[0]!r}, which is not a Question.")
    names = [q.name for q in listed]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise LessonError(f"{where}: the question name {repeated[0]!r} is used twice in QUESTIONS.")
    left_out = [n for n, q in defined.items() if q not in listed]
    if left_out:
        raise LessonError(f"{where} defines {left_out[0]} but QUESTIONS does not list it: add it to QUESTIONS.")
    lesson = getattr(module, "LESSON", None)
    other = [q for q in listed if lesson and q.lesson != lesson]
    if other:
        raise LessonError(f"{where}: {other[0].name} is made for lesson {other[0].lesson!r}, "
                          f"but the module's LESSON is {lesson!r}.")
    return listed


# --- the reference solution, read from the one source -------------------------------------
_MARKER = re.compile(r"^\s*###\s*(BEGIN|END)\s+(SOLUTION|HIDDEN TESTS)\s*$")
_CALL = re.compile(r"^\s*\w+\.\w+\.(check|hint|solution)\(\s*\)\s*;?\s*$")


def _defined_names(source: str) -> set[str]:
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def clean_solution(source: str) -> str:
    """A solution cell as the learner should read it: markers, hidden tests and check calls removed."""
    out, hidden = [], False
    for line in source.splitlines():
        m = _MARKER.match(line)
        if m:
            if m.group(2) == "HIDDEN TESTS":
                hidden = m.group(1) == "BEGIN"
            continue
        if hidden or _CALL.match(line):
            continue
        out.append(line)
    return "\n".join(out).strip("\n")


def solution_source(lesson: str, name: str, solutions_dir: Path | None = None) -> str:
    """The cleaned source of the cell in solutions/<lesson>.ipynb that defines ``name``.

    The solutions folder is found through :func:`mlkit.course.config.course_root` (so it
    also works after a plain ``pip install .``, run from the course folder or with
    $MLKIT_COURSE_ROOT set), unless ``solutions_dir`` is given.
    """
    if solutions_dir is None:
        try:
            solutions_dir = config.course_root() / "solutions"
        except MlkitError as exc:
            raise LookupError(f"The solutions notebook {lesson}.ipynb is not here: {exc}") from None
    path = Path(solutions_dir) / f"{lesson}.ipynb"
    if not path.exists():
        raise LookupError(f"The solutions notebook {path} is not here (it ships with the course repository).")
    from mlkit.course import notebook

    sources = [notebook.source(c) for c in notebook.read(path).cells if c.cell_type == "code"]
    # Names assigned in hidden tests do not count; a cell holding a solution region wins.
    defining = [clean_solution(s) for s in sources if name in _defined_names(clean_solution(s))]
    with_region = [clean_solution(s) for s in sources
                   if "BEGIN SOLUTION" in s and name in _defined_names(clean_solution(s))]
    if with_region or defining:
        return (with_region or defining)[0]
    raise LookupError(f"No cell in {path.name} defines `{name}`.")


# --- progress (never allowed to break a lesson) -------------------------------------------
def _record(lesson: str, name: str, passed: bool) -> None:
    try:
        records.record_check(lesson, name, passed)
    except Exception:  # noqa: BLE001 - progress is a nicety; the check result matters
        pass


def _record_hint(lesson: str, name: str, n: int) -> None:
    try:
        records.record_hint(lesson, name, n)
    except Exception:  # noqa: BLE001
        pass
