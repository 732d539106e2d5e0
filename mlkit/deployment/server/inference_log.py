"""The model server's inference log: one JSON line per scored item (``$MLKIT_INFERENCE_LOG``).

A batch request writes one line per item with the same ``request_id``. The fields, in order
(:func:`fields`): ``ts`` (unix seconds), ``request_id``, ``model_version`` (str), ``endpoint``
("predict" or "batch"), ``outcome`` ("ok" or "error"), ``latency_ms`` (of the whole request, in
the server); then the model adapter's summary of the input (:attr:`ModelAdapter.input_fields`)
and its output fields, null on error (:attr:`ModelAdapter.output_fields`); then ``cache_hit``.
With ``MLKIT_LOG_TEXT=1`` the raw input follows (the spam model's ``text``).

For the spam model (lesson 05 reads it): ``n_chars``, ``n_words``, ``n_digits``, ``upper_share``,
``has_url``, ``has_phone`` (:func:`mlkit.data.textstats.summary`, lesson 01's features), then
``tfidf_nnz`` (TF-IDF terms of the message in the vocabulary), ``spam_probability``, ``label``.
For the bike model: its six inputs, then ``bikers``. Read it with
``pandas.read_json(path, lines=True)``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from mlkit.deployment.server.adapters import ModelAdapter

HEAD = ("ts", "request_id", "model_version", "endpoint", "outcome", "latency_ms")
TAIL = ("cache_hit",)


def fields(adapter: type[ModelAdapter] | ModelAdapter) -> tuple[str, ...]:
    """The fields of one line for a model kind, in order (without the optional raw input)."""
    return (*HEAD, *adapter.input_fields, *adapter.output_fields, *TAIL)


class InferenceLog:
    """Appends lines to ``path`` (nothing when ``path`` is None), one ``write`` per request."""

    def __init__(self, path: str | Path | None, keep_raw: bool = False) -> None:
        self.keep_raw = keep_raw
        self.file = open(path, "ab", buffering=0) if path else None  # noqa: SIM115 - open while serving

    @property
    def active(self) -> bool:
        """Whether lines are written (a path was given)."""
        return self.file is not None

    def write(self, *, request_id: str, version: str, endpoint: str, outcome: str, latency_ms: float,
              records: Sequence[dict[str, Any]], hits: Sequence[bool] | None = None,
              raws: Sequence[dict[str, Any]] | None = None) -> None:
        """One line per item: the request's fields, the adapter's ``records`` (input summary and output)."""
        if self.file is None:
            return
        now = time.time()
        lines = [orjson.dumps({"ts": now, "request_id": request_id, "model_version": version, "endpoint": endpoint,
                               "outcome": outcome, "latency_ms": round(latency_ms, 4), **record,
                               "cache_hit": bool(hits[i]) if hits else False,
                               **(raws[i] if self.keep_raw and raws else {})})
                 for i, record in enumerate(records)]
        self.file.write(b"\n".join(lines) + b"\n")
