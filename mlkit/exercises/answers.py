"""What a check asks the learner's code, as plain data: the outcome of each call, and a JSON codec.

A check is split in two (see :class:`~mlkit.exercises.question.Question`): its *ask* runs
the learner's functions on the check's inputs and records what came back with :func:`call`;
its *judge* decides from that record alone. Between the two the record travels as JSON
(:func:`dumps` / :func:`loads`): in the notebook through memory, when grading through a file
written in the learner's kernel and read by the grader, which never imports the learner's code
and never unpickles anything. A record holds only plain values, numpy arrays, pandas frames
and series, the outcome of a call (:class:`Returned` or :class:`Raised`), and for any other
object its type name and a short repr (:class:`Opaque`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_BYTES = 64 * 1024 * 1024  # a record larger than this is refused (a learner's answer, not a data set)
MAX_ITEMS = 5_000_000  # arrays and lists beyond this are recorded by their shape only
MAX_DEPTH = 40
_TAGS = ("__tuple__", "__dict__", "__set__", "__ndarray__", "__frame__", "__series__", "__object__",
         "__returned__", "__raised__")


class LearnerError(Exception):
    """The learner's code raised while it was asked: raised where a judge reads that call's value."""

    def __init__(self, raised: Raised) -> None:
        super().__init__(raised.text)
        self.raised = raised


@dataclass(frozen=True)
class Returned:
    """A call to the learner's code that returned ``value``."""

    value: Any

    @property
    def ok(self) -> bool:
        return True


@dataclass(frozen=True)
class Raised:
    """A call to the learner's code that raised: the exception's class names (its MRO, most
    specific first) and a readable account of it (:func:`~mlkit.exercises.feedback.describe_error`)."""

    types: tuple[str, ...]
    text: str

    @property
    def ok(self) -> bool:
        return False

    @property
    def value(self) -> Any:
        raise LearnerError(self)

    def is_a(self, *names: str) -> bool:
        """True when the exception is (a subclass of) one of the classes named."""
        return any(n in self.types for n in names)


Outcome = Returned | Raised


@dataclass(frozen=True)
class Opaque:
    """An object the record cannot hold as data: its type's name and a short repr."""

    type: str
    repr: str = field(default="")

    def __repr__(self) -> str:
        return self.repr or f"<{self.type}>"


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Outcome:
    """Call the learner's ``fn``; its return value or the exception it raised, as an outcome."""
    try:
        return Returned(fn(*args, **kwargs))
    except Exception as exc:  # noqa: BLE001 - whatever the learner's code raises is part of the answer
        return raised(exc)


def raised(exc: BaseException) -> Raised:
    """The outcome of a call that raised ``exc``."""
    from mlkit.exercises.feedback import describe_error

    return Raised(tuple(c.__name__ for c in type(exc).__mro__ if c is not object), describe_error(exc))


def kind(value: Any) -> str:
    """The type name of a value as the learner's code returned it (an Opaque's original type)."""
    return value.type if isinstance(value, Opaque) else type(value).__name__


# --- encoding (in the learner's kernel) ------------------------------------------------------------
def short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a learner's __repr__ may raise
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 300 else text[:297] + "..."


