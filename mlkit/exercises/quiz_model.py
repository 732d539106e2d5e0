"""The quiz as data: the four kinds of question, how each grades an answer, and the TOML loader.

A lesson's quiz is ``mlkit/exercises/quizzes/NN_topic.toml``, one ``[[question]]`` table per
question; ``kind`` picks the model (:class:`SingleChoice`, :class:`MultipleChoice`,
:class:`Numeric`, :class:`ShortText`), and pydantic validates every table against it (unknown
keys, missing fields, indexes out of range), so that :func:`load_quiz` names the file, the
question and what to fix. Answers are exact where the question is: a written answer matches
keywords as whole words and phrases (a plural still matches), never as a prefix, and a
question whose point is an order (``ordered = true``) wants the keywords in that order.
The widget is :mod:`mlkit.exercises.quiz`.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from mlkit.exercises.lessons import LessonError

_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class _Question(BaseModel):
    """What every question has: an id (keys the saved answers), the prompt and the explanation
    shown after every answer."""

    model_config = ConfigDict(extra="forbid")

    id: str = ""  # defaults to quiz1, quiz2, ... by position (in the widget)
    prompt: str
    explanation: str

    @field_validator("prompt", "explanation")
    @classmethod
    def _not_empty(cls, value: str, info: Any) -> str:
        if not value.strip():
            raise ValueError(f"{info.field_name} is missing or empty (every question needs an id, a prompt and "
                             "an explanation)")
        return value

    def grade(self, response: Any) -> tuple[bool, str]:
        """(correct, specific feedback) for a response; the explanation is added by the caller."""
        raise NotImplementedError

    def describe(self, response: Any) -> str:
        return str(response)


def _index(value: Any, options: list[str], what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} should be an option's index (0, 1, ...), not {value!r}")
    if not 0 <= value < len(options):
        raise ValueError(f"{what} is {value}, but the options are numbered 0 to {len(options) - 1}")
    return value


class _Choice(_Question):
    options: list[str]
    feedback: dict[int, str] = Field(default_factory=dict)

    @field_validator("options", mode="before")
    @classmethod
    def _two_options(cls, value: Any) -> Any:
        if not isinstance(value, list) or len(value) < 2 or not all(isinstance(o, str) and o for o in value):
            raise ValueError("options should be a list of at least two texts")
        return value

    @field_validator("feedback", mode="before")
    @classmethod
    def _feedback_keys(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError("feedback should be a table: option index = message")
        out = {}
        for key, message in value.items():
            index = int(key) if str(key).isdigit() else key
            if isinstance(index, bool) or not isinstance(index, int):
                raise ValueError(f"feedback key {key!r} should be an option's index (0, 1, ...)")
            if not isinstance(message, str) or not message:
                raise ValueError(f"feedback for option {index} should be a text")
            out[index] = message
        return out

    @model_validator(mode="after")
    def _feedback_in_range(self) -> _Choice:
        for key in self.feedback:
            _index(key, self.options, f"feedback key {str(key)!r}")
        return self


class SingleChoice(_Choice):
    """Pick one option. ``answer`` is the index of the right option; ``feedback`` maps a
    wrong option's index to a message about that particular mistake."""

    kind: Literal["single"] = "single"
    answer: Any = 0

    @model_validator(mode="after")
    def _answer_in_range(self) -> SingleChoice:
        _index(self.answer, self.options, "answer")
        if self.answer in self.feedback:
            raise ValueError("feedback is for wrong options; the right one gets the explanation")
        return self

    def grade(self, response: Any) -> tuple[bool, str]:
        if response is None:
            raise ValueError("Pick one option first.")
        i = int(response)
        if i == self.answer:
            return True, ""
        return False, self.feedback.get(i, "That is not the best answer.")

    def describe(self, response: Any) -> str:
        return self.options[int(response)] if response is not None else "(none)"


class MultipleChoice(_Choice):
    """Tick every right option. ``answers`` are the indexes of the right options;
    ``feedback`` maps an option's index to a message shown when it is ticked wrongly or missed."""

    kind: Literal["multiple"] = "multiple"
    answers: list[Any]

    @model_validator(mode="after")
    def _answers_in_range(self) -> MultipleChoice:
        if not self.answers:
            raise ValueError("answers should be a non-empty list of option indexes")
        for a in self.answers:
            _index(a, self.options, "an entry of answers")
        if len(set(self.answers)) != len(self.answers):
            raise ValueError("answers lists an option twice")
        return self

    def grade(self, response: Any) -> tuple[bool, str]:
        picked = {int(i) for i in (response or ())}
        if not picked:
            raise ValueError("Tick at least one option first.")
        right = set(self.answers)
        if picked == right:
            return True, ""
        extra, missed = sorted(picked - right), sorted(right - picked)
        parts = []
        if extra:
            parts.append(f"{len(extra)} of your ticks {'is' if len(extra) == 1 else 'are'} wrong")
        if missed:
            parts.append(f"{len(missed)} right option{'s' if len(missed) > 1 else ''} not ticked")
        notes = [self.feedback[i] for i in extra + missed if i in self.feedback]
        return False, "; ".join(parts) + "." + ("".join(f" {n}" for n in notes[:2]))

    def describe(self, response: Any) -> str:
        return ", ".join(self.options[int(i)] for i in sorted(response or ())) or "(none)"