def encode(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON-safe data (see the module's docstring for what is kept)."""
    import sys

    if depth > MAX_DEPTH:
        return {"__object__": [type(value).__name__, "(nested too deeply)"]}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if abs(value) < 10**300 else float("inf") if value > 0 else float("-inf")
    if isinstance(value, float):
        return value
    if isinstance(value, (Returned, Raised)):
        if isinstance(value, Raised):
            return {"__raised__": [list(value.types), value.text]}
        return {"__returned__": encode(value.value, depth + 1)}
    if isinstance(value, Opaque):
        return {"__object__": [value.type, value.repr]}
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            return float(value)
        if isinstance(value, np.ndarray):
            return _encode_array(np, value, depth)
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(value, (pd.DataFrame, pd.Series)):
        return _encode_pandas(pd, value, depth)
    if isinstance(value, (list, tuple, set, frozenset)):
        if len(value) > MAX_ITEMS:
            return {"__object__": [type(value).__name__, f"({len(value):,} items: too many to record)"]}
        items = [encode(v, depth + 1) for v in value]
        if isinstance(value, list):
            return items
        return {"__tuple__": items} if isinstance(value, tuple) else {"__set__": items}
    if isinstance(value, dict):
        if all(isinstance(k, str) and k not in _TAGS for k in value):
            return {k: encode(v, depth + 1) for k, v in value.items()}
        return {"__dict__": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    return {"__object__": [type(value).__name__, short_repr(value)]}


def _encode_array(np: Any, value: Any, depth: int) -> Any:
    if value.size > MAX_ITEMS:
        return {"__object__": ["ndarray", f"(array of shape {value.shape}: too large to record)"]}
    if value.dtype.kind in "biuf":
        return {"__ndarray__": [value.dtype.str, list(value.shape), value.ravel().tolist()]}
    return {"__ndarray__": ["object", list(value.shape), [encode(v, depth + 1) for v in value.ravel().tolist()]]}


def _encode_pandas(pd: Any, value: Any, depth: int) -> Any:
    if value.size > MAX_ITEMS:
        return {"__object__": [type(value).__name__, f"({value.shape}: too large to record)"]}
    index = [encode(v, depth + 1) for v in value.index.tolist()]
    if isinstance(value, pd.Series):
        return {"__series__": [encode(value.name, depth + 1), index, str(value.dtype),
                               [encode(v, depth + 1) for v in value.tolist()]]}
    columns = [encode(c, depth + 1) for c in value.columns.tolist()]
    data = [[encode(v, depth + 1) for v in value.iloc[:, i].tolist()] for i in range(value.shape[1])]
    return {"__frame__": [columns, index, [str(t) for t in value.dtypes], data]}


def dumps(value: Any) -> str:
    """Encode ``value`` and write it as JSON text (NaN and infinities allowed)."""
    return json.dumps(encode(value), allow_nan=True, separators=(",", ":"))


# --- decoding (in the grader, or in the notebook for the instant check) ----------------------------
class MalformedRecord(ValueError):
    """A record that is not what a check's ask writes: too big, not JSON, or badly tagged."""


def loads(text: str | bytes) -> Any:
    """Decode JSON text written by :func:`dumps`; raises MalformedRecord for anything else."""
    if len(text) > MAX_BYTES:
        raise MalformedRecord(f"the answers are {len(text) / 1e6:.0f} MB, over the {MAX_BYTES / 1e6:.0f} MB allowed")
    try:
        return decode(json.loads(text))
    except MalformedRecord:
        raise
    except (ValueError, TypeError, KeyError, IndexError, RecursionError, OverflowError) as exc:
        raise MalformedRecord(f"the answers could not be read ({type(exc).__name__}: {str(exc)[:120]})") from None


def decode(data: Any, depth: int = 0) -> Any:
    """The inverse of :func:`encode`: plain values, tuples, sets, arrays, frames, outcomes, Opaque."""
    if depth > MAX_DEPTH + 5:
        raise MalformedRecord("the answers are nested too deeply")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v, depth + 1) for v in data]
    if not isinstance(data, dict):
        raise MalformedRecord(f"unexpected {type(data).__name__} in the answers")
    if len(data) == 1:
        (tag, body), = data.items()
        if tag in _TAGS:
            return _decode_tagged(tag, body, depth)
    return {str(k): decode(v, depth + 1) for k, v in data.items()}


def _decode_tagged(tag: str, body: Any, depth: int) -> Any:
    if tag == "__tuple__":
        return tuple(decode(v, depth + 1) for v in _list(body))
    if tag == "__set__":
        return {_hashable(decode(v, depth + 1)) for v in _list(body)}
    if tag == "__dict__":
        return {_hashable(decode(k, depth + 1)): decode(v, depth + 1) for k, v in map(_pair, _list(body))}
    if tag == "__returned__":
        return Returned(decode(body, depth + 1))
    if tag == "__raised__":
        types, text = _pair(body)
        return Raised(tuple(str(t) for t in _list(types)), str(text))
    if tag == "__object__":
        name, text = _pair(body)
        return Opaque(str(name), str(text))
    if tag == "__ndarray__":
        return _decode_array(body, depth)
    return _decode_pandas(tag, body, depth)


def _list(body: Any) -> list:
    if not isinstance(body, list):
        raise MalformedRecord("a tagged value of the answers is not a list")
    return body


def _pair(body: Any) -> tuple[Any, Any]:
    body = _list(body)
    if len(body) != 2:
        raise MalformedRecord("a tagged pair of the answers does not have two parts")
    return body[0], body[1]


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        raise MalformedRecord("a key of the answers is not hashable") from None
    return value


def _decode_array(body: Any, depth: int) -> Any:
    import numpy as np

    dtype, shape, values = _list(body) if len(_list(body)) == 3 else (None, None, None)
    if dtype is None or not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise MalformedRecord("an array of the answers is badly formed")
    if math.prod(shape) != len(_list(values)):
        raise MalformedRecord("an array of the answers does not match its shape")
    if dtype == "object":
        out = np.empty(len(values), dtype=object)
        out[:] = [decode(v, depth + 1) for v in values]
        return out.reshape(shape)
    if not isinstance(dtype, str) or len(dtype) > 8 or dtype.lstrip("<>|=")[:1] not in ("b", "i", "u", "f"):
        raise MalformedRecord(f"an array of the answers has the dtype {str(dtype)[:20]!r}")
    if not all(isinstance(v, (bool, int, float)) for v in values):
        raise MalformedRecord("a numeric array of the answers holds something else than numbers")
    return np.asarray(values, dtype=np.dtype(dtype)).reshape(shape)


def _decode_pandas(tag: str, body: Any, depth: int) -> Any:
    import pandas as pd

    body = _list(body)
    if tag == "__series__":
        if len(body) != 4:
            raise MalformedRecord("a series of the answers is badly formed")
        name, index, dtype, values = body
        values = [decode(v, depth + 1) for v in _list(values)]
        index = [_hashable(decode(v, depth + 1)) for v in _list(index)]
        if len(index) != len(values):
            raise MalformedRecord("a series of the answers has an index of another length")
        return _typed(pd.Series(values, index=index, name=decode(name, depth + 1), dtype=object), dtype)
    if len(body) != 4:
        raise MalformedRecord("a frame of the answers is badly formed")
    columns, index, dtypes, data = body
    columns = [_hashable(decode(c, depth + 1)) for c in _list(columns)]
    index = [_hashable(decode(v, depth + 1)) for v in _list(index)]
    data, dtypes = _list(data), _list(dtypes)
    if not (len(columns) == len(data) == len(dtypes)) or any(len(_list(col)) != len(index) for col in data):
        raise MalformedRecord("a frame of the answers has columns of other lengths")
    frame = pd.DataFrame({i: _typed(pd.Series([decode(v, depth + 1) for v in col], index=index, dtype=object), t)
                          for i, (col, t) in enumerate(zip(data, dtypes))}, index=index)
    frame.columns = columns
    return frame


def _typed(series: Any, dtype: Any) -> Any:
    """A decoded column back in its numeric or boolean dtype (text and objects stay objects)."""
    if isinstance(dtype, str) and dtype in {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16",
                                             "uint32", "uint64", "float16", "float32", "float64"}:
        try:
            return series.astype(dtype)
        except (ValueError, TypeError, OverflowError):
            return series
    return series


def roundtrip(value: Any) -> Any:
    """``value`` as a judge sees it: encoded to JSON text and decoded again."""
    return loads(dumps(value))