_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def parse_number(text: Any) -> float:
    """A number from what a learner typed: "86.8", "86,8", "86.8 %", " 1e3 "."""
    if isinstance(text, (int, float)):
        return float(text)
    s = str(text).strip().rstrip("%").strip().replace(" ", "").replace("_", "")
    if s.count(",") == 1 and "." not in s:
        s = s.replace(",", ".")
    s = s.replace(",", "")
    if not _NUMBER.match(s):
        raise ValueError(f"Type a number (e.g. 42.5), not {str(text)!r}.")
    return float(s)


def _finite(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} should be a number, not {value!r}")
    return float(value)


class Numeric(_Question):
    """A number, right within ``tolerance``. ``mistakes`` lists typical wrong values:
    (value, tolerance, message)."""

    kind: Literal["numeric"] = "numeric"
    answer: Any
    tolerance: Any = 0.0
    unit: str = ""
    mistakes: list[tuple[float, float, str]] = Field(default_factory=list)

    @field_validator("answer", "tolerance", mode="before")
    @classmethod
    def _a_number(cls, value: Any, info: Any) -> float:
        number = _finite(value, info.field_name)
        if info.field_name == "tolerance" and number < 0:
            raise ValueError("tolerance should be 0 or more")
        return number

    @field_validator("mistakes", mode="before")
    @classmethod
    def _mistake_tables(cls, value: Any) -> Any:
        out = []
        for m in value or []:
            if isinstance(m, dict):
                if set(m) != {"value", "tolerance", "message"}:
                    raise ValueError("each mistake should be a table with value, tolerance and message")
                m = (m["value"], m["tolerance"], m["message"])
            out.append(m)
        return out

    @model_validator(mode="after")
    def _mistakes_apart(self) -> Numeric:
        for value, tol, _ in self.mistakes:
            if abs(value - self.answer) <= self.tolerance + tol:
                raise ValueError(f"the mistake {value:g} overlaps the right answer {self.answer:g}")
        return self

    def grade(self, response: Any) -> tuple[bool, str]:
        x = parse_number(response)
        if not math.isfinite(x):
            raise ValueError("Type a finite number.")
        if abs(x - self.answer) <= self.tolerance:
            return True, ""
        for value, tol, message in self.mistakes:
            if abs(x - value) <= tol:
                return False, message
        direction = "too high" if x > self.answer else "too low"
        return False, f"{x:g}{self.unit and ' ' + self.unit} is {direction}."


def words(text: Any) -> list[str]:
    """A text as lower-case words: letters and digits; anything else separates ("Blue/Green" -> blue green)."""
    return re.sub(r"[^a-z0-9]+", " ", str(text).lower()).split()


def _same_word(written: str, keyword: str) -> bool:
    """The keyword's word, or its plural: canary/canaries, loss/losses, metric/metrics."""
    plurals = {keyword, keyword + "s", keyword + "es"}
    if keyword.endswith("y"):
        plurals.add(keyword[:-1] + "ies")
    return written in plurals


class ShortText(_Question):
    """A short written answer, right when it names enough of the ``keywords``.

    Each keyword is a word or a phrase, or a tuple of alternatives ("shadow", "dark launch");
    it matches whole words only (so "blue" never matches "blueberry"), its last word also in
    the plural. ``need`` is how many keywords (groups) must be named; by default all of them.
    With ``ordered``, the groups named must come in the listed order.
    """

    kind: Literal["text"] = "text"
    keywords: list[tuple[str, ...]]
    need: Any = None
    ordered: StrictBool = False

    @field_validator("keywords", mode="before")
    @classmethod
    def _groups(cls, value: Any) -> list[tuple[str, ...]]:
        if not isinstance(value, (list, tuple)) or not value:
            raise ValueError("keywords should be a non-empty list of words, or of lists of alternatives")
        groups = []
        for k in value:
            group = (k,) if isinstance(k, str) else tuple(k) if isinstance(k, (list, tuple)) else ()
            if not group or not all(isinstance(a, str) and a.strip() for a in group):
                raise ValueError(f"keyword {k!r} should be a word or a list of alternative words")
            stars = [a for a in group if "*" in a]
            if stars:
                raise ValueError(f"keyword {stars[0]!r}: answers are matched as whole words, so list the forms "
                                 "you accept instead of a '*' (e.g. ['deploy', 'deployment'])")
            groups.append(group)
        return groups

    @model_validator(mode="after")
    def _need_in_range(self) -> ShortText:
        n = len(self.keywords)
        if self.need is None:
            self.need = n
        if isinstance(self.need, bool) or not isinstance(self.need, int) or not 1 <= self.need <= n:
            raise ValueError(f"need should be a whole number from 1 to {n}, not {self.need!r}")
        return self

    def _where(self, text: list[str], group: tuple[str, ...]) -> int | None:
        """The first word position where any alternative of ``group`` is written, or None."""
        found = []
        for alternative in group:
            phrase = words(alternative)
            for i in range(len(text) - len(phrase) + 1):
                if text[i:i + len(phrase) - 1] == phrase[:-1] and _same_word(text[i + len(phrase) - 1], phrase[-1]):
                    found.append(i)
                    break
        return min(found) if found else None

    def matched(self, response: str) -> list[bool]:
        text = words(response)
        return [self._where(text, group) is not None for group in self.keywords]

    def grade(self, response: Any) -> tuple[bool, str]:
        if not str(response or "").strip():
            raise ValueError("Write your answer in the box first.")
        text = words(response)
        places = [self._where(text, group) for group in self.keywords]
        named = sum(p is not None for p in places)
        if named < self.need:
            return False, f"Your answer names {named} of the {self.need} key ideas we look for."
        if self.ordered:
            seen = [(p, g) for p, g in zip(places, self.keywords) if p is not None]
            for (p1, g1), (p2, g2) in zip(seen, seen[1:]):
                if p2 < p1:
                    return False, (f"You name them all, but not in order: {g2[0]!r} comes before {g1[0]!r} in your "
                                   "answer. The order is the point here.")
        return True, ""


QuizQuestion = SingleChoice | MultipleChoice | Numeric | ShortText
KINDS: dict[str, type[_Question]] = {"single": SingleChoice, "multiple": MultipleChoice, "numeric": Numeric,
                                     "text": ShortText}


class _Table(BaseModel):
    """One ``[[question]]`` table, checked against the model its ``kind`` names."""

    question: Annotated[QuizQuestion, Field(discriminator="kind")]


def _message(exc: ValidationError, raw: dict) -> str:
    """The first error of a question's table, as a sentence that says what to fix."""
    error = exc.errors(include_url=False)[0]
    kind, loc = error["type"], [str(x) for x in error["loc"][2:]]  # past ("question", "<kind>")
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return f"kind should be one of {', '.join(map(repr, KINDS))}, not {raw.get('kind')!r}"
    if kind == "extra_forbidden":
        model = KINDS[raw["kind"]]
        unknown = sorted(set(raw) - set(model.model_fields))
        return (f"unknown key(s) {', '.join(unknown)} for kind {raw['kind']!r} "
                f"(allowed: {', '.join(sorted(model.model_fields))})")
    if kind == "missing":
        return f"{loc[0]} is missing or empty (every question needs an id, a prompt and an explanation)"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    return f"{'.'.join(loc) or 'the table'}: {error['msg'].lower()}"


def _question(raw: dict[str, Any]) -> QuizQuestion:
    """One question from its TOML table, checked; raises ValueError saying what is wrong."""
    if not isinstance(raw.get("id"), str) or not raw["id"].strip():
        raise ValueError("id is missing or empty (every question needs an id, a prompt and an explanation)")
    if not _ID.match(raw["id"]):
        raise ValueError(f"id {raw['id']!r} should be lower-case letters, digits and '_' (it keys saved answers)")
    try:
        return _Table(question=raw).question
    except ValidationError as exc:
        raise ValueError(_message(exc, raw)) from None


def _toml_load(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise LessonError(f"{path.name} is not valid TOML: {exc}.") from None


def load_quiz(path: str | Path) -> list[QuizQuestion]:
    """The questions of one quiz file, validated.

    Raises LessonError, naming the file and the question, when the TOML does not parse, a
    key is unknown or missing, an answer index is out of range, an explanation is missing or
    two questions share an id.
    """
    path = Path(path)
    data = _toml_load(path)
    extra = sorted(set(data) - {"question"})
    if extra:
        raise LessonError(f"{path.name}: only [[question]] tables belong in a quiz file; found {', '.join(extra)}.")
    raw = data.get("question")
    if not isinstance(raw, list) or not raw:
        raise LessonError(f"{path.name} has no questions: add [[question]] tables (see CONTRIBUTING).")
    out, seen = [], set()
    for i, table in enumerate(raw, 1):
        label = f"{path.name}, question {i}" + (f" ({table.get('id')})" if table.get("id") else "")
        try:
            q = _question(table)
        except ValueError as exc:
            raise LessonError(f"{label}: {exc}.") from None
        if q.id in seen:
            raise LessonError(f"{label}: the id {q.id!r} is used twice; ids key the saved answers, keep them unique.")
        seen.add(q.id)
        out.append(q)
    return out
